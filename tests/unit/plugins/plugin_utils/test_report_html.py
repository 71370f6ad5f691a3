# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTML report in a real browser: headless Chromium opens the page built from
this machine's memory facts plus synthetic hosts, and the test checks what a
person sees (rows, badges, findings), that clicking or pressing Enter on a
column header sorts the table, that hostile host and process names stay text,
and that the page logs no error; with more hosts than a page, that the script
renders the right hosts page by page from the embedded JSON, sorts the whole
fleet, and shows the first page without JavaScript. The screenshot and the page are kept under
tests/output/ as artifacts.

Needs Chromium (Debian package ``chromium``; CHROMIUM names another binary).
Skipped without it, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.headless_chromium import Browser, find_chromium

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, os.pardir, os.pardir, os.pardir, "output", "report_html")
HOSTILE_HOST = 'db<script>window.pwned=1</script>'
HOSTILE_PROCESS = '<img src=x onerror="window.pwned=2">'
UNREACHABLE = 'edge"><svg onload=window.pwned=3>'

CHROMIUM = find_chromium()
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI runs the browser test: install chromium (apt-get install -y chromium) or set CHROMIUM")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def this_machine():
    """mem_facts of the machine running the test, with its verdict, as the module gathers them."""
    thresholds = _diagnosis.merge_thresholds({})
    return _memfacts.gather(_procfs.Reader("/proc", "/sys"), _memfacts.resolve_subsets(["all"]),
                            thresholds=thresholds, use_kernel_log=True)


@pytest.fixture(scope="module")
def fleet():
    hosts = fleet_synthetic.fleet_facts(39, seed=11)
    hosts["localhost"] = this_machine()
    hosts[HOSTILE_HOST] = fleet_synthetic.host_facts(random.Random(5), "oom_recent", process_name=HOSTILE_PROCESS)
    hosts[UNREACHABLE] = None
    return _report.build_fleet(
        hosts, {UNREACHABLE: "unreachable: ssh: connect to host 192.0.2.7 port 22: Connection timed out"},
        title="Memory report, browser test")


def write_page(fleet, name):
    """The fleet's HTML page kept under tests/output/ (an artifact), as a file:// URL."""
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(_report_html.render_html(fleet))
    return "file://" + os.path.abspath(path)


@pytest.fixture(scope="module")
def page(fleet):
    url = write_page(fleet, "report.html")
    with open(os.path.join(OUTPUT, "report.json"), "w", encoding="utf-8") as handle:
        handle.write(_report.render_json(fleet))
    return url


@pytest.fixture(scope="module")
def browser(page):
    with Browser(CHROMIUM, width=1600, height=1000) as chromium:
        chromium.open(page)
        yield chromium


def column(browser, key):
    """data-sort values of a column of the host table, top to bottom."""
    return browser.evaluate("""(() => {
        const index = [...document.querySelectorAll('#hosts thead th')].findIndex(th => th.dataset.key === %s);
        return [...document.querySelectorAll('#hosts tbody tr')].map(tr => tr.cells[index].dataset.sort);
    })()""" % json.dumps(key))


def numbers(values):
    return [float(v) for v in values]


