# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report as Markdown (report.md).

Private to this collection: the API may change without notice.

Controller code, plain Python (no Ansible import). Host names, process names,
command lines and finding texts come from managed hosts: they are escaped so
that they stay text in a table cell or a list item.
"""

from __future__ import annotations

import html
import re

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils._report import (
    DETAIL_COLUMNS, MAPPING_COLUMNS, breakdown_rows, detail_cells, detail_missing, findings_by_severity, first_finding,
    human_size, mapping_cells, percent, plural, remedy_text, status_text)
from ansible_collections.memops.linux.plugins.plugin_utils._report_capture import capture_missing, capture_origin


# Control characters (C0 with ESC, DEL, C1 with CSI) would move a terminal's cursor or recolour it when the
# file is read with cat or less; the Unicode line and paragraph separators and the bidirectional overrides
# would break a line or reorder what is read. Each is shown as its code instead.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# what makes Markdown of text: emphasis, code, links and images, tables, strikethrough, headings (an underscore
# between two letters or digits, as in overcommit_memory, emphasises nothing and stays as it is)
_MARKUP = re.compile(r"([\\`*\[\]|~#]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def _visible(match):
    return "\\x%02x" % ord(match.group()) if ord(match.group()) < 0x100 else "\\u%04x" % ord(match.group())


def _md(text):
    """Text from a host made safe inside a Markdown table cell, heading or list item: no HTML, no markup (links,
    images, emphasis, code, table breaks), no control characters (terminal escapes, line breaks)."""
    text = html.escape(str(text), quote=False)
    return _CONTROL.sub(lambda m: "\\" + _visible(m), _MARKUP.sub(r"\\\g<0>", text))


def _md_code(text):
    """Text from a host as inline code: no backtick to end it, no control characters."""
    text = _CONTROL.sub(_visible, str(text).replace("`", "'"))
    return "`%s`" % text


def _pid(value):
    """A process id from a host: a number, or its text escaped."""
    return str(value) if value.__class__ is int else _md(value)


def _findings_text(host):
    """'1 critical, 2 monitor: <first title>', or why an unknown host has no diagnosis."""
    if host["status"] == "unknown":
        return host["reason"] or ""
    counts = ", ".join("%d %s" % (host["counts"][s], s) for s in _schema.SEVERITIES_MOST_SEVERE_FIRST if host["counts"][s]) or "none"
    first = first_finding(host)
    return "%s: %s" % (counts, first["title"]) if first else counts


def _breakdown_table(breakdown):
    """A breakdown as a Markdown table: a row a part, its size, its share of the total and what it holds."""
    out = ["| Part | Size | Share | Of which |", "|---|---:|---:|---|"]
    out.extend("| %s | %s | %s | %s |" % (label, size, share, detail)
               for _name, label, size, share, _width, detail in breakdown_rows(breakdown, _md))
    return out


def _table(columns, rows):
    return ["| %s |" % " | ".join(columns), "|---|" + "---:|" * (len(columns) - 1)] + [
        "| %s |" % " | ".join(row) for row in rows]


def _process_detail(detail):
    """A host's process detail: a row a process (as smem shows it, with its memory by kind of mapping), then the
    largest mappings of each (as pmap -x shows them)."""
    out = ["Process detail (pmap -x, smem):", ""]
    out += _table(DETAIL_COLUMNS, [["%s[%s]" % (_md(p["name"]), _pid(p["pid"]))] + detail_cells(p)
                                   for p in detail["processes"]]) + [""]
    for p in detail["processes"]:
        if p["mappings"]:
            out += ["Largest mappings of %s[%s]:" % (_md(p["name"]), _pid(p["pid"])), ""]
            out += _table(MAPPING_COLUMNS, [[_md(cell) for cell in mapping_cells(m)] for m in p["mappings"]]) + [""]
    missing = detail_missing(detail)
    return out + (["Not detailed: %s" % _md(missing), ""] if missing else [])


def render_markdown(fleet: dict) -> str:
    summary = fleet["summary"]
    counts = summary["status_counts"]
    out = ["# %s" % _md(fleet["title"]), "",
           "Generated %s · %s · **%d critical**, %d unknown, %d monitor, %d ok" % (
               fleet["generated_at"], plural(summary["hosts"], "host"), counts["critical"], counts["unknown"], counts["monitor"],
               counts["ok"]), ""]
    totals = summary["totals"]
    out += ["Fleet memory: %s total, %s used, %s available; swap %s of %s used; %s since boot." % (
        human_size(totals["memory_total_bytes"]), human_size(totals["memory_used_bytes"]),
        human_size(totals["memory_available_bytes"]), human_size(totals["swap_used_bytes"]),
        human_size(totals["swap_total_bytes"]), plural(totals["oom_kills"], "OOM kill")), ""]
    if totals["breakdown"]:
        out += ["Where the fleet's memory went: %s over %s of %d:" % (
            human_size(totals["breakdown"]["total_bytes"]), plural(totals["breakdown"]["hosts"], "host"),
            summary["hosts"]), ""] + _breakdown_table(totals["breakdown"]) + [""]

    out += ["## Hosts", "",
            "| Host | Status | Findings | Total | Used | Free | Buff/cache | Available | Swap used | OOM kills "
            "| Top consumer |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for host in fleet["hosts"]:
        mem = host["memory"] or {}
        swap = host["swap"] or {}
        top = host["top_processes"][0] if host["top_processes"] else None
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            _md(host["name"]), status_text(host), _md(_findings_text(host)),
            human_size(mem.get("total_bytes")), human_size(mem.get("used_bytes")), human_size(mem.get("free_bytes")),
            human_size(mem.get("buff_cache_bytes")),
            "%s (%s)" % (human_size(mem.get("available_bytes")), percent(mem.get("available_pct"))) if mem else "-",
            ("%s (%s)" % (human_size(swap.get("used_bytes")), percent(swap.get("used_pct"))))
            if swap.get("total_bytes") else ("no swap" if swap else "-"),
            "-" if (host["oom"] or {}).get("kill_count") is None else host["oom"]["kill_count"],
            "%s[%s] %s" % (_md(top["name"]), _pid(top["pid"]), human_size(top["rss_bytes"])) if top else "-"))
    out.append("")

    if summary["findings"]:
        out += ["## Findings across the fleet", ""]
        for severity, rows in findings_by_severity(summary):  # each host under its own finding's severity and title
            out += ["### %s" % severity.capitalize(), "", "| Finding | Hosts | Fix |", "|---|---|---|"]
            for fid, f, group in rows:
                names = ", ".join(_md(n) for n in group["hosts"][:10])
                if len(group["hosts"]) > 10:
                    names += " and %d more" % (len(group["hosts"]) - 10)
                out.append("| %s %s | %d: %s | %s |" % (
                    _md_code(fid), _md(group["title"]), len(group["hosts"]), names, _md(remedy_text(f["remedy"]))))
            out.append("")

    out += ["## Host details", ""]
    for host in fleet["hosts"]:
        out += ["### %s — %s" % (_md(host["name"]), status_text(host)), ""]
        if host["status"] == "unknown":
            out += ["No diagnosis: %s" % _md(host["reason"]), ""]
            continue
        out += ["```"] + [line.replace("`", "'") for line in host["free_h"]] + ["```", ""]
        if host["partial"]:
            out += ["Partial view, run with become to see it all: " + "; ".join(_md(line) for line in host["partial"]),
                    ""]
        if host["capture"]:
            out += ["Captured host: %s." % _md(capture_origin(host["capture"])), "",
                    "Not in the capture: %s" % _md(capture_missing(host["capture"])), ""]
        oom = host["oom"] or {}
        if oom.get("kill_count") or oom.get("recent_victims"):
            victims = ", ".join("%s[%s] %s%s" % (_md(v["name"]), _pid(v["pid"]), human_size(v["rss_bytes"]),
                                                 " at %s" % _md(v["logged_at"]) if v.get("logged_at") else "")
                                for v in oom.get("recent_victims") or [])
            out += ["OOM kills since boot: %s%s" % (_md(oom.get("kill_count")), "; last victims: " + victims if victims else ""),
                    ""]
        if host["breakdown"]:
            out += ["Where the memory went: %s" % human_size(host["breakdown"]["total_bytes"]), ""]
            out += _breakdown_table(host["breakdown"]) + [""]
        if host["top_processes"]:
            out.append("Top consumers: " + ", ".join(
                "%s[%s] %s" % (_md(p["name"]), _pid(p["pid"]), human_size(p["rss_bytes"])) for p in host["top_processes"]))
            out.append("")
        if host["top_swap"]:
            out.append("Top swap users: " + ", ".join(
                "%s[%s] %s" % (_md(p["name"]), _pid(p["pid"]), human_size(p["swap_bytes"])) for p in host["top_swap"]))
            out.append("")
        if host["process_detail"]:
            out += _process_detail(host["process_detail"])
        for finding in host["findings"]:
            out.append("- **%s** %s %s" % (finding["severity"].upper(), _md(finding["title"]), _md_code(finding["id"])))
            for line in finding["evidence"]:
                out.append("  - %s" % _md(line))
            out.append("  - Fix: %s" % _md(remedy_text(finding["remedy"])))
        if not host["findings"]:
            out.append("No findings.")
        out.append("")
    return "\n".join(out)
