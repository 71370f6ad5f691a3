# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generated /proc, /sys and /etc trees for the module fuzz tests.

Every case starts from one sane tree (PRISTINE: the files of a small host with six processes),
laid out once per test; a case draws a few entries to change ({relative path: entry}), which
``build`` makes and puts back before the next case, so a case costs a few small writes. An entry is
text, or one of the hostile things a tree may hold in place of a file: nothing (MISSING), a
directory, a FIFO (whose open blocks without a writer), a link to a file or directory outside
the tree (OUTSIDE_FILE, OUTSIDE_DIR, /dev/null), or a link to itself. A changed file is most
often near-valid text (the line strategies of procfs_strategies), else any text.
"""

from __future__ import annotations

import os
import shutil

from hypothesis import strategies as st

from ansible_collections.memops.linux.tests.unit.plugins.module_utils.procfs_strategies import (
    any_text, buddy_line, cgroup_line, key_int_line, lines_of, log_line, meminfo_line, mountinfo_line, numbers,
    pressure_line, slab_line, stat_text, statm_text, smaps_line, status_line, swaps_line, words,
)

MISSING, DIRECTORY, FIFO, OUTSIDE_FILE, OUTSIDE_DIR, DEV_NULL, LOOP = (
    "<missing>", "<directory>", "<fifo>", "<outside-file>", "<outside-dir>", "<dev-null>", "<loop>")
SPECIAL = st.sampled_from([MISSING, MISSING, DIRECTORY, FIFO, OUTSIDE_FILE, OUTSIDE_DIR, DEV_NULL, LOOP])

MEMINFO = ("MemTotal:        8000000 kB\nMemFree:          500000 kB\nMemAvailable:    2000000 kB\n"
           "Buffers:           10000 kB\nCached:          1500000 kB\nSwapCached:        1000 kB\n"
           "Active:          3000000 kB\nInactive:        1000000 kB\nSwapTotal:       2000000 kB\n"
           "SwapFree:        1000000 kB\nDirty:              100 kB\nShmem:            50000 kB\n"
           "Slab:             200000 kB\nSReclaimable:     150000 kB\nSUnreclaim:        50000 kB\n"
           "AnonPages:       4000000 kB\nMapped:           100000 kB\nHugePages_Total:       0\n"
           "Hugepagesize:       2048 kB\nCommitLimit:     6000000 kB\nCommitted_AS:    7000000 kB\n")
VMSTAT = "nr_free_pages 125000\npgmajfault 10\npswpin 5\npswpout 7\noom_kill 1\ncompact_stall 3\nallocstall_normal 4\n"
SANE = {
    "proc/meminfo": MEMINFO,
    "proc/vmstat": VMSTAT,
    "proc/buddyinfo": "Node 0, zone   Normal   100 50 25 12 6 3 1 0 0 0 0\n",
    "proc/swaps": "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swapfile file\t\t2000000\t\t1000000\t\t-2\n",
    "proc/uptime": "12345.67 23456.78\n",
    "proc/stat": "cpu  1 2 3 4\nbtime 1700000000\n",
    "proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
    "proc/slabinfo": "slabinfo - version: 2.1\ndentry 1000 1000 192 21 1 : tunables 0 0 0 : slabdata 48 48 0\n",
    "proc/self/mountinfo": "25 29 0:23 / /proc rw,nosuid shared:12 - proc proc rw\n"
                           "26 29 0:24 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n"
                           "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
    "proc/self/cgroup": "0::/user.slice\n",
    "proc/self/status": "Name:\tpython3\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n",
    "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n",
    "proc/sys/kernel/random/boot_id": "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9\n",
    "proc/sys/vm/swappiness": "60\n", "proc/sys/vm/overcommit_memory": "0\n", "proc/sys/vm/overcommit_ratio": "50\n",
    "proc/sys/vm/min_free_kbytes": "67584\n", "proc/sys/vm/dirty_ratio": "20\n",
    "proc/sys/vm/vfs_cache_pressure": "100\n", "proc/sys/vm/drop_caches": "0\n", "proc/sys/vm/compact_memory": "",
    "proc/sys/fs/inode-nr": "1000 100\n", "proc/sys/fs/dentry-state": "1000 500 45 0 0 0\n",
    "sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never\n",
    "sys/kernel/mm/transparent_hugepage/defrag": "always defer defer+madvise [madvise] never\n",
    "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
    "sys/fs/cgroup/cgroup.subtree_control": "memory pids\n",
    "sys/fs/cgroup/memops-web/memory.max": "max\n", "sys/fs/cgroup/memops-web/memory.current": "1048576\n",
    "sys/fs/cgroup/memops-web/cgroup.procs": "100\n",
    "sys/fs/cgroup/system.slice/web.service/memory.current": "2097152\n",
    "sys/fs/cgroup/system.slice/web.service/memory.max": "max\n",
    "dmesg": "[ 100.000000] Out of memory: Killed process 100 (java) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, "
             "shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0\n",
    "etc/fstab": "UUID=1234 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n",
    "etc/sysctl.d/60-memops.conf": "vm.swappiness = 10\n",
}
NEAR_VALID = {
    "proc/meminfo": lines_of(meminfo_line), "proc/vmstat": lines_of(key_int_line),
    "proc/buddyinfo": lines_of(buddy_line), "proc/swaps": lines_of(swaps_line),
    "proc/pressure/memory": lines_of(pressure_line), "proc/slabinfo": lines_of(slab_line),
    "proc/self/mountinfo": lines_of(mountinfo_line), "proc/self/cgroup": lines_of(cgroup_line),
    "proc/self/status": lines_of(status_line), "dmesg": lines_of(log_line, 8),
}
FSTAB_LINE = st.builds(
    lambda spec, sep1, point, sep2, kind, rest: spec + sep1 + point + sep2 + kind + rest,
    st.sampled_from(["/swapfile", "UUID=1234", "/dev/sda2", "LABEL=x\\040y", "#/swapfile", "", "/sw\\011ap"]),
    st.sampled_from([" ", "\t", " \t ", "\u00a0", "\r", "\x0b", "\u2028"]),
    st.sampled_from(["none", "/", "/swapfile", "/mnt/a\\040b", "swap"]),
    st.sampled_from([" ", "\t\t", "  "]),
    st.sampled_from(["swap", "ext4", "none", "bind", "xfs"]),
    st.sampled_from(["", " sw 0 0", " defaults,pri=5 0 0", " defaults 0", "\t0\t0\r", " pri=x 0 0"]))
NEAR_VALID["etc/fstab"] = lines_of(FSTAB_LINE, 8)
SYSCTL_LINE = st.builds(lambda k, sep, v: k + sep + v,
                        st.sampled_from(["vm.swappiness", "vm/swappiness", "-vm.dirty_ratio", "kernel.*", "", "# x"]),
                        st.sampled_from(["=", " = ", "  ", "=="]), numbers)
NEAR_VALID["etc/sysctl.d/60-memops.conf"] = lines_of(SYSCTL_LINE, 6)
NUMBER_FILES = [path for path in SANE if path.startswith(("proc/sys/", "sys/fs/cgroup/"))
                and not path.endswith(("cgroup.controllers", "cgroup.subtree_control", "boot_id"))]
for _path in NUMBER_FILES:
    NEAR_VALID[_path] = st.one_of(numbers, numbers.map(lambda n: n + "\n"), st.just("max\n"))
NEAR_VALID["sys/kernel/mm/transparent_hugepage/enabled"] = st.lists(
    st.sampled_from(["always", "madvise", "never", "[always]", "[madvise]", "[never]", "[x]", "]["]), max_size=4
).map(" ".join)
NEAR_VALID["sys/kernel/mm/transparent_hugepage/defrag"] = NEAR_VALID["sys/kernel/mm/transparent_hugepage/enabled"]

NAMES = ["sshd", "systemd", "java", "redis-server", "mysqld", "postgres", "web", "a+", "\u00e9\u00e9", "x y", ""]
PIDS = [1, 2, 100, 101, 4242, 99999]


def _pid_files(pid, name):
    """The sane files of a process."""
    return {
        "status": "Name:\t%s\nState:\tS (sleeping)\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmRSS:\t  10000 kB\nVmSwap:\t 100 kB\n"
                  "RssAnon:\t 8000 kB\nRssFile:\t 2000 kB\nRssShmem:\t 0 kB\n" % name,
        "stat": "%d (%s) S 1 %d %d 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 %d 100000000 2500 18446744073709551615"
                % (pid, name, pid, pid, 1000 + pid),
        "statm": "24414 2500 500 1 0 2000 0\n",
        "smaps_rollup": "00400000-7fff0000 ---p 00000000 00:00 0 [rollup]\nRss: 10000 kB\nPss: 9000 kB\n"
                        "Pss_Anon: 8000 kB\nSwap: 100 kB\n",
        "cmdline": "/usr/bin/%s\0--flag\0" % name,
        "comm": name + "\n",
        "oom_score_adj": "0\n", "oom_score": "500\n",
        "cgroup": "0::/system.slice/web.service\n" if pid != 1 else "0::/init.scope\n",
    }


_PID_NEAR_VALID = {
    "status": lines_of(status_line, 12), "stat": stat_text, "statm": statm_text, "smaps_rollup": lines_of(smaps_line),
    "cmdline": st.lists(st.text(max_size=20), max_size=5).map("\0".join), "comm": words,
    "oom_score_adj": numbers, "oom_score": numbers, "cgroup": lines_of(cgroup_line, 4),
}


def entry(sane, near_valid=None):
    """One changed file: near-valid text most often, else any text or a hostile entry."""
    choices = [any_text, SPECIAL, SPECIAL]
    if near_valid is not None:
        choices += [near_valid] * 4
    return st.one_of(*choices)


def pristine():
    """The sane tree every case starts from: {relative path: text}."""
    tree = dict(SANE)
    for pid in PIDS:
        name = "systemd" if pid == 1 else NAMES[pid % len(NAMES)]
        for file_name, sane in _pid_files(pid, name).items():
            tree["proc/%d/%s" % (pid, file_name)] = sane
    return tree


PRISTINE = pristine()
PID_DIRS = ["proc/%d" % pid for pid in PIDS]


def _near_valid(path):
    if path.startswith(tuple(PID_DIRS)):
        return _PID_NEAR_VALID[path.rsplit("/", 1)[1]]
    return NEAR_VALID.get(path)


@st.composite
def trees(draw, paths=None):
    """What a case changes in the pristine tree: {relative path: entry} for a few of its files (only those under
    ``paths``, prefixes, when given), a process directory now and then replaced or removed."""
    candidates = sorted(path for path in PRISTINE if paths is None or path.startswith(tuple(paths)))
    changes = {}
    for path in draw(st.lists(st.sampled_from(candidates), max_size=4)):
        changes[path] = draw(ENTRIES[path])
    if (paths is None or "proc" in paths) and draw(st.integers(0, 3)) == 0:
        changes[draw(st.sampled_from(PID_DIRS))] = draw(SPECIAL)
    return changes


ENTRIES = {path: entry(sane, _near_valid(path)) for path, sane in PRISTINE.items()}


class Layout:
    """The reused directories of one test: base/tree, the pristine tree that each case changes a few entries of
    (put back after the case), and base/outside (links point there; it must never change)."""

    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, "tree")
        self.outside = os.path.join(base, "outside")
        self.tmp = os.path.join(base, "ansible-tmp")
        os.makedirs(os.path.join(self.outside, "dir"), exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.outside_file = os.path.join(self.outside, "file")
        with open(self.outside_file, "w", encoding="utf-8") as handle:
            handle.write("outside the tree: never written\n")
        self._outside_state = self.outside_state()
        self._changed = []
        for relative, content in PRISTINE.items():
            self._put(relative, content)
        os.symlink(os.path.join(self.outside, "dir"), os.path.join(self.root, "link-out"))

    def outside_state(self):
        state = {}
        for top, dirs, files in os.walk(self.outside):
            for name in dirs + files:
                path = os.path.join(top, name)
                info = os.lstat(path)
                state[path] = (info.st_mode, info.st_size, info.st_mtime_ns)
        return state

    def outside_unchanged(self):
        return self.outside_state() == self._outside_state

    def path(self, relative):
        return os.path.join(self.root, relative)

    def build(self, changes):
        """Put back what the last case changed, then make this case's ``changes``."""
        for relative in self._changed:
            self._remove(relative)
            if relative in PRISTINE:
                self._put(relative, PRISTINE[relative])
            else:  # a directory: its files
                for path, content in PRISTINE.items():
                    if path.startswith(relative + "/"):
                        self._put(path, content)
        self._changed = []
        for relative, content in sorted(changes.items()):
            if any(relative.startswith(done + "/") for done in self._changed):
                continue  # its directory was replaced
            self._changed.append(relative)
            self._remove(relative)
            self._put(relative, content)

    def _remove(self, relative):
        path = self.path(relative)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def _put(self, relative, content):
        path = self.path(relative)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent)
        if content == MISSING:
            return
        if content == DIRECTORY:
            os.mkdir(path)
        elif content == FIFO:
            os.mkfifo(path)
        elif content == OUTSIDE_FILE:
            os.symlink(self.outside_file, path)
        elif content == OUTSIDE_DIR:
            os.symlink(os.path.join(self.outside, "dir"), path)
        elif content == DEV_NULL:
            os.symlink(os.devnull, path)
        elif content == LOOP:
            os.symlink(path, path)
        else:
            with open(path, "w", encoding="utf-8", errors="surrogatepass", newline="") as handle:
                handle.write(content)
