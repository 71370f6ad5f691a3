# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The job events of memops.linux.diagnose: at most 8 KB per host by default, and no command line.

AWX stores every task result as a job event: the result (res) and the text the callback prints (stdout).
The role runs on a host per captured /proc tree and on this machine; the test callback job_event_size
records both for each result.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook
from ansible_collections.memops.linux.tests.unit.playbooks import event_run

LIMIT = 8 * 1024
# a command line argument of the captured trees heap_over_ram and database_host (java -jar ...)
COMMAND_ARGUMENT = "/opt/shop/shop.jar"
COMMAND_HOSTS = ("heap_over_ram", "database_host")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The run with the defaults (summary facts) and the one with diagnose_facts=full."""
    found = {}
    for mode in ("summary", "full"):
        workdir = str(tmp_path_factory.mktemp(mode))
        extra = {} if mode == "summary" else {"diagnose_facts": "full"}
        proc, events = event_run.run(workdir, ansible_playbook(), COLLECTIONS_ROOT, extra)
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
        found[mode] = (workdir, proc, events)
    return found


def report_files(workdir):
    """{relative path: JSON content without generated_at} of the report directory."""
    root = os.path.join(workdir, "memops-report")
    files = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".json"):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    document = json.load(handle)
                document.pop("generated_at", None)
                files[os.path.relpath(path, root)] = document
    return files


def test_every_host_and_tree_is_measured(runs):
    _workdir, _proc, events = runs["summary"]
    hosts = set(event_run.fixture_trees()) | {event_run.LIVE}
    assert set(event_run.bytes_per_host(event_run.role_events(events))) == hosts
    gathered = [event for event in events if event["task"].endswith("save it on the controller and summarise it")]
    assert {event["host"] for event in gathered} == hosts


def test_role_events_are_at_most_8_kb_per_host_by_default(runs):
    _workdir, _proc, events = runs["summary"]
    per_host = event_run.bytes_per_host(event_run.role_events(events))
    assert {host: size for host, size in per_host.items() if size > LIMIT} == {}, per_host


def test_full_facts_make_events_larger_than_the_limit(runs):
    """The measurement sees the facts: with diagnose_facts=full the gather events pass 8 KB."""
    _workdir, _proc, events = runs["full"]
    largest = event_run.largest_per_host(event_run.role_events(events))
    assert largest["database_host"] > LIMIT and largest[event_run.LIVE] > LIMIT, largest


def test_no_command_line_in_any_event_but_in_the_host_report(runs):
    workdir, _proc, events = runs["summary"]
    assert [(event["host"], event["task"]) for event in events
            if COMMAND_ARGUMENT in event["res"] or COMMAND_ARGUMENT in event["stdout"]] == []
    for host in COMMAND_HOSTS:
        with open(os.path.join(workdir, "memops-report", "hosts", host + ".json"), encoding="utf-8") as handle:
            document = json.load(handle)
        commands = [row.get("cmdline", "") for row in document["memops"]["processes"]["top_rss"]]
        assert any(COMMAND_ARGUMENT in command for command in commands), commands
    # the same run with the full facts does put them in the events
    assert [event for event in runs["full"][2] if COMMAND_ARGUMENT in event["res"]]


def test_secrets_are_redacted_in_the_host_report(tmp_path):
    """The host's JSON keeps the redaction of mem_facts (its default patterns), summary or not."""
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(event_run.FIXTURES, "container"), tree, symlinks=True)
    cmdline = tree / "proc" / "10" / "cmdline"
    cmdline.write_bytes(b"/usr/local/bin/gunicorn\0--password=hunter2secret\0app:app\0")
    workdir = str(tmp_path / "run")
    proc, events = event_run.run(workdir, ansible_playbook(), COLLECTIONS_ROOT, {"fixtures": str(tmp_path)},
                                 trees=["tree"])
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    assert [event["task"] for event in events if "hunter2secret" in event["res"] + event["stdout"]] == []
    with open(os.path.join(workdir, "memops-report", "hosts", "tree.json"), encoding="utf-8") as handle:
        text = handle.read()
    assert "hunter2secret" not in text
    assert "--password=<redacted>" in text


def test_the_facts_summary_names_the_host_report(runs):
    workdir, _proc, events = runs["summary"]
    gathered = {event["host"]: json.loads(event["res"]) for event in events
                if event["task"].endswith("save it on the controller and summarise it")}
    memops = gathered["database_host"]["ansible_facts"]["memops"]
    assert memops["detail"] == "summary"
    assert memops["report_file"] == os.path.join(os.path.realpath(workdir), "memops-report", "hosts",
                                                 "database_host.json")
    with open(memops["report_file"], encoding="utf-8") as handle:
        health = json.load(handle)["memops"]["health"]
    assert memops["health"]["status"] == health["status"]
    assert memops["health"]["counts"] == health["counts"]
    assert memops["health"]["findings"] == [{key: finding[key] for key in ("id", "severity")}
                                            for finding in health["findings"][:5]]


def test_the_reports_are_the_same_with_summary_or_full_facts(runs):
    summary, full = report_files(runs["summary"][0]), report_files(runs["full"][0])
    assert sorted(summary) == sorted(full)
    # this machine changes between the two runs; the captured trees do not
    live = os.path.join("hosts", event_run.LIVE + ".json")
    assert {path: doc for path, doc in summary.items() if path != live and path != "report.json"} == \
        {path: doc for path, doc in full.items() if path != live and path != "report.json"}
    trees = set(event_run.fixture_trees())
    assert [host for host in summary["report.json"]["hosts"] if host["name"] in trees] == \
        [host for host in full["report.json"]["hosts"] if host["name"] in trees]
