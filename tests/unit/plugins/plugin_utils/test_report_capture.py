# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A captured host (mem_facts with sosreport) in the report: its capture checked and kept in the model, and a
"Captured host" block in its details naming where the diagnosis comes from and the parts the capture lacked;
text from the capture escaped in both renderers."""

from __future__ import annotations

import copy
import datetime

from ansible_collections.memops.linux.plugins.plugin_utils import _report as report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_capture as report_capture
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html as report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown as report_markdown
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic

NOW = datetime.datetime(2026, 12, 3, 10, 0, 0, tzinfo=datetime.timezone.utc)
CAPTURE = {"type": "sosreport tarball", "path": "/cases/1234/sosreport-web03.tar.xz", "hostname": "web03",
           "taken_at": "2026-12-04T04:37:25", "sos_version": "4.0", "log_file": "sos_commands/kernel/dmesg",
           "processes_from": "sos_commands/process/ps_auxwww", "sysctl_from": "sos_commands/kernel/sysctl_-a",
           "missing": ["pressure (proc/pressure/memory)", "uptime (proc/uptime)"]}
ORIGIN = ("Diagnosed from sosreport tarball /cases/1234/sosreport-web03.tar.xz (host name web03, "
          "taken 2026-12-04T04:37:25, sos 4.0)")


def host_facts(capture=None):
    """One synthetic host's facts with a sosreport's capture (CAPTURE unless given)."""
    facts = copy.deepcopy(next(iter(synthetic.fleet_facts(1, seed=3).values())))
    facts["capture"] = copy.deepcopy(CAPTURE if capture is None else capture)
    return facts


def test_the_model_keeps_the_capture_texts():
    capture = report.build_host("web03", host_facts())["capture"]
    assert capture == {key: CAPTURE[key] for key in ("type", "path", "hostname", "taken_at", "sos_version", "missing")}


def test_the_model_checks_and_cuts_what_a_capture_holds():
    capture = report.build_host("web03", host_facts(dict(
        CAPTURE, hostname="h" * 5000, sos_version=4, taken_at=None, missing=["x"] * 500)))["capture"]
    assert len(capture["hostname"]) == report_capture.TEXT_LIMIT and capture["sos_version"] == "4"
    assert capture["taken_at"] is None and len(capture["missing"]) == report_capture.MISSING_LIMIT
    assert report.build_host("web03", host_facts(dict(CAPTURE, missing="pressure")))["capture"]["missing"] == []
    assert report_capture.capture_origin(report_capture.host_capture({"capture": {}})) == (
        "Diagnosed from ? ? (host name ?, taken ?, sos ?)")


def test_markdown_shows_the_origin_and_the_missing_parts():
    text = report_markdown.render_markdown(report.build_fleet({"web03": host_facts()}, now=NOW))
    assert "Captured host: %s." % ORIGIN in text
    assert "Not in the capture: pressure (proc/pressure/memory); uptime (proc/uptime)" in text
    text = report_markdown.render_markdown(report.build_fleet({"web03": host_facts(dict(CAPTURE, missing=[]))}, now=NOW))
    assert "Not in the capture: nothing missing" in text


def test_html_shows_the_origin_and_the_missing_parts():
    markup = report_html.render_html(report.build_fleet({"web03": host_facts()}, now=NOW))
    assert ('<p class="capture"><b>Captured host:</b> %s.<br><b>Not in the capture:</b> '
            "pressure (proc/pressure/memory); uptime (proc/uptime)</p>" % ORIGIN) in markup


def test_text_from_the_capture_is_escaped():
    facts = host_facts(dict(CAPTURE, hostname="<img src=x>|*x*", missing=["<script>|`x`"]))
    markup = report_html._host_details(0, report.build_host("web03", facts))
    assert "<img" not in markup and "<script>" not in markup
    assert "host name &lt;img src=x&gt;|*x*" in markup and "&lt;script&gt;|`x`" in markup
    text = report_markdown.render_markdown(report.build_fleet({"web03": facts}, now=NOW))
    assert "<img" not in text and "<script>" not in text
    assert "host name &lt;img src=x&gt;\\|\\*x\\*" in text and "Not in the capture: &lt;script&gt;\\|\\`x\\`" in text


def test_no_block_without_a_capture_or_with_a_broken_one():
    facts = host_facts()
    for value in (None, ["x"], "sosreport"):
        facts["capture"] = value
        host = report.build_host("web1", facts)
        assert host["capture"] is None
        assert "Captured host" not in report_html._host_details(0, host)
    del facts["capture"]
    assert report.build_host("web1", facts)["capture"] is None
    assert "Captured host" not in report_markdown.render_markdown(report.build_fleet({"web1": facts}, now=NOW))


def test_report_input_keeps_the_capture():
    facts = host_facts()
    assert report.report_input(facts)["capture"] == CAPTURE
    assert report.build_host("web03", report.report_input(facts)) == report.build_host("web03", facts)
