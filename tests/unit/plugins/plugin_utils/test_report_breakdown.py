# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the memory went, in the fleet report: each host's memory.breakdown as a stacked bar and a table (HTML)
or a table (Markdown), the fleet's as one chart; the fleet's findings filed under each host's own severity and
title; counts in the singular when there is one."""

from __future__ import annotations

import datetime
import html
import html.parser
import random
import re

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _report as report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html as report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown as report_markdown
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic

NOW = datetime.datetime(2026, 12, 3, 10, 0, 0, tzinfo=datetime.timezone.utc)
GIB = 1 << 30
EVIL_MOUNT = '/run/<script>alert("m")</script>|x'


@pytest.fixture(scope="module")
def fleet():
    return report.build_fleet(synthetic.fleet_facts(26, seed=7), {"gone.example.com": "unreachable"}, now=NOW)


class _Tags(html.parser.HTMLParser):
    """Start tags with their attributes, and the text, of a piece of HTML."""

    def __init__(self, markup):
        super().__init__()
        self.tags = []
        self.text = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _finding(finding_id, severity, title):
    return {"id": finding_id, "severity": severity, "title": title, "evidence": ["e"],
            "remedy": {"summary": "s", "role": None, "variable": None, "value": None, "module": None}, "data": {}}


# ---------------------------------------------------------------------------
# the synthetic fleet's breakdowns, and the report's


@pytest.mark.parametrize("profile", sorted(set(synthetic.PROFILES)))
def test_synthetic_breakdowns_sum_to_total(profile):
    rng = random.Random(profile)
    for _count in range(20):
        facts = synthetic.host_facts(rng, profile)
        memory = facts["memory"]
        breakdown = memory["breakdown"]
        parts = {part["name"]: part["bytes"] for part in breakdown["parts"]}
        assert [part["name"] for part in breakdown["parts"]] == list(synthetic.BREAKDOWN_PARTS)
        assert all(size >= 0 for size in parts.values()), parts
        assert sum(parts.values()) == breakdown["total_bytes"] == memory["total_bytes"]
        assert parts["free"] == memory["free_bytes"]
        assert sum(m["used_bytes"] for m in breakdown["shmem_mounts"]) == parts["shmem"]
        assert sum(breakdown["slab"].values()) == parts["slab"]
        assert sum(breakdown["kernel_other"].values()) == parts["kernel_other"]
        assert sum(breakdown["page_cache"].values()) == parts["page_cache"]
        assert sum(breakdown["compressed_swap"].values()) == parts["compressed_swap"]
        assert sum(p["in_use_bytes"] + p["unused_bytes"] for p in breakdown["hugetlb_pools"]) == parts["hugetlb"]


def test_host_breakdown_and_fleet_totals(fleet):
    with_breakdown = [host for host in fleet["hosts"] if host["breakdown"]]
    assert len(with_breakdown) == 26 and not next(h for h in fleet["hosts"] if h["status"] == "unknown")["breakdown"]
    for host in with_breakdown:
        breakdown = host["breakdown"]
        assert breakdown["total_bytes"] == host["memory"]["total_bytes"]
        assert [part["name"] for part in breakdown["parts"]] == list(report.BREAKDOWN_LABELS)
        assert sum(part["bytes"] for part in breakdown["parts"]) == breakdown["total_bytes"]
    totals = fleet["summary"]["totals"]["breakdown"]
    assert totals["hosts"] == 26
    assert totals["total_bytes"] == sum(h["breakdown"]["total_bytes"] for h in with_breakdown)
    assert [part["name"] for part in totals["parts"]] == list(report.BREAKDOWN_LABELS)
    for part in totals["parts"]:
        assert part["bytes"] == sum(next(p["bytes"] for p in h["breakdown"]["parts"] if p["name"] == part["name"])
                                    for h in with_breakdown)


def test_no_breakdown_no_chart():
    facts = synthetic.host_facts(random.Random(1), "healthy")
    del facts["memory"]["breakdown"]
    fleet = report.build_fleet({"old": facts}, now=NOW)
    assert fleet["hosts"][0]["breakdown"] is None and fleet["summary"]["totals"]["breakdown"] is None
    page = report_html.render_html(fleet)
    assert "<svg" not in page and 'id="h-memory"' not in page
    assert "| Part |" not in report_markdown.render_markdown(fleet)


def test_odd_breakdowns_do_not_break_the_report():
    odd = {
        "none": None, "string": "x", "no total": {"parts": [{"name": "free", "bytes": 1}]},
        "negative": {"total_bytes": -5, "parts": [{"name": "free", "bytes": 1}]},
        "infinite": {"total_bytes": float("inf"), "parts": [{"name": "free", "bytes": 1}]},
        "odd sizes": {"total_bytes": 100, "parts": [{"name": "free", "bytes": float("nan")},
                                                    {"name": "shmem", "bytes": float("inf")}]},
        "garbage": {"total_bytes": 100, "parts": ["x", {"name": "free", "bytes": "12"}, {"name": 5, "bytes": 100}],
                    "page_cache": "x", "slab": {"reclaimable_bytes": None}, "shmem_mounts": [None, {"used_bytes": 3}],
                    "hugetlb_pools": {"x": 1}},
    }
    hosts = {}
    for name, breakdown in odd.items():
        facts = synthetic.host_facts(random.Random(2), "healthy")
        facts["memory"]["breakdown"] = breakdown
        hosts[name] = facts
    fleet = report.build_fleet(hosts, now=NOW)
    shown = {host["name"]: host["breakdown"] for host in fleet["hosts"]}
    assert shown["none"] is shown["string"] is shown["no total"] is shown["negative"] is shown["infinite"] is None
    assert shown["odd sizes"]["parts"] == [{"name": "free", "bytes": None}, {"name": "shmem", "bytes": None}]
    assert shown["garbage"]["parts"] == [{"name": "free", "bytes": None}, {"name": "5", "bytes": 100}]
    page = report_html.render_html(fleet)
    assert '<tr><th class="bd-other">5</th><td>100B</td><td>100.0%</td>' in page
    assert "| 5 | 100B | 100.0% |" in report_markdown.render_markdown(fleet)


# ---------------------------------------------------------------------------
# HTML: a stacked bar of inline SVG a host, one chart for the fleet, and tables that say the same


def _rects(svg):
    """(class, x, width, title or None) of each part's rectangle in a stacked bar."""
    return [(css, float(x), float(width), title or None) for css, x, width, title in re.findall(
        r'<rect class="bd-([a-z_]+)" x="([0-9.]+)" width="([0-9.]+)"(?:/>| height="28"><title>([^<]*)</title></rect>)',
        svg)]


