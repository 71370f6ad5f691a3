# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_report's merge of job slices, run for real: one ansible-playbook per slice, as AWX job slicing runs
them (each slice an inventory of its own hosts), writing into one shared directory.

The hosts are local connections whose mem_facts read captured /proc trees; one slice has a host whose
mem_facts fails. The lock is also checked on its own, with processes that hold it while they merge.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _report_merge
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook, mode_of

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "module_utils", "fixtures")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

# one inventory of seven hosts, sliced in three as AWX slices it (every third host)
INVENTORY = {"web1": "host", "web2": "low_memory", "db1": "database_host", "db2": "cache_heavy",
             "app1": "container", "app2": "tmpfs_full", "broken1": "does-not-exist"}
SLICES = [sorted(INVENTORY)[index::3] for index in range(3)]

PLAYBOOK = """
- name: Gather
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather memory facts from a captured tree
      memops.linux.mem_facts:
        proc_root: "{{ fixtures }}/{{ tree }}/proc"
        sys_root: "{{ fixtures }}/{{ tree }}/sys"
        kernel_log: none
      register: memops_result
      ignore_errors: true

- name: Report
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the fleet report into the shared directory
      memops.linux.fleet_report:
        dest: "{{ dest }}"
        hosts: "{{ ansible_play_hosts_all }}"
        result_var: memops_result
        merge: "{{ merge | default(true) }}"
        host_files: "{{ host_files | default(false) }}"
        run_id: "{{ run_id | default(omit) }}"
      delegate_to: localhost
      run_once: true
      register: report

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ report | to_json }}"
        dest: "{{ result_file }}"
        mode: "0644"
      delegate_to: localhost
      run_once: true
"""


