# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_report run for real: ansible-playbook on localhost writing into tmp_path.

The hosts are local connections whose mem_facts read captured /proc trees
(deterministic facts, so a second run changes nothing), one whose mem_facts
fails, and one that is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.tests.unit.playbook_run import (
    BAD_REPORT_MODES, COLLECTIONS_ROOT, REPORT_MODES, ansible_playbook, assert_mode_refused, assert_replaced_not_followed,
    mode_of, plant_link,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "module_utils", "fixtures")
BAD_HOST = "web<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

INVENTORY = {
    "all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "hosts": {
            "db1": {"tree": "low_memory"},
            "app1": {"tree": "host"},
            BAD_HOST: {"tree": "container"},
            "broken1": {"tree": "does-not-exist"},
            "gone1": {"tree": "host", "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
                      "ansible_ssh_common_args": "-o ConnectTimeout=2 -o StrictHostKeyChecking=no"},
        },
    }
}

GATHER = """
- name: Gather
  hosts: "{{ gather_hosts | default('all') }}"
  gather_facts: false
  tasks:
    - name: Gather memory facts from a captured tree
      memops.linux.mem_facts:
        proc_root: "{{ fixtures }}/{{ tree }}/proc"
        sys_root: "{{ fixtures }}/{{ tree }}/sys"
        kernel_log: none
      register: memops_result
      ignore_unreachable: true
      ignore_errors: true
"""

REPORT = """
- name: Report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the fleet report
      memops.linux.fleet_report:
        dest: "{{ dest }}"
        hosts: "{{ report_hosts | default(groups['all']) }}"
        result_var: memops_result
        title: Test fleet
%(extra)s
      register: report
%(task_options)s
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ report | to_json }}"
        dest: "{{ result_file }}"
        mode: "0644"
      check_mode: false
"""


def run_playbook(tmp_path, dest, extra="", task_options="", check=False, gather=True, inventory=None):
    """Run the gather and report plays; inventory None is INVENTORY plus localhost, {} no inventory at all."""
    if inventory is None:
        inventory = json.loads(json.dumps(INVENTORY))
        inventory["all"]["hosts"]["localhost"] = {"tree": "host"}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    playbook = (GATHER if gather else "") + REPORT % {"extra": extra, "task_options": task_options}
    (tmp_path / "playbook.yml").write_text(playbook)
    result_file = tmp_path / "result.json"
    if result_file.exists():
        result_file.unlink()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "tmp"))
    extra_vars = {"dest": str(dest), "fixtures": FIXTURES, "result_file": str(result_file)}
    if not inventory:  # only the implicit localhost, as with no inventory at all
        extra_vars.update(tree="host", ansible_python_interpreter=sys.executable, gather_hosts="localhost",
                          report_hosts=["localhost"])
    # an inventory that does not exist: no inventory at all, as a person running it on their own machine
    inventory_path = tmp_path / ("inventory.json" if inventory else "absent.ini")
    command = [ansible_playbook(), "-i", str(inventory_path), str(tmp_path / "playbook.yml"),
               "-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    return proc, result


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fleet")
    dest = tmp_path / "report" / "nested"
    proc, result = run_playbook(tmp_path, dest)
    assert result is not None, proc.stdout + proc.stderr
    return tmp_path, dest, proc, result


def test_writes_three_files_atomically_with_modes(first_run):
    _tmp, dest, _proc, result = first_run
    assert result["changed"] is True
    assert result["files"] == {"json": str(dest / "report.json"), "markdown": str(dest / "report.md"),
                               "html": str(dest / "report.html")}
    assert sorted(result["written"]) == sorted(result["files"].values())
    # private by default: the report holds command lines, which may hold secrets
    assert mode_of(dest) == 0o700
    assert mode_of(dest.parent) == 0o700  # created too
    for path in result["files"].values():
        assert mode_of(path) == 0o600
    assert sorted(os.listdir(dest)) == ["report.html", "report.json", "report.md"]  # no temporary files left


def test_report_content_and_unknown_reasons(first_run):
    _tmp, dest, _proc, result = first_run
    fleet = json.loads((dest / "report.json").read_text())
    assert fleet["schema_version"] == 1
    assert fleet["title"] == "Test fleet"
    by_name = {h["name"]: h for h in fleet["hosts"]}
    assert set(by_name) == {"db1", "app1", BAD_HOST, "broken1", "gone1", "localhost"}
    assert by_name["db1"]["status"] == "critical"
    assert {f["id"] for f in by_name["db1"]["findings"]} >= {"memory.available_low", "swap.exhausted"}
    assert fleet["hosts"][0]["name"] == "db1"  # most severe first
    assert by_name["broken1"]["status"] == "unknown"
    assert by_name["broken1"]["reason"].startswith("failed: mem_facts:")
    assert by_name["gone1"]["status"] == "unknown"
    assert by_name["gone1"]["reason"].startswith("unreachable")
    assert [h["status"] for h in fleet["hosts"]][:3] == ["critical", "unknown", "unknown"]
    assert result["summary"] == fleet["summary"]
    assert result["summary"]["status_counts"] == {"ok": 0, "monitor": 3, "critical": 1, "unknown": 2}


def test_host_names_are_escaped_in_the_page(first_run):
    _tmp, dest, _proc, _result = first_run
    page = (dest / "report.html").read_text()
    assert "<script>alert(1)" not in page
    assert "web&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in (dest / "report.md").read_text()


def test_second_run_changes_nothing(first_run):
    tmp_path, dest, _proc, _result = first_run
    before = {name: os.stat(dest / name).st_mtime_ns for name in os.listdir(dest)}
    proc, result = run_playbook(tmp_path, dest)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is False, result
    assert result["written"] == []
    assert {name: os.stat(dest / name).st_mtime_ns for name in os.listdir(dest)} == before


def test_implicit_localhost_only(tmp_path):
    """No inventory: hostvars holds only the implicit localhost, and the report still finds its facts."""
    proc, result = run_playbook(tmp_path, tmp_path / "report", inventory={})
    assert result is not None, proc.stdout + proc.stderr
    fleet = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [(h["name"], h["status"]) for h in fleet["hosts"]] == [("localhost", "monitor")], fleet["hosts"][0]["reason"]


def test_check_mode_writes_nothing_and_predicts_change(tmp_path):
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, check=True)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is True
    assert result["written"] == []
    assert not dest.exists()


