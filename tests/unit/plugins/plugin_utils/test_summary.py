# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The per-host summary: verdict, free -h lines, findings with evidence and fix, top consumers."""

from __future__ import annotations

import random

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _report as report
from ansible_collections.memops.linux.plugins.plugin_utils import _summary as summary
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic


def _facts(profile, seed=7):
    return synthetic.host_facts(random.Random(seed), profile)


@pytest.mark.parametrize("profile", ["healthy", "low_available", "swap_exhausted", "oom_recent", "redis_thp"])
def test_layout(profile):
    facts = _facts(profile)
    health = facts["health"]
    lines = summary.host_summary(facts)
    counts = health["counts"]
    assert lines[0] == "%s: %d critical, %d monitor, %d info finding(s)" % (
        health["status"].upper(), counts["critical"], counts["monitor"], counts["info"])
    assert lines[1:4] == report.free_lines(report.build_host("x", facts)["memory"], report.build_host("x", facts)["swap"])
    headers = [line for line in lines if line.startswith("[")]
    assert len(headers) == min(5, len(health["findings"]))
    for finding, header in zip(health["findings"], headers):
        assert header == "[%s] %s (%s)" % (finding["severity"], finding["title"], finding["id"])
        after = lines[lines.index(header) + 1:]
        assert after[:len(finding["evidence"])] == ["    " + line for line in finding["evidence"]]
        assert after[len(finding["evidence"])].startswith("    fix: " + finding["remedy"]["summary"])
        if finding["remedy"].get("role"):
            assert "role %s" % finding["remedy"]["role"] in after[len(finding["evidence"])]
    top = facts["processes"]["top_rss"][0]
    size = report.human_size(top["rss_bytes"])
    assert lines[-1].startswith("Top consumers (RSS): %s[%s] %s (" % (top["name"], top["pid"], size))


@pytest.mark.parametrize("findings, consumers", [(0, 0), (1, 1), (2, 3), (50, 50)])
def test_counts_limit_the_lines(findings, consumers):
    facts = _facts("low_available")
    total = len(facts["health"]["findings"])
    assert total >= 2
    lines = summary.host_summary(facts, findings=findings, consumers=consumers)
    assert len([line for line in lines if line.startswith("[")]) == min(findings, total)
    hidden = [line for line in lines if line.startswith("... and ")]
    assert hidden == (["... and %d more finding(s) in the report" % (total - findings)] if total > findings else [])
    top_line = [line for line in lines if line.startswith("Top consumers")]
    if consumers:
        assert top_line[0].count("[") == min(consumers, len(facts["processes"]["top_rss"]))
    else:
        assert top_line == []


def test_a_healthy_host_reads_ok():
    facts = _facts("healthy")
    facts["health"] = {"status": "ok", "counts": {"critical": 0, "monitor": 0, "info": 0}, "findings": []}
    lines = summary.host_summary(facts)
    assert lines[0] == "OK: 0 critical, 0 monitor, 0 info finding(s)"
    assert not any(line.startswith("[") for line in lines)


def test_facts_without_a_verdict_say_why():
    facts = _facts("healthy")
    del facts["health"]
    lines = summary.host_summary(facts)
    assert len(lines) == 1 and lines[0].startswith("UNKNOWN: ")


@pytest.mark.parametrize("facts, findings, consumers, message", [
    (None, 5, 5, "expected the memops facts (ansible_facts.memops) as a dict, got NoneType"),
    ([], 5, 5, "got list"),
    ({}, -1, 5, "findings and consumers must be 0 or more, got -1 and 5"),
    ({}, 5, -2, "got 5 and -2"),
])
def test_bad_input_is_a_clear_error(facts, findings, consumers, message):
    with pytest.raises(summary.SummaryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        summary.host_summary(facts, findings, consumers)


def test_a_partial_view_says_so_in_the_summary_and_both_reports():
    """Facts gathered without root: the verdict is marked "partial view: run with become" in the summary, the
    Markdown and the HTML report, with what was not seen; a host seen whole carries no mark."""
    from ansible_collections.memops.linux.plugins.module_utils import _diagnosis
    from ansible_collections.memops.linux.plugins.plugin_utils._report_html import render_html
    from ansible_collections.memops.linux.plugins.plugin_utils._report_markdown import render_markdown

    whole = _facts("healthy")
    whole["capabilities"] = {"is_root": True}
    whole["health"] = _diagnosis.diagnose(whole)
    partial = _facts("healthy")
    partial["capabilities"] = {"is_root": False}
    partial["processes"].update(partial_view=True, access_denied=12, hidepid="2")
    partial["health"] = _diagnosis.diagnose(partial)
    assert whole["health"]["partial"] == []
    assert partial["health"]["status"] == whole["health"]["status"] == "ok"

    lines = summary.host_summary(partial)
    assert lines[0].startswith("OK (partial view: run with become): ")
    assert "    not seen: processes: 12 could not be read (/proc is mounted hidepid=2)" in lines
    assert any(line.startswith("    not seen: not run as root") for line in lines)
    assert summary.host_summary(whole)[0].startswith("OK: ")

    fleet = report.build_fleet({"seen-whole": whole, "seen-in-part": partial})
    markdown = render_markdown(fleet)
    assert "### seen-in-part — OK (partial view: run with become)" in markdown
    assert "### seen-whole — OK\n" in markdown
    page = render_html(fleet)
    assert page.count('<span class="partial"') == 1
    assert "hidepid=2" in page