def _shown(parts):
    """The parts a rendering shows: those of more than 0 bytes, and the unaccounted remainder always."""
    return [part for part in parts if part["bytes"] or part["name"] == "unaccounted"]


def test_each_host_has_a_stacked_bar_and_a_table(fleet):
    for index, host in enumerate(fleet["hosts"]):
        details = report_html._host_details(index, host)
        if not host["breakdown"]:
            assert "<svg" not in details
            continue
        svgs = re.findall(r"<svg .*?</svg>", details)
        assert len(svgs) == 1 and svgs[0].startswith('<svg class="stack" viewBox="0 0 100 1" preserveAspectRatio="none"')
        total = host["breakdown"]["total_bytes"]
        rects = _rects(svgs[0])
        shown = [part for part in host["breakdown"]["parts"] if part["bytes"]]
        assert [css for css, _x, _w, _t in rects] == [part["name"] for part in shown]
        end = 0.0
        for (css, x, width, title), part in zip(rects, shown):
            assert x == pytest.approx(end, abs=0.011)  # each segment starts where the last ended
            assert width == pytest.approx(100.0 * part["bytes"] / total, abs=0.006)
            assert title is None  # the table under it has the sizes
            end = x + width
        assert end == pytest.approx(100.0, abs=0.05)
        # the table under the bar names every part with its size, free -h style
        table = details.split('<table class="parts">', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r'<tr><th class="bd-([a-z_]+)">([^<]*)</th><td>([^<]*)</td>', table)
        assert rows == [(part["name"], html.escape(report.BREAKDOWN_LABELS[part["name"]]),
                         report.human_size(part["bytes"])) for part in _shown(host["breakdown"]["parts"])]
        assert "Where the memory went: %s" % report.human_size(total) in details


