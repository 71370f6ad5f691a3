# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report: many hosts' memops facts -> one JSON document, Markdown and HTML.

Private to this collection: the API may change without notice; the JSON schema
it produces is public, versioned by ``schema_version`` and documented in
``docs/report.md``.

Plain Python (no Ansible import). ``build_fleet(hosts_facts, errors)`` takes
``{host name: ansible_facts.memops or None}`` and ``{host name: reason}`` and
returns the fleet document; ``render_markdown`` and ``render_html`` turn it
into text. Host names, process names, command lines and finding texts come
from managed hosts and are treated as untrusted: the HTML escapes every one.
"""

from __future__ import annotations

import datetime
import fnmatch
import functools
import html
import json
import os
import re

from ansible_collections.memops.linux.plugins.module_utils import _schema

SCHEMA_VERSION = 1

DEFAULT_TITLE = "Memory report"
NO_FACTS_REASON = "no memops facts: mem_facts did not run on this host or the host failed before it"


# fleet-wide titles for findings whose title names one host's process
_FLEET_TITLES = {
    "leak.suspect": "Processes grow steadily (leak suspects)",
    "tuning.heap_unbounded": "Runtimes run without a heap limit",
}


class ReportError(ValueError):
    """The input to the report is not what it must be."""


# ---------------------------------------------------------------------------
# sizes, the way free -h prints them


def human_size(value):
    """Bytes as ``free -h`` prints them: 15Gi, 2.5Gi, 500Mi, 0B; '-' for unknown."""
    if value is None:
        return "-"
    value = float(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "Ki", "Mi", "Gi", "Ti", "Pi"):
        if value < 1024 or unit == "Pi":
            break
        value /= 1024.0
    if unit == "B":
        return "%s%dB" % (sign, value)
    if value < 10:
        return "%s%.1f%s" % (sign, value, unit)
    return "%s%d%s" % (sign, round(value), unit)


def free_lines(memory, swap):
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


def _number(value):
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
    out["devices"] = len(swap.get("devices") or [])
    return out


def _host_oom(facts):
    oom = _schema.section(facts, "oom")
    if not oom:
        return None
    events = [e for e in oom.get("events") or [] if isinstance(e, dict)]
    victims = []
    for event in reversed(events[-5:]):
        victim = event.get("victim") or {}
        row = _pick(victim, _schema.REPORT_VICTIM_KEYS)
        row.update({"logged_at": event.get("logged_at"), "uptime_seconds": event.get("uptime_seconds"),
                    "scope": event.get("scope"), "constraint": event.get("constraint"),
                    "memcg": event.get("memcg")})
        victims.append(row)
    return {
        "kill_count": _number(oom.get("kill_count")),
        "events_in_log": len(events),
        "recent_events": len(oom.get("recent_events") or []),
        "recent_victims": victims,
    }


def _host_processes(facts, top):
    procs = _schema.section(facts, "processes")
    if not procs:
        return [], []
    consumers = [_process(r) for r in (procs.get("top_rss") or [])[:top] if isinstance(r, dict)]
    swap_users = [_process(r) for r in (procs.get("top_swap") or [])
                  if isinstance(r, dict) and (_number(r.get("swap_bytes")) or 0) > 0][:top]
    return consumers, swap_users


def _process(row):
    out = _pick(row, _schema.REPORT_PROCESS_KEYS)
    out["name"] = str(out["name"]) if out["name"] is not None else "?"
    for key in ("cmdline", "user"):
        out[key] = str(out[key]) if out[key] is not None else None
    for key in ("rss_bytes", "pss_bytes", "swap_bytes", "mem_pct", "oom_score", "oom_score_adj"):
        out[key] = _number(out[key])
    return out


def _host_findings(health):
    findings = []
    for finding in health.get("findings") or []:
        if not isinstance(finding, dict):
            continue
        severity = finding.get("severity")
        if severity not in _schema.SEVERITY_RANK:
            severity = "info"
        remedy = finding.get("remedy") or {}
        findings.append({
            "id": str(finding.get("id")),
            "severity": severity,
            "title": str(finding.get("title") or finding.get("id")),
            "evidence": [str(line) for line in finding.get("evidence") or []],
            "remedy": {key: remedy.get(key) for key in _schema.REMEDY_KEYS},
            "data": finding.get("data") or {},
        })
    findings.sort(key=lambda f: _schema.SEVERITY_RANK[f["severity"]])
    return findings


def report_input(facts, top=5):
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
    swap = facts.get("swap")
    if isinstance(swap, dict):
        out["swap"] = {key: swap.get(key) for key in _schema.REPORT_SWAP_KEYS}
        out["swap"]["devices"] = list(swap.get("devices") or [])
    oom = facts.get("oom")
    if isinstance(oom, dict):
        out["oom"] = {"kill_count": oom.get("kill_count"), "events": list(oom.get("events") or [])[-5:],
                      "recent_events": list(oom.get("recent_events") or [])}
    procs = facts.get("processes")
    if isinstance(procs, dict):
        out["processes"] = {"top_rss": list(procs.get("top_rss") or [])[:top],
                            "top_swap": list(procs.get("top_swap") or [])[:top]}
    return out


def _unknown_host(name, reason):
    return {
        "name": name, "status": _schema.UNKNOWN, "reason": reason, "counts": {s: 0 for s in _schema.SEVERITIES_MOST_SEVERE_FIRST},
        "memory": None, "swap": None, "free_h": None, "oom": None, "uptime_seconds": None,
        "top_processes": [], "top_swap": [], "findings": [],
    }


def build_host(name, facts, top=5):
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
        "oom": _host_oom(facts),
        "uptime_seconds": _number(facts.get("uptime_seconds")),
        "top_processes": consumers,
        "top_swap": swap_users,
        "findings": findings,
    }


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
        for finding in host["findings"]:
            totals["findings"][finding["severity"]] += 1
            entry = findings.get(finding["id"])
            if entry is None:
                entry = findings[finding["id"]] = {
                    "severity": finding["severity"], "title": _FLEET_TITLES.get(finding["id"], finding["title"]),
                    "count": 0, "hosts": [], "remedy": dict(finding["remedy"])}
            else:
                if _schema.SEVERITY_RANK[finding["severity"]] < _schema.SEVERITY_RANK[entry["severity"]]:
                    entry["severity"] = finding["severity"]
                if entry["remedy"]["value"] != finding["remedy"]["value"]:
                    entry["remedy"]["value"] = None  # hosts need different values: each host's remedy says
            entry["count"] += 1
            if not entry["hosts"] or entry["hosts"][-1] != host["name"]:
                entry["hosts"].append(host["name"])
    ordered = sorted(findings.items(), key=lambda kv: (_schema.SEVERITY_RANK[kv[1]["severity"]], -len(kv[1]["hosts"]), kv[0]))
    return {
        "hosts": len(hosts),
        "status": next((name for name in _schema.STATUSES_MOST_SEVERE_FIRST if status_counts[name]), "ok"),
        "status_counts": status_counts,
        "hosts_by_status": hosts_by_status,
        "findings": dict(ordered),
        "totals": totals,
    }


def build_fleet(hosts_facts, errors=None, title=None, top=5, now=None):
    """The fleet report (schema_version 1, see docs/report.md).

    hosts_facts: {host name: ansible_facts.memops, or None when the host has none}.
    errors: {host name: why it has no facts}; hosts only named here are reported as unknown too.
    top: how many top consumers and swap users to keep per host.
    now: a datetime for generated_at (tests); the current UTC time by default.
    """
    if not isinstance(hosts_facts, dict):
        raise ReportError("hosts_facts must be a dict of host name -> memops facts, got %s"
                          % type(hosts_facts).__name__)
    errors = errors or {}
    if not isinstance(errors, dict):
        raise ReportError("errors must be a dict of host name -> reason, got %s" % type(errors).__name__)
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


def same_report(old_text, new_text):
    """True when two renderings differ at most in generated_at (the first timestamp in each)."""
    return _TIMESTAMP.sub("", old_text, count=1) == _TIMESTAMP.sub("", new_text, count=1)


def render_json(fleet):
    """The fleet document as JSON text, one line: keys in the schema's order, not sorted.

    No indentation: Python's C encoder serves only unindented output; indented, the JSON of 5,000
    hosts takes some 60% longer to write. ``jq .`` or a browser shows it indented.
    """
    return json.dumps(fleet, ensure_ascii=False, default=str) + "\n"


# ---------------------------------------------------------------------------
# queries over a fleet document (the filter plugins)

PROCESS_SORT_KEYS = ("rss_bytes", "pss_bytes", "swap_bytes", "mem_pct", "oom_score")


def _hosts_of(fleet):
    if not isinstance(fleet, dict) or not isinstance(fleet.get("hosts"), list):
        raise ReportError("expected a fleet report (the content of report.json, schema_version %d), got %s"
                          % (SCHEMA_VERSION, type(fleet).__name__))
    if fleet.get("schema_version") != SCHEMA_VERSION:
        raise ReportError("fleet report has schema_version %r; this collection reads %d"
                          % (fleet.get("schema_version"), SCHEMA_VERSION))
    return fleet["hosts"]


def top_processes(fleet, key="rss_bytes", n=10):
    """The n processes with the largest key across all hosts, each with its ``host``.

    Reads each host's top consumers and top swap users (a process in both counts once).
    """
    if key not in PROCESS_SORT_KEYS:
        raise ReportError("top_processes: key must be one of %s, got %r" % (", ".join(PROCESS_SORT_KEYS), key))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ReportError("top_processes: n must be a whole number, 0 or more, got %r" % (n,))
    rows = []
    for host in _hosts_of(fleet):
        seen = set()
        for proc in (host.get("top_processes") or []) + (host.get("top_swap") or []):
            if proc.get("pid") in seen or not isinstance(proc.get(key), (int, float)):
                continue
            seen.add(proc.get("pid"))
            row = dict(proc)
            row["host"] = host["name"]
            rows.append(row)
    rows.sort(key=lambda r: (-r[key], r["host"], r.get("pid") or 0))
    return rows[:n]


def host_findings(fleet, finding_id="*", severity=None):
    """Findings across the fleet whose id matches finding_id (a name or glob), each with its ``host``."""
    if severity is not None and severity not in _schema.SEVERITIES_MOST_SEVERE_FIRST:
        raise ReportError("severity must be one of %s, got %r" % (", ".join(_schema.SEVERITIES_MOST_SEVERE_FIRST), severity))
    rows = []
    for host in _hosts_of(fleet):
        for finding in host.get("findings") or []:
            if fnmatch.fnmatchcase(finding["id"], finding_id) and severity in (None, finding["severity"]):
                row = dict(finding)
                row["host"] = host["name"]
                rows.append(row)
    return rows


def hosts_with_finding(fleet, finding_id, severity=None):
    """Names of the hosts with a finding whose id matches finding_id (a name or glob), most severe host first."""
    names = []
    for row in host_findings(fleet, finding_id, severity):
        if not names or names[-1] != row["host"]:
            names.append(row["host"])
    return names


# ---------------------------------------------------------------------------
# Markdown


def _md(text):
    """Text safe inside a Markdown table cell or list item (no HTML, no table breaks)."""
    text = str(text)
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _md_code(text):
    text = str(text).replace("`", "'").replace("\n", " ")
    return "`%s`" % text


def _remedy_text(remedy):
    """The remedy in one line: summary, then where the collection applies it."""
    parts = [str(remedy.get("summary") or "")]
    if remedy.get("role"):
        where = "role %s" % remedy["role"]
        if remedy.get("variable"):
            where += ", variable %s" % remedy["variable"]
            if remedy.get("value") is not None:
                where += " = %s" % json.dumps(remedy["value"], default=str)
        parts.append(where)
    if remedy.get("module"):
        parts.append("module %s" % remedy["module"])
    return " — ".join(p for p in parts if p)


def _findings_text(host):
    """'1 critical, 2 monitor: <first title>', or why an unknown host has no diagnosis."""
    if host["status"] == "unknown":
        return host["reason"] or ""
    counts = ", ".join("%d %s" % (host["counts"][s], s) for s in _schema.SEVERITIES_MOST_SEVERE_FIRST if host["counts"][s]) or "none"
    first = _first_finding(host)
    return "%s: %s" % (counts, first["title"]) if first else counts


def _first_finding(host):
    """The most severe finding that counts for the verdict (not info), or None."""
    return next((f for f in host["findings"] if f["severity"] != "info"), None)


def _pct(value):
    return "-" if value is None else "%.1f%%" % value


def render_markdown(fleet):
    summary = fleet["summary"]
    counts = summary["status_counts"]
    out = ["# %s" % _md(fleet["title"]), "",
           "Generated %s · %d hosts · **%d critical**, %d unknown, %d monitor, %d ok" % (
               fleet["generated_at"], summary["hosts"], counts["critical"], counts["unknown"], counts["monitor"],
               counts["ok"]), ""]
    totals = summary["totals"]
    out += ["Fleet memory: %s total, %s used, %s available; swap %s of %s used; %d OOM kills since boot." % (
        human_size(totals["memory_total_bytes"]), human_size(totals["memory_used_bytes"]),
        human_size(totals["memory_available_bytes"]), human_size(totals["swap_used_bytes"]),
        human_size(totals["swap_total_bytes"]), totals["oom_kills"]), ""]

    out += ["## Hosts", "",
            "| Host | Status | Findings | Total | Used | Free | Buff/cache | Available | Swap used | OOM kills "
            "| Top consumer |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for host in fleet["hosts"]:
        mem = host["memory"] or {}
        swap = host["swap"] or {}
        top = host["top_processes"][0] if host["top_processes"] else None
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            _md(host["name"]), host["status"].upper(), _md(_findings_text(host)),
            human_size(mem.get("total_bytes")), human_size(mem.get("used_bytes")), human_size(mem.get("free_bytes")),
            human_size(mem.get("buff_cache_bytes")),
            "%s (%s)" % (human_size(mem.get("available_bytes")), _pct(mem.get("available_pct"))) if mem else "-",
            ("%s (%s)" % (human_size(swap.get("used_bytes")), _pct(swap.get("used_pct"))))
            if swap.get("total_bytes") else ("no swap" if swap else "-"),
            "-" if (host["oom"] or {}).get("kill_count") is None else host["oom"]["kill_count"],
            "%s[%s] %s" % (_md(top["name"]), top["pid"], human_size(top["rss_bytes"])) if top else "-"))
    out.append("")

    if summary["findings"]:
        out += ["## Findings across the fleet", ""]
        for severity in _schema.SEVERITIES_MOST_SEVERE_FIRST:
            rows = [(fid, f) for fid, f in summary["findings"].items() if f["severity"] == severity]
            if not rows:
                continue
            out += ["### %s" % severity.capitalize(), "", "| Finding | Hosts | Fix |", "|---|---|---|"]
            for fid, f in rows:
                names = ", ".join(_md(n) for n in f["hosts"][:10])
                if len(f["hosts"]) > 10:
                    names += " and %d more" % (len(f["hosts"]) - 10)
                out.append("| %s %s | %d: %s | %s |" % (
                    _md_code(fid), _md(f["title"]), len(f["hosts"]), names, _md(_remedy_text(f["remedy"]))))
            out.append("")

    out += ["## Host details", ""]
    for host in fleet["hosts"]:
        out += ["### %s — %s" % (_md(host["name"]), host["status"].upper()), ""]
        if host["status"] == "unknown":
            out += ["No diagnosis: %s" % _md(host["reason"]), ""]
            continue
        out += ["```"] + [line.replace("`", "'") for line in host["free_h"]] + ["```", ""]
        oom = host["oom"] or {}
        if oom.get("kill_count") or oom.get("recent_victims"):
            victims = ", ".join("%s[%s] %s%s" % (_md(v["name"]), v["pid"], human_size(v["rss_bytes"]),
                                                 " at %s" % v["logged_at"] if v.get("logged_at") else "")
                                for v in oom.get("recent_victims") or [])
            out += ["OOM kills since boot: %s%s" % (oom.get("kill_count"), "; last victims: " + victims if victims else ""),
                    ""]
        if host["top_processes"]:
            out.append("Top consumers: " + ", ".join(
                "%s[%s] %s" % (_md(p["name"]), p["pid"], human_size(p["rss_bytes"])) for p in host["top_processes"]))
            out.append("")
        if host["top_swap"]:
            out.append("Top swap users: " + ", ".join(
                "%s[%s] %s" % (_md(p["name"]), p["pid"], human_size(p["swap_bytes"])) for p in host["top_swap"]))
            out.append("")
        for finding in host["findings"]:
            out.append("- **%s** %s %s" % (finding["severity"].upper(), _md(finding["title"]), _md_code(finding["id"])))
            for line in finding["evidence"]:
                out.append("  - %s" % _md(line))
            out.append("  - Fix: %s" % _md(_remedy_text(finding["remedy"])))
        if not host["findings"]:
            out.append("No findings.")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# HTML: one self-contained page, no external assets

# the page's style sheet and script, inlined into it: files beside this one, read when a page is first rendered
_ASSETS = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def _asset(name):
    with open(os.path.join(_ASSETS, name), encoding="utf-8") as handle:
        return handle.read()


_E = html.escape

# hosts per page of the host table; the page holds them all as JSON, the script shows one page at a time
PAGE_SIZE = 100


def _badge(status):
    return '<span class="badge %s">%s</span>' % (status, status.upper())


def _anchor(index):
    return "host-%d" % index


def _bar_parts(host):
    """(title, used %, buff/cache %, free %) of the memory bar, or None when memory is not known."""
    mem = host["memory"] or {}
    total = mem.get("total_bytes") or 0
    if not total:
        return None
    available = mem.get("available_bytes") or 0
    used = max(total - available, 0)
    cache = min(mem.get("buff_cache_bytes") or 0, available)
    free = max(total - used - cache, 0)
    title = "used %s, buff/cache %s, free %s, available %s of %s" % (
        human_size(used), human_size(mem.get("buff_cache_bytes")), human_size(mem.get("free_bytes")),
        human_size(available), human_size(total))
    return [title, round(100.0 * used / total, 2), round(100.0 * cache / total, 2), round(100.0 * free / total, 2)]


def _swap_bar_parts(host):
    """(title, used %) of the swap bar, or None without swap."""
    swap = host["swap"] or {}
    if not swap.get("total_bytes"):
        return None
    pct = 100.0 * (swap.get("used_bytes") or 0) / swap["total_bytes"]
    return ["swap used %s of %s" % (human_size(swap.get("used_bytes")), human_size(swap["total_bytes"])),
            round(min(pct, 100.0), 2)]


def _bars(host):
    memory_bar = _bar_parts(host)
    out = []
    if memory_bar:
        out.append('<div class="bar" role="img" aria-label="%s" title="%s">'
                   '<span class="used" style="width:%.2f%%"></span><span class="cache" style="width:%.2f%%"></span>'
                   '<span class="free" style="width:%.2f%%"></span></div>' % (
                       memory_bar[0], memory_bar[0], memory_bar[1], memory_bar[2], memory_bar[3]))
    else:
        out.append('<div class="bar none" title="memory not gathered"></div>')
    swap_bar = _swap_bar_parts(host)
    if swap_bar:
        out.append('<div class="bar swapbar" role="img" aria-label="%s" title="%s"><span class="swap" '
                   'style="width:%.2f%%"></span></div>' % (swap_bar[0], swap_bar[0], swap_bar[1]))
    else:
        out.append('<div class="bar swapbar none" title="no swap"></div>')
    return "".join(out)


# (key, label, type, first direction): the host table's columns; the Mem columns are free -h's
_COLUMNS = (
    ("host", "Host", "text", "ascending"),
    ("status", "Status", "num", "ascending"),
    ("findings", "Findings", "num", "descending"),
    ("total", "Total", "num", "descending"),
    ("used", "Used", "num", "descending"),
    ("free", "Free", "num", "ascending"),
    ("cache", "Buff/cache", "num", "descending"),
    ("available", "Available", "num", "ascending"),
    ("swap", "Swap used", "num", "descending"),
    ("bars", "Memory · swap", None, None),
    ("oom", "OOM kills", "num", "descending"),
    ("top", "Top consumer", "text", "ascending"),
)


def _sort_keys(host):
    """The host's value in each column of _COLUMNS (None for the bars): what sorting compares."""
    mem = host["memory"] or {}
    swap = host["swap"] or {}
    c = host["counts"]
    top = host["top_processes"][0] if host["top_processes"] else None
    oom_count = (host["oom"] or {}).get("kill_count")
    available_pct = mem.get("available_pct")
    return [
        host["name"],
        _schema.STATUS_RANK[host["status"]],
        -1 if host["status"] == "unknown" else c["critical"] * 1000000 + c["monitor"] * 1000 + c["info"],
        mem.get("total_bytes") or 0,
        mem.get("used_bytes") or 0,
        mem.get("free_bytes") or 0,
        mem.get("buff_cache_bytes") or 0,
        available_pct if available_pct is not None else 101,
        (swap.get("used_pct") or 0) if swap.get("total_bytes") else -1,
        None,
        oom_count if oom_count is not None else -1,
        top["name"] if top else "",
    ]


