# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""host_report run for real: ansible-playbook with local hosts whose mem_facts read captured /proc trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _summary
from ansible_collections.memops.linux.tests.unit.playbook_run import (
    BAD_REPORT_MODES, COLLECTIONS_ROOT, REPORT_MODES, ansible_playbook, assert_mode_refused, assert_replaced_not_followed,
    mode_of, plant_link,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "module_utils", "fixtures")
ODD_HOST = "web/01 <b>"

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

PLAYBOOK = """
- name: Summarise and save
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather memory facts from a captured tree
      memops.linux.mem_facts:
        proc_root: "{{ fixtures }}/{{ tree }}/proc"
        sys_root: "{{ fixtures }}/{{ tree }}/sys"
        kernel_log: none
      when: tree != 'none'

    - name: Summarise and save on the controller
      memops.linux.host_report:
        dest: "{{ dest }}"
        findings: 2
%(options)s
      register: report
      %(task_options)s

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ report | to_json }}"
        dest: "{{ results }}/{{ inventory_hostname | regex_replace('[^a-z0-9]', '_') }}.json"
        mode: "0644"
      delegate_to: localhost
      check_mode: false
"""


def run(tmp_path, hosts, dest, task_options="", check=False, options=""):
    """``options`` are more lines of the host_report task's arguments, indented by 8."""
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                         "hosts": {name: {"tree": tree} for name, tree in hosts.items()}}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "playbook.yml").write_text(PLAYBOOK % {"task_options": task_options, "options": options})
    results = tmp_path / "results"
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "tmp"))
    command = [ansible_playbook(), "-i", str(tmp_path / "inventory.json"), str(tmp_path / "playbook.yml"),
               "-e", json.dumps({"dest": str(dest), "fixtures": FIXTURES, "results": str(results)})]
    if check:
        command.append("--check")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    found = {path.stem: json.loads(path.read_text()) for path in results.iterdir()}
    return proc, found