def test_a_breakdown_says_what_its_parts_hold():
    facts = synthetic.host_facts(random.Random(4), "healthy")
    breakdown = facts["memory"]["breakdown"]
    breakdown["shmem_mounts"] = [{"mount_point": EVIL_MOUNT, "type": "tmpfs", "used_bytes": GIB, "size_bytes": 4 * GIB},
                                 {"mount_point": "/dev/shm", "type": "tmpfs", "used_bytes": 0, "size_bytes": None}]
    breakdown["hugetlb_pools"] = [{"page_size_bytes": 2 << 20, "total": 256, "free": 256, "reserved": 0, "surplus": 0,
                                   "in_use_bytes": 0, "unused_bytes": 512 << 20}]
    breakdown["slab"] = {"reclaimable_bytes": 300 << 20, "unreclaimable_bytes": 0}
    breakdown["parts"] = [dict(part, bytes=512 << 20) if part["name"] == "hugetlb" else part for part in breakdown["parts"]]
    host = report.build_fleet({"h": facts}, now=NOW)["hosts"][0]
    details = {name: detail for name, _label, _size, _share, _width, detail in report.breakdown_rows(
        host["breakdown"], html.escape)}
    assert details["shmem"] == "%s 1.0Gi of 4.0Gi, /dev/shm 0B" % html.escape(EVIL_MOUNT)
    assert details["hugetlb"] == "2.0Mi pages: 0B in use, 512Mi unused"
    assert details["slab"] == "reclaimable 300Mi"  # a part's zero sizes go unsaid
    assert details["free"] == details["process_anon"] == ""
    assert "hugetlb" not in {row[0] for row in report.breakdown_rows(
        dict(host["breakdown"], parts=[dict(p, bytes=0) if p["name"] == "hugetlb" else p for p in host["breakdown"]["parts"]]),
        html.escape)}
    page = report_html.render_html(report.build_fleet({"h": facts}, now=NOW))
    assert EVIL_MOUNT not in page and html.escape(EVIL_MOUNT) in page
    text = report_markdown.render_markdown(report.build_fleet({"h": facts}, now=NOW))
    assert EVIL_MOUNT not in text and "<script>" not in text and \
        html.escape(EVIL_MOUNT, quote=False).replace("|", "\\|") in text


def test_the_fleet_has_one_chart(fleet):
    page = report_html.render_html(fleet)
    section = page.split('<section aria-labelledby="h-memory">', 1)[1].split("</section>", 1)[0]
    assert page.count('<svg class="stack fleet"') == section.count("<svg") == 1
    assert page.index("h-memory") < page.index("h-hosts")  # right under the fleet's totals
    totals = fleet["summary"]["totals"]["breakdown"]
    assert "The fleet's %s, over 26 hosts of 27" % report.human_size(totals["total_bytes"]) in section
    rects = _rects(section)
    assert [css for css, _x, _w, _t in rects] == [part["name"] for part in totals["parts"] if part["bytes"]]
    assert sum(width for _css, _x, width, _t in rects) == pytest.approx(1000.0, abs=0.5)
    # the parts wide enough carry their label and size, in type people can read, and none runs into the next
    labels = re.findall(r'<text x="([0-9.]+)" y="44">([^<]*)</text><text x="[0-9.]+" y="60" class="size">([^<]*)'
                        r'</text>', section)
    assert labels and ("processes", ) == tuple(label for _x, label, _size in labels if label == "processes")
    for _x, label, size in labels:
        part = next(p for p in totals["parts"] if report.BREAKDOWN_LABELS[p["name"]] == html.unescape(label))
        assert size.startswith(report.human_size(part["bytes"]) + " · ")
    for css, x, width, _title in rects:
        for text_x, label, size in labels:
            if x <= float(text_x) < x + width:
                assert max(len(html.unescape(label)), len(size)) * report_html._CHAR_UNITS + 4 <= width, css
    parser = _Tags(section.split('<table class="parts">', 1)[1])
    assert [row for row in parser.text if row in report.BREAKDOWN_LABELS.values()] == \
        [report.BREAKDOWN_LABELS[part["name"]] for part in _shown(totals["parts"])]


def test_the_svg_is_the_reports_own():
    """The only SVG of the page is the report's: no script, no link, no event handler, no host's text in a
    tag or an attribute but the escaped text of titles."""
    facts = synthetic.host_facts(random.Random(6), "low_available")
    facts["memory"]["breakdown"]["parts"].append({"name": '"><svg onload=alert(1)>', "bytes": 1})
    page = report_html.render_html(report.build_fleet({'"><svg onload=alert(2)>': facts}, now=NOW))
    parser = _Tags(page)
    svg_tags = {"svg", "rect", "title", "text"}
    for tag, attrs in parser.tags:
        if tag == "svg":
            assert attrs["class"] in ("stack", "stack fleet") and set(attrs) <= {
                "class", "viewbox", "preserveaspectratio", "aria-hidden"}, attrs
        if tag in svg_tags - {"svg", "title"}:
            assert set(attrs) <= {"class", "x", "y", "width", "height"}, attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert sum(1 for tag, _attrs in parser.tags if tag == "svg") == 2


# ---------------------------------------------------------------------------
# the fleet's findings: each host under its own severity, with its own title


def _two_severities():
    rng = random.Random(9)
    hosts = {}
    for name, severity, title in (("a.example.com", "critical", "available 2% (80Mi of 4.0Gi)"),
                                  ("b.example.com", "monitor", "available 9% (720Mi of 8.0Gi)"),
                                  ("c.example.com", "monitor", "available 9% (720Mi of 8.0Gi)")):
        facts = synthetic.host_facts(rng, "healthy")
        facts["health"]["findings"] = [_finding("memory.available_low", severity, title)]
        facts["health"]["status"] = severity
        hosts[name] = facts
    return report.build_fleet(hosts, now=NOW)


