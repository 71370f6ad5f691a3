# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rules that turn memory facts into a verdict, findings and fixes.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). ``diagnose(facts, thresholds)`` takes the
dict that mem_facts gathers and returns ``{status, findings}``. Each rule
looks only at the subsets it needs and stays silent when they were not
gathered. Every number a rule compares against is a threshold with the
guide's value as default.
"""

from __future__ import annotations

import math
from typing import Iterator

from ansible_collections.memops.linux.plugins.module_utils import _rules_breakdown as rules_breakdown
from ansible_collections.memops.linux.plugins.module_utils import _rules_cgroups as cgroup_rules
from ansible_collections.memops.linux.plugins.module_utils._schema import (
    SEVERITIES, SEVERITY_LEVEL, finding as _finding, health_status, remedy as _remedy, section,
)
from ansible_collections.memops.linux.plugins.module_utils._units import format_size

MIB = 1 << 20
GIB = 1 << 30

DEFAULT_THRESHOLDS = {
    # the guide's flowchart: available < 5%? then swap used > 50%?
    "available_pct_low": 5.0,
    "swap_used_pct_high": 50.0,
    # the guide's alert rules: used > 90%, swap free < 20%
    "memory_used_pct_high": 90.0,
    "swap_used_pct_exhausted": 80.0,
    # too little RAM: swap traffic between samples and PSI
    "available_pct_tight": 10.0,
    "swap_pages_per_second": 100.0,
    "psi_some_avg10": 10.0,
    "psi_full_avg10": 5.0,
    # leak suspects across samples
    "leak_min_growth_bytes": 4 * MIB,
    "leak_min_growth_pct": 5.0,
    # leaks over hours (the checker's history, _leak_history.trend): a steady rise this long, this good a
    # straight line, this much growth, still rising in its last third at this share of the whole's rate
    "leak_trend_min_span_hours": 6.0,
    "leak_trend_min_fit": 0.8,
    "leak_trend_min_growth_bytes": 32 * MIB,
    "leak_trend_min_growth_pct": 10.0,
    "leak_trend_recent_share": 0.5,
    "leak_exhaustion_critical_hours": 24.0,  # critical when MemAvailable runs out sooner at that growth
    # OOM killer
    "oom_recent_seconds": 3600,
    "oom_likely_victims": 3,
    "critical_processes": ["sshd", "mysqld", "mariadbd", "postgres", "mongod", "redis-server"],
    # fork/exec under strict overcommit
    "commit_pct_monitor": 80.0,
    "commit_pct_critical": 95.0,
    "commit_limit_min_pct_of_ram": 75.0,
    # no swap on a small host
    "no_swap_max_ram_bytes": 4 * GIB,
    # kernel slab
    "slab_unreclaimable_pct_monitor": 10.0,
    "slab_unreclaimable_pct_critical": 25.0,
    "slab_reclaimable_pct_monitor": 30.0,
    # fragmentation: free memory present but high orders empty
    "fragmentation_order": 4,
    "fragmentation_unusable_index": 0.9,
    "fragmentation_min_free_pct": 5.0,
    # tuning advice
    "swappiness_database_max": 10,
    # runtimes: a heap with no limit worth naming (% of RAM or of its cgroup's limit); heap limits against RAM
    "heap_unbounded_min_pct": 10.0,
    "heap_limits_max_pct_of_ram": 100.0,
    # what holds RAM when memory is low (_rules_breakdown): a part of memory.breakdown named from this % of RAM
    "breakdown_shmem_pct": 10.0,  # shared memory and tmpfs
    "breakdown_hugetlb_unused_pct": 5.0,  # hugetlb pages neither in use nor reserved
    "breakdown_unaccounted_pct": 10.0,  # memory no kernel counter names
    # memory cgroups (services, containers, pods): working set against the group's limit
    "cgroup_limit_pct_monitor": 90.0,  # near its limit
    "cgroup_limit_pct_critical": 98.0,  # at its limit
}

# workloads the tuning advice looks for, by process name
DATABASES = ("mysqld", "mariadbd", "postgres", "mongod", "redis-server")
THP_SENSITIVE = ("redis-server", "mongod")


class ThresholdError(ValueError):
    """thresholds holds an unknown key or a value of the wrong kind."""


def merge_thresholds(overrides: dict | None) -> dict:
    """Guide defaults updated by ``overrides``; unknown keys and wrong kinds are errors."""
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ThresholdError(
                "thresholds: unknown key %r; known keys are %s" % (key, ", ".join(sorted(DEFAULT_THRESHOLDS))))
        default = DEFAULT_THRESHOLDS[key]
        if isinstance(default, list):
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ThresholdError("thresholds: %s must be a list of process names, got %r" % (key, value))
            merged[key] = list(value)
            continue
        try:
            if isinstance(value, bool):  # True would pass as 1
                raise TypeError(value)
            value = float(value) if isinstance(default, float) else int(value)
        except (TypeError, ValueError, OverflowError):
            raise ThresholdError("thresholds: %s must be a number like %r, got %r" % (key, default, value))
        if not math.isfinite(value):  # nan compares false with everything: its rule would never fire
            raise ThresholdError("thresholds: %s must be a finite number like %r, got %r" % (key, default, value))
        if value < 0:
            raise ThresholdError("thresholds: %s must not be negative, got %r" % (key, value))
        merged[key] = value
    return merged


def _size(value):
    """Bytes as a short human string for evidence lines."""
    return "unknown" if value is None else format_size(value)


def _procs_line(rows, key="rss_bytes", limit=5):
    return ", ".join("%s[%s] %s" % (r["name"], r["pid"], _size(r.get(key))) for r in rows[:limit])


def _running(facts, names):
    """Running workloads among ``names`` -> {name: entry}."""
    workloads = section(facts, "processes").get("workloads") or {}
    return {name: workloads[name] for name in names if name in workloads}


# ---------------------------------------------------------------------------
# rules: each takes (facts, thresholds) and yields findings


def rule_low_available(facts: dict, t: dict) -> Iterator[dict]:
    mem = cgroup_rules.memory_view(facts)  # inside a container with a memory limit: that limit
    container = mem.get("container_limit") or {}
    swap = section(facts, "swap")
    if not mem.get("total_bytes"):
        return
    available_pct = mem["available_pct"]
    swap_total = swap.get("total_bytes") or 0
    swap_pct = swap.get("used_pct", 0.0) if swap_total else None
    if available_pct < t["available_pct_low"]:
        # the guide's flowchart: swap above 50% (or none at all) makes it critical
        # no swap at all leaves nothing to fall back on: as bad as swap above the line
        critical = bool(swap) and (swap_pct is None or swap_pct > t["swap_used_pct_high"])
        evidence = ["available %s of %s (%.1f%% < %.1f%%)" % (
            _size(mem["available_bytes"]), _size(mem["total_bytes"]), available_pct, t["available_pct_low"])]
        evidence += container.get("evidence", [])
        if swap:
            evidence.append("swap used %s" % ("%.1f%%" % swap_pct if swap_pct is not None else "n/a: no swap"))
        top = section(facts, "processes").get("top_rss") or []
        if top:
            evidence.append("top consumers: " + _procs_line(top))
        yield _finding(
            "memory.available_low", "critical" if critical else "monitor",
            "Available memory is below %g%%" % t["available_pct_low"], evidence,
            container.get("remedy") or _remedy("Stop or cap the largest consumers, add swap for relief, or add RAM.",
                                               role="memops.linux.memory_limits", variable="memory_limits_services"),
            {"available_pct": available_pct, "swap_used_pct": swap_pct})
    elif mem.get("used_pct", 0.0) > t["memory_used_pct_high"]:
        yield _finding(
            "memory.used_high", "monitor", "Memory use is above %g%%" % t["memory_used_pct_high"],
            ["used %.1f%% (total - available)" % mem["used_pct"]] + container.get("evidence", []),
            _remedy("Watch the trend; find the top consumers before available memory runs out.",
                    role="memops.linux.monitoring", variable="monitoring_thresholds"),
            {"used_pct": mem["used_pct"]})


def rule_leak_suspects(facts: dict, t: dict) -> Iterator[dict]:
    samples = section(facts, "samples")
    if samples.get("count", 1) < 2:
        return
    suspects = []
    for row in samples.get("growth") or []:
        series = row["rss_series"]
        growth = series[-1] - series[0]
        steady = all(b >= a for a, b in zip(series, series[1:]))
        pct = 100.0 * growth / series[0] if series[0] else 100.0
        if steady and growth >= t["leak_min_growth_bytes"] and pct >= t["leak_min_growth_pct"]:
            suspects.append(dict(row, growth_bytes=growth, growth_pct=round(pct, 1)))
    for row in suspects:
        yield _finding(
            "leak.suspect", "monitor", "%s[%d] grows steadily" % (row["name"], row["pid"]),
            ["RSS %s -> %s over %d samples %gs apart (+%s, +%.1f%%)" % (
                _size(row["rss_series"][0]), _size(row["rss_series"][-1]), len(row["rss_series"]),
                samples.get("interval", 0), _size(row["growth_bytes"]), row["growth_pct"])],
            _remedy("Restart the application now; cap it with MemoryMax= so systemd restarts it before the host suffers; "
                    "set heap limits (-Xmx, --max-old-space-size).",
                    role="memops.linux.memory_limits", variable="memory_limits_services"),
            {"pid": row["pid"], "name": row["name"], "rss_series": row["rss_series"], "growth_bytes": row["growth_bytes"]})


def rule_leak_trend(facts: dict, t: dict) -> Iterator[dict]:
    """The leak suspects of the checker's history (facts ``leaks``, _leak_history.suspects)."""
    for row in section(facts, "leaks").get("suspects") or []:
        exhaustion = row.get("exhaustion_seconds")
        critical = exhaustion is not None and exhaustion < t["leak_exhaustion_critical_hours"] * 3600
        label = "%s[%d]" % (row["name"], row["pid"]) if row["kind"] == "process" else row["name"]
        evidence = ["%s grows %s per hour over %.1f hours (fit R^2 %.2f), %s now" % (
            label, _size(row["growth_bytes_per_hour"]), row["span_seconds"] / 3600.0, row["fit"], _size(row["bytes"]))]
        if exhaustion is not None:
            evidence.append("at this growth available memory runs out in %.1f hours" % (exhaustion / 3600.0))
        yield _finding(
            "leak.trend", "critical" if critical else "monitor",
            "%s %s has grown steadily for hours" % ("Process" if row["kind"] == "process" else "Service", label),
            evidence,
            _remedy("Restart it now and find the leak; cap it with MemoryMax= so systemd restarts it before the host "
                    "suffers; set heap limits (-Xmx, --max-old-space-size).",
                    role="memops.linux.memory_limits", variable="memory_limits_services"),
            dict((key, row.get(key)) for key in ("kind", "name", "pid", "bytes", "growth_bytes_per_hour", "span_seconds",
                                                 "fit", "exhaustion_seconds")))


