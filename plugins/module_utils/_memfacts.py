# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Assembles the memory picture of a host from /proc and /sys.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import): ``gather()`` returns the dict that
``memops.linux.mem_facts`` publishes as ``ansible_facts.memops``. Each
subset reads its files once; files several subsets need (meminfo, vmstat)
are read once per call.
"""

from __future__ import annotations

import heapq
import math
import os
import pwd
import time
from typing import Any, Callable, Iterable, Sequence

from ansible_collections.memops.linux.plugins.module_utils import _breakdown as breakdown
from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups
from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _host as host
from ansible_collections.memops.linux.plugins.module_utils import _kernlog as kernlog
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _proctable as proctable
from ansible_collections.memops.linux.plugins.module_utils import _workloads as workloads
from ansible_collections.memops.linux.plugins.module_utils._schema import PROCESS_KEYS

SUBSETS = (
    "overview", "swap", "processes", "oom", "tunables", "commit",
    "slab", "fragmentation", "pressure", "cgroup", "capabilities",
)
# overview is published under the name of what it describes
FACT_KEYS = {"overview": "memory"}

# vm files whose read or write is an action, not a setting
_VM_ACTIONS = frozenset(("drop_caches", "compact_memory", "stat_refresh"))
# how the processes of an Ansible run show in their command lines
_ANSIBLE_MARKS = ("ansible", "AnsiballZ", "&& sleep 0")


# process names whose presence the diagnosis rules ask about
WATCHED_PROCESSES = tuple(sorted(set(diagnosis.DATABASES) | set(diagnosis.DEFAULT_THRESHOLDS["critical_processes"])))

# the options of mem_facts (with _procfs.ROOT_OPTIONS)
OPTIONS = {
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    "top": {"type": "int", "default": 10},
    "kernel_log": {"type": "str", "choices": ["auto", "none"], "default": "auto"},
    "thresholds": {"type": "dict", "default": {}},
    "samples": {"type": "int", "default": 1},
    "sample_interval": {"type": "float", "default": 5.0},
    "redact": {"type": "list", "elements": "str"},
    "leak_history": {"type": "path"},
    "kernel_log_path": {"type": "path"},
    "sosreport": {"type": "path"},
    "process_detail": {"type": "dict", "options": {
        "pids": {"type": "list", "elements": "int"}, "names": {"type": "list", "elements": "str"},
        "top": {"type": "int", "default": 0}, "mappings": {"type": "int", "default": 10}}},
}
# the longest wait between two samples, in seconds, and the most samples
MAX_SAMPLE_INTERVAL = 3600
MAX_SAMPLES = 1000


def check_options(params: dict) -> str | None:
    """What is wrong with mem_facts' options (the problem and the fix), or None."""
    interval = params["sample_interval"]
    if not math.isfinite(interval):  # refused below; a failure echoes the options: no NaN or Infinity in its JSON
        params["sample_interval"] = str(interval)
    if params["top"] < 0:
        return "top must be 0 or more, got %d" % params["top"]
    if not 1 <= params["samples"] <= MAX_SAMPLES:
        return "samples must be from 1 to %d (1 takes a single snapshot), got %d" % (MAX_SAMPLES, params["samples"])
    if not 0 <= interval <= MAX_SAMPLE_INTERVAL:  # also false for nan
        return "sample_interval must be a number of seconds from 0 to %d, got %s" % (MAX_SAMPLE_INTERVAL, interval)
    if params["kernel_log_path"] and params["kernel_log"] == "none":
        return "kernel_log=none skips the kernel log but kernel_log_path names one to read; leave out one of them"
    return None


class SubsetError(ValueError):
    """gather_subset names something that does not exist."""


class CannotJudge(procfs.ProcfsError):
    """The facts lack what every judgement needs (the size of RAM): no verdict is better than a false one."""


