# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report: schema, order, unknown hosts, escaping, Markdown and HTML content."""

from __future__ import annotations

import copy
import datetime
import html.parser
import json
import os
import random
import re
import shutil
import subprocess

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils import _report as report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html as report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown as report_markdown
from ansible_collections.memops.linux.plugins.plugin_utils import _report_queries as report_queries
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic

NOW = datetime.datetime(2026, 11, 26, 13, 40, 2, tzinfo=datetime.timezone.utc)
EVIL = '<script>alert("x")</script>'
EVIL_PROCESS = '<img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def hosts():
    return synthetic.fleet_facts(26, seed=7)


@pytest.fixture(scope="module")
def fleet(hosts):
    return report.build_fleet(hosts, {"gone.example.com": "unreachable: ssh timed out"}, title="Test", now=NOW)


def evil_facts():
    facts = synthetic.host_facts(synthetic.random.Random(3), "swap_exhausted", process_name=EVIL_PROCESS)
    facts["health"]["findings"][0]["evidence"].append("</pre><b>" + EVIL)
    return facts


# ---------------------------------------------------------------------------
# schema


HOST_KEYS = {"name", "status", "reason", "counts", "memory", "swap", "free_h", "breakdown", "oom", "uptime_seconds",
             "top_processes", "top_swap", "process_detail", "capture", "findings", "partial"}


def test_top_level_schema(fleet):
    assert list(fleet) == ["schema_version", "generated_at", "title", "summary", "hosts"]
    assert fleet["schema_version"] == 1
    assert fleet["generated_at"] == "2026-11-26T13:40:02Z"
    assert fleet["title"] == "Test"
    assert set(fleet["summary"]) == {"hosts", "status", "status_counts", "hosts_by_status", "findings", "totals"}
    assert json.loads(report.render_json(fleet)) == fleet


def test_host_schema(fleet):
    for host in fleet["hosts"]:
        assert set(host) == HOST_KEYS
        assert host["status"] in ("ok", "monitor", "critical", "unknown")
        assert set(host["counts"]) == {"critical", "monitor", "info"}
        if host["status"] == "unknown":
            continue
        assert set(host["memory"]) == {"total_bytes", "used_bytes", "free_bytes", "shared_bytes", "buff_cache_bytes",
                                       "available_bytes", "available_pct", "used_pct"}
        assert set(host["swap"]) == {"total_bytes", "used_bytes", "free_bytes", "used_pct", "devices"}
        assert set(host["oom"]) == {"kill_count", "events_in_log", "recent_events", "recent_victims"}
        assert len(host["free_h"]) == 3 and host["free_h"][1].startswith("Mem:")
        assert len(host["top_processes"]) <= 5
        for proc in host["top_processes"] + host["top_swap"]:
            assert set(proc) == set(_schema.REPORT_PROCESS_KEYS)
        for finding in host["findings"]:
            assert set(finding) == {"id", "severity", "title", "evidence", "remedy", "data"}
            assert set(finding["remedy"]) == {"summary", "role", "variable", "value", "module"}


def test_summary_counts_agree_with_hosts(fleet):
    summary = fleet["summary"]
    assert summary["hosts"] == len(fleet["hosts"]) == 27
    for status, count in summary["status_counts"].items():
        assert count == sum(1 for h in fleet["hosts"] if h["status"] == status)
        assert summary["hosts_by_status"][status] == [h["name"] for h in fleet["hosts"] if h["status"] == status]
    assert summary["status"] == "critical"
    assert summary["totals"]["memory_total_bytes"] == sum((h["memory"] or {}).get("total_bytes") or 0
                                                          for h in fleet["hosts"])
    assert summary["totals"]["oom_kills"] == sum(((h["oom"] or {}).get("kill_count") or 0) for h in fleet["hosts"])
    for finding_id, entry in summary["findings"].items():
        with_it = [h["name"] for h in fleet["hosts"] if any(f["id"] == finding_id for f in h["findings"])]
        assert entry["hosts"] == with_it
        assert entry["count"] >= len(with_it)
    severities = [entry["severity"] for entry in summary["findings"].values()]
    assert severities == sorted(severities, key=_schema.SEVERITIES_MOST_SEVERE_FIRST.index)


