# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/diagnose.yml with no inventory at all: localhost, the report in ./memops-report.

The container fleet runs are in tests/fleet; this is the default a person gets
from `ansible-playbook memops.linux.diagnose` on the machine in front of them.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import (
    COLLECTION, ansible_playbook, mode_of, run_playbook,
)

PLAYBOOK = os.path.join(COLLECTION, "playbooks", "diagnose.yml")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")


def run_diagnose(cwd, *args):
    # the diagnosis may find this machine critical; with the default diagnose_fail_on no host fails
    return run_playbook(PLAYBOOK, cwd, *args)


def report_modes(report_dir):
    """The mode of every directory and file of the report, by path below report_dir."""
    modes = {".": mode_of(report_dir)}
    for directory, dirs, files in os.walk(report_dir):
        for name in dirs + files:
            path = os.path.join(directory, name)
            modes[os.path.relpath(path, report_dir)] = mode_of(path)
    return modes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("no-inventory")
    return cwd, run_diagnose(cwd)


def test_diagnoses_localhost_into_memops_report(run):
    cwd, proc = run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host = json.loads((cwd / "memops-report" / "hosts" / "localhost.json").read_text())
    assert host["host"] == "localhost"
    assert host["memops"]["health"]["status"] in ("ok", "monitor", "critical")
    assert sorted(os.listdir(cwd / "memops-report")) == ["hosts", "report.html", "report.json", "report.md"]
    assert "PLAY RECAP" in proc.stdout and "localhost" in proc.stdout.split("PLAY RECAP")[1]


def test_the_fleet_report_has_localhost_facts(run):
    cwd, _proc = run
    report = json.loads((cwd / "memops-report" / "report.json").read_text())
    assert [(host["name"], host["status"] != "unknown") for host in report["hosts"]] == [("localhost", True)], \
        report["hosts"][0].get("reason")


def test_the_reports_are_private_by_default(run):
    """They hold command lines, which may hold secrets."""
    cwd, _proc = run
    assert report_modes(cwd / "memops-report") == {
        ".": 0o700, "hosts": 0o700, "hosts/localhost.json": 0o600,
        "report.json": 0o600, "report.md": 0o600, "report.html": 0o600}


def test_diagnose_report_mode_reaches_both_reports(tmp_path):
    proc = run_diagnose(tmp_path, "-e", "diagnose_report_mode=0640", "-e", "diagnose_report_directory_mode=0750")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report_modes(tmp_path / "memops-report") == {
        ".": 0o750, "hosts": 0o750, "hosts/localhost.json": 0o640,
        "report.json": 0o640, "report.md": 0o640, "report.html": 0o640}


def test_thresholds_as_the_text_of_a_json_object(tmp_path):
    """An AWX survey's textarea sends diagnose_thresholds as text: a JSON object is taken as the dict it holds."""
    # unreclaimable slab >= 0% of RAM: a monitor finding on any host, seen only if the text was decoded
    text = json.dumps({"oom_recent_seconds": 0, "slab_unreclaimable_pct_monitor": 0})
    proc = run_diagnose(tmp_path, "-e", json.dumps({"diagnose_thresholds": text, "diagnose_kernel_log": "none"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host = json.loads((tmp_path / "memops-report" / "hosts" / "localhost.json").read_text())
    assert "slab.unreclaimable_high" in [finding["id"] for finding in host["memops"]["health"]["findings"]]


@pytest.mark.parametrize("text", ['{"available_pct_low": 10', "available_pct_low: 10", "[10, 20]"])
def test_thresholds_text_that_is_not_a_json_object_fails_with_a_message(tmp_path, text):
    proc = run_diagnose(tmp_path, "-e", json.dumps({"diagnose_thresholds": text}))
    assert proc.returncode == 2
    messages = [json.loads(line.split(" => ", 1)[1])["msg"] for line in proc.stdout.splitlines()
                if line.startswith("fatal: [localhost]: FAILED! => ")]
    assert messages[-1] == (
        "memops.linux.diagnose: diagnose_thresholds is text, and not the text of a JSON object: %s; "
        'give a JSON object of threshold name to value, for example {"available_pct_low": 10}, or a dict in YAML'
        % json.dumps(text)), proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "memops-report" / "hosts").exists()  # nothing gathered


def test_diagnose_proc_root_and_sys_root_reach_mem_facts(tmp_path):
    """A host diagnosed through another procfs and sysfs (a captured tree here, /host/proc in a container)."""
    tree = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils", "fixtures", "low_memory")
    proc = run_diagnose(tmp_path, "-e", "diagnose_proc_root=" + os.path.join(tree, "proc"),
                        "-e", "diagnose_sys_root=" + os.path.join(tree, "sys"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads((tmp_path / "memops-report" / "hosts" / "localhost.json").read_text())["memops"]
    # the tree's MemTotal (4045164 kB), not this machine's; its swap areas nearly full make it critical
    assert facts["memory"]["total_bytes"] == 4045164 * 1024
    assert facts["health"]["status"] == "critical"
    # the tree has no dmesg file beside proc: no kernel log is read, never this machine's
    assert facts["oom"]["log_source"] == "none", facts["oom"]


def test_diagnose_process_detail_reaches_mem_facts_and_the_report(tmp_path):
    """diagnose_process_detail is mem_facts' process_detail: the host's JSON and report.md have the detail."""
    fixtures = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils", "fixtures")
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(fixtures, "host"), str(tree), symlinks=True)
    shutil.copy(os.path.join(fixtures, "smaps", "python.smaps"), str(tree / "proc" / "19682" / "smaps"))
    proc = run_diagnose(tmp_path, "-e", "diagnose_proc_root=%s" % (tree / "proc"), "-e", "diagnose_sys_root=%s" % (
        tree / "sys"), "-e", json.dumps({"diagnose_process_detail": {"pids": [19682], "names": ["nginx"], "mappings": 2}}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads((tmp_path / "memops-report" / "hosts" / "localhost.json").read_text())["memops"]
    detail = facts["process_detail"]
    assert [(p["pid"], len(p["mappings"])) for p in detail["processes"]] == [(19682, 2)]
    assert detail["unmatched_names"] == ["nginx"]
    report = (tmp_path / "memops-report" / "report.md").read_text()
    assert "Largest mappings of python3[19682]:" in report


def test_diagnose_process_detail_that_selects_nothing_names_the_fix(tmp_path):
    proc = run_diagnose(tmp_path, "-e", json.dumps({"diagnose_process_detail": {}}))
    assert "process_detail selects no process" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
