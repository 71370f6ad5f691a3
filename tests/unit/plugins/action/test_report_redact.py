# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secrets in command lines stay out of the report files, whatever facts the reports are given."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "fixtures")
SECRETS = ("hunter2", "tok-123", "s3cr3t")

PLAYBOOK = """
- name: Gather facts that keep their command lines whole, and report them
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Gather
      memops.linux.mem_facts:
        proc_root: "{{ tree }}/proc"
        sys_root: "{{ tree }}/sys"
        kernel_log: none
        redact: []
    - name: Per-host report
      memops.linux.host_report:
        dest: "{{ dest }}/hosts"
%(options)s
    - name: Fleet report
      memops.linux.fleet_report:
        dest: "{{ dest }}/fleet"
        hosts: [localhost]
%(options)s
    - name: The facts themselves are left as they are
      ansible.builtin.assert:
        that: "'hunter2' in (ansible_facts.memops | to_json)"
"""


def run(tmp_path, options=""):
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(FIXTURES, "low_memory"), str(tree), symlinks=True, dirs_exist_ok=True)
    (tree / "proc" / "2210" / "cmdline").write_bytes(
        b"/usr/bin/java\0-Xmx3g\0--password=hunter2\0--api-token\0tok-123\0DB_SECRET=s3cr3t\0")
    (tmp_path / "playbook.yml").write_text(PLAYBOOK % {"options": options})
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_REMOTE_TEMP=str(tmp_path / "tmp"))
    return subprocess.run([ansible_playbook(), "-i", str(tmp_path / "inventory.json"), str(tmp_path / "playbook.yml"),
                           "-e", json.dumps({"tree": str(tree), "dest": str(tmp_path / "out")})],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _written(tmp_path):
    out = tmp_path / "out"
    return {name: (out / sub / name).read_text() for sub in ("hosts", "fleet") for name in os.listdir(out / sub)}


def test_reports_redact_command_lines_by_default(tmp_path):
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = _written(tmp_path)
    assert sorted(files) == ["localhost.json", "report.html", "report.json", "report.md"]
    for name, text in files.items():
        assert not [secret for secret in SECRETS if secret in text], name
    assert "--password=&lt;redacted&gt;" in files["report.html"]
    assert "--password=<redacted>" in files["report.json"]
    assert "--password=<redacted>" in files["localhost.json"]


def test_reports_take_their_own_patterns(tmp_path):
    proc = run(tmp_path, options="        redact: ['tok-(\\d+)']")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = _written(tmp_path)
    assert "--api-token tok-<redacted>" in files["report.json"] and "hunter2" in files["report.json"]
    assert "--api-token tok-<redacted>" in files["localhost.json"]


def test_a_bad_pattern_fails_the_report_clearly(tmp_path):
    proc = run(tmp_path, options="        redact: ['(']")
    assert proc.returncode != 0
    assert "host_report: redact[0] '(' is not a valid regular expression" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out").exists()