def test_rows_badges_and_findings_are_shown(browser, fleet):
    rows = browser.evaluate("[...document.querySelectorAll('#hosts tbody tr')].map(tr => "
                            "[tr.cells[0].textContent, tr.cells[1].textContent])")
    assert rows == [[h["name"], h["status"].upper()] for h in fleet["hosts"]]
    assert rows[0][1] == "CRITICAL"
    assert {status for _name, status in rows} == {"CRITICAL", "UNKNOWN", "MONITOR", "OK"}
    cards = browser.evaluate("[...document.querySelectorAll('.card')].map(c => c.textContent)")
    counts = fleet["summary"]["status_counts"]
    assert cards == ["%d%s" % (counts[s], s) for s in _schema.STATUSES_MOST_SEVERE_FIRST]
    text = browser.evaluate("document.body.innerText")
    for entry in fleet["summary"]["findings"].values():
        assert entry["title"] in text
    for host in fleet["hosts"]:
        if host["status"] != "unknown":
            assert browser.evaluate("document.getElementById('host-%d').querySelector('pre.free').textContent"
                                    % fleet["hosts"].index(host)) == "\n".join(host["free_h"])
    assert "Fix:" in text and "memops.linux." in text
    groups = browser.evaluate("[...document.querySelectorAll('#h-findings ~ h3 .badge')].map(b => b.textContent)")
    assert groups == [s.upper() for s in _schema.SEVERITIES_MOST_SEVERE_FIRST if any(
        f["severity"] == s for f in fleet["summary"]["findings"].values())]
    bars = browser.evaluate("document.querySelectorAll('#hosts tbody .bar:not(.swapbar) span.used').length")
    assert bars == sum(1 for h in fleet["hosts"] if (h["memory"] or {}).get("total_bytes"))


def test_hostile_names_stay_text(browser, fleet):
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("document.querySelectorAll('script:not([type=\"application/json\"])').length") == 1
    assert browser.evaluate("document.querySelectorAll('img, iframe, svg:not(svg.stack)').length") == 0
    text = browser.evaluate("document.body.innerText")
    assert HOSTILE_HOST in text and HOSTILE_PROCESS in text and UNREACHABLE in text


def test_click_on_a_header_sorts_and_toggles(browser):
    browser.evaluate("document.querySelector('#hosts th[data-key=available] button').click()")
    ascending = numbers(column(browser, "available"))
    assert ascending == sorted(ascending) and ascending[0] < ascending[-1]
    assert browser.evaluate("document.querySelector('#hosts th[data-key=available]').getAttribute('aria-sort')") \
        == "ascending"
    browser.evaluate("document.querySelector('#hosts th[data-key=available] button').click()")
    descending = numbers(column(browser, "available"))
    assert descending == sorted(descending, reverse=True)
    assert browser.evaluate("document.getElementById('sort-status').textContent") == \
        "Sorted by Available, descending"


def test_enter_on_a_focused_header_sorts(browser, fleet):
    browser.evaluate("document.querySelector('#hosts th[data-key=host] button').focus()")
    assert browser.evaluate("document.activeElement.textContent") == "Host"
    assert browser.evaluate("document.activeElement.tabIndex") == 0
    browser.press("Enter", "Enter", 13, "\r")
    names = column(browser, "host")
    assert names == sorted((h["name"] for h in fleet["hosts"]), key=str.lower)
    browser.evaluate("document.querySelector('#hosts th[data-key=total] button').focus()")
    browser.press(" ", "Space", 32, " ")
    totals = numbers(column(browser, "total"))
    assert totals == sorted(totals, reverse=True)  # RAM sorts largest first on the first press


def test_sort_from_the_address(browser, page):
    browser.open(page + "#sort=swap:desc")
    swap = numbers(column(browser, "swap"))
    assert swap == sorted(swap, reverse=True)
    browser.open(page)
    status = numbers(column(browser, "status"))
    assert status == sorted(status)  # the report's own order: most severe first


def test_no_errors_and_a_screenshot(browser, page):
    browser.open(page)
    height = browser.evaluate("Math.min(document.documentElement.scrollHeight, 6000)")
    path = os.path.join(OUTPUT, "report.png")
    browser.screenshot(path, full_page_height=height)
    assert os.path.getsize(path) > 10000
    browser.screenshot(os.path.join(OUTPUT, "report-top.png"))
    assert browser.problems() == []


# -- where the memory went: a stacked bar of inline SVG a host, one chart for the fleet