def start_slice(workdir, hosts, dest, **extra):
    """Start ansible-playbook over an inventory of ``hosts`` only; (process, result file)."""
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                         "hosts": {name: {"tree": INVENTORY[name]} for name in hosts}}}
    (workdir / "inventory.json").write_text(json.dumps(inventory))
    (workdir / "playbook.yml").write_text(PLAYBOOK)
    result_file = workdir / "result.json"
    extra_vars = dict(extra, dest=str(dest), fixtures=FIXTURES, result_file=str(result_file))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"), ANSIBLE_REMOTE_TEMP=str(workdir / "tmp"))
    proc = subprocess.Popen([ansible_playbook(), "-i", str(workdir / "inventory.json"), str(workdir / "playbook.yml"),
                             "-e", json.dumps(extra_vars)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return proc, result_file


def finish(started):
    proc, result_file = started
    output = proc.communicate(timeout=300)[0]
    proc.output = output
    return proc, json.loads(result_file.read_text()) if result_file.exists() else None


def run_slice(workdir, hosts, dest, **extra):
    return finish(start_slice(workdir, hosts, dest, **extra))


def report_hosts(dest):
    return {host["name"]: host for host in json.loads((dest / "report.json").read_text())["hosts"]}


def host_file(dest, name):
    return json.loads((dest / "hosts" / (name + ".json")).read_text())


def test_three_slices_of_one_run_make_one_report(tmp_path):
    dest = tmp_path / "share" / "memops"
    results = []
    for index, hosts in enumerate(SLICES):
        proc, result = run_slice(tmp_path / ("slice%d" % index), hosts, dest, run_id="4711")
        assert proc.returncode == 0, proc.output
        results.append(result)
        # each slice's report covers the slices so far
        assert set(report_hosts(dest)) == {name for done in SLICES[:index + 1] for name in done}
    hosts = report_hosts(dest)
    assert set(hosts) == set(INVENTORY)
    assert hosts["broken1"]["status"] == "unknown" and hosts["broken1"]["reason"].startswith("failed: ")
    assert all(hosts[name]["status"] != "unknown" for name in INVENTORY if name != "broken1")
    for name in INVENTORY:  # every host's JSON in the shared directory, with the run it belongs to
        document = host_file(dest, name)
        assert document["host"] == name and document["run_id"] == "4711"
        assert (document["memops"] is None) == (name == "broken1")
        assert mode_of(dest / "hosts" / (name + ".json")) == 0o600
    assert sorted(os.listdir(dest)) == [".memops-report.lock", "hosts", "report.html", "report.json", "report.md"]
    assert results[-1]["merged"] == {"run_id": "4711", "other_hosts": len(SLICES[0]) + len(SLICES[1]),
                                     "other_runs": 0, "unreadable": []}
    assert results[-1]["summary"]["hosts"] == len(INVENTORY)
    markdown = (dest / "report.md").read_text()
    assert all(name in markdown for name in INVENTORY)

    # a later run of one slice: its hosts win, the two others' files belong to the earlier run and are left out
    proc, result = run_slice(tmp_path / "again", SLICES[1], dest, run_id="4712")
    assert proc.returncode == 0, proc.output
    assert set(report_hosts(dest)) == set(SLICES[1])
    assert result["merged"]["other_runs"] == len(SLICES[0]) + len(SLICES[2])
    assert result["merged"]["other_hosts"] == 0
    assert {host_file(dest, name)["run_id"] for name in SLICES[1]} == {"4712"}


def test_concurrent_slices_lose_no_host(tmp_path):
    """The three slices at once: whichever finishes last writes the report over every host."""
    dest = tmp_path / "share"
    started = [start_slice(tmp_path / ("slice%d" % index), hosts, dest, run_id="run-9")
               for index, hosts in enumerate(SLICES)]
    finished = [finish(one) for one in started]
    assert all(proc.returncode == 0 for proc, _result in finished), [proc.output for proc, _r in finished]
    assert set(report_hosts(dest)) == set(INVENTORY)
    assert sorted(result["summary"]["hosts"] for _proc, result in finished)[-1] == len(INVENTORY)


def test_hosts_of_an_earlier_run_are_never_mixed_in(tmp_path):
    dest = tmp_path / "share"
    (dest / "hosts").mkdir(parents=True, mode=0o700)
    dest.chmod(0o700)
    # a host retired since, and a host of this slice, both from the run before; a file of no run (a copy
    # written without merge); and a file that is not a host's JSON at all
    own = SLICES[0][0]
    facts = host_file_of(tmp_path, own)
    for name, run in (("retired1", "41"), (own, "41"), ("norun1", None)):
        document = _report_merge.host_document(name, facts, run)
        (dest / "hosts" / (name + ".json")).write_text(json.dumps(document))
    (dest / "hosts" / "garbage.json").write_text("{not json")
    proc, result = run_slice(tmp_path / "slice", SLICES[0], dest, run_id="42")
    assert proc.returncode == 0, proc.output
    assert set(report_hosts(dest)) == set(SLICES[0])
    assert host_file(dest, own)["run_id"] == "42"  # this slice's host won over its older file
    assert host_file(dest, "retired1")["run_id"] == "41"  # left as it was, out of the report
    assert result["merged"]["other_runs"] == 2
    assert result["merged"]["unreadable"] == ["garbage.json: not JSON (Expecting property name enclosed in "
                                              "double quotes: line 1 column 2 (char 1))"]
    # ansible-core 2.16 wraps a warning at the terminal's width
    assert "left out of the report: garbage.json: not JSON" in " ".join(proc.output.split())


def host_file_of(tmp_path, name):
    """Facts of one host, as a slice run without merge writes them (host_files)."""
    dest = tmp_path / "plain"
    proc, result = run_slice(tmp_path / "plain-run", [name], dest, merge=False, host_files=True)
    assert proc.returncode == 0, proc.output
    assert "merged" not in result
    document = host_file(dest, name)
    assert "run_id" not in document
    return document["memops"]


@pytest.mark.parametrize("extra, message", [
    ({"merge": True}, "fleet_report: merge needs run_id, the id every slice of one run shares (in AWX, "
                      "awx_workflow_job_id), so that the hosts of earlier runs are left out; give run_id, or merge: false"),
    ({"merge": True, "run_id": ""}, "fleet_report: merge needs run_id"),
])
def test_merge_without_a_run_id_is_refused_and_writes_nothing(tmp_path, extra, message):
    dest = tmp_path / "share"
    proc, result = run_slice(tmp_path / "slice", SLICES[0], dest, **extra)
    assert proc.returncode != 0 and result is None
    assert message in proc.output.replace('\\"', '"')
    assert "Traceback" not in proc.output
    assert not dest.exists()


def _merge_holding_the_lock(directory, name, log):
    """One writer: under the lock, read the hosts so far, wait, add its own and write the list."""
    with _report_merge.locked(directory, 0o600):
        entered = time.monotonic()
        path = os.path.join(directory, "hosts.txt")
        hosts = open(path, encoding="utf-8").read().split() if os.path.exists(path) else []
        time.sleep(0.3)  # a writer without the lock would now lose the others' hosts
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(hosts + [name]))
        log.put((entered, time.monotonic()))


def test_the_lock_lets_one_writer_in_at_a_time(tmp_path):
    fork = multiprocessing.get_context("fork")
    log = fork.Queue()
    writers = [fork.Process(target=_merge_holding_the_lock, args=(str(tmp_path), "host%d" % index, log))
               for index in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0, 0, 0]
    assert sorted((tmp_path / "hosts.txt").read_text().split()) == ["host0", "host1", "host2", "host3"]
    spans = sorted(log.get(timeout=5) for _writer in writers)
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans


def test_a_lock_held_too_long_fails_with_a_message(tmp_path):
    with _report_merge.locked(str(tmp_path), 0o600):
        child = multiprocessing.get_context("fork").Process(target=_wait_for_lock, args=(str(tmp_path),))
        child.start()
        child.join(30)
    assert child.exitcode == 3


def _wait_for_lock(directory):
    try:
        with _report_merge.locked(directory, 0o600, timeout=0.5):
            os._exit(1)
    except _report_merge.MergeError as exc:
        os._exit(3 if "has held the lock file %s/.memops-report.lock for over 0 s" % directory in str(exc) else 2)