def _num_cell(sort_value, text, extra=""):
    return '<td class="num" data-sort="%s">%s%s</td>' % (sort_value, text, extra)


def _low_available(host):
    """True when the available memory is shown in red: critical host under 10% available."""
    available_pct = (host["memory"] or {}).get("available_pct")
    return available_pct is not None and bool(host["counts"]["critical"]) and available_pct < 10


def _findings_cell(host, sort_key):
    c = host["counts"]
    if host["status"] == "unknown":
        return '<td class="findings" data-sort="-1"><span class="reason">%s</span></td>' % _E(host["reason"] or "")
    pills = "".join('<span class="pill %s" title="%d %s">%d</span>' % (s, c[s], s, c[s]) for s in _schema.SEVERITIES_MOST_SEVERE_FIRST if c[s])
    first = _first_finding(host)
    title = '<span class="first" title="%s">%s</span>' % (_E(first["title"]), _E(first["title"])) if first else ""
    return '<td class="findings" data-sort="%d">%s%s</td>' % (
        sort_key, pills or '<span class="muted">none</span>', title)


def _host_row(index, host):
    """One row of the host table as the page has it without JavaScript (renderRow in report.js builds the same)."""
    keys = _sort_keys(host)
    mem = host["memory"] or {}
    swap = host["swap"] or {}
    top = host["top_processes"][0] if host["top_processes"] else None
    oom_count = (host["oom"] or {}).get("kill_count")
    if swap.get("total_bytes"):
        swap_cell = _num_cell(keys[8], '<span title="of %s">%s</span>' % (
            human_size(swap["total_bytes"]), human_size(swap.get("used_bytes"))),
            ' <span class="pct">%s</span>' % _pct(swap.get("used_pct")))
    else:
        swap_cell = _num_cell(keys[8], "none" if swap else "-")
    low = ' class="pct low"' if _low_available(host) else ' class="pct"'
    return "".join((
        '<tr class="%s">' % host["status"],
        '<th scope="row" data-sort="%s"><a href="#%s">%s</a></th>' % (
            _E(host["name"]), _anchor(index), _E(host["name"])),
        '<td data-sort="%d">%s</td>' % (keys[1], _badge(host["status"])),
        _findings_cell(host, keys[2]),
        _num_cell(keys[3], human_size(mem.get("total_bytes"))),
        _num_cell(keys[4], human_size(mem.get("used_bytes"))),
        _num_cell(keys[5], human_size(mem.get("free_bytes"))),
        _num_cell(keys[6], human_size(mem.get("buff_cache_bytes"))),
        _num_cell(keys[7], human_size(mem.get("available_bytes")),
                  ' <span%s>%s</span>' % (low, _pct(mem.get("available_pct"))) if mem else ""),
        swap_cell,
        '<td class="bars">%s</td>' % _bars(host),
        _num_cell(keys[10], "-" if oom_count is None else oom_count),
        '<td class="top" data-sort="%s" title="%s">%s</td>' % (
            _E(top["name"]) if top else "", _E(top["cmdline"] or top["name"]) if top else "",
            "%s<small>[%s]</small> %s" % (_E(top["name"]), _E(str(top["pid"])), human_size(top["rss_bytes"]))
            if top else "-"),
        "</tr>",
    ))