HOST_BARS = """(() => [...document.querySelectorAll('#host-details details.host')].map(box => {
    box.open = true;
    const svg = box.querySelector('svg.stack');
    if (!svg) return [box.id, null];
    const bar = svg.getBoundingClientRect();
    const rects = [...svg.querySelectorAll('rect')].map(r => {
        const b = r.getBoundingClientRect();
        return [r.getAttribute('class'), b.left - bar.left, b.width, b.height, getComputedStyle(r).fill];
    });
    const rows = [...box.querySelectorAll('table.parts tbody tr')].map(tr => [...tr.cells].map(c => c.innerText));
    return [box.id, {width: bar.width, height: bar.height, rects: rects, rows: rows}];
}))()"""

FLEET_CHART = """(() => {
    const svg = document.querySelector('#h-memory ~ .breakdown svg.stack.fleet');
    const bar = svg.getBoundingClientRect();
    const box = e => { const b = e.getBoundingClientRect(); return [b.left - bar.left, b.top - bar.top, b.width, b.height]; };
    return {width: bar.width, height: bar.height, caption: svg.parentNode.querySelector('figcaption').innerText,
            rects: [...svg.querySelectorAll('rect')].map(r => [r.getAttribute('class'), ...box(r)]),
            texts: [...svg.querySelectorAll('text')].map(t => [t.textContent, ...box(t)]),
            rows: [...svg.parentNode.querySelectorAll('table.parts tbody tr')].map(tr => [...tr.cells].map(c => c.innerText))};
})()"""


def expected_rows(breakdown):
    """The rows a breakdown's table shows, as a person reads them: part, size (free -h), share, what it holds."""
    return [[label, size, share, detail] for _name, label, size, share, _width, detail in _report.breakdown_rows(
        breakdown, str)]


def element_screenshot(browser, selector, name):
    """A PNG of one element of the page under tests/output/, its size in bytes."""
    clip = browser.evaluate("""(() => { const b = document.querySelector(%s).getBoundingClientRect();
        return {x: b.left + scrollX, y: b.top + scrollY, width: b.width, height: b.height}; })()""" % json.dumps(selector))
    path = os.path.join(OUTPUT, name)
    browser.screenshot(path, clip=clip)
    return os.path.getsize(path)


def check_breakdowns(browser, hosts, summary):
    """Every host of the page with a breakdown shows its bar, its segments as wide as its parts and coloured,
    and a table of its parts with their sizes as free -h writes them; the fleet's chart shows the fleet's with
    the labels and sizes of its wide parts in type a person can read, none over another."""
    bars = dict(browser.evaluate(HOST_BARS))
    checked = 0
    for index, host in enumerate(hosts):
        shown = bars.get(_report_html._anchor(index), "not on this page")
        if shown == "not on this page":
            continue
        if not host["breakdown"]:
            assert shown is None, host["name"]
            continue
        checked += 1
        assert shown["width"] > 200 and shown["height"] >= 14, (host["name"], shown)
        total = host["breakdown"]["total_bytes"]
        parts = [part for part in host["breakdown"]["parts"] if part["bytes"]]
        assert [rect[0] for rect in shown["rects"]] == ["bd-" + part["name"] for part in parts]
        for (css, left, width, height, fill), part in zip(shown["rects"], parts):
            assert width == pytest.approx(shown["width"] * part["bytes"] / total, abs=1.0), (host["name"], css)
            assert height == pytest.approx(shown["height"], abs=0.5) and fill.startswith("rgb("), (css, fill)
        assert sum(width for _css, _left, width, _h, _f in shown["rects"]) == pytest.approx(shown["width"], abs=1.0)
        assert shown["rows"] == expected_rows(host["breakdown"]), host["name"]
    assert checked, "no host of the page has a breakdown"
    chart = browser.evaluate(FLEET_CHART)
    totals = summary["totals"]["breakdown"]
    assert chart["caption"] == "The fleet's %s, over %s of %d" % (
        _report.human_size(totals["total_bytes"]), _report.plural(totals["hosts"], "host"), summary["hosts"])
    assert chart["width"] >= 600 and chart["rows"] == expected_rows(totals)
    assert [rect[0] for rect in chart["rects"]] == ["bd-" + part["name"] for part in totals["parts"] if part["bytes"]]
    labels = {_report.BREAKDOWN_LABELS[part["name"]]: part for part in totals["parts"]}
    names = [text[0] for text in chart["texts"][::2]]
    assert "processes" in names and "page cache" in names
    pairs = zip(chart["texts"][::2], chart["texts"][1::2])  # a part's label, then its size
    for (label, x, y, width, height), (size, size_x, size_y, size_width, _h) in pairs:
        part = labels[label]
        assert size.startswith(_report.human_size(part["bytes"]) + " · ")
        assert height >= 11 and size_y > y, (label, height)  # 12px type, the size under the label
        rect = next(r for r in chart["rects"] if r[0] == "bd-" + part["name"])
        # the label and its size stay within their own segment: none runs into the next
        assert rect[1] <= x and x + width <= rect[1] + rect[3] + 0.5, (label, x, width, rect)
        assert rect[1] <= size_x and size_x + size_width <= rect[1] + rect[3] + 0.5, (size, size_x, size_width, rect)
        assert y >= rect[2] + rect[4]  # under the bar
    return checked