def resolve_subsets(requested: Iterable[str] | None) -> tuple[str, ...]:
    """['all', '!slab'] -> ordered tuple of subsets. Raises SubsetError."""
    selected: set[str] = set()
    excluded: set[str] = set()
    for item in requested or ["all"]:
        name = str(item).strip()
        negate = name.startswith("!")
        name = name.lstrip("!")
        if name == "all":
            names = set(SUBSETS)
        elif name in SUBSETS:
            names = {name}
        elif name == "memory":
            names = {"overview"}
        else:
            raise SubsetError(
                "gather_subset: unknown subset %r; expected 'all' or one of %s, each optionally prefixed with '!'"
                % (name, ", ".join(SUBSETS)))
        (excluded if negate else selected).update(names)
    if not selected and excluded:
        selected = set(SUBSETS)
    return tuple(s for s in SUBSETS if s in selected and s not in excluded)


class Gatherer:
    """Gathers the subsets. ``log_commands`` is a callable ``(argv) -> text or
    None`` that runs dmesg or journalctl when /dev/kmsg is not readable (the
    module passes one built on run_command); None skips them."""

    def __init__(self, reader: procfs.Reader, top: int = 10, kmsg_path: str = host.KMSG_PATH,
                 use_kernel_log: bool = True, log_commands: Callable[[list[str]], str | None] | None = None,
                 watch: Iterable[str] | None = None, log_file: str | None = None,
                 process_scan: Callable[[], tuple] | None = None,
                 near_limit_pct: float = diagnosis.DEFAULT_THRESHOLDS["cgroup_limit_pct_monitor"]) -> None:
        self.reader = reader
        self.top = top
        self.near_limit_pct = near_limit_pct  # which memory cgroups the facts list as near their limit
        self.watch = tuple(watch) if watch is not None else WATCHED_PROCESSES
        self.last_rows: list[dict] | None = None
        self.kmsg_path = kmsg_path
        self.use_kernel_log = use_kernel_log
        self.log_commands = log_commands
        self.log_file = log_file  # a saved kernel log (kernel_log_path): the only one read
        self.process_scan = process_scan  # the processes of a capture without /proc/PID (a sosreport's ps)
        self.notes: list[str] = []
        self.page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._cache: dict = {}
        self._log_source = None

    # shared inputs, read once ------------------------------------------------
    def _once(self, key, produce):
        if key not in self._cache:
            self._cache[key] = produce()
        return self._cache[key]

    def _safe_proc(self, *parts):
        return self.reader.try_proc(*parts, notes=self.notes)

    def _safe_sys(self, *parts):
        return self.reader.try_sys(*parts, notes=self.notes)

    @property
    def meminfo(self) -> dict[str, int]:
        def produce():
            text = self._safe_proc("meminfo")
            if text is None:
                self.notes.append("meminfo: not readable")
                return {}
            return procfs.parse_meminfo(text, self.notes)
        return self._once("meminfo", produce)

    @property
    def vmstat(self) -> dict[str, int]:
        def produce():
            text = self._safe_proc("vmstat")
            return procfs.parse_vmstat(text, self.notes) if text else {}
        return self._once("vmstat", produce)

    # subsets -------------------------------------------------------------------
    def overview(self) -> dict:
        mi = self.meminfo
        total = mi.get("MemTotal")
        if total is None:
            return {"total_bytes": None, "meminfo": mi}
        free = mi.get("MemFree", 0)
        buffers = mi.get("Buffers", 0)
        cached = mi.get("Cached", 0) + mi.get("SReclaimable", 0)
        available = mi.get("MemAvailable")
        available_estimated = available is None
        if available is None:  # kernels before 3.14
            available = min(total, free + buffers + cached)
        # procps-ng 4 counts used as total - available (so does this)
        used = total - available if 0 < available <= total else total - free - buffers - cached
        return {
            "total_bytes": total,
            "used_bytes": used,
            "free_bytes": free,
            "shared_bytes": mi.get("Shmem", 0),
            "buffers_bytes": buffers,
            "cached_bytes": cached,
            "buff_cache_bytes": buffers + cached,
            "available_bytes": available,
            "available_estimated": available_estimated,
            "available_pct": _pct(available, total),
            "used_pct": _pct(used, total),
            "free_pct": _pct(free, total),
            "page_size": self.page_size,
            "hugepages": {
                "total": mi.get("HugePages_Total", 0),
                "free": mi.get("HugePages_Free", 0),
                "size_bytes": mi.get("Hugepagesize"),
                "hugetlb_bytes": mi.get("Hugetlb", mi.get("HugePages_Total", 0) * mi.get("Hugepagesize", 0)),
            },
            "anon_hugepages_bytes": mi.get("AnonHugePages", 0),
            "breakdown": breakdown.gather(self.reader, mi, self.top, self.notes, self._mountinfo),
            "meminfo": mi,
        }

    def swap(self) -> dict:
        mi = self.meminfo
        text = self._safe_proc("swaps")
        devices = procfs.parse_swaps(text, self.notes) if text else []
        total = mi.get("SwapTotal", sum(d["size_bytes"] for d in devices))
        free = mi.get("SwapFree", total - sum(d["used_bytes"] for d in devices))
        if free > total:  # seen on WSL: SwapFree larger than SwapTotal
            self.notes.append("meminfo: SwapFree (%d) exceeds SwapTotal (%d); using /proc/swaps" % (free, total))
            free = max(total - sum(d["used_bytes"] for d in devices), 0)
        used = total - free
        vm = self.vmstat
        return {
            "total_bytes": total,
            "used_bytes": used,
            "free_bytes": free,
            "used_pct": _pct(used, total) if total else 0.0,
            "cached_bytes": mi.get("SwapCached", 0),
            "devices": devices,
            "pswpin": vm.get("pswpin"),
            "pswpout": vm.get("pswpout"),
        }

    def scan(self) -> tuple[list[dict], int, int, int]:
        """One pass over every process: (rows, vanished, access_denied, kernel_threads)."""
        if self.process_scan is not None:
            return self.process_scan()
        return proctable.scan(self.reader, self.page_size, self.notes)

    def processes(self) -> dict:
        total_memory = self.meminfo.get("MemTotal") or 0
        rows, vanished, denied, kthreads = self.scan()
        own = self._own_pids(rows)
        if own:
            rows = [r for r in rows if r["pid"] not in own]
        self.last_rows = rows
        top = self.top
        by_rss = heapq.nlargest(top, rows, key=lambda r: r["rss_bytes"])
        by_swap = [r for r in heapq.nlargest(top, rows, key=lambda r: r["swap_bytes"]) if r["swap_bytes"] > 0]
        by_oom = heapq.nlargest(top, rows, key=lambda r: (r["oom_score"] or 0, r["rss_bytes"]))
        # PSS costs a walk of the page tables: only for the likely top consumers.
        candidates = {r["pid"]: r for r in heapq.nlargest(2 * top, rows, key=lambda r: r["rss_bytes"])}
        candidates.update((r["pid"], r) for r in by_swap)
        for row in candidates.values():
            self._add_pss(row)
        by_pss = heapq.nlargest(top, [r for r in candidates.values() if r.get("pss_bytes") is not None],
                                key=lambda r: r["pss_bytes"])
        reported: dict[int, dict] = {}
        for row in by_rss + by_swap + by_oom + by_pss:
            reported.setdefault(row["pid"], row)
        for row in reported.values():
            self._complete(row, total_memory)
        hidepid = self._hidepid()
        return {
            "count": len(rows),
            "excluded_pids": sorted(own),
            "kernel_threads": kthreads,
            "vanished": vanished,
            "access_denied": denied,
            "hidepid": hidepid,
            "partial_view": bool(denied) or (hidepid not in (None, "0", "off") and os.geteuid() != 0),
            "rss_bytes_total": sum(r["rss_bytes"] for r in rows),
            "swap_bytes_total": sum(r["swap_bytes"] for r in rows),
            "top_rss": [_public(r) for r in by_rss],
            "top_pss": [_public(r) for r in by_pss],
            "top_swap": [_public(r) for r in by_swap],
            "top_oom_score": [_public(r) for r in by_oom],
            "by_name": self._by_name(rows, total_memory),
            "workloads": workloads.workloads(self.reader, rows, self.watch),
            "runtimes": workloads.runtimes(self.reader, rows, self.meminfo.get("MemTotal")),
        }

    def table(self) -> list[dict]:
        """This run's process table without the module's own processes (scanned here when processes was not)."""
        rows = self.last_rows
        if rows is None:
            rows = self.scan()[0]
            rows = [r for r in rows if r["pid"] not in self._own_pids(rows)]
        return rows

    def _own_pids(self, rows):
        """This process and the chain of Ansible processes that started it
        (the shell that ran it, the controller on a local connection): the
        measurement should not list itself among the consumers. Only on the
        live /proc, where pids are this process's own."""
        if self.reader.proc_root != "/proc":
            return set()
        parents = {r["pid"]: r["ppid"] for r in rows}
        own = {os.getpid()}
        pid = parents.get(os.getpid(), os.getppid())
        while pid and pid > 1 and pid in parents and pid not in own:
            try:
                argv = " ".join(procfs.parse_cmdline(self.reader.read_pid(pid, "cmdline", binary=True,
                                                                          limit=procfs.CMDLINE_LIMIT)))
            except procfs.ProcfsError:
                break
            if not any(mark in argv for mark in _ANSIBLE_MARKS):
                break
            own.add(pid)
            pid = parents[pid]
        return own

    def _add_pss(self, row):
        row["pss_bytes"] = None
        for name in ("smaps_rollup", "smaps"):  # smaps_rollup needs kernel 4.14
            try:
                text = self.reader.read_pid(row["pid"], name)
            except procfs.ProcessGone:
                # ENOENT: no smaps_rollup before 4.14; ESRCH: no mm. smaps says if the process is gone.
                continue
            except procfs.ProcfsError:
                return
            totals = procfs.parse_smaps(text)
            if "Pss" in totals:
                # swap_bytes stays VmSwap: the lists were ranked by it
                row["pss_bytes"] = totals["Pss"]
                return

    def _complete(self, row, total_memory):
        if "pss_bytes" not in row:
            row["pss_bytes"] = None
        row["mem_pct"] = _pct(row["rss_bytes"], total_memory) if total_memory else None
        if row.get("cmdline") is None:  # a capture's ps rows come with theirs
            try:
                argv = procfs.parse_cmdline(self.reader.read_pid(row["pid"], "cmdline", binary=True,
                                                                 limit=procfs.CMDLINE_LIMIT))
                row["cmdline"] = " ".join(argv)[:procfs.CMDLINE_LIMIT]
            except procfs.ProcfsError:
                row["cmdline"] = ""
        row["user"] = row.get("user") or _user_name(row["uid"])

    def _by_name(self, rows, total_memory):
        groups = {}
        for row in rows:
            group = groups.setdefault(row["name"], {"name": row["name"], "count": 0, "rss_bytes": 0, "swap_bytes": 0})
            group["count"] += 1
            group["rss_bytes"] += row["rss_bytes"]
            group["swap_bytes"] += row["swap_bytes"]
        ranked = heapq.nlargest(self.top, groups.values(), key=lambda g: g["rss_bytes"])
        for group in ranked:
            group["mem_pct"] = _pct(group["rss_bytes"], total_memory) if total_memory else None
        return ranked

    def _mountinfo(self):
        return self._once("mountinfo", lambda: self._safe_proc("self", "mountinfo"))

    def _hidepid(self):
        text = self._mountinfo()
        if not text:
            return None
        options = procfs.parse_mount_options(text, self.reader.proc_root) or {}
        value = options.get("hidepid")
        return None if value is None else str(value)

    def oom(self) -> dict:
        events, source = self._oom_events()
        counter = self.vmstat.get("oom_kill")  # kernel 4.13 and later
        return {
            "kill_count": counter,
            "kill_count_available": counter is not None,
            "log_source": source,
            "log_path": self.log_file or kernlog.tree_log_path(self.reader),
            "log_readable": source != "none",
            "log_skipped": not self.use_kernel_log,
            "events": events,
            "recent_events": events[-self.top:] if self.top else [],
        }

    def _oom_events(self):
        if not self.use_kernel_log:
            return [], "none"  # not read, so capabilities still probe whether it could be
        if self.log_file:
            text, source = kernlog.read_log_file(self.log_file), "file"
        else:
            text, source = kernlog.read_log(self.kmsg_path, self.log_commands, self.notes, self.reader)
        self._log_source = source
        if text is None:
            self.notes.append("kernel log: not readable; OOM events come from the oom_kill counter only")
            return [], "none"
        return kernlog.timestamp(kernlog.parse_kernel_log(text), self._boot_time()), source

    def _boot_time(self):
        text = self._safe_proc("stat") or ""
        for line in text.splitlines():
            if line.startswith("btime "):
                return _int_or_none(line.split()[1])
        return None

    def tunables(self) -> dict:
        vm = {}
        vm_dir = self.reader.proc_path("sys", "vm")
        try:
            names = sorted(os.listdir(vm_dir))
        except OSError:
            names = []
            self.notes.append("sys/vm: not readable")
        for name in names:
            path = os.path.join(vm_dir, name)
            if name in _VM_ACTIONS:
                continue
            try:
                if not os.stat(path).st_mode & 0o444:
                    continue  # write-only knobs
                text = self.reader.read(path)
            except (OSError, procfs.ProcfsError):
                continue
            if text is not None:
                vm[name] = _scalar(text)
        fs = {}
        for name in ("inode-nr", "dentry-state", "file-nr"):
            text = self._safe_proc("sys", "fs", name)
            if text is not None:
                fs[name.replace("-", "_")] = [_int_or_none(v) for v in text.split()]
        return {"vm": vm, "fs": fs, "thp": self._thp(), "ksm": self._ksm()}

    def _thp(self):
        for base in ("transparent_hugepage", "redhat_transparent_hugepage"):
            root = ("kernel", "mm", base)
            enabled = self._safe_sys(*(root + ("enabled",)))
            if enabled is None:
                continue
            result = {
                "available": True,
                "path": self.reader.sys_path(*root),
                "enabled": procfs.parse_selector(enabled),
            }
            for name in ("defrag", "shmem_enabled", "use_zero_page"):
                text = self._safe_sys(*(root + (name,)))
                if text is not None:
                    result[name] = procfs.parse_selector(text)
            text = self._safe_sys(*(root + ("khugepaged", "defrag")))
            if text is not None:
                result["khugepaged_defrag"] = procfs.parse_selector(text)
            sizes = {}
            try:
                entries = sorted(os.listdir(self.reader.sys_path(*root)))
            except OSError:
                entries = []
            for entry in entries:  # multi-size THP (6.8+): hugepages-<N>kB/enabled
                if entry.startswith("hugepages-"):
                    text = self._safe_sys(*(root + (entry, "enabled")))
                    if text is not None:
                        sizes[entry[len("hugepages-"):]] = procfs.parse_selector(text)
            result["sizes"] = sizes
            return result
        return {"available": False, "path": None}

    def _ksm(self):
        text = self._safe_sys("kernel", "mm", "ksm", "run")
        if text is None:
            return {"available": False}
        shared = _int_or_none(self._safe_sys("kernel", "mm", "ksm", "pages_sharing") or "")
        return {"available": True, "run": _int_or_none(text), "pages_sharing": shared}

    def commit(self) -> dict:
        mi = self.meminfo
        vm_values = {}
        for name in ("overcommit_memory", "overcommit_ratio", "overcommit_kbytes"):
            vm_values[name] = _int_or_none(self._safe_proc("sys", "vm", name) or "")
        limit = mi.get("CommitLimit")
        committed = mi.get("Committed_AS")
        return {
            "limit_bytes": limit,
            "committed_as_bytes": committed,
            "committed_pct_of_limit": _pct(committed, limit) if limit and committed is not None else None,
            "overcommit_memory": vm_values["overcommit_memory"],
            "overcommit_ratio": vm_values["overcommit_ratio"],
            "overcommit_kbytes": vm_values["overcommit_kbytes"],
            "strict": vm_values["overcommit_memory"] == 2,
            "headroom_bytes": (limit - committed) if limit is not None and committed is not None else None,
        }

    def slab(self) -> dict:
        mi = self.meminfo
        caches = []
        readable = False
        try:
            text = self.reader.proc("slabinfo")
        except procfs.NotRegularFile as exc:
            text = None
            self.notes.append(str(exc))
        except procfs.AccessDenied:
            text = None
            self.notes.append("slabinfo: permission denied (root only)")
        if text is not None:
            readable = True
            caches = procfs.parse_slabinfo(text, self.page_size, self.notes)
        inode = procfs.parse_inode_nr(self._safe_proc("sys", "fs", "inode-nr") or "")
        dentry = procfs.parse_dentry_state(self._safe_proc("sys", "fs", "dentry-state") or "")
        total = mi.get("Slab")
        unreclaimable = mi.get("SUnreclaim")
        return {
            "total_bytes": total,
            "reclaimable_bytes": mi.get("SReclaimable"),
            "unreclaimable_bytes": unreclaimable,
            "unreclaimable_pct_of_ram": _pct(unreclaimable, mi.get("MemTotal")) if unreclaimable is not None and mi.get("MemTotal") else None,
            "slabinfo_readable": readable,
            "top_caches": caches[:self.top],
            "inodes": inode,
            "dentries": dentry,
        }

    def fragmentation(self) -> dict:
        text = self._safe_proc("buddyinfo")
        zones = procfs.parse_buddyinfo(text, self.page_size, self.notes) if text else []
        return {
            "zones": zones,
            "max_order": max((len(z["free_blocks_by_order"]) - 1 for z in zones), default=None),
            "compact_stall": self.vmstat.get("compact_stall"),
            "compact_fail": self.vmstat.get("compact_fail"),
            "compact_success": self.vmstat.get("compact_success"),
        }

    def pressure(self) -> dict:
        text = self._safe_proc("pressure", "memory")
        if text is None:
            return {"available": False}
        result = {"available": True}
        result.update(procfs.parse_pressure(text, self.notes))
        return result

    def cgroup(self) -> dict:
        return cgroups.facts(self.reader, self._safe_proc("self", "cgroup"), self.top, self.near_limit_pct,
                             self.vmstat.get("oom_kill"))

    def capabilities(self) -> dict:
        source, tree_log = self._log_source, self.log_file or kernlog.tree_log_path(self.reader)
        if source is None and tree_log is not None:  # not read (kernel_log=none): the tree's log, not this host's
            source = ("file" if self.log_file else "tree") if os.path.isfile(tree_log) else "none"
        return host.capabilities(self.reader, self.kmsg_path, source, self.notes)

    # ---------------------------------------------------------------------------
    def gather(self, subsets: Sequence[str]) -> dict:
        facts = {}
        for name in subsets:
            facts[FACT_KEYS.get(name, name)] = getattr(self, name)()
        uptime = (self._safe_proc("uptime") or "").split()
        facts["uptime_seconds"] = procfs.to_float(uptime[0]) if uptime else None
        facts["gather_subset"] = list(subsets)
        facts["notes"] = list(dict.fromkeys(self.notes))  # each sample's scan notes the same things again
        return facts

    # growth sampling -------------------------------------------------------------
    def _sample_point(self, clock, with_processes):
        vmstat = procfs.parse_vmstat(self._safe_proc("vmstat") or "", None)
        rows = self.scan()[0] if with_processes else []
        return clock(), vmstat, rows

    def sample(self, subsets: Sequence[str], count: int, interval: float, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> dict:
        """Gather ``subsets`` after ``count - 1`` light samples (vmstat and the
        process scan) taken ``interval`` seconds apart; adds ``samples`` (RSS
        growth per process) and swap-in/out rates to the facts."""
        with_processes = "processes" in subsets
        points = []
        for dummy in range(count - 1):
            points.append(self._sample_point(clock, with_processes))
            sleep(interval)
        facts = self.gather(subsets)
        points.append((clock(), self.vmstat, self.last_rows or []))
        window = points[-1][0] - points[0][0]
        first_vm, last_vm = points[0][1], points[-1][1]
        if "swap" in facts and window > 0:
            for counter in ("pswpin", "pswpout"):
                if counter in first_vm and counter in last_vm:
                    facts["swap"][counter + "_rate"] = round((last_vm[counter] - first_vm[counter]) / window, 2)
        series: dict = {}
        for point in points:
            for row in point[2]:
                # pid and start time together survive pid reuse between samples
                series.setdefault((row["pid"], row["starttime"]), (row["name"], []))[1].append(row["rss_bytes"])
        growing = [
            {"pid": pid, "name": name, "starttime": start, "rss_series": values,
             "growth_bytes": values[-1] - values[0]}
            for (pid, start), (name, values) in series.items()
            if len(values) == len(points) and values[-1] > values[0]
        ]
        facts["samples"] = {
            "count": len(points),
            "interval": interval,
            "window_seconds": round(window, 3),
            "growth": heapq.nlargest(max(self.top, 10), growing, key=lambda g: g["growth_bytes"]),
        }
        return facts


def gather(reader: procfs.Reader, subsets: Sequence[str] = SUBSETS, top: int = 10, samples: int = 1,
           sample_interval: float = 5.0, thresholds: dict | None = None,
           leaks: Callable[[list, dict], dict] | None = None, process_detail: Callable[[list], dict] | None = None, **options: Any) -> dict:
    """The facts dict of mem_facts; with ``thresholds`` (merged with the guide's
    defaults by _diagnosis.merge_thresholds) also its ``health``; ``leaks(rows, facts)``
    (_leak_history) makes the ``leaks`` facts from the scan's processes before the diagnosis; ``process_detail(rows)``
    (_smaps.detail) the ``process_detail`` facts from the process table."""
    if thresholds is not None and "watch" not in options:
        options["watch"] = sorted(set(diagnosis.DATABASES) | set(thresholds["critical_processes"]))
    if thresholds is not None:
        options.setdefault("near_limit_pct", thresholds["cgroup_limit_pct_monitor"])
    gatherer = Gatherer(reader, top=top, **options)
    if samples > 1:
        facts = gatherer.sample(subsets, samples, sample_interval)
    else:
        facts = gatherer.gather(subsets)
    if process_detail is not None:
        facts["process_detail"] = process_detail(gatherer.table())
    history = leaks(gatherer.last_rows or [], facts) if leaks is not None else None
    if history is not None:
        facts["leaks"] = history
    if thresholds is not None:
        if not gatherer.meminfo.get("MemTotal"):
            meminfo_notes = [note for note in gatherer.notes if note.startswith("meminfo")]
            raise CannotJudge(
                "%s has no MemTotal line in kB%s: without the size of RAM the memory of this host cannot be judged; "
                "point proc_root at a mounted procfs" % (reader.proc_path("meminfo"), (" (%s)" % "; ".join(
                    meminfo_notes[:3])) if meminfo_notes else ""))
        facts["health"] = diagnosis.diagnose(facts, thresholds)
    return facts


def _pct(part, whole):
    if not whole or part is None:
        return 0.0
    return round(100.0 * part / whole, 2)


_int_or_none = procfs.to_int


def _scalar(text):
    text = text.strip()
    number = _int_or_none(text)
    return number if number is not None else text


_USERS = {}


def _user_name(uid):
    if uid is None:
        return None
    if uid not in _USERS:
        try:
            _USERS[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _USERS[uid] = str(uid)
    return _USERS[uid]


def _public(row):
    return {key: row.get(key) for key in PROCESS_KEYS}
