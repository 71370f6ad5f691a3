# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report: many hosts' memops facts -> one JSON document; the sizes and texts its renderings share.

Private to this collection: the API may change without notice; the JSON schema
it produces is public, versioned by ``schema_version`` and documented in
``docs/report.md``.

Controller code, plain Python (no Ansible import). ``build_fleet(hosts_facts, errors)``
takes ``{host name: ansible_facts.memops or None}`` and ``{host name: reason}``
and returns the fleet document; ``render_json`` writes it, ``_report_markdown``
and ``_report_html`` render it for people, ``_report_queries`` answers the
filter plugins' questions about it.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import struct
from typing import Any, Callable

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils._report_capture import host_capture

SCHEMA_VERSION = 1

DEFAULT_TITLE = "Memory report"
NO_FACTS_REASON = "no memops facts: mem_facts did not run on this host or the host failed before it"


# fleet-wide titles for findings whose title names one host's process
_FLEET_TITLES = {
    "leak.suspect": "Processes grow steadily (leak suspects)",
    "leak.trend": "Processes or services have grown steadily for hours (leak suspects)",
    "tuning.heap_unbounded": "Runtimes run without a heap limit",
}


# the parts of mem_facts' memory.breakdown (their names are the facts' ids) and what people read for each
BREAKDOWN_LABELS = {
    "process_anon": "processes",
    "page_cache": "page cache",
    "shmem": "shared memory / tmpfs",
    "hugetlb": "huge pages",
    "slab": "kernel slab",
    "kernel_other": "other kernel",
    "compressed_swap": "compressed swap",
    "unaccounted": "unaccounted",
    "free": "free",
}


class ReportError(ValueError):
    """The input to the report is not what it must be."""


# ---------------------------------------------------------------------------
# sizes, the way free -h prints them


_SIZE_UNITS = ("B", "Ki", "Mi", "Gi", "Ti", "Pi")
_FLOAT = struct.Struct("f")  # free rounds a C float (single precision) to one decimal


