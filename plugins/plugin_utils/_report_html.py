# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report as one self-contained HTML page (report.html), no external assets.

Private to this collection: the API may change without notice.

Controller code, plain Python (no Ansible import). Host names, process names,
command lines and finding texts come from managed hosts and are treated as
untrusted: the page escapes every one. Its style sheet and script are the files
report.css and report.js beside this one, inlined into the page.
"""

from __future__ import annotations

import functools
import html
import json
import os

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils._report import (
    BREAKDOWN_LABELS, DETAIL_COLUMNS, MAPPING_COLUMNS, PARTIAL_VIEW, breakdown_rows, detail_cells, detail_missing,
    findings_by_severity, first_finding, human_size, mapping_cells, percent, plural, remedy_parts)
from ansible_collections.memops.linux.plugins.plugin_utils._report_capture import capture_missing, capture_origin

# the page's style sheet and script, inlined into it: files beside this one, read when a page is first rendered
_ASSETS = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def _asset(name):
    with open(os.path.join(_ASSETS, name), encoding="utf-8") as handle:
        return handle.read()


# Host texts repeat across a fleet (process and user names, finding titles and evidence): each is escaped once.
_E = functools.lru_cache(maxsize=1 << 16)(html.escape)

# hosts per page of the host table: the first page is in the HTML, the other hosts' rows and details are
# strings in the page's JSON, and the script shows one page at a time
HOSTS_PER_PAGE = 100


def _partial_mark(host):
    """A mark beside the verdict of a host whose facts saw only part of it; its title says what was hidden."""
    if not host.get("partial"):
        return ""
    return ' <span class="partial" title="%s">%s</span>' % (_E("; ".join(host["partial"])), PARTIAL_VIEW)


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


# the widest a character of the fleet chart's labels is, in its units (1000 the chart's width; 12-unit type)
_CHAR_UNITS = 7.5


def _stack_svg(rows, labelled):
    """A breakdown's parts as one stacked bar of inline SVG, a rectangle a part. The host's bar stretches to the
    width it is given; the fleet's (labelled) keeps its proportions, has each part's size in its title (which a
    pointer shows) and writes the label and size of each part wide enough for them under its segment."""
    out = []
    x = 0.0
    for name, label, size, share, width, _detail in rows:
        if width <= 0:
            continue
        css = name if name in BREAKDOWN_LABELS else "other"  # a class of the style sheet, never a host's text
        if labelled:
            out.append('<rect class="bd-%s" x="%.1f" width="%.1f" height="28"><title>%s %s (%s)</title></rect>' % (
                css, x * 10, width * 10, label, size, share))
            below = "%s · %s" % (size, share)
            if max(len(label), len(below)) * _CHAR_UNITS + 4 <= width * 10:  # only where it fits
                out.append('<text x="%.1f" y="44">%s</text><text x="%.1f" y="60" class="size">%s</text>' % (
                    x * 10 + 2, label, x * 10 + 2, below))
        else:  # the table under it has the sizes: no title, the bar is a host's most repeated markup
            out.append('<rect class="bd-%s" x="%.2f" width="%.2f"/>' % (css, x, width))
        x += width
    if labelled:
        return '<svg class="stack fleet" viewBox="0 0 1000 66" aria-hidden="true">%s</svg>' % "".join(out)
    return '<svg class="stack" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">%s</svg>' % "".join(out)


def _breakdown_html(breakdown, caption, labelled=False):
    """A breakdown as a stacked bar (_stack_svg) over a table of its parts with their sizes, which says all the
    bar shows: the same for a host and for the fleet; HTML and SVG only, readable without the script."""
    rows = breakdown_rows(breakdown, _E)
    table = "".join('<tr><th class="bd-%s">%s</th><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        name if name in BREAKDOWN_LABELS else "other", label, size, share, detail)
        for name, label, size, share, _width, detail in rows)
    return ('<figure class="breakdown"><figcaption>%s</figcaption>%s<table class="parts"><thead><tr><th>Part</th>'
            '<th class="num">Size</th><th class="num">Share</th><th>Of which</th></tr></thead><tbody>%s</tbody>'
            '</table></figure>' % (caption, _stack_svg(rows, labelled), table))


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
    first = first_finding(host)
    title = '<span class="first" title="%s">%s</span>' % (_E(first["title"]), _E(first["title"])) if first else ""
    return '<td class="findings" data-sort="%d">%s%s</td>' % (
        sort_key, pills or '<span class="muted">none</span>', title)


def _host_row(index, host, keys):
    """One row of the host table; keys are the host's _sort_keys. The only place a row is written: the first
    page has it in the HTML, the script inserts it from the page's JSON."""
    mem = host["memory"] or {}
    swap = host["swap"] or {}
    top = host["top_processes"][0] if host["top_processes"] else None
    oom_count = (host["oom"] or {}).get("kill_count")
    if swap.get("total_bytes"):
        swap_cell = _num_cell(keys[8], '<span title="of %s">%s</span>' % (
            human_size(swap["total_bytes"]), human_size(swap.get("used_bytes"))),
            ' <span class="pct">%s</span>' % percent(swap.get("used_pct")))
    else:
        swap_cell = _num_cell(keys[8], "none" if swap else "-")
    low = ' class="pct low"' if _low_available(host) else ' class="pct"'
    return "".join((
        '<tr class="%s">' % host["status"],
        '<th scope="row" data-sort="%s"><a href="#%s">%s</a></th>' % (
            _E(host["name"]), _anchor(index), _E(host["name"])),
        '<td data-sort="%d">%s%s</td>' % (keys[1], _badge(host["status"]), _partial_mark(host)),
        _findings_cell(host, keys[2]),
        _num_cell(keys[3], human_size(mem.get("total_bytes"))),
        _num_cell(keys[4], human_size(mem.get("used_bytes"))),
        _num_cell(keys[5], human_size(mem.get("free_bytes"))),
        _num_cell(keys[6], human_size(mem.get("buff_cache_bytes"))),
        _num_cell(keys[7], human_size(mem.get("available_bytes")),
                  ' <span%s>%s</span>' % (low, percent(mem.get("available_pct"))) if mem else ""),
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
    """The remedy as the findings show it: "Fix:", the summary, then each place, its names as code."""
    summary, places = remedy_parts(remedy)
    out = ['<div class="fix"><b>Fix:</b> %s' % _E(summary)]
    for place in places:
        words = "".join("%s<code>%s</code>" % (lead, _E(name)) for lead, name in place)
        out.append(" %s%s." % (words[:1].upper(), words[1:]))
    out.append("</div>")
    return "".join(out)


def _procs_table(rows, key, label):
    if not rows:
        return ""
    out = ['<table class="procs"><thead><tr><th>%s</th><th class="num">PID</th><th>User</th>'
           '<th class="num">RSS</th><th class="num">Swap</th><th class="num">oom_score</th></tr></thead><tbody>' % label]
    for p in rows:  # rows of the report (_report._process): names and users are text, sizes numbers or None
        score = p["oom_score"]
        # the numbers' cells are aligned by the style sheet (.procs td:nth-child): a fleet has many of them
        out.append('<tr><td title="%s">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
            _E(p["cmdline"] or ""), _E(p["name"]), _E(str(p["pid"])), _E(p["user"] or ""),
            human_size(p["rss_bytes"]), human_size(p["swap_bytes"]), "-" if score is None else score))
    out.append("</tbody></table>")
    return "".join(out)


def _html_table(columns, rows, text=(0,)):
    """A table of the process detail; the columns at the indexes ``text`` hold text, the others numbers."""
    def cell(tag, index, value):
        return "<%s%s>%s</%s>" % (tag, "" if index in text else ' class="num"', _E(value), tag)
    out = ['<table class="detail"><thead><tr>%s</tr></thead><tbody>' % "".join(
        cell("th", index, column) for index, column in enumerate(columns))]
    out.extend("<tr>%s</tr>" % "".join(cell("td", index, value) for index, value in enumerate(row)) for row in rows)
    out.append("</tbody></table>")
    return "".join(out)


def _process_detail_html(detail):
    """A host's process detail: as smem shows each process, then as pmap -x its largest mappings."""
    out = ['<h4>Process detail (pmap -x, smem)</h4>', _html_table(DETAIL_COLUMNS, [
        ["%s[%s]" % (p["name"], p["pid"])] + detail_cells(p) for p in detail["processes"]])]
    for p in detail["processes"]:
        if p["mappings"]:
            out.append('<p title="%s">Largest mappings of %s[%s]</p>' % (
                _E(p["cmdline"] or ""), _E(p["name"]), _E(str(p["pid"]))))
            out.append(_html_table(MAPPING_COLUMNS, [mapping_cells(m) for m in p["mappings"]], text=(0, 5, 6, 7)))
    missing = detail_missing(detail)
    if missing:
        out.append("<p><b>Not detailed:</b> %s</p>" % _E(missing))
    return "".join(out)


def _victims_text(oom):
    return ", ".join("%s[%s] %s%s" % (v.get("name"), v.get("pid"), human_size(v.get("rss_bytes")),
                                      " at %s" % v["logged_at"] if v.get("logged_at") else "")
                     for v in oom.get("recent_victims") or [])


def _details_open(index, host):
    """The first severe hosts of the report (critical, or without a verdict) open their details."""
    return _schema.STATUS_RANK[host["status"]] <= _schema.STATUS_RANK[_schema.UNKNOWN] and index < 50


def _host_details(index, host):
    """One host's details; the only place they are written, like _host_row's row."""
    out = ['<details class="host" id="%s"%s><summary>%s%s</summary>' % (
        _anchor(index), " open" if _details_open(index, host) else "", _E(host["name"]), _badge(host["status"]))]
    if host["status"] == "unknown":
        out.append('<p>No diagnosis: %s</p></details>' % _E(host["reason"] or ""))
        return "".join(out)
    out.append('<pre class="free">%s</pre>' % _E("\n".join(host["free_h"])))
    if host["partial"]:
        out.append('<p class="partial"><b>Partial view, run with become to see it all:</b> %s</p>'
                   % _E("; ".join(host["partial"])))
    if host["capture"]:
        out.append('<p class="capture"><b>Captured host:</b> %s.<br><b>Not in the capture:</b> %s</p>' % (
            _E(capture_origin(host["capture"])), _E(capture_missing(host["capture"]))))
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
    if host["breakdown"]:
        out.append(_breakdown_html(host["breakdown"], "Where the memory went: %s" % human_size(
            host["breakdown"]["total_bytes"])))
    out.append(_procs_table(host["top_processes"], "rss_bytes", "Top consumers"))
    if host["top_swap"]:
        out.append('<div style="height:8px"></div>')
        out.append(_procs_table(host["top_swap"], "swap_bytes", "Top swap users"))
    if host["process_detail"]:
        out.append(_process_detail_html(host["process_detail"]))
    out.append("</div></div></details>")
    return "".join(out)


def _script_json(value):
    """JSON that cannot end the <script> element holding it nor break a JavaScript string: every ``<`` (all that
    can end the element or open a comment in it) and the line separators JavaScript strings refuse, escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# In the page's JSON each "<" of a host's HTML is an apostrophe (the script puts the "<" back), so that the
# markup, mostly tags, needs no 6-byte escape per tag and stays ASCII. An apostrophe cannot come from a host
# (html.escape made each one an entity), and any other is made one first: every apostrophe in the JSON's
# markup is a "<" this module wrote.
def _packed(markup):
    return markup.replace("'", "&#39;").replace("<", "'")


def _host_data(index, host, keys):
    """One host as the page's JSON holds it: n its name, k its sort keys (_COLUMNS); for a host after the first
    page also r and d, its row and its details as _host_row and _host_details write them (_packed), which the
    script puts in place as they are."""
    data = {"n": host["name"], "k": keys}
    if index >= HOSTS_PER_PAGE:
        data.update(r=_packed(_host_row(index, host, keys)), d=_packed(_host_details(index, host)))
    return data


def _fleet_findings(summary, index_of):
    """The findings of the fleet by severity: each host under its own finding's severity and title."""
    if not summary["findings"]:
        return "<p>No findings on any host.</p>"
    out = []
    for severity, rows in findings_by_severity(summary):
        out.append('<h3 class="group">%s %s</h3>' % (_badge(severity), plural(len({fid for fid, _f, _g in rows}), "finding kind")))
        for fid, f, group in rows:
            hosts = group["hosts"]
            links = ", ".join('<a href="#%s">%s</a>' % (_anchor(index_of[name]), _E(name)) for name in hosts[:200])
            if len(hosts) > 200:
                links += " and %d more" % (len(hosts) - 200)
            out.append('<div class="finding %s"><h4>%s <code>%s</code> · %s</h4>'
                       '<div class="hosts-list">%s</div>%s</div>' % (
                           severity, _E(group["title"]), _E(fid), plural(len(hosts), "host"), links,
                           _remedy_html(f["remedy"])))
    return "".join(out)


def render_html(fleet: dict) -> str:
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
        "<header><h1>%s</h1><p>Generated %s · %s · schema %d</p></header><main>" % (
            _E(fleet["title"]), _E(fleet["generated_at"]), plural(summary["hosts"], "host"), fleet["schema_version"]),
        '<section aria-label="Verdicts"><div class="cards">',
    ]
    for status in _schema.STATUSES_MOST_SEVERE_FIRST:
        out.append('<div class="card %s"><b>%d</b>%s</div>' % (status, counts[status], status))
    out.append('</div><p class="totals">Fleet memory %s, used %s, available %s · swap used %s of %s · '
               '%s since boot · findings: %d critical, %d monitor, %d info</p></section>' % (
                   human_size(totals["memory_total_bytes"]), human_size(totals["memory_used_bytes"]),
                   human_size(totals["memory_available_bytes"]), human_size(totals["swap_used_bytes"]),
                   human_size(totals["swap_total_bytes"]), plural(totals["oom_kills"], "OOM kill"), totals["findings"]["critical"],
                   totals["findings"]["monitor"], totals["findings"]["info"]))
    if totals["breakdown"]:
        out.append('<section aria-labelledby="h-memory"><h2 id="h-memory">Where the memory went</h2>%s</section>' % (
            _breakdown_html(totals["breakdown"], "The fleet's %s, over %s of %d" % (
                human_size(totals["breakdown"]["total_bytes"]), plural(totals["breakdown"]["hosts"], "host"),
                summary["hosts"]), labelled=True)))
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
               '<div class="scroll"><table id="hosts" data-hosts-per-page="%d"><thead><tr>%s</tr></thead><tbody>'
               % (HOSTS_PER_PAGE, head))
    # the first page is HTML, readable without JavaScript; the script shows the others from the JSON
    keys = [_sort_keys(host) for host in fleet["hosts"]]
    first_page = fleet["hosts"][:HOSTS_PER_PAGE]
    out.extend(_host_row(index, host, keys[index]) for index, host in enumerate(first_page))
    out.append("</tbody></table></div>")
    if len(fleet["hosts"]) > HOSTS_PER_PAGE:
        out.append('<noscript><p class="muted">JavaScript is off: the table and the host details show the first %d '
                   'of %d hosts, most severe first; report.json has them all.</p></noscript>'
                   % (HOSTS_PER_PAGE, len(fleet["hosts"])))
    out.append("</section>")
    out.append('<section aria-labelledby="h-findings"><h2 id="h-findings">Findings by severity</h2>%s</section>'
               % _fleet_findings(summary, index_of))
    out.append('<section aria-labelledby="h-details"><h2 id="h-details">Host details</h2><div id="host-details">')
    out.extend(_host_details(index, host) for index, host in enumerate(first_page))
    # the JSON array a host at a time: most of the page, it is then copied once only, by the join
    out.append('</div></section></main><script type="application/json" id="hosts-data">[')
    out.extend(("," if index else "") + _script_json(_host_data(index, host, keys[index]))
               for index, host in enumerate(fleet["hosts"]))
    out.append("]</script>")
    out.append("<script>\n%s</script></body></html>\n" % _asset("report.js"))
    return "".join(out)