def test_check_mode_forced_off_writes_the_report(tmp_path):
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, check=True, task_options="      check_mode: false")
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is True
    assert (dest / "report.html").exists()


def test_formats_subset(tmp_path):
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, extra="        formats: [json]")
    assert result is not None, proc.stdout + proc.stderr
    assert result["files"] == {"json": str(dest / "report.json")}
    assert os.listdir(dest) == ["report.json"]


def test_errors_option_and_hosts_without_facts(tmp_path):
    """Without the gather play no host has facts; errors names one reason, the others get the default."""
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, gather=False, extra="        errors: {db1: 'rescued: disk full'}")
    assert result is not None, proc.stdout + proc.stderr
    fleet = json.loads((dest / "report.json").read_text())
    reasons = {h["name"]: h["reason"] for h in fleet["hosts"]}
    assert reasons["db1"] == "rescued: disk full"
    assert reasons["app1"] == _report.NO_FACTS_REASON
    assert result["summary"]["status_counts"]["unknown"] == 6


@pytest.mark.parametrize("case", ["file", "unwritable", "bad_format", "negative_top"])
def test_bad_input_fails_clearly(tmp_path, case):
    dest = tmp_path / "report"
    extra = ""
    if case == "negative_top":  # a slice [:-1] silently dropped each host's last consumer
        extra = "        top: -1"
        expected = "fleet_report: top must be a whole number, 0 or more"
    elif case == "file":
        dest.write_text("not a directory")
        expected = "exists and is not a directory"
    elif case == "unwritable":
        dest = "/proc/memops-report"  # procfs refuses new directories, even to root
        expected = "fleet_report: cannot"
    else:
        extra = "        formats: [pdf]"
        expected = "formats"
    proc, result = run_playbook(tmp_path, dest, gather=False, extra=extra)
    assert proc.returncode != 0
    assert result is None
    assert expected in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not os.path.isdir(str(dest))


@pytest.mark.parametrize("option, file_mode, dir_mode", REPORT_MODES)
def test_mode_option(tmp_path, option, file_mode, dir_mode):
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, gather=False, extra="        " + option)
    assert result is not None, proc.stdout + proc.stderr
    assert mode_of(dest) == dir_mode
    for path in result["files"].values():
        assert mode_of(path) == file_mode