def test_prints_the_summary_and_writes_the_json(tmp_path):
    dest = tmp_path / "report" / "hosts"
    proc, results = run(tmp_path, {"app1": "host", "db1": "low_memory", ODD_HOST: "container"}, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(os.listdir(dest)) == ["app1.json", "db1.json", "web_01__b_.json"]  # no temporary files left
    # private by default: command lines in the facts may hold secrets
    assert mode_of(dest) == 0o700
    assert mode_of(dest.parent) == 0o700  # created too
    for name, file_name in (("app1", "app1.json"), ("db1", "db1.json"), (ODD_HOST, "web_01__b_.json")):
        document = json.loads((dest / file_name).read_text())
        assert mode_of(dest / file_name) == 0o600
        assert document["host"] == name
        assert document["generated_at"].endswith("Z")
        result = results[name.replace("/", "_").replace(" ", "_").replace("<", "_").replace(">", "_")]
        assert result["changed"] is False
        assert result["path"] == str(dest / file_name)
        assert result["status"] == document["memops"]["health"]["status"]
        assert result["msg"] == _summary.host_summary(document["memops"], findings=2)
    # the summary is printed without -v, like debug output
    assert proc.stdout.count('"Mem: ') == 3
    assert json.loads((dest / "db1.json").read_text())["memops"]["health"]["status"] == "critical"


def test_check_mode_writes_nothing_unless_told(tmp_path):
    dest = tmp_path / "hosts"
    proc, results = run(tmp_path, {"app1": "host"}, dest, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not dest.exists()
    assert results["app1"]["path"] == str(dest / "app1.json")
    assert results["app1"]["msg"][0].split(":")[0] in ("OK", "MONITOR", "CRITICAL")
    proc, _results = run(tmp_path, {"app1": "host"}, dest, task_options="check_mode: false", check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert os.listdir(dest) == ["app1.json"]


def test_without_dest_only_summarises(tmp_path):
    proc, results = run(tmp_path, {"app1": "host"}, "", task_options="vars: {dest: null}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["app1"]["path"] is None
    assert results["app1"]["msg"][1].split() == ["total", "used", "free", "shared", "buff/cache", "available"]


def test_a_host_without_facts_fails_clearly(tmp_path):
    proc, _results = run(tmp_path, {"bare1": "none"}, tmp_path / "hosts")
    assert proc.returncode == 2
    assert "host_report: bare1 has no memops facts (ansible_facts.memops); run memops.linux.mem_facts on it first" \
        in proc.stdout


def test_a_dest_that_is_a_file_fails_clearly(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    proc, _results = run(tmp_path, {"app1": "host"}, blocker / "hosts")
    assert proc.returncode == 2
    assert "host_report: cannot create %s/hosts: %s is not a directory" % (blocker, blocker) in proc.stdout


@pytest.mark.parametrize("option, file_mode, dir_mode", REPORT_MODES)
def test_mode_option(tmp_path, option, file_mode, dir_mode):
    dest = tmp_path / "hosts"
    proc, results = run(tmp_path, {"app1": "host"}, dest, options="        " + option)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mode_of(dest / "app1.json") == file_mode
    assert mode_of(dest) == dir_mode
    assert results["app1"]["changed"] is False  # a new file is the diagnosis' output, not a change


def test_an_existing_directory_keeps_its_mode(tmp_path):
    dest = tmp_path / "hosts"
    dest.mkdir()
    os.chmod(dest, 0o755)
    proc, _results = run(tmp_path, {"app1": "host"}, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert mode_of(dest) == 0o755
    assert mode_of(dest / "app1.json") == 0o600


def test_a_file_of_another_mode_is_corrected_and_changed(tmp_path):
    dest = tmp_path / "hosts"
    dest.mkdir()
    old = dest / "app1.json"
    old.write_text('{"host": "app1", "old": true}\n')
    os.chmod(old, 0o644)

    # check mode: reported, nothing touched
    proc, results = run(tmp_path, {"app1": "host"}, dest, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["app1"]["changed"] is True
    assert mode_of(old) == 0o644
    assert json.loads(old.read_text()) == {"host": "app1", "old": True}

    proc, results = run(tmp_path, {"app1": "host"}, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["app1"]["changed"] is True
    assert mode_of(old) == 0o600
    assert "memops" in json.loads(old.read_text())

    proc, results = run(tmp_path, {"app1": "host"}, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["app1"]["changed"] is False
    assert mode_of(old) == 0o600


@pytest.mark.parametrize("option, why", BAD_REPORT_MODES)
def test_a_bad_mode_fails_clearly_and_writes_nothing(tmp_path, option, why):
    dest = tmp_path / "hosts"
    proc, results = run(tmp_path, {"app1": "host"}, dest, options="        " + option)
    assert_mode_refused(proc, "host_report", why)
    assert results == {}
    assert not dest.exists()


def test_a_link_planted_in_dest_is_replaced_never_written_through(tmp_path):
    dest = tmp_path / "hosts"
    dest.mkdir()
    victim = plant_link(tmp_path, dest / "app1.json")
    proc, results = run(tmp_path, {"app1": "host"}, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results["app1"]["changed"] is True
    assert_replaced_not_followed(victim, dest / "app1.json")
    assert json.loads((dest / "app1.json").read_text())["host"] == "app1"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_dest_another_user_owns_is_refused(tmp_path):
    dest = tmp_path / "hosts"
    dest.mkdir()
    os.chown(str(dest), 65534, 65534)
    proc, results = run(tmp_path, {"app1": "host"}, dest)
    assert proc.returncode == 2
    assert "host_report: dest %s belongs to user id 65534" % dest in proc.stdout
    assert results == {}
    assert not os.listdir(str(dest))


GATHER = """        gather:
          proc_root: "{{ fixtures }}/{{ tree }}/proc"
          sys_root: "{{ fixtures }}/{{ tree }}/sys"
          kernel_log: none
%s"""


def test_gather_keeps_a_summary_in_the_facts_and_the_full_facts_in_the_file(tmp_path):
    dest = tmp_path / "hosts"
    proc, results = run(tmp_path, {"java1": "heap_over_ram"}, dest, task_options="check_mode: false",
                        options=GATHER % "", check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads((dest / "java1.json").read_text())
    facts = results["java1"]["ansible_facts"]["memops"]
    assert facts["detail"] == "summary" and facts["report_file"] == str(dest / "java1.json")
    assert facts["health"]["status"] == document["memops"]["health"]["status"] == results["java1"]["status"]
    assert len(facts["health"]["findings"]) == 2  # findings: 2
    assert "/opt/shop/shop.jar" in json.dumps(document["memops"]["processes"])
    assert "/opt/shop/shop.jar" not in json.dumps(results["java1"])
    # the printed summary is host_summary's without the evidence that quotes a command line
    full = _summary.host_summary(document["memops"], findings=2)
    assert [line for line in full if "/opt/shop/shop.jar" not in line] == results["java1"]["msg"]


def test_gather_with_full_facts_returns_every_fact(tmp_path):
    dest = tmp_path / "hosts"
    proc, results = run(tmp_path, {"java1": "heap_over_ram"}, dest, options=GATHER % "        return_facts: full")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads((dest / "java1.json").read_text())
    assert results["java1"]["ansible_facts"]["memops"] == document["memops"]


@pytest.mark.parametrize("options, check, why", [
    (GATHER % "", False, "host_report: return_facts=summary keeps the full facts only in the host's JSON file: "
                         "give dest, or return_facts=full"),
    (GATHER % "", True, "which check mode does not write: set check_mode: false on the task, or return_facts=full"),
    ("        return_facts: full", False, "host_report: return_facts applies only with gather"),
])
def test_return_facts_without_where_to_keep_them_fails_clearly(tmp_path, options, check, why):
    dest = "" if "give dest" in why else tmp_path / "hosts"
    proc, _results = run(tmp_path, {"java1": "heap_over_ram"}, dest, options=options, check=check,
                         task_options="vars: {dest: null}" if not dest else "")
    assert proc.returncode == 2
    assert why in proc.stdout, proc.stdout


def test_gather_returns_the_failure_of_mem_facts(tmp_path):
    proc, _results = run(tmp_path, {"bare1": "none"}, tmp_path / "hosts", options=GATHER % "")
    assert proc.returncode == 2
    assert "meminfo is missing; proc_root must point at a mounted procfs" in proc.stdout, proc.stdout
    assert not (tmp_path / "hosts").exists()