def rule_insufficient_ram(facts: dict, t: dict) -> Iterator[dict]:
    mem = section(facts, "memory")
    swap = section(facts, "swap")
    pressure = section(facts, "pressure")
    evidence = []
    rate = None
    if swap.get("pswpin_rate") is not None:
        rate = swap["pswpin_rate"] + swap["pswpout_rate"]
    tight = mem.get("total_bytes") and mem["available_pct"] < t["available_pct_tight"]
    if tight and rate is not None and rate >= t["swap_pages_per_second"]:
        evidence.append("swap traffic %.0f pages/s while available is %.1f%%" % (rate, mem["available_pct"]))
    some = (pressure.get("some") or {}).get("avg10")
    full = (pressure.get("full") or {}).get("avg10")
    if full is not None and full >= t["psi_full_avg10"]:
        evidence.append("memory PSI full avg10 %.2f%% (>= %g%%)" % (full, t["psi_full_avg10"]))
    elif some is not None and some >= t["psi_some_avg10"]:
        evidence.append("memory PSI some avg10 %.2f%% (>= %g%%)" % (some, t["psi_some_avg10"]))
    if not evidence:
        return
    critical = full is not None and full >= t["psi_full_avg10"]
    yield _finding(
        "ram.insufficient", "critical" if critical else "monitor", "Too little RAM for the workload", evidence,
        _remedy("Add swap for relief, reduce workers or caches, or add RAM.",
                role="memops.linux.swap", variable="swap_files"),
        {"swap_pages_per_second": rate, "psi_some_avg10": some, "psi_full_avg10": full})


