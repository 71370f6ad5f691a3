# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Contender (b): the per-process data of mem_facts collected with psutil.

For every process: pid, name, real uid, state, ppid, start time, RSS (as
psutil offers them), plus oom_score and oom_score_adj, which psutil has no
API for, read from /proc. PSS and swap come from memory_full_info() (which
reads smaps_rollup) for the same candidates mem_facts measures PSS for: the
2 x top largest by RSS. Then the reported rows get their cmdline and user
name, and the system-wide figures come from virtual_memory()/swap_memory().

psutil has no per-process swap figure short of memory_full_info(), so this
script does a little less than the module (it cannot rank swap users that
are small in RSS); that makes it the harder contender to beat, not the
easier one. Output: a JSON summary on stdout.
"""

import heapq
import json
import pwd
import sys

import psutil

TOP = 10
ATTRS = ["pid", "name", "uids", "status", "ppid", "create_time", "memory_info"]


def read_int(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name)) as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def main():
    rows = []
    for proc in psutil.process_iter(ATTRS):
        info = proc.info
        if info["memory_info"] is None:
            continue
        info["rss_bytes"] = info.pop("memory_info").rss
        info["uid"] = info.pop("uids").real if info["uids"] else None
        info["oom_score"] = read_int(info["pid"], "oom_score")
        info["oom_score_adj"] = read_int(info["pid"], "oom_score_adj")
        rows.append(info)
    by_rss = heapq.nlargest(TOP, rows, key=lambda r: r["rss_bytes"])
    by_oom = heapq.nlargest(TOP, rows, key=lambda r: (r["oom_score"] or 0, r["rss_bytes"]))
    candidates = heapq.nlargest(2 * TOP, rows, key=lambda r: r["rss_bytes"])
    for row in candidates:
        try:
            full = psutil.Process(row["pid"]).memory_full_info()
            row["pss_bytes"], row["swap_bytes"] = full.pss, full.swap
        except (psutil.Error, OSError):
            row["pss_bytes"] = row["swap_bytes"] = None
    by_pss = heapq.nlargest(TOP, [r for r in candidates if r.get("pss_bytes") is not None],
                            key=lambda r: r["pss_bytes"])
    by_swap = [r for r in heapq.nlargest(TOP, candidates, key=lambda r: r.get("swap_bytes") or 0)
               if r.get("swap_bytes")]
    reported = {}
    for row in by_rss + by_oom + by_pss + by_swap:
        reported.setdefault(row["pid"], row)
    for row in reported.values():
        try:
            row["cmdline"] = " ".join(psutil.Process(row["pid"]).cmdline())
        except (psutil.Error, OSError):
            row["cmdline"] = ""
        try:
            row["user"] = pwd.getpwuid(row["uid"]).pw_name
        except (KeyError, TypeError):
            row["user"] = None
    by_name = {}
    for row in rows:
        group = by_name.setdefault(row["name"], [0, 0])
        group[0] += 1
        group[1] += row["rss_bytes"]
    json.dump({
        "count": len(rows),
        "memory": psutil.virtual_memory()._asdict(),
        "swap": psutil.swap_memory()._asdict(),
        "top_rss": by_rss, "top_pss": by_pss, "top_swap": by_swap, "top_oom_score": by_oom,
        "by_name": heapq.nlargest(TOP, by_name.items(), key=lambda item: item[1][1]),
    }, sys.stdout, default=str)


if __name__ == "__main__":
    main()
