# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/diagnose.yml with --limit (AWX's Limit field) on an inventory of local hosts.

A limit that leaves localhost out must still give the fleet report and the set_stats
artifact AWX hands to workflows. The hosts are this machine under several inventory
names (connection local); tests/fleet runs the same over podman containers.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import (
    COLLECTION, COLLECTIONS_ROOT, ansible_playbook, artifact_env,
)

PLAYBOOK = os.path.join(COLLECTION, "playbooks", "diagnose.yml")
REPORT_FILES = ["report.html", "report.json", "report.md"]
# OOM kills other tests made on this machine would make every host critical
NO_RECENT_OOM = {"oom_recent_seconds": 0}
# unreclaimable slab >= 0% of RAM: a critical finding on any host
FORCED_CRITICAL = dict(NO_RECENT_OOM, slab_unreclaimable_pct_monitor=0, slab_unreclaimable_pct_critical=0)
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
# refused at once: nothing listens on port 1
UNREACHABLE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
               "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes"}

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")


def write_inventory(tmp_path, web, db=("db1",), host_vars=None):
    """Groups web and db of local hosts; localhost is not in it (the implicit one serves the controller)."""
    host_vars = host_vars or {}
    inventory = {"all": {"vars": dict(LOCAL, diagnose_thresholds=NO_RECENT_OOM), "children": {
        group: {"hosts": {name: host_vars.get(name, {}) for name in names}} for group, names in
        (("web", web), ("db", db))}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    return path


def run_diagnose(tmp_path, inventory, *args, env=None):
    artifact = tmp_path / "artifact.json"
    run_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
                   ANSIBLE_HOST_KEY_CHECKING="False", **artifact_env(artifact))
    run_env.update(env or {})
    proc = subprocess.run([ansible_playbook(), "-i", str(inventory), PLAYBOOK, *args], cwd=tmp_path, env=run_env,
                          capture_output=True, text=True, timeout=300, check=False)
    print(proc.stdout[-20000:], proc.stderr[-5000:])
    proc.artifact = json.loads(artifact.read_text()) if artifact.exists() else None
    return proc


def failed_hosts(proc):
    """The hosts a task failed (an unreachable host whose error was ignored is not one)."""
    return {line.split("[", 1)[1].split("]", 1)[0] for line in proc.stdout.splitlines()
            if line.startswith("fatal: [") and "]: FAILED! =>" in line}


def assert_report_of(report_dir, proc, hosts):
    """The three report files and the per-host JSON name exactly ``hosts``; the artifact carries the summary."""
    assert sorted(os.listdir(report_dir)) == ["hosts"] + REPORT_FILES
    assert sorted(os.listdir(report_dir / "hosts")) == sorted(name + ".json" for name in hosts)
    report = json.loads((report_dir / "report.json").read_text())
    assert {host["name"] for host in report["hosts"]} == set(hosts)
    for name in ("report.md", "report.html"):
        text = (report_dir / name).read_text()
        assert all(host in text for host in hosts), name
    assert proc.artifact is not None, "no set_stats artifact"
    data = proc.artifact["artifact_data"]
    assert data["memops_fleet"] == report["summary"]
    assert data["memops_report_files"] == {"json": str(report_dir / "report.json"),
                                           "markdown": str(report_dir / "report.md"),
                                           "html": str(report_dir / "report.html")}
    return report


@pytest.mark.parametrize("limit, hosts", [
    ("web", ["web1", "web2"]),  # a group
    ("db1", ["db1"]),  # a single host
    ("web:db:!web1", ["web2", "db1"]),  # a pattern
])
def test_a_limit_without_localhost_writes_the_report_and_the_artifact(tmp_path, limit, hosts):
    inventory = write_inventory(tmp_path, web=("web1", "web2"))
    proc = run_diagnose(tmp_path, inventory, "--limit", limit)
    assert proc.returncode == 0
    report = assert_report_of(tmp_path / "memops-report", proc, hosts)
    assert all(host["status"] in ("ok", "monitor", "critical") for host in report["hosts"]), report["hosts"]
    assert "skipping: no hosts matched" not in proc.stdout


def test_free_strategy_and_check_mode_write_the_report_once(tmp_path):
    """run_once runs on every host under the free strategy: the report play keeps to linear."""
    inventory = write_inventory(tmp_path, web=("web1", "web2", "web3"))
    proc = run_diagnose(tmp_path, inventory, "--limit", "web", "--check", env={"ANSIBLE_STRATEGY": "free"})
    assert proc.returncode == 0
    assert_report_of(tmp_path / "memops-report", proc, ["web1", "web2", "web3"])
    report_task = proc.stdout.split("TASK [Write report.json, report.md and report.html]")[1].split("TASK [")[0]
    assert report_task.count("-> localhost]") == 1, report_task


def test_an_unreachable_first_host_fails_after_the_report(tmp_path):
    """The report tasks run once for a host that cannot be reached, on the controller; then the verdict
    fails it and the critical host."""
    inventory = write_inventory(tmp_path, web=("web0", "web1", "web2"),
                                host_vars={"web0": UNREACHABLE, "web2": {"diagnose_thresholds": FORCED_CRITICAL}})
    proc = run_diagnose(tmp_path, inventory, "--limit", "web", "-e", "diagnose_fail_on=critical")
    assert proc.returncode == 2
    assert failed_hosts(proc) == {"web0", "web2"}
    assert "ok: [web0 -> localhost]" in proc.stdout.split("TASK [Write report.json")[1]
    report_dir = tmp_path / "memops-report"
    assert sorted(os.listdir(report_dir / "hosts")) == ["web1.json", "web2.json"]  # web0 has no facts
    report = {host["name"]: host for host in json.loads((report_dir / "report.json").read_text())["hosts"]}
    assert set(report) == {"web0", "web1", "web2"}
    assert report["web0"]["status"] == "unknown" and report["web0"]["reason"].startswith("unreachable")
    assert report["web2"]["status"] == "critical"
    summary = proc.artifact["artifact_data"]["memops_fleet"]
    assert summary["hosts_by_status"]["unknown"] == ["web0"] and "web2" in summary["hosts_by_status"]["critical"]
    # the verdict comes after the report: the failures follow the report tasks in the output
    assert proc.stdout.index("fatal: [web2]") > proc.stdout.index("TASK [Show the fleet verdict]")