def test_an_existing_directory_keeps_its_mode(tmp_path):
    dest = tmp_path / "report"
    dest.mkdir()
    os.chmod(dest, 0o755)
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    assert mode_of(dest) == 0o755
    for path in result["files"].values():
        assert mode_of(path) == 0o600


def test_a_mode_only_difference_is_a_change(tmp_path):
    """Files of the same content (bar generated_at) but another mode are rewritten with the mode asked for."""
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    for name in ("report.json", "report.md"):
        os.chmod(dest / name, 0o644)
    before = {name: (dest / name).read_bytes() for name in os.listdir(dest)}

    proc, result = run_playbook(tmp_path, dest, gather=False, check=True)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is True
    assert result["written"] == []
    assert "would write %s, %s" % (dest / "report.json", dest / "report.md") in result["msg"]
    assert {name: mode_of(dest / name) for name in before} == \
        {"report.json": 0o644, "report.md": 0o644, "report.html": 0o600}
    assert {name: (dest / name).read_bytes() for name in os.listdir(dest)} == before

    html_mtime = os.stat(dest / "report.html").st_mtime_ns
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is True
    assert result["written"] == [str(dest / "report.json"), str(dest / "report.md")]
    assert {name: mode_of(dest / name) for name in before} == \
        {"report.json": 0o600, "report.md": 0o600, "report.html": 0o600}
    assert os.stat(dest / "report.html").st_mtime_ns == html_mtime
    assert sorted(os.listdir(dest)) == ["report.html", "report.json", "report.md"]

    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is False
    assert result["written"] == []


@pytest.mark.parametrize("option, why", BAD_REPORT_MODES)
def test_a_bad_mode_fails_clearly_and_writes_nothing(tmp_path, option, why):
    dest = tmp_path / "report"
    proc, result = run_playbook(tmp_path, dest, gather=False, extra="        " + option)
    assert_mode_refused(proc, "fleet_report", why)
    assert result is None
    assert not dest.exists()


def test_links_planted_in_dest_are_replaced_never_written_through(tmp_path):
    """A controller running as root must not overwrite or chmod the file a link in the report directory names."""
    dest = tmp_path / "report"
    dest.mkdir()
    victim = plant_link(tmp_path, dest / "report.json")
    os.symlink(str(tmp_path / "created-elsewhere"), str(dest / "report.md"))
    os.mkfifo(str(dest / "report.html"), 0o600)  # would hang a reader that follows it
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    assert result["changed"] is True
    assert not (tmp_path / "created-elsewhere").exists()
    for name in ("report.json", "report.md", "report.html"):
        assert_replaced_not_followed(victim, dest / name)
    assert json.loads((dest / "report.json").read_text())["schema_version"]


def test_a_new_dest_is_owner_only_whatever_the_file_mode(tmp_path):
    dest = tmp_path / "a" / "report"
    proc, result = run_playbook(tmp_path, dest, gather=False, extra='        mode: "0644"')
    assert result is not None, proc.stdout + proc.stderr
    assert mode_of(dest) == 0o700
    assert mode_of(dest.parent) == 0o700


@pytest.mark.parametrize("case", ["other_owner", "world_writable", "link_to_world_writable"])
def test_a_dest_others_could_change_is_refused(tmp_path, case):
    """A directory another user planted (or may write to) would let that user read or swap the report."""
    shared = tmp_path / "shared"
    shared.mkdir()
    dest = shared
    if case == "other_owner":
        if os.geteuid() != 0:
            pytest.skip("giving a directory to another user needs root")
        os.chown(str(shared), 65534, 65534)
        expected = "belongs to user id 65534"
    else:
        os.chmod(str(shared), 0o777)
        expected = "may be written by every user (mode 0777, no sticky bit)"
        if case == "link_to_world_writable":
            dest = tmp_path / "report"
            os.symlink(str(shared), str(dest))
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert proc.returncode != 0
    assert result is None
    assert "fleet_report: dest %s " % dest in proc.stdout
    assert expected in proc.stdout
    assert not os.listdir(str(shared))


def test_a_world_writable_dest_with_the_sticky_bit_is_used(tmp_path):
    dest = tmp_path / "shared"
    dest.mkdir()
    os.chmod(str(dest), 0o1777)
    proc, result = run_playbook(tmp_path, dest, gather=False)
    assert result is not None, proc.stdout + proc.stderr
    assert mode_of(dest / "report.json") == 0o600