def test_breakdown_bars_and_sizes(browser, page, fleet):
    browser.open(page)
    assert check_breakdowns(browser, fleet["hosts"], fleet["summary"]) >= 30
    assert element_screenshot(browser, "#h-memory ~ .breakdown", "breakdown-fleet.png") > 5000
    first = next(index for index, host in enumerate(fleet["hosts"]) if host["breakdown"])
    assert element_screenshot(browser, "#host-%d" % first, "breakdown-host.png") > 5000
    assert browser.problems() == []


def test_breakdown_without_javascript(page, fleet):
    with Browser(CHROMIUM, width=1600, height=1000) as chromium:
        chromium.send("Emulation.setScriptExecutionDisabled", value=True)
        chromium.open(page)
        assert chromium.evaluate("document.getElementById('hosts').dataset.ready") is None  # the script did not run
        assert check_breakdowns(chromium, fleet["hosts"], fleet["summary"]) >= 30
        assert element_screenshot(chromium, "#h-memory ~ .breakdown", "breakdown-fleet-nojs.png") > 5000
        chromium.screenshot(os.path.join(OUTPUT, "report-nojs-top.png"))
        assert chromium.problems() == []


# -- a fleet of more than one page: rows and details rendered from the embedded JSON, page by page

BIG_FLEET = 230
SCRIPT_BREAKER = "</script><script>alert(1)</script>"
LINE_SEPARATOR_CMDLINE = "java -Dname=a\u2028b\u2029c -jar </script>app.jar"


@pytest.fixture(scope="module")
def big_fleet():
    hosts = fleet_synthetic.fleet_facts(BIG_FLEET - 1, seed=23, prefix="node")
    hosts[SCRIPT_BREAKER] = fleet_synthetic.host_facts(random.Random(8), "low_available")
    fleet = _report.build_fleet(hosts, title="Memory report, paged")
    # a command line with U+2028/U+2029, which would end a JavaScript string literal if written raw
    healthy = next(h for h in fleet["hosts"] if h["status"] == "ok" and h["top_processes"])
    healthy["top_processes"][0]["cmdline"] = LINE_SEPARATOR_CMDLINE
    return fleet


@pytest.fixture(scope="module")
def big_page(big_fleet):
    return write_page(big_fleet, "report-paged.html")


@pytest.fixture()
def paged(big_page):
    with Browser(CHROMIUM, width=1600, height=1000) as chromium:
        chromium.open(big_page)
        assert chromium.evaluate("document.getElementById('hosts').dataset.ready") == "true"
        yield chromium


def shown_names(browser):
    return browser.evaluate("[...document.querySelectorAll('#hosts tbody tr')].map(tr => tr.cells[0].textContent)")