def test_fleet_remedy_value_is_dropped_when_hosts_differ():
    hosts = synthetic.fleet_facts(13, seed=2)
    first, second = [h for h in hosts.values() if h["health"]["status"] != "unknown"][:2]
    finding = {"id": "oom.critical_unprotected", "severity": "monitor", "title": "t", "evidence": [],
               "remedy": {"summary": "s", "role": "memops.linux.oom_protect", "variable": "oom_protect_services",
                          "value": [{"name": "sshd", "score_adj": -500}], "module": None}, "data": {}}
    first["health"]["findings"].append(copy.deepcopy(finding))
    finding["remedy"]["value"] = [{"name": "mysqld", "score_adj": -500}]
    second["health"]["findings"].append(finding)
    summary = report.build_fleet(hosts, now=NOW)["summary"]
    assert summary["findings"]["oom.critical_unprotected"]["remedy"]["value"] is None
    assert summary["findings"]["oom.critical_unprotected"]["remedy"]["variable"] == "oom_protect_services"


def test_report_input_gives_the_same_report(hosts):
    trimmed = {name: report.report_input(facts) for name, facts in hosts.items()}
    assert report.build_fleet(trimmed, now=NOW) == report.build_fleet(hosts, now=NOW)


# ---------------------------------------------------------------------------
# order and unknown hosts


def test_hosts_sorted_most_severe_first(fleet):
    ranks = [_schema.STATUSES_MOST_SEVERE_FIRST.index(h["status"]) for h in fleet["hosts"]]
    assert ranks == sorted(ranks)
    assert [h["status"] for h in fleet["hosts"]][0] == "critical"
    for a, b in zip(fleet["hosts"], fleet["hosts"][1:]):
        if a["status"] == b["status"]:
            assert (-a["counts"]["critical"], -a["counts"]["monitor"]) <= (-b["counts"]["critical"], -b["counts"]["monitor"])


def test_sort_within_a_status_by_critical_count_then_available():
    def host(name, critical, available_pct):
        return {"name": name, "status": "critical", "counts": {"critical": critical, "monitor": 0, "info": 0},
                "memory": {"available_pct": available_pct}}
    rows = [host("c", 1, 50.0), host("a", 2, 80.0), host("b", 1, 3.0), host("d", 1, None)]
    assert [h["name"] for h in sorted(rows, key=report._host_sort_key)] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("facts, errors, reason", [
    (None, {}, report.NO_FACTS_REASON),
    ({}, {}, report.NO_FACTS_REASON),
    (None, {"h": "unreachable: timeout"}, "unreachable: timeout"),
    ({"memory": {"total_bytes": 1}}, {}, "memops facts have no health verdict"),
])
def test_unknown_hosts(facts, errors, reason):
    fleet = report.build_fleet({"h": facts}, errors, now=NOW)
    host = fleet["hosts"][0]
    assert host["status"] == "unknown"
    assert host["reason"].startswith(reason)
    assert host["findings"] == [] and host["memory"] is None
    assert fleet["summary"]["status_counts"]["unknown"] == 1
    assert fleet["summary"]["status"] == "unknown"


def test_hosts_only_in_errors_are_reported(fleet):
    gone = [h for h in fleet["hosts"] if h["name"] == "gone.example.com"]
    assert gone and gone[0]["status"] == "unknown" and gone[0]["reason"] == "unreachable: ssh timed out"


def test_unknown_ranks_after_critical_before_monitor(fleet):
    statuses = [h["status"] for h in fleet["hosts"]]
    assert statuses.index("unknown") > max(i for i, s in enumerate(statuses) if s == "critical")
    assert statuses.index("unknown") < statuses.index("monitor")