def _remedy_html(remedy):
    parts = ['<div class="fix"><b>Fix:</b> %s' % _E(str(remedy.get("summary") or ""))]
    if remedy.get("role"):
        where = " Role <code>%s</code>" % _E(str(remedy["role"]))
        if remedy.get("variable"):
            where += ", variable <code>%s</code>" % _E(str(remedy["variable"]))
            if remedy.get("value") is not None:
                where += " = <code>%s</code>" % _E(json.dumps(remedy["value"], default=str))
        parts.append(where + ".")
    if remedy.get("module"):
        parts.append(" Module <code>%s</code>." % _E(str(remedy["module"])))
    parts.append("</div>")
    return "".join(parts)


def _procs_table(rows, key, label):
    if not rows:
        return ""
    out = ['<table class="procs"><thead><tr><th>%s</th><th class="num">PID</th><th>User</th>'
           '<th class="num">RSS</th><th class="num">Swap</th><th class="num">oom_score</th></tr></thead><tbody>' % label]
    for p in rows:
        out.append('<tr><td title="%s">%s</td><td class="num">%s</td><td>%s</td><td class="num">%s</td>'
                   '<td class="num">%s</td><td class="num">%s</td></tr>' % (
                       _E(str(p.get("cmdline") or "")), _E(str(p.get("name"))), _E(str(p.get("pid"))),
                       _E(str(p.get("user") or "")), human_size(p.get("rss_bytes")), human_size(p.get("swap_bytes")),
                       _E(str(p.get("oom_score") if p.get("oom_score") is not None else "-"))))
    out.append("</tbody></table>")
    return "".join(out)