@functools.lru_cache(maxsize=1 << 18)  # a report prints the same sizes again and again (most calls, in a fleet)
def human_size(value: float | None) -> str:
    """Bytes as ``free -h`` (procps-ng) prints them: 0B, 999B, 1.0Ki, 9.9Mi, 15Gi, 999Mi, 1.5Gi; '-' for unknown.

    free's rule: up to 999 bytes in B; else the first unit from Ki up in which the number takes at most three
    characters, with one decimal when that fits (9.9 and below, rounded as a C float), else whole and truncated
    (15.9Gi is 15Gi, 1000Mi is 1.0Gi).
    """
    if value is None:
        return "-"
    try:
        size = int(value)
    except (OverflowError, ValueError):  # infinite, not a number
        return "-"
    if size < 0:
        return "-" + human_size(-size)
    if size < 1000:
        return "%dB" % size
    power = (size.bit_length() - 1) // 10  # the unit in which the number is 1 to 1023
    if size >= 1000 << (10 * power):  # 1000 and more: the next unit's 0.98 to 1.0
        power += 1
    power = min(power, 5)
    divisor = 1 << (10 * power)  # a power of two: exact, as free's division is
    if size < 10 * divisor:
        text = "%.1f" % _FLOAT.unpack(_FLOAT.pack(size / divisor))[0]
        if len(text) == 3:
            return text + _SIZE_UNITS[power]
    # whole and truncated, in integers: a size beyond a float's range (from a hostile host) is no error
    return "%d%s" % (size // divisor, _SIZE_UNITS[power])


def plural(count: int, noun: str) -> str:
    """'1 host', '2 hosts', '0 finding kinds'."""
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def free_lines(memory: dict | None, swap: dict | None) -> list[str]:
    """The three lines of ``free -h`` (header, Mem:, Swap:) from the report's numbers."""
    header = "%-6s %10s %10s %10s %10s %10s %10s" % (
        "", "total", "used", "free", "shared", "buff/cache", "available")
    if memory:
        mem = "%-6s %10s %10s %10s %10s %10s %10s" % (
            "Mem:", human_size(memory.get("total_bytes")), human_size(memory.get("used_bytes")),
            human_size(memory.get("free_bytes")), human_size(memory.get("shared_bytes")),
            human_size(memory.get("buff_cache_bytes")), human_size(memory.get("available_bytes")))
    else:
        mem = "Mem:   (not gathered)"
    if swap:
        swp = "%-6s %10s %10s %10s" % ("Swap:", human_size(swap.get("total_bytes")), human_size(swap.get("used_bytes")),
                                       human_size(swap.get("free_bytes")))
    else:
        swp = "Swap:  (not gathered)"
    return [header.rstrip(), mem.rstrip(), swp.rstrip()]


# ---------------------------------------------------------------------------
# build


def _pick(row, keys):
    return {key: row.get(key) for key in keys}


_PLAIN_NUMBERS = frozenset((int, float))


def _number(value):
    if value.__class__ in _PLAIN_NUMBERS:  # the common case, without the isinstance calls
        return value
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _host_memory(facts):
    mem = _schema.section(facts, "memory")
    if not mem:
        return None
    return {key: _number(mem.get(key)) for key in _schema.REPORT_MEMORY_KEYS}


def _host_swap(facts):
    swap = _schema.section(facts, "swap")
    if not swap:
        return None
    out = {key: _number(swap.get(key)) for key in _schema.REPORT_SWAP_KEYS}
    out["devices"] = len(_rows(swap.get("devices")))
    return out


def _rows(value):
    return value if isinstance(value, list) else []


def _mapping(value):
    return value if isinstance(value, dict) else {}


_BREAKDOWN_DETAILS = ("page_cache", "slab", "kernel_other", "compressed_swap")
_HUGETLB_POOL_KEYS = ("page_size_bytes", "total", "free", "reserved", "surplus", "in_use_bytes", "unused_bytes")


def _finite(value):
    """A number that is neither infinite nor NaN, or None."""
    value = _number(value)
    return value if value is None or -_INFINITY < value < _INFINITY else None


_INFINITY = float("inf")


def _host_breakdown(facts, top):
    """memory.breakdown of the facts, its numbers checked, at most ``top`` shmem mounts; None without one."""
    breakdown = _schema.section(facts, "memory").get("breakdown")
    if not isinstance(breakdown, dict):
        return None
    total = _number(breakdown.get("total_bytes"))
    parts = [{"name": str(part.get("name")), "bytes": _finite(part.get("bytes"))}
             for part in _rows(breakdown.get("parts")) if isinstance(part, dict)]
    if not parts or not 0 < (total or 0) < _INFINITY:
        return None
    out = {"total_bytes": total, "parts": parts}
    for key in _BREAKDOWN_DETAILS:
        detail = breakdown.get(key)
        out[key] = {str(name): _number(value) for name, value in detail.items()} if isinstance(detail, dict) else None
    out["shmem_mounts"] = [
        {"mount_point": str(mount.get("mount_point")), "type": str(mount.get("type")),
         "used_bytes": _number(mount.get("used_bytes")), "size_bytes": _number(mount.get("size_bytes"))}
        for mount in _rows(breakdown.get("shmem_mounts"))[:top] if isinstance(mount, dict)]
    out["hugetlb_pools"] = [{key: _number(pool.get(key)) for key in _HUGETLB_POOL_KEYS}
                            for pool in _rows(breakdown.get("hugetlb_pools")) if isinstance(pool, dict)]
    return out


def _host_oom(facts):
    oom = _schema.section(facts, "oom")
    if not oom:
        return None
    events = [e for e in _rows(oom.get("events")) if isinstance(e, dict)]
    victims = []
    for event in reversed(events[-5:]):
        victim = _mapping(event.get("victim"))
        row = _pick(victim, _schema.REPORT_VICTIM_KEYS)
        row.update({"logged_at": event.get("logged_at"), "uptime_seconds": event.get("uptime_seconds"),
                    "scope": event.get("scope"), "constraint": event.get("constraint"),
                    "memcg": event.get("memcg")})
        victims.append(row)
    return {
        "kill_count": _number(oom.get("kill_count")),
        "events_in_log": len(events),
        "recent_events": len(_rows(oom.get("recent_events"))),
        "recent_victims": victims,
    }


def _host_processes(facts, top):
    procs = _schema.section(facts, "processes")
    if not procs:
        return [], []
    consumers = [_process(r) for r in _rows(procs.get("top_rss"))[:top] if isinstance(r, dict)]
    swap_users = [_process(r) for r in _rows(procs.get("top_swap"))
                  if isinstance(r, dict) and (_number(r.get("swap_bytes")) or 0) > 0][:top]
    return consumers, swap_users


_PROCESS_NUMBERS = ("rss_bytes", "pss_bytes", "swap_bytes", "mem_pct", "oom_score", "oom_score_adj")


def _process(row):
    out = _pick(row, _schema.REPORT_PROCESS_KEYS)
    name, cmdline, user = out["name"], out["cmdline"], out["user"]
    out["name"] = "?" if name is None else str(name)
    out["cmdline"] = None if cmdline is None else str(cmdline)
    out["user"] = None if user is None else str(user)
    for key in _PROCESS_NUMBERS:
        out[key] = _number(out[key])
    return out


# What the report keeps of process_detail: its processes' numbers, and of each its largest mappings
_DETAIL_NUMBERS = ("rss_bytes", "pss_bytes", "uss_bytes", "shared_bytes", "swap_bytes", "size_bytes")
_DETAIL_MAPPINGS = 10
_MAPPING_TEXT = ("address", "perms", "kind", "path")
_MAPPING_NUMBERS = ("size_bytes", "rss_bytes", "dirty_bytes", "swap_bytes")


def _host_process_detail(facts):
    """process_detail of the facts (mem_facts' pmap -x and smem view of chosen processes), its numbers checked;
    None without one."""
    detail = facts.get("process_detail") if isinstance(facts, dict) else None
    if not isinstance(detail, dict):
        return None
    processes = []
    for row in _rows(detail.get("processes")):
        if not isinstance(row, dict):
            continue
        out = {"pid": row.get("pid"), "name": str(row.get("name") or "?"),
               "cmdline": None if row.get("cmdline") is None else str(row.get("cmdline"))}
        out.update((key, _number(row.get(key))) for key in _DETAIL_NUMBERS)
        kinds = _mapping(row.get("by_kind"))
        out["by_kind"] = {kind: _number(_mapping(kinds.get(kind)).get("rss_bytes")) for kind in _schema.MAPPING_KINDS}
        out["mappings"] = [
            dict([(key, str(m.get(key) or "")) for key in _MAPPING_TEXT] + [("deleted", m.get("deleted") is True)]
                 + [(key, _number(m.get(key))) for key in _MAPPING_NUMBERS])
            for m in _rows(row.get("mappings"))[:_DETAIL_MAPPINGS] if isinstance(m, dict)]
        processes.append(out)
    return {"processes": processes,
            "not_found_pids": [str(pid) for pid in _rows(detail.get("not_found_pids"))],
            "unmatched_names": [str(name) for name in _rows(detail.get("unmatched_names"))],
            "notes": [str(note) for note in _rows(detail.get("notes"))]}


# The tables of a host's process detail, as pmap -x and smem head their columns
DETAIL_COLUMNS = ("Process", "RSS", "PSS", "USS", "Shared", "Swap") + tuple(
    kind.capitalize() for kind in _schema.MAPPING_KINDS)
MAPPING_COLUMNS = ("Address", "Kbytes", "RSS", "Dirty", "Swap", "Mode", "Kind", "Mapping")


def detail_cells(process: dict) -> list[str]:
    """A process's row of the process detail: its sizes, then its RSS per kind of mapping."""
    return [human_size(process[key]) for key in ("rss_bytes", "pss_bytes", "uss_bytes", "shared_bytes", "swap_bytes")] + [
        human_size(process["by_kind"][kind]) for kind in _schema.MAPPING_KINDS]


def mapping_cells(mapping: dict) -> list[str]:
    """A mapping's row, as pmap -x shows it (with swap and the kind): texts from the host, to be escaped."""
    return [mapping["address"], human_size(mapping["size_bytes"]), human_size(mapping["rss_bytes"]),
            human_size(mapping["dirty_bytes"]), human_size(mapping["swap_bytes"]), mapping["perms"], mapping["kind"],
            mapping["path"] + (" (deleted)" if mapping["deleted"] else "")]


def detail_missing(detail: dict) -> str:
    """What the process detail could not show, a line ("" when nothing is missing)."""
    parts = []
    if detail["not_found_pids"]:
        parts.append("no process with pid " + ", ".join(detail["not_found_pids"]))
    if detail["unmatched_names"]:
        parts.append("no process named " + ", ".join(detail["unmatched_names"]))
    return "; ".join(parts + detail["notes"])


def _host_findings(health):
    findings = []
    for finding in _rows(health.get("findings")):
        if not isinstance(finding, dict):
            continue
        severity = finding.get("severity")
        if not isinstance(severity, str) or severity not in _schema.SEVERITY_RANK:
            severity = "info"  # facts from a hostile or broken host may carry anything here, even a list
        remedy = _mapping(finding.get("remedy"))
        findings.append({
            "id": str(finding.get("id")),
            "severity": severity,
            "title": str(finding.get("title") or finding.get("id")),
            "evidence": [str(line) for line in _rows(finding.get("evidence"))],
            "remedy": {key: remedy.get(key) for key in _schema.REMEDY_KEYS},
            "data": _mapping(finding.get("data")),
        })
    findings.sort(key=lambda f: _schema.SEVERITY_RANK[f["severity"]])
    return findings


def report_input(facts: Any, top: int = 5) -> Any:
    """The part of a host's memops facts the report reads.

    A host's full facts weigh some 100 KB in memory (meminfo, tunables, every top list); a caller holding
    thousands of hosts passes this instead.
    """
    if not isinstance(facts, dict):
        return facts
    out = {"health": facts.get("health"), "uptime_seconds": facts.get("uptime_seconds")}
    mem = facts.get("memory")
    if isinstance(mem, dict):
        out["memory"] = {key: mem.get(key) for key in _schema.REPORT_MEMORY_KEYS}
        breakdown = mem.get("breakdown")
        if isinstance(breakdown, dict):
            mounts = _rows(breakdown.get("shmem_mounts"))
            # as it is unless it has more mounts than the report shows: no copy, nothing more for the GC to walk
            out["memory"]["breakdown"] = breakdown if len(mounts) <= top else dict(breakdown, shmem_mounts=mounts[:top])
    swap = facts.get("swap")
    if isinstance(swap, dict):
        out["swap"] = {key: swap.get(key) for key in _schema.REPORT_SWAP_KEYS}
        out["swap"]["devices"] = list(_rows(swap.get("devices")))
    oom = facts.get("oom")
    if isinstance(oom, dict):
        out["oom"] = {"kill_count": oom.get("kill_count"), "events": _rows(oom.get("events"))[-5:],
                      "recent_events": list(_rows(oom.get("recent_events")))}
    for key in ("process_detail", "capture"):  # as they are: build_host checks what it keeps of them
        if key in facts:
            out[key] = facts[key]
    procs = facts.get("processes")
    if isinstance(procs, dict):
        out["processes"] = {"top_rss": _rows(procs.get("top_rss"))[:top],
                            "top_swap": _rows(procs.get("top_swap"))[:top]}
    return out


def _unknown_host(name, reason):
    return {
        "name": name, "status": _schema.UNKNOWN, "reason": reason, "counts": {s: 0 for s in _schema.SEVERITIES_MOST_SEVERE_FIRST},
        "memory": None, "swap": None, "free_h": None, "breakdown": None, "oom": None, "uptime_seconds": None,
        "top_processes": [], "top_swap": [], "process_detail": None, "capture": None, "findings": [], "partial": [],
    }


def build_host(name: str, facts: dict, top: int = 5) -> dict:
    """One host's entry of the report from its memops facts."""
    health = _schema.section(facts, "health")
    if health.get("status") not in _schema.HEALTH_STATUSES:
        return _unknown_host(name, "memops facts have no health verdict (mem_facts older than the report?)")
    memory = _host_memory(facts)
    swap = _host_swap(facts)
    consumers, swap_users = _host_processes(facts, top)
    findings = _host_findings(health)
    return {
        "name": name,
        "status": health["status"],
        "reason": None,
        "counts": {s: sum(1 for f in findings if f["severity"] == s) for s in _schema.SEVERITIES_MOST_SEVERE_FIRST},
        "memory": memory,
        "swap": swap,
        "free_h": free_lines(memory, swap),
        "breakdown": _host_breakdown(facts, top),
        "oom": _host_oom(facts),
        "uptime_seconds": _number(facts.get("uptime_seconds")),
        "top_processes": consumers,
        "top_swap": swap_users,
        "process_detail": _host_process_detail(facts),
        "capture": host_capture(facts),  # a sosreport's origin and the parts it lacked
        "findings": findings,
        # what the host's facts could not see (_diagnosis.partial_view): its verdict may miss a cause
        "partial": [str(line) for line in _rows(health.get("partial"))],
    }


PARTIAL_VIEW = "partial view: run with become"


def status_text(host: dict) -> str:
    """The verdict as people read it: OK, MONITOR, ...; with "(partial view: run with become)" when the facts
    saw only part of the host."""
    return host["status"].upper() + (" (%s)" % PARTIAL_VIEW if host.get("partial") else "")


def _host_sort_key(host):
    mem = host["memory"] or {}
    available = mem.get("available_pct")
    return (_schema.STATUS_RANK[host["status"]], -host["counts"]["critical"], -host["counts"]["monitor"],
            available if available is not None else 101.0, host["name"])


def _summary(hosts):
    status_counts = {name: 0 for name in _schema.HEALTH_STATUSES + (_schema.UNKNOWN,)}
    hosts_by_status = {name: [] for name in _schema.STATUSES_MOST_SEVERE_FIRST}
    findings = {}
    totals = {"memory_total_bytes": 0, "memory_used_bytes": 0, "memory_available_bytes": 0,
              "swap_total_bytes": 0, "swap_used_bytes": 0, "oom_kills": 0,
              "findings": {s: 0 for s in _schema.SEVERITIES_MOST_SEVERE_FIRST}}
    breakdown_hosts, breakdown_total, breakdown_parts = 0, 0, {}
    for host in hosts:
        status_counts[host["status"]] += 1
        hosts_by_status[host["status"]].append(host["name"])
        mem = host["memory"] or {}
        swap = host["swap"] or {}
        totals["memory_total_bytes"] += mem.get("total_bytes") or 0
        totals["memory_used_bytes"] += mem.get("used_bytes") or 0
        totals["memory_available_bytes"] += mem.get("available_bytes") or 0
        totals["swap_total_bytes"] += swap.get("total_bytes") or 0
        totals["swap_used_bytes"] += swap.get("used_bytes") or 0
        totals["oom_kills"] += (host["oom"] or {}).get("kill_count") or 0
        if host["breakdown"]:
            breakdown_hosts += 1
            breakdown_total += host["breakdown"]["total_bytes"]
            for part in host["breakdown"]["parts"]:
                breakdown_parts[part["name"]] = breakdown_parts.get(part["name"], 0) + (part["bytes"] or 0)
        for finding in host["findings"]:
            totals["findings"][finding["severity"]] += 1
            entry = findings.get(finding["id"])
            title = _FLEET_TITLES.get(finding["id"], finding["title"])
            if entry is None:
                entry = findings[finding["id"]] = {
                    "severity": finding["severity"], "title": title,
                    "count": 0, "hosts": [], "remedy": dict(finding["remedy"]), "groups": {}}
            else:
                if _schema.SEVERITY_RANK[finding["severity"]] < _schema.SEVERITY_RANK[entry["severity"]]:
                    entry["severity"] = finding["severity"]
                # hosts need different values (or variables): each host's remedy says
                if entry["remedy"]["variable"] != finding["remedy"]["variable"]:
                    entry["remedy"]["variable"] = None
                if entry["remedy"]["value"] != finding["remedy"]["value"] or entry["remedy"]["variable"] is None:
                    entry["remedy"]["value"] = None
            entry["count"] += 1
            if not entry["hosts"] or entry["hosts"][-1] != host["name"]:
                entry["hosts"].append(host["name"])
            # each host under its own severity and title
            group = entry["groups"].get((finding["severity"], title))
            if group is None:
                group = entry["groups"][(finding["severity"], title)] = {
                    "severity": finding["severity"], "title": title, "hosts": []}
            if not group["hosts"] or group["hosts"][-1] != host["name"]:
                group["hosts"].append(host["name"])
    for entry in findings.values():
        entry["groups"] = sorted(entry["groups"].values(), key=lambda g: _schema.SEVERITY_RANK[g["severity"]])
    ordered = sorted(findings.items(), key=lambda kv: (_schema.SEVERITY_RANK[kv[1]["severity"]], -len(kv[1]["hosts"]), kv[0]))
    totals["breakdown"] = {
        "hosts": breakdown_hosts, "total_bytes": breakdown_total,
        "parts": [{"name": name, "bytes": size} for name, size in breakdown_parts.items()],
    } if breakdown_hosts else None
    return {
        "hosts": len(hosts),
        "status": next((name for name in _schema.STATUSES_MOST_SEVERE_FIRST if status_counts[name]), "ok"),
        "status_counts": status_counts,
        "hosts_by_status": hosts_by_status,
        "findings": dict(ordered),
        "totals": totals,
    }


def check_top(top: Any) -> int:
    """``top`` as a count of rows to keep: a whole number, 0 or more (a negative slice would drop rows from
    the end instead). Raises ReportError."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ReportError("top must be a whole number, 0 or more (how many top consumers and swap users each "
                          "host keeps), got %r; for example top: 5" % (top,))
    return top


def build_fleet(hosts_facts: dict, errors: dict | None = None, title: str | None = None, top: int = 5,
                now: datetime.datetime | None = None) -> dict:
    """The fleet report (schema_version 1, see docs/report.md).

    hosts_facts: {host name: ansible_facts.memops, or None when the host has none}.
    errors: {host name: why it has no facts}; hosts only named here are reported as unknown too.
    top: how many top consumers and swap users to keep per host.
    now: a datetime for generated_at (tests); the current UTC time by default.
    """
    check_top(top)
    if not isinstance(hosts_facts, dict):
        raise ReportError("hosts_facts must be a dict of host name -> memops facts, got %s"
                          % type(hosts_facts).__name__)
    errors = errors or {}
    if not isinstance(errors, dict):
        raise ReportError("errors must be a dict of host name -> reason, got %s" % type(errors).__name__)
    _ROWS.clear()  # the rows of an earlier report's breakdowns: let them go
    hosts = []
    seen = set()
    for name, facts in hosts_facts.items():
        name = str(name)
        seen.add(name)
        if isinstance(facts, dict) and facts:
            hosts.append(build_host(name, facts, top))
        else:
            hosts.append(_unknown_host(name, str(errors.get(name) or NO_FACTS_REASON)))
    for name, reason in errors.items():
        if str(name) not in seen:
            hosts.append(_unknown_host(str(name), str(reason or NO_FACTS_REASON)))
    hosts.sort(key=_host_sort_key)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": str(title or DEFAULT_TITLE),
        "summary": _summary(hosts),
        "hosts": hosts,
    }


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def same_report(old_text: str, new_text: str) -> bool:
    """True when two renderings differ at most in generated_at (the first timestamp in each)."""
    return _TIMESTAMP.sub("", old_text, count=1) == _TIMESTAMP.sub("", new_text, count=1)


def render_json(fleet: dict) -> str:
    """The fleet document as JSON text, one line: keys in the schema's order, not sorted.

    No indentation: Python's C encoder serves only unindented output; indented, the JSON of 5,000
    hosts takes some 60% longer to write. ``jq .`` or a browser shows it indented.
    """
    return json.dumps(fleet, ensure_ascii=False, default=str) + "\n"


# ---------------------------------------------------------------------------
# what every rendering says alike


def percent(value: float | None) -> str:
    """A percentage as the renderings print it, '-' for unknown."""
    return "-" if value is None else "%.1f%%" % value


def first_finding(host: dict) -> dict | None:
    """The most severe finding that counts for the verdict (not info), or None."""
    return next((f for f in host["findings"] if f["severity"] != "info"), None)


def findings_by_severity(summary: dict) -> list[tuple[str, list[tuple[str, dict, dict]]]]:
    """The fleet's findings as the renderings file them, most severe first: [(severity, [(id, entry, group)])],
    each host under its own finding's severity and title (a group of ``summary.findings.<id>.groups``), the
    groups of a severity by number of hosts, then in the summary's order."""
    out = []
    for severity in _schema.SEVERITIES_MOST_SEVERE_FIRST:
        rows = [(finding_id, entry, group) for finding_id, entry in summary["findings"].items()
                for group in entry["groups"] if group["severity"] == severity]
        rows.sort(key=lambda row: -len(row[2]["hosts"]))  # stable
        if rows:
            out.append((severity, rows))
    return out


# what the breakdown's table says beside a part: (key of the part's detail object, label) of its sizes
_PART_DETAILS = {
    "page_cache": (("reclaimable_bytes", "reclaimable"), ("dirty_bytes", "dirty"), ("mapped_bytes", "mapped"),
                   ("locked_bytes", "locked")),
    "slab": (("reclaimable_bytes", "reclaimable"), ("unreclaimable_bytes", "unreclaimable")),
    "kernel_other": (("kernel_stack_bytes", "stacks"), ("page_tables_bytes", "page tables"),
                     ("vmalloc_bytes", "vmalloc"), ("percpu_bytes", "per-cpu"), ("other_bytes", "other")),
    "compressed_swap": (("zswap_bytes", "zswap"), ("zram_bytes", "zram")),
}


def _part_detail(name, breakdown):
    """What a part holds, in words: 'dirty 12Mi, mapped 1.2Gi', '/dev/shm 1.0Gi of 12Gi'; '' when nothing says.
    Only a shmem part's words hold a host's text (its mount points)."""
    if name == "shmem":
        return ", ".join("%s %s%s" % (mount["mount_point"], human_size(mount["used_bytes"]),
                                      " of " + human_size(mount["size_bytes"]) if mount["size_bytes"] else "")
                         for mount in breakdown.get("shmem_mounts") or ())
    if name == "hugetlb":
        return ", ".join("%s pages: %s in use, %s unused" % (
            human_size(pool["page_size_bytes"]), human_size(pool["in_use_bytes"]), human_size(pool["unused_bytes"]))
            for pool in breakdown.get("hugetlb_pools") or ())
    detail = breakdown.get(name)
    if not detail:
        return ""
    return ", ".join(label + " " + human_size(detail[key]) for key, label in _PART_DETAILS[name] if detail.get(key))


_DETAILED = frozenset(_PART_DETAILS) | {"shmem", "hugetlb"}

# the rows of the breakdowns last shown, by id, with the breakdown itself (the id is its while it lives): every
# rendering shows each host's, the work is done once
_ROWS = {}
# what an escape of a rendering may change (HTML's and Markdown's); text without any is the same escaped
_UNSAFE = frozenset("<>&\"'|`\n")


def _plain_rows(breakdown):
    """(the breakdown's rows, unescaped, whether any has a host's text that an escape could change)."""
    cached = _ROWS.get(id(breakdown))
    if cached is not None and cached[0] is breakdown:
        return cached[1]
    total = breakdown["total_bytes"]
    rows = []
    unsafe = False
    for part in breakdown["parts"]:
        name, size = part["name"], part["bytes"] or 0
        if not size and name != "unaccounted":  # a part of nothing goes unsaid; the remainder never hides
            continue
        share = 100.0 * size / total
        detail = _part_detail(name, breakdown) if name in _DETAILED else ""
        label = BREAKDOWN_LABELS.get(name)
        unsafe = unsafe or label is None or (name == "shmem" and not _UNSAFE.isdisjoint(detail))
        rows.append((name, label or name, human_size(size), "%.1f%%" % share, share, detail))
    if len(_ROWS) >= 1 << 14:
        _ROWS.clear()
    _ROWS[id(breakdown)] = (breakdown, (rows, unsafe))
    return rows, unsafe


def breakdown_rows(breakdown: dict, escape: Callable[[str], str]) -> list[tuple[str, str, str, str, float, str]]:
    """A breakdown's parts as every rendering shows them, in its order, those of 0 bytes left out but the
    unaccounted remainder: (name, label, size, share of the total, the share as a number (0 to 100), what the
    part holds). ``escape`` makes a host's text (a mount point, the name of a part the report does not know,
    which is then its label) safe for the rendering. The list is shared: do not change it."""
    rows, unsafe = _plain_rows(breakdown)
    if not unsafe:
        return rows
    return [(name, label if name in BREAKDOWN_LABELS else escape(label), size, share, width,
             escape(detail) if name == "shmem" else detail) for name, label, size, share, width, detail in rows]


def remedy_parts(remedy: dict) -> tuple[str, list[list[tuple[str, str]]]]:
    """A finding's remedy as every rendering shows it: (summary, places).

    Each place where this collection applies the fix is a list of (lead, name) pairs read in order:
    ``[("role ", "memops.linux.vm_tuning"), (", variable ", "vm_tuning_profile"), (" = ", '"database"')]``
    (the value as JSON) and ``[("module ", "memops.linux.sysctl")]``. A renderer writes the names its way
    (code in HTML) and joins the places (remedy_text, _report_html).
    """
    places = []
    if remedy.get("role"):
        place = [("role ", str(remedy["role"]))]
        if remedy.get("variable"):
            place.append((", variable ", str(remedy["variable"])))
            if remedy.get("value") is not None:
                place.append((" = ", json.dumps(remedy["value"], default=str)))
        places.append(place)
    if remedy.get("module"):
        places.append([("module ", str(remedy["module"]))])
    return str(remedy.get("summary") or ""), places


def remedy_text(remedy: dict) -> str:
    """The remedy in one line: summary, then where the collection applies it."""
    summary, places = remedy_parts(remedy)
    texts = [summary] + ["".join(lead + name for lead, name in place) for place in places]
    return " — ".join(text for text in texts if text)
