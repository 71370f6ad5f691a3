# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/diagnose_captures.yml over a directory of the fixture sosreports (a directory, a tarball, a
captured /proc tree and an entry that is none): one fleet report, each capture with its verdict."""

from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, ansible_playbook, run_playbook

PLAYBOOK = os.path.join(COLLECTION, "playbooks", "diagnose_captures.yml")
SOS = os.path.join(COLLECTION, "tests", "unit", "fixtures", "sosreport")
TREE = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils", "fixtures", "low_memory")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")


def run_captures(cwd, *args):
    return run_playbook(PLAYBOOK, cwd, *args)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("captures")
    case = cwd / "case"
    case.mkdir()
    shutil.copytree(os.path.join(SOS, "sosreport-web01-2026-12-04-base"), str(case / "sosreport-web01-2026-12-04-base"))
    shutil.copytree(os.path.join(SOS, "sosreport-web02-2026-12-04-oom"), str(case / "sosreport-web02-2026-12-04-oom"))
    with tarfile.open(str(case / "sosreport-web03-2026-12-04-lowmem.tar.xz"), "w:xz") as archive:
        archive.add(os.path.join(SOS, "sosreport-web03-2026-12-04-lowmem"), arcname="sosreport-web03-2026-12-04-lowmem")
    shutil.copytree(TREE, str(case / "db01"), symlinks=True)
    (case / "notes.txt").write_text("not a capture\n")
    return cwd, run_captures(cwd, "-e", "captures_dir=%s" % case, "-e", "diagnose_report_dir=%s" % (cwd / "report"))


def test_one_fleet_report_over_the_captures(run):
    cwd, proc = run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((cwd / "report" / "report.json").read_text())
    statuses = {host["name"]: host["status"] for host in report["hosts"]}
    assert statuses == {"sosreport-web01-2026-12-04-base": "ok", "sosreport-web02-2026-12-04-oom": "monitor",
                        "sosreport-web03-2026-12-04-lowmem": "critical", "db01": "critical"}
    assert "Not a capture" in proc.stdout and "notes.txt" in proc.stdout


def test_each_host_file_says_what_its_capture_lacked(run):
    cwd, dummy = run
    host = json.loads((cwd / "report" / "hosts" / "sosreport-web03-2026-12-04-lowmem.json").read_text())
    capture = host["memops"]["capture"]
    assert capture["type"] == "sosreport tarball" and capture["hostname"] == "web03"
    assert capture["missing"] == ["pressure (proc/pressure/memory)", "uptime (proc/uptime)"]
    tree = json.loads((cwd / "report" / "hosts" / "db01.json").read_text())
    assert "capture" not in tree["memops"] and tree["memops"]["memory"]["total_bytes"] == 4045164 * 1024


def test_the_report_names_each_capture_and_what_it_lacked(run):
    cwd, dummy = run
    text = (cwd / "report" / "report.md").read_text()
    lowmem = text.split("### sosreport-web03-2026-12-04-lowmem", 1)[1].split("\n### ", 1)[0]
    assert "Captured host: Diagnosed from sosreport tarball %s (host name web03, taken " % (
        cwd / "case" / "sosreport-web03-2026-12-04-lowmem.tar.xz") in lowmem
    assert "Not in the capture: pressure (proc/pressure/memory); uptime (proc/uptime)" in lowmem
    tree = text.split("### db01", 1)[1].split("\n### ", 1)[0]
    assert "Captured host" not in tree and "Not in the capture" not in tree
    report = {host["name"]: host for host in json.loads((cwd / "report" / "report.json").read_text())["hosts"]}
    assert report["sosreport-web01-2026-12-04-base"]["capture"]["type"] == "sosreport directory"
    assert report["db01"]["capture"] is None
    markup = (cwd / "report" / "report.html").read_text()
    assert "<b>Not in the capture:</b> pressure (proc/pressure/memory); uptime (proc/uptime)</p>" in markup


def test_no_captures_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_captures(tmp_path, "-e", "captures_dir=%s" % (tmp_path / "empty"))
    assert proc.returncode != 0 and "No captures: give -e captures_dir=DIR" in proc.stdout
