# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/remediate.yml: each role runs on the hosts that set its variables, and only there.

Runs real ansible-playbook in check mode against localhost: the roles' check
mode writes nothing, so this host is left as it is (checked below for the
sysctl file and the kernel value the vm_tuning role would set)."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, COLLECTIONS_ROOT, ansible_playbook

PLAYBOOK = os.path.join(COLLECTION, "playbooks", "remediate.yml")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")


def run(tmp_path, host_vars):
    inventory = tmp_path / "inventory.yml"
    lines = ["all:", "  hosts:", "    localhost:", "      ansible_connection: local",
             "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\""]
    lines += ["      %s: %s" % (key, value) for key, value in host_vars.items()]
    inventory.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1")
    return subprocess.run([ansible_playbook(), "-i", str(inventory), PLAYBOOK, "--check"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def included_roles(stdout):
    """Roles whose tasks ran, from the "TASK [memops.linux.ROLE : name]" headers; the
    preflight role the others import is theirs, not a role of its own here."""
    prefix = "TASK [memops.linux."
    return sorted({line[len(prefix):].split(" : ")[0] for line in stdout.splitlines() if line.startswith(prefix)}
                  - {"preflight"})


def test_no_variables_no_role(tmp_path):
    proc = run(tmp_path, {})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert included_roles(proc.stdout) == []
    assert proc.stdout.count("skipping: [localhost]") == 5


def test_only_the_role_whose_variables_are_set_runs(tmp_path):
    sysctl_file = tmp_path / "60-memops.conf"
    with open("/proc/sys/vm/swappiness") as handle:
        swappiness = int(handle.read())
    wanted = 10 if swappiness != 10 else 20
    proc = run(tmp_path, {"vm_tuning_swappiness": wanted, "vm_tuning_sysctl_file": str(sysctl_file)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert included_roles(proc.stdout) == ["vm_tuning"]
    assert "changed=" in proc.stdout and "changed=0" not in proc.stdout.split("PLAY RECAP")[1]
    # check mode: the role reported the change and made none
    assert not sysctl_file.exists()
    with open("/proc/sys/vm/swappiness") as handle:
        assert int(handle.read()) == swappiness


def test_any_monitoring_variable_brings_in_the_monitoring_role(tmp_path):
    proc = run(tmp_path, {"monitoring_notify_on": "monitor"})
    assert included_roles(proc.stdout) == ["monitoring"]
    with open("/proc/1/comm") as handle:
        systemd = handle.read().strip() == "systemd"
    if systemd:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:  # the role's preflight refuses, naming why
        assert proc.returncode != 0 and "systemd is not PID 1 on this host" in proc.stdout