def test_empty_fleet():
    fleet = report.build_fleet({}, now=NOW)
    assert fleet["summary"]["hosts"] == 0 and fleet["summary"]["status"] == "ok"
    assert "No findings on any host" in report_html.render_html(fleet)
    assert "# Memory report" in report_markdown.render_markdown(fleet)


@pytest.mark.parametrize("hosts_facts, errors", [([], None), ({}, ["h"])])
def test_bad_input(hosts_facts, errors):
    with pytest.raises(report.ReportError):
        report.build_fleet(hosts_facts, errors)


def test_odd_facts_do_not_break_the_report():
    facts = {"health": {"status": "monitor", "findings": [
        {"id": "x.y", "severity": "weird", "title": None, "evidence": [1, None]}, "not a dict"]},
        "memory": "garbage", "swap": {"total_bytes": "12"}, "processes": {"top_rss": ["x", {"pid": 1}]}}
    fleet = report.build_fleet({"odd": facts}, now=NOW)
    host = fleet["hosts"][0]
    assert host["findings"][0]["severity"] == "info" and host["findings"][0]["evidence"] == ["1", "None"]
    assert host["memory"] is None and host["swap"]["total_bytes"] is None
    report_html.render_html(fleet)
    report_markdown.render_markdown(fleet)


@pytest.mark.parametrize("severity", [[], ["critical"], {"a": 1}, 2, None])
def test_a_severity_of_another_type_reads_as_info(severity):
    # a list here raised TypeError (unhashable) in the severity lookup; found by the fuzz step
    facts = {"health": {"status": "monitor", "findings": [{"id": "oom.kills", "severity": severity, "title": "t"}]}}
    host = report.build_fleet({"odd": facts}, now=NOW)["hosts"][0]
    assert [finding["severity"] for finding in host["findings"]] == ["info"]


@pytest.mark.parametrize("odd", [5, "text", {"a": 1}, None, True])
def test_lists_and_mappings_of_another_type_do_not_break_the_report(odd):
    # each of these raised AttributeError or TypeError: a remedy given as text, a victim or events as a number...
    facts = {"health": {"status": "monitor", "partial": odd, "findings": [
        {"id": "x.y", "severity": "monitor", "title": "t", "evidence": odd, "remedy": odd, "data": odd}]},
        "swap": {"total_bytes": 1, "devices": odd},
        "oom": {"kill_count": 1, "events": [{"victim": odd}, odd], "recent_events": odd},
        "processes": {"top_rss": odd, "top_swap": odd}}
    built_from_facts = report.build_fleet({"odd": facts}, now=NOW)
    built_from_input = report.build_fleet({"odd": report.report_input(facts)}, now=NOW)
    for built in (built_from_facts, built_from_input):
        host = built["hosts"][0]
        assert host["status"] == "monitor"
        assert host["findings"][0]["remedy"] == {key: None for key in _schema.REMEDY_KEYS}
        assert host["oom"]["recent_victims"][0]["pid"] is None
        report_html.render_html(built)
        report_markdown.render_markdown(built)
    facts["oom"]["events"] = odd
    assert report.build_fleet({"odd": facts}, now=NOW)["hosts"][0]["oom"]["events_in_log"] == 0


# ---------------------------------------------------------------------------
# sizes, free -h


@pytest.mark.parametrize("value, text", [
    (None, "-"), (0, "0B"), (1023, "1.0Ki"), (1024, "1.0Ki"), (500 * 1 << 20, "500Mi"),
    (int(2.5 * (1 << 30)), "2.5Gi"), (15 * (1 << 30) + 1, "15Gi"), (1 << 40, "1.0Ti"), (-2048, "-2.0Ki"),
    (999, "999B"), (1000, "1.0Ki"), (int(1.5 * (1 << 30)), "1.5Gi"), (999 * (1 << 20), "999Mi"),
    (1000 * (1 << 20), "1.0Gi"), (16 * (1 << 30) - 1, "15Gi"), (10239 * 1024, "9Mi"), (1127428916 * 1024, "1.0Ti"),
    (float("inf"), "-"), (float("nan"), "-"), (-2048.7, "-2.0Ki"),
    # beyond a float's range (facts from a hostile host): whole pebibytes, no OverflowError
    (10 ** 400, "%dPi" % (10 ** 400 >> 50)), (-(10 ** 400), "-%dPi" % (10 ** 400 >> 50)),
])
def test_human_size(value, text):
    assert report.human_size(value) == text