def test_pages_show_the_fleet_a_page_at_a_time(paged, big_fleet):
    names = [h["name"] for h in big_fleet["hosts"]]
    size = _report_html.HOSTS_PER_PAGE
    assert paged.evaluate("document.getElementById('hosts').dataset.pages") == "3"
    assert shown_names(paged) == names[:size]
    assert paged.evaluate("document.getElementById('page-info').textContent") == \
        "Page 1 of 3 · hosts 1–%d of %d" % (size, BIG_FLEET)
    assert paged.evaluate("document.getElementById('page-prev').disabled")
    # details are there for the hosts of the page only
    assert paged.evaluate("document.querySelectorAll('#host-details details.host').length") == size
    paged.evaluate("document.getElementById('page-next').click()")
    assert shown_names(paged) == names[size:2 * size]
    assert paged.evaluate("document.querySelector('#host-details details.host summary').firstChild.textContent") \
        == names[size]
    paged.evaluate("document.getElementById('page-next').click()")
    assert shown_names(paged) == names[2 * size:]
    assert paged.evaluate("document.getElementById('page-next').disabled")
    paged.evaluate("document.getElementById('page-all').click()")
    assert shown_names(paged) == names
    assert paged.evaluate("document.getElementById('page-all').getAttribute('aria-pressed')") == "true"
    assert paged.problems() == []


def test_rows_from_the_json_match_the_html_rows(paged, big_fleet):
    """The script's rows and details say what the server-rendered first page says, cell by cell."""
    rendered = _report_html.render_html(big_fleet)
    paged.evaluate("window.serverPage = new DOMParser().parseFromString(%s, 'text/html')" % json.dumps(rendered))
    for selector in ("#hosts tbody tr", "#host-details details.host"):
        query = "[...%%s.querySelectorAll(%s)].map(e => [e.outerHTML.length > 0 && e.textContent, " \
                "[...e.querySelectorAll('[title],[data-sort],[class]')].map(x => [x.className, x.title, " \
                "x.getAttribute('data-sort') === null ? null : parseFloat(x.getAttribute('data-sort')) || " \
                "x.getAttribute('data-sort')])])" % json.dumps(selector)
        assert paged.evaluate(query % "document") == paged.evaluate(query % "window.serverPage")


def test_bars_of_another_page(paged, big_fleet):
    """The hosts of page 2, their details put in place by the script from the JSON, show their bars and sizes."""
    paged.evaluate("document.getElementById('page-next').click()")
    assert check_breakdowns(paged, big_fleet["hosts"], big_fleet["summary"]) == _report_html.HOSTS_PER_PAGE
    paged.screenshot(os.path.join(OUTPUT, "report-paged-page2.png"))
    assert paged.problems() == []


def test_another_page_shows_the_html_written_in_python(paged, big_fleet):
    """The second page's rows and details are the report's own HTML for those hosts, put in place as they are."""
    size = _report_html.HOSTS_PER_PAGE
    hosts = list(enumerate(big_fleet["hosts"]))[size:2 * size]
    rows = "".join(_report_html._host_row(index, host, _report_html._sort_keys(host)) for index, host in hosts)
    boxes = "".join(_report_html._host_details(index, host) for index, host in hosts)
    paged.evaluate("document.getElementById('page-next').click()")
    same = """(() => {
        const parsed = document.createElement(%s);
        parsed.innerHTML = %s;
        return parsed.innerHTML === document.querySelector(%s).innerHTML;
    })()"""
    assert paged.evaluate(same % (json.dumps("tbody"), json.dumps(rows), json.dumps("#hosts tbody")))
    assert paged.evaluate(same % (json.dumps("div"), json.dumps(boxes), json.dumps("#host-details")))
    assert paged.problems() == []