def _victims_text(oom):
    return ", ".join("%s[%s] %s%s" % (v.get("name"), v.get("pid"), human_size(v.get("rss_bytes")),
                                      " at %s" % v["logged_at"] if v.get("logged_at") else "")
                     for v in oom.get("recent_victims") or [])


def _details_open(index, host):
    """The first severe hosts of the report open their details."""
    return host["status"] in ("critical", "unknown") and index < 50


def _host_details(index, host):
    """One host's details as the page has them without JavaScript (renderDetails in report.js builds the same)."""
    out = ['<details class="host" id="%s"%s><summary>%s%s</summary>' % (
        _anchor(index), " open" if _details_open(index, host) else "", _E(host["name"]), _badge(host["status"]))]
    if host["status"] == "unknown":
        out.append('<p>No diagnosis: %s</p></details>' % _E(host["reason"] or ""))
        return "".join(out)
    out.append('<pre class="free">%s</pre>' % _E("\n".join(host["free_h"])))
    oom = host["oom"] or {}
    if oom.get("kill_count") or oom.get("recent_victims"):
        victims = _victims_text(oom)
        out.append("<p><b>OOM kills since boot:</b> %s%s</p>" % (
            _E(str(oom.get("kill_count"))), "; last victims: " + _E(victims) if victims else ""))
    out.append('<div class="hostgrid"><div>')
    if host["findings"]:
        for severity in _schema.SEVERITIES_MOST_SEVERE_FIRST:
            group = [f for f in host["findings"] if f["severity"] == severity]
            if not group:
                continue
            out.append('<div class="group">%s %d</div>' % (_badge(severity), len(group)))
            for f in group:
                out.append('<div class="finding %s"><h4>%s <code>%s</code></h4><ul>%s</ul>%s</div>' % (
                    severity, _E(f["title"]), _E(f["id"]),
                    "".join("<li>%s</li>" % _E(line) for line in f["evidence"]), _remedy_html(f["remedy"])))
    else:
        out.append("<p>No findings.</p>")
    out.append("</div><div>")
    out.append(_procs_table(host["top_processes"], "rss_bytes", "Top consumers"))
    if host["top_swap"]:
        out.append('<div style="height:8px"></div>')
        out.append(_procs_table(host["top_swap"], "swap_bytes", "Top swap users"))
    out.append("</div></div></details>")
    return "".join(out)