# KiB values at free's edges: 999Mi and 1000Mi (1.0Gi), 9.9Mi and 9.999Mi (9Mi: "10.0" does not fit),
# 15.99Gi (15Gi, truncated), 1.05Ti that a C float rounds down (1.0Ti where a double says 1.1Ti)
FREE_EDGES_KIB = [0, 1, 9, 10, 999, 1000, 1023, 1024, 1536, 10188, 10239, 10240, 1022976, 1023999, 1024000, 1048575,
                  1048576, 1572864, 15 * 1048576, 16 * 1048576 - 1, 1127428915, 1127428916, 1000 * 1048576 ** 2]


def _free_h(meminfo):
    """(Mem: columns, Swap: columns) of ``free -h`` run on a fake /proc/meminfo, bind-mounted over the real one
    in a mount namespace of its own."""
    with open(os.path.join(OUTPUT_TMP, "meminfo"), "w", encoding="ascii") as handle:
        handle.write("".join("%s: %d kB\n" % item for item in meminfo.items()))
    out = subprocess.run(["unshare", "--mount", "sh", "-c", 'mount --bind "$1" /proc/meminfo && exec free -h', "sh",
                          handle.name], capture_output=True, text=True, check=True).stdout.splitlines()
    return out[1].split()[1:], out[2].split()[1:]


OUTPUT_TMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir, "output", "tmp")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("free"),
                    reason="runs procps' free on a fake /proc/meminfo: needs root, unshare and free")
def test_human_size_is_free_h():
    """human_size says what procps' free -h says, at its edges and at random sizes from bytes to pebibytes."""
    os.makedirs(OUTPUT_TMP, exist_ok=True)
    rng = random.Random(10)
    values = FREE_EDGES_KIB + [int(10 ** rng.uniform(0, 12.5)) for _count in range(300)]
    for start in range(0, len(values), 6):
        kib = (values[start:start + 6] + [0] * 6)[:6]
        total, swap_total = max(kib[:4]), kib[4] + kib[5]
        meminfo = {"MemTotal": total, "MemFree": kib[0], "MemAvailable": kib[1], "Buffers": 0, "Cached": kib[2],
                   "SwapCached": 0, "Shmem": kib[3], "SReclaimable": 0, "SwapTotal": swap_total, "SwapFree": kib[5]}
        mem, swap = _free_h(meminfo)
        expected = [total, None, kib[0], kib[3], kib[2], kib[1]]
        assert [text for text, value in zip(mem, expected) if value is not None] == \
            [report.human_size(value * 1024) for value in expected if value is not None], meminfo
        assert [swap[0], swap[2]] == [report.human_size(swap_total * 1024), report.human_size(kib[5] * 1024)], meminfo


def test_free_lines_match_free_h():
    gib, mib = 1 << 30, 1 << 20
    lines = report.free_lines(
        {"total_bytes": 15 * gib, "used_bytes": 12 * gib, "free_bytes": 500 * mib, "shared_bytes": 200 * mib,
         "buff_cache_bytes": int(2.5 * gib), "available_bytes": 2 * gib},
        {"total_bytes": 4 * gib, "used_bytes": int(3.5 * gib), "free_bytes": 500 * mib})
    assert lines[0].split() == ["total", "used", "free", "shared", "buff/cache", "available"]
    assert lines[1].split() == ["Mem:", "15Gi", "12Gi", "500Mi", "200Mi", "2.5Gi", "2.0Gi"]
    assert lines[2].split() == ["Swap:", "4.0Gi", "3.5Gi", "500Mi"]


