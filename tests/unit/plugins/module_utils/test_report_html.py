# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTML report in a real browser: headless Chromium opens the page built from
this machine's memory facts plus synthetic hosts, and the test checks what a
person sees (rows, badges, findings), that clicking or pressing Enter on a
column header sorts the table, that hostile host and process names stay text,
and that the page logs no error. The screenshot and the page are kept under
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
from ansible_collections.memops.linux.plugins.module_utils import _report
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


@pytest.fixture(scope="module")
def page(fleet):
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, "report.html")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(_report.render_html(fleet))
    with open(os.path.join(OUTPUT, "report.json"), "w", encoding="utf-8") as handle:
        handle.write(_report.render_json(fleet))
    return "file://" + os.path.abspath(path)


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
    assert cards == ["%d%s" % (counts[s], s) for s in _report.STATUSES]
    text = browser.evaluate("document.body.innerText")
    for entry in fleet["summary"]["findings"].values():
        assert entry["title"] in text
    for host in fleet["hosts"]:
        if host["status"] != "unknown":
            assert browser.evaluate("document.getElementById('host-%d').querySelector('pre.free').textContent"
                                    % fleet["hosts"].index(host)) == "\n".join(host["free_h"])
    assert "Fix:" in text and "memops.linux." in text
    groups = browser.evaluate("[...document.querySelectorAll('#h-findings ~ h3 .badge')].map(b => b.textContent)")
    assert groups == [s.upper() for s in _report.SEVERITIES if any(
        f["severity"] == s for f in fleet["summary"]["findings"].values())]
    bars = browser.evaluate("document.querySelectorAll('#hosts tbody .bar:not(.swapbar) span.used').length")
    assert bars == sum(1 for h in fleet["hosts"] if (h["memory"] or {}).get("total_bytes"))


def test_hostile_names_stay_text(browser, fleet):
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("document.scripts.length") == 1
    assert browser.evaluate("document.querySelectorAll('img, svg, iframe').length") == 0
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