def _proc_cells(p):
    return [str(p.get("cmdline") or ""), str(p.get("name")), str(p.get("pid")), str(p.get("user") or ""),
            human_size(p.get("rss_bytes")), human_size(p.get("swap_bytes")),
            str(p.get("oom_score") if p.get("oom_score") is not None else "-")]


def _remedy_parts(remedy):
    """[summary, role, variable, value as JSON, module]: what _remedy_html shows, as data for the page's script."""
    value = remedy.get("value")
    return [str(remedy.get("summary") or ""), str(remedy.get("role") or ""), str(remedy.get("variable") or ""),
            None if value is None else json.dumps(value, default=str), str(remedy.get("module") or "")]


def _host_record(index, host):
    """One host as the page's script reads it: display texts made here, so that sizes read as in free -h.

    Short keys keep 5,000 hosts small: i index in the report, n name, s status, k sort keys (_COLUMNS),
    c counts by severity, r reason, f first finding, m memory texts, w swap texts, b and sb bars,
    o OOM kills, t top consumer, h free -h, x OOM line, d findings, p and q top RSS and swap users.
    """
    mem = host["memory"] or {}
    swap = host["swap"] or {}
    oom = host["oom"] or {}
    top = host["top_processes"][0] if host["top_processes"] else None
    first = _first_finding(host)
    record = {
        "i": index, "n": host["name"], "s": host["status"], "k": _sort_keys(host),
        "c": [host["counts"][s] for s in _schema.SEVERITIES_MOST_SEVERE_FIRST], "r": host["reason"], "f": first["title"] if first else None,
        "m": [human_size(mem.get("total_bytes")), human_size(mem.get("used_bytes")), human_size(mem.get("free_bytes")),
              human_size(mem.get("buff_cache_bytes")), human_size(mem.get("available_bytes")),
              _pct(mem.get("available_pct")), _low_available(host)] if mem else None,
        "w": [human_size(swap.get("used_bytes")), human_size(swap["total_bytes"]), _pct(swap.get("used_pct"))]
        if swap.get("total_bytes") else ("none" if swap else "-"),
        "b": _bar_parts(host), "sb": _swap_bar_parts(host), "o": oom.get("kill_count"),
        "t": [str(top["name"]), str(top["pid"]), str(top["cmdline"] or top["name"]), human_size(top["rss_bytes"])]
        if top else None,
    }
    if host["status"] != "unknown":
        record.update({
            "h": "\n".join(host["free_h"]),
            "x": [str(oom.get("kill_count")), _victims_text(oom)]
            if oom.get("kill_count") or oom.get("recent_victims") else None,
            "d": [[f["severity"], f["title"], f["id"], f["evidence"], _remedy_parts(f["remedy"])]
                  for f in host["findings"]],
            "p": [_proc_cells(p) for p in host["top_processes"]],
            "q": [_proc_cells(p) for p in host["top_swap"]],
        })
    return record


