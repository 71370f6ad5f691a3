# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the options of mem_facts that read what a host left behind
# (a saved kernel log, a sosreport) instead of the live host, kept here so the module stays short.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kernel_log_path:
    description:
      - A saved kernel log file to read the OOM history from, instead of the host's own log - the output of
        C(dmesg) (any of its formats, C(dmesg -T) too), C(journalctl -k), C(/var/log/messages), C(/var/log/kern.log)
        or C(/dev/kmsg), plain or compressed with gzip (told by its first bytes, not its name).
      - When given, it is the only kernel log read, whatever O(proc_root) is (it also replaces the file C(dmesg)
        beside a captured O(proc_root)); C(log_source) of RV(ansible_facts.memops.oom) is then V(file) and
        C(log_path) this path. The file is read when the V(oom) subset is gathered.
      - Only a regular file is read, at most 32 MiB of it (of a plain file, its last 32 MiB; a gzip file must
        not hold more once decompressed). A missing, unreadable or corrupt file, a directory, FIFO or device
        fails the task with what to give instead.
      - Cannot be combined with O(kernel_log=none).
    type: path
  sosreport:
    description:
      - A sosreport of the host to diagnose instead of the live one, the directory C(sos report --build) leaves
        or its tarball (C(.tar.xz), C(.tar.gz), C(.tar); unpacked into a temporary directory and removed
        afterwards, only regular files and directories, none outside it, at most 1 GiB of the parts read).
      - Read from it, as from a live host - C(proc/) (meminfo, vmstat, slabinfo, buddyinfo, swaps, stat), C(sys/),
        the sysctl values of C(sos_commands/kernel/sysctl_-a) where C(proc/sys) lacks them, the processes of
        C(sos_commands/process/ps_auxwww) where C(proc) has no per-process directories (their OOM score is then
        unknown), and the OOM history of the first kernel log it holds (C(sos_commands/kernel/dmesg), then
        C(var/log/kern.log), C(var/log/messages), C(var/log/syslog), the journal). Without a kernel log none is read.
      - RV(ansible_facts.memops.capture) says what was read and lists what the sosreport lacks. Make it with
        C(sos report --batch -o memory,kernel,process,logs).
      - Cannot be combined with O(proc_root), O(sys_root) or O(kernel_log_path).
    type: path
"""