def _min_adj(entry):
    """A workload's lowest oom_score_adj, or None when it was not read (0 when the facts have no such key)."""
    value = entry.get("min_oom_score_adj", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def rule_oom(facts: dict, t: dict) -> Iterator[dict]:
    oom = section(facts, "oom")
    if not oom:
        return
    count = oom.get("kill_count")
    events = oom.get("events") or []
    if count or events:
        uptime = facts.get("uptime_seconds")
        recent = [e for e in events if uptime is not None and e.get("uptime_seconds") is not None
                  and uptime - e["uptime_seconds"] <= t["oom_recent_seconds"]]
        evidence = ["%s OOM kill(s) since boot" % (count if count is not None else len(events))]
        for event in events[-5:]:
            victim = event["victim"]
            evidence.append("%s killed %s[%d] (RSS %s, %s%s)" % (
                event.get("logged_at") or "at %ss" % event.get("uptime_seconds"), victim["name"], victim["pid"],
                _size(victim.get("rss_bytes")), event.get("constraint") or event["scope"],
                ", memcg %s" % event["memcg"] if event.get("memcg") else ""))
        yield _finding(
            "oom.kills", "critical" if recent else "monitor",
            "The OOM killer has killed processes" + (" in the last %ds" % t["oom_recent_seconds"] if recent else ""),
            evidence,
            _remedy("Find what grew (top consumers, leak suspects), cap it with MemoryMax=, protect critical services.",
                    role="memops.linux.oom_protect", variable="oom_protect_services"),
            {"kill_count": count, "victims": [e["victim"] for e in events[-5:]], "recent": len(recent)})
    procs = section(facts, "processes")
    likely = [r for r in procs.get("top_oom_score") or [] if (r.get("oom_score") or 0) > 0][:t["oom_likely_victims"]]
    by_rss = [r["pid"] for r in (procs.get("top_rss") or [])[:len(likely)]]
    # worth saying only when it is not the RSS ranking again: an adjusted score, or another order
    if likely and (any(r.get("oom_score_adj") for r in likely) or [r["pid"] for r in likely] != by_rss):
        yield _finding(
            "oom.likely_victims", "info", "Most likely next OOM victims",
            ["%s[%d] oom_score %s (adj %s, RSS %s)" % (
                r["name"], r["pid"], r["oom_score"], r["oom_score_adj"], _size(r["rss_bytes"])) for r in likely],
            _remedy("Lower oom_score_adj of what must survive; cap what may die.",
                    role="memops.linux.oom_protect", variable="oom_protect_processes"),
            {"pids": [r["pid"] for r in likely]})
    # an oom_score_adj that could not be read (None) protects nothing that can be shown
    unprotected = {name: entry for name, entry in _running(facts, t["critical_processes"]).items()
                   if _min_adj(entry) is None or _min_adj(entry) >= 0}
    if unprotected:
        # a service is protected through its unit (OOMScoreAdjust=), a process that is none through its name
        units = [entry["unit"] for entry in unprotected.values() if entry.get("unit")]
        names = [name for name, entry in unprotected.items() if not entry.get("unit")]
        remedy = _remedy("Give the services a negative OOMScoreAdjust= (for example -500)%s." % (
            "; protect the processes that are no service by name" if names else ""),
            role="memops.linux.oom_protect", variable="oom_protect_services" if units else "oom_protect_processes",
            value=[{"name": unit, "score_adj": -500} for unit in units] if units
            else [{"name": name, "score_adj": -500} for name in names])
        yield _finding(
            "oom.critical_unprotected", "info", "Critical services are not protected from the OOM killer",
            ["%s%s runs with oom_score_adj %s" % (
                name, " (%s)" % entry["unit"] if entry.get("unit") else "",
                "unknown (not readable)" if _min_adj(entry) is None else ">= 0")
             for name, entry in unprotected.items()]
            + (["not services, protect them by name (oom_protect_processes): %s" % ", ".join(names)]
               if units and names else []),
            remedy, {"names": list(unprotected), "units": units})


def rule_commit(facts: dict, t: dict) -> Iterator[dict]:
    commit = section(facts, "commit")
    mem = section(facts, "memory")
    if not commit.get("strict"):
        return
    pct = commit.get("committed_pct_of_limit")
    limit = commit.get("limit_bytes")
    evidence = ["vm.overcommit_memory = 2 (never overcommit)",
                "Committed_AS %s of CommitLimit %s (%s%%)" % (
                    _size(commit.get("committed_as_bytes")), _size(limit), pct)]
    remedy = _remedy("Allow heuristic overcommit (0), raise overcommit_ratio, or add swap to raise CommitLimit.",
                     role="memops.linux.vm_tuning", variable="vm_tuning_overcommit_memory", value=0)
    if pct is not None and pct >= t["commit_pct_monitor"]:
        yield _finding(
            "commit.near_limit", "critical" if pct >= t["commit_pct_critical"] else "monitor",
            "fork() and exec() will fail with ENOMEM: commit limit nearly reached", evidence, remedy,
            {"committed_pct_of_limit": pct})
    elif limit and mem.get("total_bytes") and 100.0 * limit / mem["total_bytes"] < t["commit_limit_min_pct_of_ram"]:
        yield _finding(
            "commit.limit_low", "monitor", "Strict overcommit leaves much of RAM unusable",
            evidence + ["CommitLimit is %.0f%% of RAM (overcommit_ratio %s)" % (
                100.0 * limit / mem["total_bytes"], commit.get("overcommit_ratio"))],
            _remedy("Raise vm.overcommit_ratio or add swap, or use heuristic overcommit.",
                    role="memops.linux.vm_tuning", variable="vm_tuning_overcommit_ratio"),
            {"limit_pct_of_ram": round(100.0 * limit / mem["total_bytes"], 1)})


def rule_swap(facts: dict, t: dict) -> Iterator[dict]:
    swap = section(facts, "swap")
    mem = section(facts, "memory")
    if not swap:
        return
    total = swap.get("total_bytes") or 0
    top = section(facts, "processes").get("top_swap") or []
    if total and swap["used_pct"] >= t["swap_used_pct_exhausted"]:
        evidence = ["swap used %s of %s (%.1f%%)" % (_size(swap["used_bytes"]), _size(total), swap["used_pct"])]
        if top:
            evidence.append("top swap users: " + _procs_line(top, "swap_bytes"))
        yield _finding(
            "swap.exhausted", "critical", "Swap is nearly exhausted", evidence,
            _remedy("Restart the top swap users when RAM can hold them, or add swap.",
                    role="memops.linux.swap", variable="swap_files"),
            {"used_pct": swap["used_pct"], "top_swap": [{"pid": r["pid"], "name": r["name"]} for r in top[:5]]})
    elif total and swap["used_pct"] > t["swap_used_pct_high"]:
        yield _finding(
            "swap.high", "monitor", "More than %g%% of swap is in use" % t["swap_used_pct_high"],
            ["swap used %.1f%%" % swap["used_pct"]] + (["top swap users: " + _procs_line(top, "swap_bytes")] if top else []),
            _remedy("Find what was swapped out; add swap or RAM if it keeps growing.",
                    role="memops.linux.swap", variable="swap_files"),
            {"used_pct": swap["used_pct"]})
    elif not total and mem.get("total_bytes") and mem["total_bytes"] <= t["no_swap_max_ram_bytes"]:
        yield _finding(
            "swap.none", "monitor", "No swap on a host with little RAM",
            ["RAM %s, no swap configured" % _size(mem["total_bytes"])],
            _remedy("Add a swap file for relief from short peaks.", role="memops.linux.swap", variable="swap_files",
                    value=[{"path": "/swapfile", "size": "2G"}]),
            {"ram_bytes": mem["total_bytes"]})


def rule_slab(facts: dict, t: dict) -> Iterator[dict]:
    slab = section(facts, "slab")
    mem = section(facts, "memory")
    ram = mem.get("total_bytes")
    if not slab or not ram:
        return
    caches = slab.get("top_caches") or []
    top_line = ", ".join("%s %s" % (c["name"], _size(c["size_bytes"])) for c in caches[:5])
    unreclaimable = slab.get("unreclaimable_bytes") or 0
    pct = 100.0 * unreclaimable / ram
    if pct >= t["slab_unreclaimable_pct_monitor"]:
        yield _finding(
            "slab.unreclaimable_high", "critical" if pct >= t["slab_unreclaimable_pct_critical"] else "monitor",
            "Kernel memory (unreclaimable slab) is large", [
                "SUnreclaim %s (%.1f%% of RAM)" % (_size(unreclaimable), pct)] + (
                ["largest caches: " + top_line] if top_line else []),
            _remedy("Look for a kernel object leak (a driver or module in the largest caches); a reboot frees it.",
                    module="memops.linux.mem_reclaim"),
            {"unreclaimable_pct_of_ram": round(pct, 1)})
    reclaimable = slab.get("reclaimable_bytes") or 0
    rpct = 100.0 * reclaimable / ram
    if rpct >= t["slab_reclaimable_pct_monitor"]:
        dentries = slab.get("dentries") or {}
        inodes = slab.get("inodes") or {}
        yield _finding(
            "slab.dentry_inode_bloat", "monitor", "Dentry and inode caches hold much memory",
            ["SReclaimable %s (%.1f%% of RAM)" % (_size(reclaimable), rpct),
             "dentries %s (negative %s), inodes %s" % (
                 dentries.get("nr_dentry"), dentries.get("nr_negative"), inodes.get("nr_inodes"))],
            _remedy("Reclaim them sooner: raise vm.vfs_cache_pressure (the guide uses 150); "
                    "for immediate relief drop caches (level 2).",
                    role="memops.linux.vm_tuning", variable="vm_tuning_vfs_cache_pressure", value=150),
            {"reclaimable_pct_of_ram": round(rpct, 1)})


def fragmented_zones(zones: list[dict], total_bytes: int, free_bytes: int, t: dict) -> list[dict]:
    """The zones (from parse_buddyinfo) whose free memory is mostly in blocks
    smaller than ``fragmentation_order``. Zones holding under 1% of RAM free are
    left out, and so is everything when free memory is below
    ``fragmentation_min_free_pct``: that is low memory, not fragmentation, and
    compaction has nowhere to move pages to."""
    if not total_bytes or 100.0 * free_bytes / total_bytes < t["fragmentation_min_free_pct"]:
        return []
    order = int(t["fragmentation_order"])
    bad = []
    for zone in zones:
        index = zone.get("unusable_index") or []
        if zone["free_bytes"] >= total_bytes * 0.01 and order < len(index) and index[order] is not None \
                and index[order] >= t["fragmentation_unusable_index"]:
            bad.append(zone)
    return bad


def rule_fragmentation(facts: dict, t: dict) -> Iterator[dict]:
    frag = section(facts, "fragmentation")
    mem = section(facts, "memory")
    if not frag.get("zones") or not mem.get("total_bytes"):
        return
    order = int(t["fragmentation_order"])
    bad = fragmented_zones(frag["zones"], mem["total_bytes"], mem.get("free_bytes", 0), t)
    if bad:
        yield _finding(
            "fragmentation.high", "monitor", "Free memory is fragmented: large allocations can fail",
            ["node %d zone %s: %s free, unusable index %.2f at order %d, largest free block %s" % (
                z["node"], z["zone"], _size(z["free_bytes"]), z["unusable_index"][order], order,
                _size(z["largest_free_block_bytes"])) for z in bad] + (
                ["compaction failed %s times" % frag["compact_fail"]] if frag.get("compact_fail") else []),
            _remedy("Compact memory now; enable proactive compaction (the guide uses 20).",
                    role="memops.linux.vm_tuning", variable="vm_tuning_compaction_proactiveness", value=20,
                    module="memops.linux.mem_reclaim"),
            {"zones": ["%d/%s" % (z["node"], z["zone"]) for z in bad], "order": order})


def rule_tuning(facts: dict, t: dict) -> Iterator[dict]:
    tunables = section(facts, "tunables")
    vm = tunables.get("vm") or {}
    procs = section(facts, "processes")
    if not tunables or not procs:
        return
    databases = _running(facts, DATABASES)
    swappiness = vm.get("swappiness")
    if databases and isinstance(swappiness, int) and swappiness > t["swappiness_database_max"]:
        yield _finding(
            "tuning.swappiness", "info", "Swappiness is high for a database host",
            ["vm.swappiness = %d with %s running" % (swappiness, ", ".join(sorted(databases)))],
            _remedy("Prefer keeping data in RAM: the guide uses 10 for databases.",
                    role="memops.linux.vm_tuning", variable="vm_tuning_profile", value="database"),
            {"swappiness": swappiness})
    thp = (tunables.get("thp") or {}).get("enabled") or {}
    sensitive = _running(facts, THP_SENSITIVE)
    if sensitive and thp.get("selected") == "always":
        yield _finding(
            "tuning.thp", "info", "Transparent huge pages are always on with %s running" % ", ".join(sorted(sensitive)),
            ["transparent_hugepage/enabled = always", "running: %s" % ", ".join(
                "%s %s" % (name, entry["pids"][:3]) for name, entry in sorted(sensitive.items()))],
            _remedy("Disable THP (never) for Redis and MongoDB: latency spikes and memory bloat.",
                    role="memops.linux.vm_tuning", variable="vm_tuning_thp_enabled", value="never",
                    module="memops.linux.thp"),
            {"names": sorted(sensitive)})
    if "redis-server" in databases and vm.get("overcommit_memory") != 1:
        yield _finding(
            "tuning.redis_overcommit", "info", "Redis runs without vm.overcommit_memory = 1",
            ["vm.overcommit_memory = %s" % vm.get("overcommit_memory"),
             "background saves (fork) can fail with 'Cannot allocate memory'"],
            _remedy("Set vm.overcommit_memory = 1 as Redis asks.", role="memops.linux.vm_tuning",
                    variable="vm_tuning_profile", value="redis"),
            {"overcommit_memory": vm.get("overcommit_memory")})


def rule_runtimes(facts: dict, t: dict) -> Iterator[dict]:
    """The heaps of JVMs and Node.js processes against the memory they can have."""
    runtimes = section(facts, "processes").get("runtimes") or []
    ram = section(facts, "memory").get("total_bytes")
    for runtime in runtimes:
        room = runtime.get("memory_limit_bytes") or ram
        rss = runtime.get("rss_bytes") or 0
        large = room and 100.0 * rss / room >= t["heap_unbounded_min_pct"]
        if not runtime.get("heap_limit") and large:
            advice = ("Set -Xmx (or -XX:MaxRAMPercentage) so the heap cannot outgrow the host." if runtime["runtime"] == "jvm"
                      else "Set --max-old-space-size so the heap cannot outgrow the host.")
            yield _finding(
                "tuning.heap_unbounded", "info", "%s[%d] runs without a heap limit" % (runtime["name"], runtime["pid"]),
                ["%s: RSS %s, %s" % (runtime["runtime"], _size(rss), runtime.get("cmdline", "")[:200])],
                _remedy(advice, role="memops.linux.memory_limits", variable="memory_limits_services"),
                {"pid": runtime["pid"], "runtime": runtime["runtime"]})
        limit, cgroup_limit = runtime.get("heap_limit_bytes"), runtime.get("memory_limit_bytes")
        if limit and cgroup_limit and limit > cgroup_limit:
            yield _finding(
                "heap.over_cgroup_limit", "monitor",
                "%s[%d] may grow its heap past its cgroup's limit" % (runtime["name"], runtime["pid"]),
                ["heap limit %s (%s) above the memory limit of its cgroup, %s" % (
                    _size(limit), runtime.get("heap_limit") or runtime.get("heap_limit_source"), _size(cgroup_limit))],
                _remedy("Lower the heap limit below the cgroup's (leave room for the runtime's own memory), "
                        "or raise the limit.", role="memops.linux.memory_limits", variable="memory_limits_services"),
                {"pid": runtime["pid"], "heap_limit_bytes": limit, "memory_limit_bytes": cgroup_limit})
    limited = [r for r in runtimes if r.get("heap_limit_bytes")]
    total = sum(r["heap_limit_bytes"] for r in limited)
    if ram and limited and 100.0 * total / ram > t["heap_limits_max_pct_of_ram"]:
        yield _finding(
            "heap.limits_exceed_ram", "monitor", "The runtimes' heap limits add up to more than RAM",
            ["heap limits %s in all, RAM %s (%.0f%%)" % (_size(total), _size(ram), 100.0 * total / ram)]
            + ["%s[%d] %s (%s)" % (r["name"], r["pid"], _size(r["heap_limit_bytes"]),
                                   r.get("heap_limit") or r.get("heap_limit_source")) for r in limited[:10]],
            _remedy("Lower the heap limits so that together, with the rest of the host, they fit in RAM; each "
                    "runtime grows its heap to its limit before it collects.",
                    role="memops.linux.memory_limits", variable="memory_limits_services"),
            {"heap_limits_bytes": total, "ram_bytes": ram})


RULES = (rule_low_available, rule_leak_suspects, rule_leak_trend, rule_insufficient_ram, rule_oom, rule_commit,
         rule_swap, rule_slab, rule_fragmentation, rule_tuning, rule_runtimes) + rules_breakdown.RULES + cgroup_rules.RULES


def partial_view(facts: dict) -> list[str]:
    """What the facts could not see (without root, under hidepid, with the kernel log restricted), each a
    line; empty when they saw everything they were asked to. A verdict on a partial view may miss a cause."""
    missing = []
    if section(facts, "capabilities").get("is_root") is False:
        missing.append("not run as root: other users' processes' PSS and environment are hidden")
    procs = section(facts, "processes")
    if procs.get("partial_view"):
        missing.append("processes: %s could not be read%s" % (
            procs.get("access_denied") or "some", " (/proc is mounted hidepid=%s)" % procs["hidepid"]
            if procs.get("hidepid") not in (None, "0", "off") else ""))
    oom = section(facts, "oom")
    if oom.get("log_readable") is False and not oom.get("log_skipped") and oom.get("log_path"):
        missing.append("kernel log: the tree holds no %s: OOM kills are counted, their victims unknown" % oom["log_path"])
    elif oom.get("log_readable") is False and not oom.get("log_skipped"):
        missing.append("kernel log: not readable (kernel.dmesg_restrict, no CAP_SYSLOG): OOM kills are counted, "
                       "their victims unknown")
    slab = section(facts, "slab")
    if slab and slab.get("slabinfo_readable") is False:
        missing.append("slabinfo: root only: the largest slab caches are unknown")
    return missing


def diagnose(facts: dict, thresholds: dict | None = None) -> dict:
    """facts (mem_facts) -> {status: ok|monitor|critical, findings: [...], counts, partial}, most severe first;
    ``partial`` lists what the facts could not see (partial_view)."""
    merged = thresholds if thresholds is not None else DEFAULT_THRESHOLDS
    findings: list[dict] = []
    for rule in RULES:
        findings.extend(rule(facts, merged))
    findings.sort(key=lambda f: -SEVERITY_LEVEL[f["severity"]])
    status = health_status(f["severity"] for f in findings)
    counts = {name: sum(1 for f in findings if f["severity"] == name) for name in SEVERITIES}
    return {"status": status, "findings": findings, "counts": counts, "partial": partial_view(facts)}
