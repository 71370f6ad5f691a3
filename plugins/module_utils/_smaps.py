# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One process in depth: the ``pmap -x`` and ``smem`` view of chosen processes.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). ``detail()`` reads ``/proc/PID/smaps`` (bounded,
in one pass) and ``smaps_rollup`` of the processes a request names (pids, names,
the ``top`` largest by RSS) and returns per process its USS, PSS, shared and swap,
its memory summed by kind of mapping (heap, stack, anonymous, file, shmem, other)
and its largest mappings with the columns of ``pmap -x`` (Address, Kbytes, RSS,
Dirty, Mode, Mapping). Sizes are bytes.
"""

from __future__ import annotations

import heapq
import os

from ansible_collections.memops.linux.plugins.module_utils import _oom as oom
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils._schema import MAPPING_KINDS as KINDS

OPTIONS = ("pids", "names", "top", "mappings")
DEFAULT_MAPPINGS = 10
MAX_PIDS = 100        # pids and names a request may list, each
MAX_TOP = 100
MAX_MAPPINGS = 1000
MAX_PROCESSES = 100   # processes detailed in all (a name may match hundreds of workers)
# The most of one smaps read: some 20000 mappings (a block is 1 to 1.5 KiB). A process with more (a JVM with
# 100k thread stacks and arenas) is detailed from its first mappings and its totals come from smaps_rollup.
SMAPS_LIMIT = 32 << 20
DELETED = " (deleted)"
# the smaps lines a mapping keeps, in bytes
_KEYS = {"Size": "size", "Rss": "rss", "Pss": "pss", "Shared_Clean": "shared", "Shared_Dirty": "shared_dirty",
         "Private_Clean": "private", "Private_Dirty": "private_dirty", "Swap": "swap", "SwapPss": "swap_pss",
         "AnonHugePages": "anon_huge", "Shared_Hugetlb": "hugetlb", "Private_Hugetlb": "hugetlb"}
_VALUES = ("size", "rss", "pss", "shared", "shared_dirty", "private", "private_dirty", "swap", "swap_pss",
           "anon_huge", "hugetlb")
_SPECIAL = {"[heap]": "heap", "[stack]": "stack"}


class SmapsError(ValueError):
    """process_detail asks for something that cannot be given."""


def check_request(request: object) -> dict:
    """The request with its defaults, checked; raises SmapsError naming the problem and the fix."""
    if not isinstance(request, dict):
        raise SmapsError("process_detail must be a dict with pids, names, top or mappings, got %r" % (request,))
    unknown = sorted(str(key) for key in request if key not in OPTIONS)
    if unknown:
        raise SmapsError("process_detail: unknown key(s) %s; expected %s" % (", ".join(unknown), ", ".join(OPTIONS)))
    pids = list(request.get("pids") or [])
    names = list(request.get("names") or [])
    top = request.get("top")
    mappings = request.get("mappings")
    top = 0 if top is None else top
    mappings = DEFAULT_MAPPINGS if mappings is None else mappings
    for label, value, high in (("top", top, MAX_TOP), ("mappings", mappings, MAX_MAPPINGS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise SmapsError("process_detail: %s must be a number from 0 to %d, got %r" % (label, high, value))
    bad = [pid for pid in pids if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1]
    if bad:
        raise SmapsError("process_detail: pids must be process ids (whole numbers from 1), got %r" % (bad[0],))
    bad = [name for name in names if not isinstance(name, str) or not name.strip() or "/" in name]
    if bad:
        raise SmapsError("process_detail: names must be process names (comm or executable name, without a "
                         "directory), got %r" % (bad[0],))
    for label, values in (("pids", pids), ("names", names)):
        if len(values) > MAX_PIDS:
            raise SmapsError("process_detail: at most %d %s, got %d; use top for the largest processes"
                             % (MAX_PIDS, label, len(values)))
    if not pids and not names and not top:
        raise SmapsError("process_detail selects no process: give pids, names or top (for example top: 3), "
                         "or leave process_detail out")
    return {"pids": list(dict.fromkeys(pids)), "names": list(dict.fromkeys(names)), "top": top, "mappings": mappings}


# ---------------------------------------------------------------------------
# parsing


def kind_of(path: str) -> str:
    """The kind of a mapping from its smaps path (without " (deleted)")."""
    if not path:
        return "anonymous"
    if path in _SPECIAL or path.startswith("[stack:"):  # [stack:TID]: thread stacks, kernels before 4.5
        return _SPECIAL.get(path, "stack")
    if path.startswith("[anon_shmem:"):
        return "shmem"
    if path.startswith("[anon:"):  # named with prctl(PR_SET_VMA_ANON_NAME), kernel 5.17 and later
        return "anonymous"
    if path.startswith("/SYSV") or path.startswith("/dev/shm/") or path.startswith("/memfd:") or path == "/dev/zero":
        return "shmem"  # SysV segments, POSIX shared memory, memfd, shared anonymous mappings
    if path.startswith("/"):
        return "file"
    return "other"  # [vdso], [vvar], [vsyscall], [uprobes]


def _mapping(header: str) -> dict | None:
    fields = header.split(None, 5)
    if len(fields) < 5 or "-" not in fields[0]:
        return None
    path = fields[5].rstrip("\n") if len(fields) > 5 else ""
    deleted = path.endswith(DELETED)
    if deleted:
        path = path[:-len(DELETED)]
    mapping = dict.fromkeys(_VALUES, 0)
    mapping.update({"address": fields[0], "perms": fields[1], "path": path, "deleted": deleted,
                    "kind": kind_of(path)})
    return mapping


def parse_mappings(text: str, notes: list | None = None) -> list[dict]:
    """smaps text -> a dict per mapping: address, perms, path, deleted, kind and the sizes in bytes,
    in one pass. Lines of neither shape are skipped (counted in ``notes``)."""
    mappings = []
    current = None
    skipped = 0
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if sep and " " not in key:
            if current is not None and key in _KEYS:
                size = procfs.to_int(value[:-2]) if value.endswith(" kB") else None
                if size is None or size < 0:
                    skipped += 1
                else:
                    current[_KEYS[key]] += size * procfs.KIB
            continue
        if not line:
            continue
        current = _mapping(line)
        if current is None:
            skipped += 1
        else:
            mappings.append(current)
    if skipped and notes is not None:
        notes.append("smaps: %d line(s) of no known shape skipped" % skipped)
    return mappings


def _public_mapping(m):
    return {"address": m["address"], "perms": m["perms"], "kind": m["kind"], "path": m["path"],
            "deleted": m["deleted"], "size_bytes": m["size"], "rss_bytes": m["rss"], "pss_bytes": m["pss"],
            "dirty_bytes": m["shared_dirty"] + m["private_dirty"], "uss_bytes": m["private"] + m["private_dirty"],
            "swap_bytes": m["swap"]}


def summarise(mappings: list[dict], rollup: dict | None, largest: int) -> dict:
    """The per-process numbers of ``mappings`` (and of ``rollup``, the parsed smaps_rollup, for the totals
    when given): the totals, the sums by kind and the ``largest`` mappings by RSS and swap."""
    sums = dict.fromkeys(_VALUES, 0)
    by_kind = {kind: {"count": 0, "size_bytes": 0, "rss_bytes": 0, "pss_bytes": 0, "swap_bytes": 0} for kind in KINDS}
    for m in mappings:
        for key in _VALUES:
            sums[key] += m[key]
        part = by_kind[m["kind"]]
        part["count"] += 1
        part["size_bytes"] += m["size"]
        part["rss_bytes"] += m["rss"]
        part["pss_bytes"] += m["pss"]
        part["swap_bytes"] += m["swap"]
    if rollup:
        totals = {name: rollup.get(key, 0) for key, name in (
            ("Rss", "rss"), ("Pss", "pss"), ("Swap", "swap"), ("SwapPss", "swap_pss"), ("AnonHugePages", "anon_huge"))}
        totals["private"] = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
        totals["shared"] = rollup.get("Shared_Clean", 0) + rollup.get("Shared_Dirty", 0)
        totals["dirty"] = rollup.get("Shared_Dirty", 0) + rollup.get("Private_Dirty", 0)
        totals["hugetlb"] = rollup.get("Shared_Hugetlb", 0) + rollup.get("Private_Hugetlb", 0)
    else:
        totals = {"rss": sums["rss"], "pss": sums["pss"], "swap": sums["swap"], "swap_pss": sums["swap_pss"],
                  "anon_huge": sums["anon_huge"], "private": sums["private"] + sums["private_dirty"],
                  "shared": sums["shared"] + sums["shared_dirty"], "dirty": sums["shared_dirty"] + sums["private_dirty"],
                  "hugetlb": sums["hugetlb"]}
    ranked = heapq.nlargest(largest, mappings, key=lambda m: (m["rss"] + m["swap"], m["size"])) if largest else []
    return {
        "size_bytes": sums["size"],
        "rss_bytes": totals["rss"],
        "pss_bytes": totals["pss"],
        "uss_bytes": totals["private"],
        "shared_bytes": totals["shared"],
        "dirty_bytes": totals["dirty"],
        "swap_bytes": totals["swap"],
        "swap_pss_bytes": totals["swap_pss"],
        "anon_huge_bytes": totals["anon_huge"],
        "hugetlb_bytes": totals["hugetlb"],
        "mapping_count": len(mappings),
        "by_kind": by_kind,
        "mappings": [_public_mapping(m) for m in ranked],
    }


# ---------------------------------------------------------------------------
# reading


def read_process(reader: procfs.Reader, pid: int, largest: int, limit: int = SMAPS_LIMIT) -> dict:
    """The detail of one process; raises ProcessGone or AccessDenied (ProcfsError)."""
    notes: list[str] = []
    data = reader.read_pid(pid, "smaps", binary=True, limit=limit)
    truncated = len(data) >= limit
    text = data.decode("utf-8", "replace")
    if truncated:  # the last block may be cut: kept up to the last whole mapping
        text = text[:text.rfind("\n")]
    mappings = parse_mappings(text, notes)
    if truncated and mappings:
        mappings.pop()
    rollup = None
    try:
        rollup = procfs.parse_smaps(reader.read_pid(pid, "smaps_rollup")) or None
    except procfs.ProcessGone:  # ENOENT before 4.14 and in trees without it, ESRCH without an mm: from smaps
        pass
    if not data and rollup is None:
        # smaps of a kernel thread or a zombie is empty; of a process gone between the reads too
        notes.append("no mappings: a kernel thread or a process that is exiting")
    result = summarise(mappings, rollup, largest)
    result["totals_from"] = "smaps_rollup" if rollup else "smaps"
    result["truncated"] = truncated
    if truncated:
        notes.append("smaps larger than %d MiB: its first %d mappings read; totals from %s" % (
            limit >> 20, len(mappings), "smaps_rollup" if rollup else "those mappings only"))
    result["notes"] = notes
    return result


def _comm(reader, pid):
    try:
        return reader.read_pid(pid, "comm").rstrip("\n")
    except procfs.ProcfsError:
        return None


def _cmdline(reader, pid):
    try:
        argv = procfs.parse_cmdline(reader.read_pid(pid, "cmdline", binary=True, limit=procfs.CMDLINE_LIMIT))
    except procfs.ProcfsError:
        return ""
    return " ".join(argv)[:procfs.CMDLINE_LIMIT]


def choose(reader: procfs.Reader, request: dict, rows: list[dict]) -> tuple[dict, list[int], list[str], list[str]]:
    """{pid: [how it was selected]}, the pids not found, the names that matched nothing, and notes."""
    chosen: dict[int, list[str]] = {}
    known = {row["pid"]: row for row in rows}
    missing = []
    for pid in request["pids"]:
        if pid in known or os.path.isdir(reader.proc_path(str(pid))):
            chosen.setdefault(pid, []).append("pid")
        else:
            missing.append(pid)
    unmatched = []
    by_rss = sorted(rows, key=lambda r: r["rss_bytes"], reverse=True)
    for name in request["names"]:
        found = [r["pid"] for r in by_rss if oom.name_matches(reader, r["pid"], r["name"][:oom.COMM_LEN], name)]
        if not found:
            unmatched.append(name)
        for pid in found:
            chosen.setdefault(pid, []).append("name:%s" % name)
    for row in by_rss[:request["top"]]:
        chosen.setdefault(row["pid"], []).append("top")
    notes = []
    if len(chosen) > MAX_PROCESSES:
        notes.append("%d processes selected: the first %d detailed (pids, then names, then top)"
                     % (len(chosen), MAX_PROCESSES))
        chosen = dict(list(chosen.items())[:MAX_PROCESSES])
    return chosen, missing, unmatched, notes


def detail(reader: procfs.Reader, request: dict, rows: list[dict]) -> dict:
    """The ``process_detail`` facts: ``request`` checked by check_request, ``rows`` the process table
    (_proctable.scan, without this module's own processes) that names and top are chosen from."""
    chosen, missing, unmatched, notes = choose(reader, request, rows)
    known = {row["pid"]: row for row in rows}
    processes = []
    vanished = []
    denied = []
    for pid, selected_by in chosen.items():
        try:
            found = read_process(reader, pid, request["mappings"])
        except procfs.ProcessGone:
            if os.path.isdir(reader.proc_path(str(pid))):  # a captured tree without the file
                notes.append("process %d: no smaps to read" % pid)
            else:
                vanished.append(pid)
            continue
        except procfs.AccessDenied:
            denied.append(pid)
            continue
        except procfs.ProcfsError as exc:
            notes.append("process %d: %s" % (pid, exc))
            continue
        row = known.get(pid) or {}
        name = row.get("name") or _comm(reader, pid)
        entry = {"pid": pid, "name": name, "cmdline": _cmdline(reader, pid), "selected_by": selected_by}
        entry.update(found)
        notes.extend("process %d (%s): %s" % (pid, name, note) for note in entry.pop("notes"))
        processes.append(entry)
    if denied:
        notes.append("smaps of %d process(es) not readable (permission denied): run as root (become) or as "
                     "their user" % len(denied))
    processes.sort(key=lambda p: -p["pss_bytes"])
    return {
        "processes": processes,
        "not_found_pids": missing,
        "unmatched_names": unmatched,
        "vanished_pids": vanished,
        "access_denied_pids": denied,
        "mappings": request["mappings"],
        "notes": notes,
    }
