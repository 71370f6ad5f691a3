# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The process table of a host: one pass over /proc/PID.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). ``scan()`` reads stat, status, oom_score and
oom_score_adj of every process and returns one row per user-space process;
``memops.linux.mem_facts`` ranks those rows into its top lists.
"""

from __future__ import annotations

import os

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

# the lines of /proc/PID/status a process row is made of
STATUS_KEYS = ("Name", "Uid", "VmRSS", "VmSwap")


def scan(reader: procfs.Reader, page_size: int, notes: list) -> tuple[list[dict], int, int, int]:
    """One pass over every process: (rows, vanished, access_denied, kernel_threads).

    Reads stat, status, oom_score and oom_score_adj per pid; kernel threads
    are counted from stat alone. A process whose directory lacks some of
    them (old kernels, captured trees) is counted with what could be read."""
    parse_stat = procfs.parse_pid_stat
    status_fields = procfs.parse_status_fields
    to_int = procfs.to_int
    rows = []
    vanished = denied = kthreads = 0
    incomplete: dict[str, int] = {}
    for pid in reader.pids():
        missing: list[str] = []
        try:
            text = pid_file(reader, pid, "stat", missing)  # the hot path: four files per process
            stat = parse_stat(text) if text is not None else None
            if stat is not None and stat["flags"] & procfs.PF_KTHREAD:
                kthreads += 1
                continue
            text = pid_file(reader, pid, "status", missing)
            status = status_fields(text, STATUS_KEYS) if text is not None else {}
            if stat is None:
                stat = _stat_from_status(procfs.parse_status(text or ""))
                if stat is None:
                    kthreads += 1
                    continue
            oom_score = to_int(pid_file(reader, pid, "oom_score", missing))
            text = pid_file(reader, pid, "oom_score_adj", missing)
            oom_score_adj = _oom_score_adj(text, pid, notes) if text is not None else None
        except procfs.ProcessGone:
            vanished += 1
            continue
        except procfs.AccessDenied:
            denied += 1
            continue
        except procfs.ParseError as exc:
            notes.append("process %s: %s" % (pid, exc))
            continue
        for name in missing:
            incomplete[name] = incomplete.get(name, 0) + 1
        uid = status.get("Uid", "").split()
        rows.append({
            "pid": pid,
            "name": status.get("Name", stat["comm"]),
            "uid": to_int(uid[0]) if uid else None,
            "state": stat["state"],
            "ppid": stat["ppid"],
            "starttime": stat["starttime"],
            "rss_bytes": _int_value(status.get("VmRSS", stat["rss_pages"] * page_size)),
            "swap_bytes": _int_value(status.get("VmSwap", 0)),
            "oom_score": oom_score,
            "oom_score_adj": oom_score_adj,
        })
    if incomplete:
        notes.append("processes: counted with what could be read; not readable: %s" % ", ".join(
            "%s of %d" % (name, count) for name, count in sorted(incomplete.items())))
    return rows, vanished, denied, kthreads


def pid_file(reader: procfs.Reader, pid: int, name: str, missing: list) -> str | None:
    """The file ``name`` of process ``pid``, or None (added to ``missing``) when its
    directory is there without it as a regular file. Gone means the directory is gone."""
    try:
        return reader.read_pid_record(pid, name)
    except procfs.NotRegularFile:
        pass
    except procfs.FileMissing:  # ESRCH (the task has exited) stays ProcessGone
        if not os.path.isdir(reader.proc_path(str(pid))):
            raise
    missing.append(name)
    return None


def _stat_from_status(status):
    """What the scan takes from a process's stat, from its status (full) where stat
    is missing; None for a kernel thread."""
    if status.get("Kthread") == "1":
        return None
    state = status.get("State", "").split()
    return {"comm": status.get("Name", "?"), "state": state[0] if state else None,
            "ppid": procfs.to_int(status.get("PPid")), "starttime": None, "rss_pages": 0}


def _oom_score_adj(text, pid, notes):
    """The oom_score_adj of process ``pid``, or None (said in ``notes``) when it is none the kernel writes."""
    value = procfs.to_int(text)
    if value is None or not -1000 <= value <= 1000:
        notes.append("process %s: oom_score_adj %r is no number from -1000 to 1000" % (pid, text.strip()[:40]))
        return None
    return value


def _int_value(value):
    return value if isinstance(value, int) else (procfs.to_int(value) or 0)