def _script_json(value):
    """JSON that cannot end the <script> element holding it nor break a JavaScript string."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _fleet_findings(summary, index_of):
    if not summary["findings"]:
        return "<p>No findings on any host.</p>"
    out = []
    for severity in _schema.SEVERITIES_MOST_SEVERE_FIRST:
        rows = [(fid, f) for fid, f in summary["findings"].items() if f["severity"] == severity]
        if not rows:
            continue
        out.append('<h3 class="group">%s %d finding kinds</h3>' % (_badge(severity), len(rows)))
        for fid, f in rows:
            links = ", ".join('<a href="#%s">%s</a>' % (_anchor(index_of[name]), _E(name)) for name in f["hosts"][:200])
            if len(f["hosts"]) > 200:
                links += " and %d more" % (len(f["hosts"]) - 200)
            out.append('<div class="finding %s"><h4>%s <code>%s</code> · %d host%s</h4>'
                       '<div class="hosts-list">%s</div>%s</div>' % (
                           severity, _E(f["title"]), _E(fid), len(f["hosts"]), "" if len(f["hosts"]) == 1 else "s",
                           links, _remedy_html(f["remedy"])))
    return "".join(out)


def render_html(fleet):
    summary = fleet["summary"]
    counts = summary["status_counts"]
    totals = summary["totals"]
    index_of = {}
    for index, host in enumerate(fleet["hosts"]):
        index_of.setdefault(host["name"], index)
    head = "".join(
        '<th scope="col" data-key="%s"%s%s%s>%s</th>' % (
            key, ' data-type="%s"' % kind if kind else "", ' data-first="%s"' % first if first else "",
            ' class="num"' if key in ("total", "used", "free", "cache", "available", "swap", "oom") else "",
            '<button type="button">%s</button>' % label if kind else label)
        for key, label, kind, first in _COLUMNS)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        "<title>%s</title>" % _E(fleet["title"]),
        "<style>\n%s</style></head><body>" % _asset("report.css"),
        "<header><h1>%s</h1><p>Generated %s · %d hosts · schema %d</p></header><main>" % (
            _E(fleet["title"]), _E(fleet["generated_at"]), summary["hosts"], fleet["schema_version"]),
        '<section aria-label="Verdicts"><div class="cards">',
    ]
    for status in _schema.STATUSES_MOST_SEVERE_FIRST:
        out.append('<div class="card %s"><b>%d</b>%s</div>' % (status, counts[status], status))
    out.append('</div><p class="totals">Fleet memory %s, used %s, available %s · swap used %s of %s · '
               '%d OOM kills since boot · findings: %d critical, %d monitor, %d info</p></section>' % (
                   human_size(totals["memory_total_bytes"]), human_size(totals["memory_used_bytes"]),
                   human_size(totals["memory_available_bytes"]), human_size(totals["swap_used_bytes"]),
                   human_size(totals["swap_total_bytes"]), totals["oom_kills"], totals["findings"]["critical"],
                   totals["findings"]["monitor"], totals["findings"]["info"]))
    out.append('<section aria-labelledby="h-hosts"><h2 id="h-hosts">Hosts</h2>'
               '<div class="legend"><span><i style="background:var(--used)"></i>used</span>'
               '<span><i style="background:var(--cache)"></i>buff/cache</span>'
               '<span><i style="background:var(--free)"></i>free</span>'
               '<span><i style="background:var(--swap)"></i>swap used</span>'
               '<span>available = buff/cache (reclaimable) + free · click a column header to sort</span></div>'
               '<p id="sort-status" class="muted" aria-live="polite" style="margin:0 0 4px"></p>'
               '<nav id="pager" aria-label="Pages of the host table" hidden>'
               '<button type="button" id="page-prev">&larr; Previous</button>'
               '<span id="page-info" aria-live="polite"></span>'
               '<button type="button" id="page-next">Next &rarr;</button>'
               '<button type="button" id="page-all" aria-pressed="false">Show all</button></nav>'
               '<div class="scroll"><table id="hosts" data-page-size="%d"><thead><tr>%s</tr></thead><tbody>'
               % (PAGE_SIZE, head))
    # without JavaScript the first page is there as HTML; the script renders every page from the JSON
    first_page = fleet["hosts"][:PAGE_SIZE]
    out.extend(_host_row(index, host) for index, host in enumerate(first_page))
    out.append("</tbody></table></div>")
    if len(fleet["hosts"]) > PAGE_SIZE:
        out.append('<noscript><p class="muted">JavaScript is off: the table and the host details show the first %d '
                   'of %d hosts, most severe first; report.json has them all.</p></noscript>'
                   % (PAGE_SIZE, len(fleet["hosts"])))
    out.append("</section>")
    out.append('<section aria-labelledby="h-findings"><h2 id="h-findings">Findings by severity</h2>%s</section>'
               % _fleet_findings(summary, index_of))
    out.append('<section aria-labelledby="h-details"><h2 id="h-details">Host details</h2><div id="host-details">')
    out.extend(_host_details(index, host) for index, host in enumerate(first_page))
    out.append('</div></section></main><script type="application/json" id="hosts-data">%s</script>'
               % _script_json([_host_record(index, host) for index, host in enumerate(fleet["hosts"])]))
    out.append("<script>\n%s</script></body></html>\n" % _asset("report.js"))
    return "".join(out)
