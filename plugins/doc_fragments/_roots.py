# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the options that say where the host's procfs and
# sysfs are (their argument spec: _procfs.ROOT_OPTIONS). Every module that reads
# a host takes proc_root; those that also read /sys add SYS_ROOT.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  proc_root:
    description:
      - Where procfs is mounted; every C(/proc) file the module reads or writes is taken below it.
      - Point it at a host's procfs mounted into a container (for example C(/host/proc)) to work on that host
        from inside the container.
    type: path
    default: /proc
"""

    SYS_ROOT = r"""
options:
  sys_root:
    description:
      - Where sysfs is mounted; every C(/sys) file the module reads or writes (cgroups, transparent huge pages)
        is taken below it, for example C(/host/sys).
    type: path
    default: /sys
"""