def test_same_report_ignores_only_generated_at(fleet):
    later = dict(fleet, generated_at="2027-01-01T00:00:00Z")
    for render in (report.render_json, report_markdown.render_markdown, report_html.render_html):
        assert report.same_report(render(fleet), render(later))
    changed = dict(fleet, title="Other")
    assert not report.same_report(report.render_json(fleet), report.render_json(changed))


# ---------------------------------------------------------------------------
# escaping: host names, process names and finding texts are untrusted


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.scripts = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_html_escapes_untrusted_text():
    fleet = report.build_fleet({EVIL: evil_facts(), "ok": None}, {"ok": EVIL}, now=NOW, title=EVIL)
    page = report_html.render_html(fleet)
    assert EVIL not in page and EVIL_PROCESS not in page and "</pre><b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    parser = _Collector()
    parser.feed(page)
    tags = [tag for tag, _attrs in parser.tags]
    scripts = [dict(attrs).get("type") for tag, attrs in parser.tags if tag == "script"]
    assert scripts == ["application/json", None]  # the hosts' data, then the page's own script
    assert not [tag for tag in tags if tag in ("img", "iframe", "object", "embed")]
    # the only SVG is the report's stacked bars (test_report_breakdown), never a host's
    assert [attrs["class"] for tag, attrs in parser.tags if tag == "svg"] == ["stack fleet", "stack"]
    assert not [attrs for _tag, attrs in parser.tags if any(name.startswith("on") for name in attrs)]
    data, code = parser.scripts
    assert "alert" not in code
    assert "<" not in data and EVIL in [host["n"] for host in json.loads(data)]  # data, never markup


def test_html_is_self_contained(fleet):
    page = report_html.render_html(fleet)
    parser = _Collector()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        if tag == "link":
            raise AssertionError("external stylesheet or icon: %r" % attrs)
        if tag == "a":
            assert attrs["href"].startswith("#"), attrs
    assert "http://" not in page and "https://" not in page and "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # and the CSP forbids any load


def test_html_content(fleet):
    page = report_html.render_html(fleet)
    assert page.count('<tr class="') == len(fleet["hosts"])
    for host in fleet["hosts"]:
        assert 'href="#host-' in page and html.escape(host["name"]) in page
    for status in ("CRITICAL", "MONITOR", "OK", "UNKNOWN"):
        assert '<span class="badge %s">%s</span>' % (status.lower(), status) in page
    for entry in fleet["summary"]["findings"].values():
        assert html.escape(entry["title"]) in page
    assert 'aria-sort="' not in page  # unsorted until asked
    assert page.count("<button type=\"button\">") == len([c for c in report_html._COLUMNS if c[2]])
    assert 'class="bar"' in page and 'class="bar swapbar"' in page
    assert "Mem:" in page and "buff/cache" in page


@pytest.mark.parametrize("remedy, text, page", [
    ({"summary": "Add swap", "role": "memops.linux.swap", "variable": "swap_size", "value": "2G", "module": "memops.linux.swapfile"},
     'Add swap — role memops.linux.swap, variable swap_size = "2G" — module memops.linux.swapfile',
     'Fix: Add swap Role memops.linux.swap, variable swap_size = "2G". Module memops.linux.swapfile.'),
    ({"summary": "Cap it", "role": "memops.linux.memory_limits", "variable": None, "value": 5, "module": None},
     "Cap it — role memops.linux.memory_limits", "Fix: Cap it Role memops.linux.memory_limits."),
    ({"summary": "", "role": None, "variable": "x", "value": None, "module": "memops.linux.thp"},
     "module memops.linux.thp", "Fix:  Module memops.linux.thp."),
])
def test_a_remedy_reads_alike_as_text_and_html(remedy, text, page):
    assert report.remedy_text(remedy) == text
    fix = report_html._remedy_html(remedy)
    assert html.unescape(re.sub(r"<[^>]*>", "", fix)) == page
    names = [name for place in report.remedy_parts(remedy)[1] for _lead, name in place]
    assert re.findall(r"<code>(.*?)</code>", fix) == [html.escape(name) for name in names]