def test_sorting_orders_the_whole_fleet(paged, big_fleet):
    paged.evaluate("document.querySelector('#hosts th[data-key=available] button').click()")
    available = [(h["memory"] or {}).get("available_pct") for h in big_fleet["hosts"]]
    everything = sorted(101 if a is None else a for a in available)
    assert numbers(column(paged, "available")) == everything[:_report_html.HOSTS_PER_PAGE]
    worst = min(a for a in available if a is not None)
    assert float(column(paged, "available")[0]) == worst
    assert paged.evaluate("document.getElementById('hosts').dataset.page") == "1"
    paged.evaluate("document.getElementById('page-next').click()")
    assert numbers(column(paged, "available")) == everything[_report_html.HOSTS_PER_PAGE:2 * _report_html.HOSTS_PER_PAGE]
    # Enter on a focused header sorts the whole fleet too, and goes back to page 1
    paged.evaluate("document.querySelector('#hosts th[data-key=host] button').focus()")
    paged.press("Enter", "Enter", 13, "\r")
    assert shown_names(paged) == sorted((h["name"] for h in big_fleet["hosts"]), key=str.lower)[:_report_html.HOSTS_PER_PAGE]
    assert paged.evaluate("document.getElementById('sort-status').textContent") == "Sorted by Host, ascending"
    assert paged.problems() == []


def test_a_finding_link_shows_a_host_of_another_page(paged, big_fleet):
    index = len(big_fleet["hosts"]) - 1
    assert paged.evaluate("document.getElementById('host-%d')" % index) is None
    paged.evaluate("window.location.hash = '#host-%d'" % index)
    paged.evaluate("new Promise(r => setTimeout(r, 50))")
    assert paged.evaluate("document.getElementById('host-%d').open" % index)


def test_hostile_names_stay_text_in_the_json(paged, big_fleet, big_page):
    with open(big_page[len("file://"):], encoding="utf-8") as handle:
        text = handle.read()
    blob = text.split('<script type="application/json" id="hosts-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in blob and "\u2028" not in blob and "\u2029" not in blob
    assert paged.evaluate("document.querySelectorAll('script:not([type=\"application/json\"])').length") == 1
    assert not any(e["method"] == "Page.javascriptDialogOpening" for e in paged.events)
    paged.evaluate("document.getElementById('page-all').click()")
    assert SCRIPT_BREAKER in shown_names(paged)
    assert paged.evaluate("document.querySelectorAll('#hosts tbody script, #host-details script').length") == 0
    titles = paged.evaluate("[...document.querySelectorAll('#hosts td.top')].map(td => td.title)")
    assert LINE_SEPARATOR_CMDLINE in titles
    assert paged.problems() == []


def test_without_javascript_the_first_page_is_readable(big_page, big_fleet):
    with Browser(CHROMIUM, width=1600, height=1000) as chromium:
        chromium.send("Emulation.setScriptExecutionDisabled", value=True)
        chromium.open(big_page)
        assert shown_names(chromium) == [h["name"] for h in big_fleet["hosts"][:_report_html.HOSTS_PER_PAGE]]
        assert chromium.evaluate("document.querySelectorAll('#host-details details.host').length") == \
            _report_html.HOSTS_PER_PAGE
        text = chromium.evaluate("document.body.innerText")
        assert "JavaScript is off: the table and the host details show the first %d of %d hosts" % (
            _report_html.HOSTS_PER_PAGE, BIG_FLEET) in text
        assert chromium.problems() == []


def test_a_page_error_would_be_caught(tmp_path):
    """The error collection itself works: a page that throws and logs is reported."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom'); undefinedFunction();</script>")
    with Browser(CHROMIUM) as chromium:
        chromium.open("file://%s" % broken)
        problems = chromium.problems()
    assert any("console.error: boom" in p for p in problems)
    assert any("uncaught" in p and "undefinedFunction" in p for p in problems)


def teardown_module(module):  # pylint: disable=unused-argument
    # keep the artifacts, drop nothing else: the browser profile is removed by Browser itself
    shutil.rmtree(os.path.join(OUTPUT, "tmp"), ignore_errors=True)
