# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The process detail of mem_facts (process_detail) in the host's details of the report: a row a process as
smem shows it, its largest mappings as pmap -x shows them, and what could not be detailed; text from the host
escaped in both renderers."""

from __future__ import annotations

import copy
import datetime
import os

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _smaps
from ansible_collections.memops.linux.plugins.plugin_utils import _report as report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html as report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown as report_markdown
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic

NOW = datetime.datetime(2026, 12, 3, 10, 0, 0, tzinfo=datetime.timezone.utc)
SMAPS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "fixtures", "smaps")


def host_facts(tmp_path, name="python3"):
    """One synthetic host's facts with the process detail of the captured python process (pid 4242)."""
    directory = tmp_path / "proc" / "4242"
    directory.mkdir(parents=True)
    for file_name in ("smaps", "smaps_rollup"):
        with open(os.path.join(SMAPS, "python." + file_name), encoding="utf-8") as handle:
            (directory / file_name).write_text(handle.read())
    (directory / "comm").write_text(name + "\n")
    reader = _procfs.Reader(str(tmp_path / "proc"), str(tmp_path / "sys"))
    facts = copy.deepcopy(next(iter(synthetic.fleet_facts(1, seed=3).values())))
    facts["process_detail"] = _smaps.detail(reader, _smaps.check_request({"pids": [4242, 999], "names": ["nginx"],
                                                                          "mappings": 3}), [])
    return facts


def test_the_model_keeps_the_numbers_and_the_largest_mappings(tmp_path):
    detail = report.build_host("web1", host_facts(tmp_path))["process_detail"]
    process = detail["processes"][0]
    assert (process["pid"], process["name"], process["rss_bytes"]) == (4242, "python3", 109376 * 1024)
    assert process["by_kind"]["heap"] == 68036 * 1024 and process["by_kind"]["shmem"] == 12288 * 1024
    assert [m["path"] for m in process["mappings"]] == [
        "[heap]", "/var/tmp/memops-process-detail-vm2ixb5q", "/SYSV00000000"]
    assert process["mappings"][2]["deleted"] is True
    assert (detail["not_found_pids"], detail["unmatched_names"]) == (["999"], ["nginx"])


def test_markdown_shows_smem_and_pmap_rows(tmp_path):
    fleet = report.build_fleet({"web1": host_facts(tmp_path)}, now=NOW)
    text = report_markdown.render_markdown(fleet)
    assert "Process detail (pmap -x, smem):" in text
    assert "| Process | RSS | PSS | USS | Shared | Swap | Heap | Stack | Anonymous | File | Shmem | Other |" in text
    assert "| python3[4242] | %s | %s |" % (report.human_size(109376 * 1024), report.human_size(107191 * 1024)) in text
    assert "Largest mappings of python3[4242]:" in text
    assert "| 7fd87fd32000-7fd880532000 | 8.0Mi | 8.0Mi | 8.0Mi | 0B | rw-s | shmem | /SYSV00000000 (deleted) |" in text
    assert "Not detailed: no process with pid 999; no process named nginx" in text


def test_html_shows_smem_and_pmap_rows(tmp_path):
    host = report.build_host("web1", host_facts(tmp_path))
    markup = report_html._host_details(0, host)
    assert "<h4>Process detail (pmap -x, smem)</h4>" in markup
    assert "<td>python3[4242]</td>" in markup
    assert "<td>/SYSV00000000 (deleted)</td>" in markup
    assert '<td class="num">8.0Mi</td>' in markup
    assert "<b>Not detailed:</b> no process with pid 999; no process named nginx" in markup


def test_text_from_the_host_is_escaped(tmp_path):
    evil = "<img src=x>|*x*"
    facts = host_facts(tmp_path, name=evil)
    facts["process_detail"]["processes"][0]["mappings"][0]["path"] = "/tmp/<script>|`x`"
    host = report.build_host("web1", facts)
    markup = report_html._host_details(0, host)
    assert "<img" not in markup and "<script>" not in markup and "&lt;script&gt;" in markup
    text = report_markdown.render_markdown(report.build_fleet({"web1": facts}, now=NOW))
    assert "<img" not in text and "&lt;img src=x&gt;\\|\\*x\\*[4242]" in text
    assert "/tmp/&lt;script&gt;\\|\\`x\\`" in text


def test_no_section_without_process_detail_or_with_a_broken_one(tmp_path):
    facts = host_facts(tmp_path)
    for value in (None, [1], "x"):
        facts["process_detail"] = value
        host = report.build_host("web1", facts)
        assert host["process_detail"] is None
        assert "Process detail" not in report_html._host_details(0, host)
    del facts["process_detail"]
    assert "Process detail" not in report_markdown.render_markdown(report.build_fleet({"web1": facts}, now=NOW))


def test_report_input_keeps_the_process_detail(tmp_path):
    facts = host_facts(tmp_path)
    assert report.build_host("web1", report.report_input(facts)) == report.build_host("web1", facts)