def _page_data_and_script(page):
    parser = _Collector()
    parser.feed(page)
    data, code = parser.scripts
    return json.loads(data), code


def test_html_rows_and_details_are_written_once_in_python():
    """The first page is HTML; every other host travels as the row and details the same functions write."""
    fleet = report.build_fleet(synthetic.fleet_facts(report_html.HOSTS_PER_PAGE + 30, seed=4), now=NOW)
    page = report_html.render_html(fleet)
    hosts, _code = _page_data_and_script(page)
    html_part = page.split('id="hosts-data"', maxsplit=1)[0]
    assert [data["n"] for data in hosts] == [host["name"] for host in fleet["hosts"]]
    for index, (data, host) in enumerate(zip(hosts, fleet["hosts"])):
        keys = report_html._sort_keys(host)
        assert data["k"] == keys
        if index < report_html.HOSTS_PER_PAGE:
            assert set(data) == {"n", "k"}
            assert report_html._host_row(index, host, keys) in page
            assert report_html._host_details(index, host) in page
        else:
            assert data["r"] == report_html._packed(report_html._host_row(index, host, keys))
            assert data["d"] == report_html._packed(report_html._host_details(index, host))
            assert 'id="host-%d"' % index not in html_part


def test_packed_markup_puts_back_only_the_markup_of_the_report():
    """In the page's JSON each "<" of a host's HTML is an apostrophe, which the script turns back into "<"; an
    apostrophe in the markup (html.escape leaves none of a host's) is an entity first, never made a "<"."""
    markup = '<td title="x&#x27;y">a&lt;b\'c</td>'
    packed = report_html._packed(markup)
    assert "<" not in packed
    assert packed.replace("'", "<") == '<td title="x&#x27;y">a&lt;b&#39;c</td>'
    assert html.unescape(packed.replace("'", "<")) == html.unescape(markup)


def test_the_page_script_writes_no_markup_and_knows_no_severity(fleet):
    _hosts, code = _page_data_and_script(report_html.render_html(fleet))
    for builder in ("createElement", "createTextNode", "appendChild", "className", "renderRow", "renderDetails"):
        assert builder not in code
    for name in _schema.SEVERITIES + _schema.HEALTH_STATUSES + (_schema.UNKNOWN,):
        assert '"%s"' % name not in code and "'%s'" % name not in code
    assert "SEVERITIES" not in code and "STATUSES" not in code


def test_markdown_content(fleet):
    text = report_markdown.render_markdown(fleet)
    assert text.startswith("# Test\n")
    assert "| Host | Status |" in text
    for host in fleet["hosts"]:
        assert "### %s — %s" % (host["name"], host["status"].upper()) in text
    critical = next(h for h in fleet["hosts"] if h["status"] == "critical")
    assert "\n".join(critical["free_h"]) in text
    assert "Fix: " in text and "role memops.linux." in text and "variable " in text
    assert "No diagnosis: unreachable: ssh timed out" in text
    assert "| gone.example.com | UNKNOWN | unreachable: ssh timed out | - |" in text
    worst = fleet["hosts"][0]
    assert "| %s | CRITICAL | %d critical" % (worst["name"], worst["counts"]["critical"]) in text
    for entry in fleet["summary"]["findings"].values():
        assert entry["title"] in text


def test_markdown_escapes_untrusted_text():
    fleet = report.build_fleet({EVIL: evil_facts(), "x|y": None}, now=NOW)
    text = report_markdown.render_markdown(fleet)
    assert EVIL not in text and EVIL_PROCESS not in text
    assert "x\\|y" in text


# ---------------------------------------------------------------------------
# queries behind the filter plugins


def test_top_processes(fleet):
    rows = report_queries.top_processes(fleet, "swap_bytes", 5)
    assert len(rows) == 5
    assert [r["swap_bytes"] for r in rows] == sorted((r["swap_bytes"] for r in rows), reverse=True)
    assert all(r["host"] in fleet["summary"]["hosts_by_status"][h["status"]]
               for r in rows for h in fleet["hosts"] if h["name"] == r["host"])
    everything = [p["swap_bytes"] for h in fleet["hosts"] for p in h["top_processes"] + h["top_swap"]]
    assert rows[0]["swap_bytes"] == max(everything)