def test_findings_are_filed_under_each_hosts_severity():
    fleet = _two_severities()
    entry = fleet["summary"]["findings"]["memory.available_low"]
    assert entry["severity"] == "critical" and entry["hosts"] == ["a.example.com", "b.example.com", "c.example.com"]
    assert entry["groups"] == [
        {"severity": "critical", "title": "available 2% (80Mi of 4.0Gi)", "hosts": ["a.example.com"]},
        {"severity": "monitor", "title": "available 9% (720Mi of 8.0Gi)", "hosts": ["b.example.com", "c.example.com"]}]
    page = report_html.render_html(fleet)
    findings = page.split('<h2 id="h-findings">', 1)[1].split("</section>", 1)[0]
    critical, monitor = findings.split('<h3 class="group">')[1:]
    assert critical.startswith('<span class="badge critical">CRITICAL</span> 1 finding kind</h3>')
    assert "available 2% (80Mi of 4.0Gi) <code>memory.available_low</code> · 1 host<" in critical
    assert "a.example.com" in critical and "b.example.com" not in critical
    assert monitor.startswith('<span class="badge monitor">MONITOR</span> 1 finding kind</h3>')
    assert "available 9% (720Mi of 8.0Gi) <code>memory.available_low</code> · 2 hosts<" in monitor
    assert "b.example.com" in monitor and "c.example.com" in monitor and "a.example.com" not in monitor
    text = report_markdown.render_markdown(fleet)
    critical, monitor = text.split("## Findings across the fleet", 1)[1].split("## Host details", 1)[0].split("### ")[1:]
    assert critical.startswith("Critical") and "available 2% (80Mi of 4.0Gi) | 1: a.example.com |" in critical
    assert monitor.startswith("Monitor") and \
        "available 9% (720Mi of 8.0Gi) | 2: b.example.com, c.example.com |" in monitor


def test_one_host_one_finding_kind_in_the_singular():
    rng = random.Random(11)
    facts = synthetic.host_facts(rng, "healthy")
    facts["health"]["findings"] = [_finding("swap.none", "monitor", "no swap")]
    facts["health"]["status"] = "monitor"
    facts["oom"]["kill_count"] = 1
    fleet = report.build_fleet({"solo.example.com": facts}, now=NOW)
    page = report_html.render_html(fleet)
    text = report_markdown.render_markdown(fleet)
    assert " · 1 host · " in page and "1 finding kind<" in page and "· 1 host<" in page
    assert "1 OOM kill since boot" in page and "over 1 host of 1" in page
    assert " · 1 host · " in text and "1 OOM kill since boot" in text and "over 1 host of 1" in text
    for rendering in (page, text):
        assert not re.search(r"\b1 (hosts|finding kinds|OOM kills)\b", rendering)
    two = report.build_fleet({"a": facts, "b": facts}, now=NOW)
    assert " · 2 hosts · " in report_html.render_html(two) and "2 OOM kills since boot" in report_html.render_html(two)


@pytest.mark.parametrize("count, noun, text", [(0, "host", "0 hosts"), (1, "host", "1 host"), (2, "host", "2 hosts"),
                                               (1, "finding kind", "1 finding kind"), (1, "OOM kill", "1 OOM kill")])
def test_plural(count, noun, text):
    assert report.plural(count, noun) == text


# ---------------------------------------------------------------------------
# Markdown: the breakdown as a table


def test_markdown_carries_the_breakdown_as_a_table(fleet):
    text = report_markdown.render_markdown(fleet)
    header = "| Part | Size | Share | Of which |\n|---|---:|---:|---|\n"
    assert text.count(header) == 26 + 1  # a table a host, and the fleet's
    totals = fleet["summary"]["totals"]["breakdown"]
    fleet_table = text.split("Where the fleet's memory went: %s over 26 hosts of 27:\n\n%s" % (
        report.human_size(totals["total_bytes"]), header), 1)[1].split("\n\n", 1)[0].splitlines()
    assert [row.split(" | ")[:3] for row in fleet_table] == [
        ["| " + report.BREAKDOWN_LABELS[part["name"]], report.human_size(part["bytes"]),
         "%.1f%%" % (100.0 * part["bytes"] / totals["total_bytes"])] for part in _shown(totals["parts"])]
    for host in fleet["hosts"]:
        if not host["breakdown"]:
            continue
        section = text.split("### %s — " % host["name"], 1)[1].split("\n### ", 1)[0]
        table = section.split(header, 1)[1].split("\n\n", 1)[0].splitlines()
        assert len(table) == len(_shown(host["breakdown"]["parts"]))
        for row, part in zip(table, _shown(host["breakdown"]["parts"])):
            assert row.startswith("| %s | %s | " % (report.BREAKDOWN_LABELS[part["name"]],
                                                    report.human_size(part["bytes"])))
