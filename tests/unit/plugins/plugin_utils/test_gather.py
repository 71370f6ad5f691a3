# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_gather: the summary a gathering host_report leaves in the facts, and reading the full facts back."""

from __future__ import annotations

import json

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _gather

FINDINGS = [
    {"id": "heap.over_ram", "severity": "critical", "title": "A heap is larger than RAM",
     "evidence": ["java: RSS 1.0 GiB, /usr/bin/java -Xmx16g -jar /opt/shop/shop.jar"], "remedy": {}},
    {"id": "tuning.thp", "severity": "monitor", "title": "THP always", "evidence": ["x"], "remedy": {}},
]
FACTS = {
    "health": {"status": "critical", "counts": {"critical": 1, "monitor": 1, "info": 0}, "partial": [],
               "findings": FINDINGS},
    "processes": {"top_rss": [{"pid": 1, "name": "java", "cmdline": "/usr/bin/java -Xmx16g -jar /opt/shop/shop.jar"},
                              {"pid": 2, "name": "bash", "cmdline": "bash"}]},
    "uptime_seconds": 12.5,
    "gather_subset": ["overview"],
}


def test_summary_keeps_status_counts_and_the_first_findings_ids():
    summary = _gather.summary(FACTS, "/r/hosts/h.json", 1)
    assert summary == {
        "detail": "summary", "report_file": "/r/hosts/h.json",
        "health": {"status": "critical", "counts": {"critical": 1, "monitor": 1, "info": 0}, "partial": [],
                   "findings": [{"id": "heap.over_ram", "severity": "critical"}]},
        "uptime_seconds": 12.5,
    }
    assert "shop.jar" not in json.dumps(summary)
    assert _gather.is_summary(summary) and not _gather.is_summary(FACTS) and not _gather.is_summary(None)


def test_full_facts_reads_the_report_file(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"host": "h", "memops": FACTS}))
    assert _gather.full_facts(_gather.summary(FACTS, str(path), 5)) == FACTS
    assert _gather.full_facts(FACTS) is FACTS


@pytest.mark.parametrize("content, why", [
    (None, "cannot be read"),
    ("{not json", "cannot be read"),
    ('{"host": "h"}', "holds no memops facts"),
    ("[]", "holds no memops facts"),
])
def test_full_facts_of_an_unreadable_file_says_which_and_what_to_do(tmp_path, content, why):
    path = tmp_path / "h.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(_gather.GatherError) as caught:
        _gather.full_facts(_gather.summary(FACTS, str(path), 5))
    assert str(path) in str(caught.value) and why in str(caught.value)
    assert "run memops.linux.diagnose on it again" in str(caught.value)


def test_without_command_lines_drops_only_evidence_quoting_one():
    lines = ["CRITICAL: 1 critical", "[critical] A heap is larger than RAM (heap.over_ram)",
             "    java: RSS 1.0 GiB, /usr/bin/java -Xmx16g -jar /opt/shop/shop.jar",
             "    fix: cap the heap", "    bash is fine", "Top consumers (RSS): java[1] 1.0Gi, bash[2] 1Mi"]
    assert _gather.without_command_lines(lines, FACTS) == [
        "CRITICAL: 1 critical", "[critical] A heap is larger than RAM (heap.over_ram)", "    fix: cap the heap",
        "    bash is fine", "Top consumers (RSS): java[1] 1.0Gi, bash[2] 1Mi"]