def test_top_processes_counts_a_process_once(fleet):
    rows = report_queries.top_processes(fleet, "swap_bytes", 10000)
    keys = [(r["host"], r["pid"]) for r in rows]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("kwargs", [{"key": "name"}, {"n": -1}, {"n": "3"}])
def test_top_processes_bad_arguments(fleet, kwargs):
    with pytest.raises(report.ReportError):
        report_queries.top_processes(fleet, **kwargs)


def test_hosts_with_finding(fleet):
    exhausted = report_queries.hosts_with_finding(fleet, "swap.exhausted")
    assert exhausted == fleet["summary"]["findings"]["swap.exhausted"]["hosts"]
    oom = report_queries.hosts_with_finding(fleet, "oom.*")
    assert set(exhausted) <= set(oom) or exhausted
    assert len(oom) == len(set(oom))
    assert report_queries.hosts_with_finding(fleet, "no.such") == []
    assert report_queries.hosts_with_finding(fleet, "*", severity="critical") == fleet["summary"]["hosts_by_status"]["critical"]


def test_queries_refuse_other_documents():
    with pytest.raises(report.ReportError, match="schema_version"):
        report_queries.hosts_with_finding({"schema_version": 2, "hosts": []}, "x")
    with pytest.raises(report.ReportError, match="expected a fleet report"):
        report_queries.top_processes(["not", "a", "report"])


@pytest.mark.parametrize("top", [-1, -5, True, "5", 2.5, None])
def test_build_fleet_refuses_a_top_that_is_not_a_count(top):
    with pytest.raises(report.ReportError, match="top must be a whole number, 0 or more"):
        report.build_fleet({}, now=NOW, top=top)


def test_top_zero_keeps_no_consumer_and_top_one_keeps_the_largest(hosts):
    assert all(h["top_processes"] == [] for h in report.build_fleet(hosts, now=NOW, top=0)["hosts"])
    kept = report.build_fleet(hosts, now=NOW, top=1)["hosts"]
    assert any(len(h["top_processes"]) == 1 for h in kept)


def test_markdown_escapes_every_text_a_host_sends():
    """pid and logged_at fields, terminal escape bytes and Markdown links in process names stay inert text."""
    facts = synthetic.host_facts(synthetic.random.Random(3), "swap_exhausted", process_name="ok")
    link = "[click me](https://evil.example/x)"
    terminal = "\x1b[2J\x1b]0;owned\x07\x9b31m"
    procs = facts["processes"]
    procs["top_rss"][0].update(name=link + terminal, pid="7](https://evil.example/pid)\n# heading")
    procs["top_swap"] = [dict(procs["top_rss"][0], swap_bytes=1 << 30)]
    facts["oom"]["events"] = [{"victim": {"name": "![img](https://evil.example/i.png)", "pid": "<b>9</b>",
                                          "rss_bytes": 1 << 20},
                               "logged_at": "2026-12-01 [x](https://evil.example/t) `code` *em*\r\n| a | b |",
                               "uptime_seconds": 5}]
    facts["oom"]["kill_count"] = 1
    text = report_markdown.render_markdown(report.build_fleet({"h\u202eevil": facts}, now=NOW))
    assert "](https://evil.example" not in text.replace("\\]", "")
    assert "[click me]" not in text and "\\[click me\\]" in text
    for raw in ("\x1b", "\x07", "\x9b", "\r", "\u202e", "<b>", "`code`", "*em*", "| a | b |"):
        assert raw not in text, raw
    assert "\\\\x1b\\[2J" in text  # shown as its code, the bracket after it escaped
    assert "\n# heading" not in text and "\\\\x0a\\# heading" in text
    assert "h\\\\u202eevil" in text
    assert "&lt;b&gt;9&lt;/b&gt;" in text
