# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What runs on a host among its processes: well-known workloads, and managed runtimes with their heap limits.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), part of the facts layer: the processes subset of _memfacts hands its rows
here and publishes what comes back as ``workloads`` and ``runtimes``.
"""

from __future__ import annotations

from typing import Iterable

from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups
from ansible_collections.memops.linux.plugins.module_utils import _heap as heap_limits
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

RUNTIMES = {"java": "jvm", "node": "node", "nodejs": "node"}
HEAP_FLAGS = {
    "jvm": (("-Xmx", "-XX:MaxRAM", "-XX:MaxHeapSize"), ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")),
    "node": (("--max-old-space-size", "--max_old_space_size"), ("NODE_OPTIONS",)),
}


def workloads(reader: procfs.Reader, rows: list[dict], watch: Iterable[str]) -> dict:
    """Well-known workloads among all processes, by name (comm, 15 characters at most)."""
    watched = {name[:15]: name for name in watch}
    found = {}
    for row in rows:
        name = watched.get(row["name"])
        if name is None:
            continue
        entry = found.setdefault(name, {"count": 0, "pids": [], "rss_bytes": 0, "min_oom_score_adj": None})
        entry["count"] += 1
        entry["rss_bytes"] += row["rss_bytes"]
        if len(entry["pids"]) < 10:
            entry["pids"].append(row["pid"])
        adj = row["oom_score_adj"]
        if adj is not None and (entry["min_oom_score_adj"] is None or adj < entry["min_oom_score_adj"]):
            entry["min_oom_score_adj"] = adj
    for entry in found.values():  # the service a workload runs as: what oom_protect_services takes
        try:
            entry["unit"] = cgroups.service_unit(reader.read_pid(entry["pids"][0], "cgroup"))
        except procfs.ProcfsError:
            entry["unit"] = None
    return found


def runtimes(reader: procfs.Reader, rows: list[dict], total_memory: int | None) -> list[dict]:
    """JVMs and Node.js processes, and their heap limit (_heap: from the command line or the runtime's
    options variable in the environment, in bytes, against the memory limit of their cgroup or RAM)."""
    result = []
    for row in rows:
        runtime = RUNTIMES.get(row["name"])
        if runtime is None:
            continue
        try:
            argv = procfs.parse_cmdline(reader.read_pid(row["pid"], "cmdline", binary=True))
            try:
                environ = reader.read_pid(row["pid"], "environ", binary=True).decode("utf-8", "replace")
            except procfs.AccessDenied:
                environ = ""
        except procfs.ProcfsError:
            continue
        try:
            cgroup_limit = cgroups.memory_limit(reader, cgroups.parse_proc_cgroup(
                reader.read_pid(row["pid"], "cgroup")))
        except procfs.ProcfsError:
            cgroup_limit = None
        flags, variables = HEAP_FLAGS[runtime]
        words = argv + [item.partition("=")[2] for item in environ.split("\0")
                        if item.partition("=")[0] in variables]
        words = [w for text in words for w in text.split()]
        seen_ram = min(x for x in (cgroup_limit, total_memory) if x) if cgroup_limit or total_memory else None
        heap = heap_limits.jvm_heap(words, seen_ram) if runtime == "jvm" else heap_limits.node_heap(words)
        result.append({"pid": row["pid"], "name": row["name"], "runtime": runtime,
                       "heap_limit": next((w for w in words if w.startswith(flags)), None),
                       "heap_limit_bytes": heap["bytes"], "heap_limit_source": heap["source"],
                       "memory_limit_bytes": cgroup_limit,
                       "rss_bytes": row["rss_bytes"], "cmdline": " ".join(argv)[:procfs.CMDLINE_LIMIT]})
    return result
