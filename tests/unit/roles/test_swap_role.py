# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The swap role's single-file path: one module call, and where swapon is not
permitted the collection's preflight message all the same.

The refusal is real: the role runs in a user namespace of its own (unshare
--user --map-root-user), where the kernel does not let even its root switch
swap on, and nothing on the host is touched. The one-call path runs in check
mode as the host's root, which asks the module without changing anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook

UNSHARE = shutil.which("unshare")


def _user_namespaces():
    if UNSHARE is None or os.geteuid() != 0:
        return False
    return subprocess.run([UNSHARE, "--user", "--map-root-user", "true"], capture_output=True,
                          check=False).returncode == 0


needs_playbook = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")
needs_userns = pytest.mark.skipif(not _user_namespaces(), reason="needs root and unprivileged user namespaces (unshare)")


def _run(tmp_path, files, *args, prefix=()):
    swap_dir = tmp_path / "swap"
    swap_dir.mkdir(mode=0o755, exist_ok=True)
    os.chmod(tmp_path, 0o755)  # the module refuses a directory others may write to, or under one
    fstab = tmp_path / "fstab"
    fstab.write_text("# untouched\n")
    playbook = tmp_path / "swap.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Apply the swap role",
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [{"role": "memops.linux.swap", "vars": {
            "swap_files": [{"path": str(swap_dir / name), "size": "16M"} for name in files],
            "swap_min_free": 0, "swap_fstab": str(fstab)}}],
    }]))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(list(prefix) + [ansible_playbook(), "-i", str(inventory), str(playbook)] + list(args),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    # "memops.linux.swap : Make or resize the swap files" -> "Make or resize the swap files"
    return proc, {t["task"]["name"].split(" : ", 1)[-1]: t["hosts"]["localhost"] for t in tasks}, swap_dir, fstab


def _ran(result):
    return not result.get("skipped") and not all(r.get("skipped") for r in result.get("results", [{}]))


@needs_playbook
@needs_userns
@pytest.mark.parametrize("check", [False, True], ids=["apply", "check_mode"])
def test_refused_where_swapon_is_not_permitted(tmp_path, check):
    proc, results, swap_dir, fstab = _run(tmp_path, ["swapfile"], *(["--check"] if check else []),
                                          prefix=[UNSHARE, "--user", "--map-root-user"])
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    refusal = results["Check that this host allows what the role does"]
    assert refusal["failed"]
    assert refusal["msg"].startswith("memops.linux.swap: swapon is not permitted")
    assert "swap is host-wide, so apply this role to the host itself, or from a privileged container" in refusal["msg"]
    made = results["Make or resize the swap files"]["results"]
    assert [r.get("reason") for r in made] == ["not_permitted"]
    assert os.listdir(swap_dir) == []
    assert fstab.read_text() == "# untouched\n"


@needs_playbook
@pytest.mark.skipif(os.geteuid() != 0, reason="the module asks as root whether swapon is permitted")
def test_one_file_costs_one_module_call(tmp_path):
    proc, results, swap_dir, fstab = _run(tmp_path, ["swapfile"], "--check")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    modules = [result["action"] for result in results.values()
               if _ran(result) and result["action"].startswith("memops.linux.")]
    assert modules == ["memops.linux.swapfile"]
    assert results["Make or resize the swap files"]["results"][0]["actions"][0].startswith("create ")
    assert os.listdir(swap_dir) == []
    assert fstab.read_text() == "# untouched\n"


@needs_playbook
@pytest.mark.skipif(os.geteuid() != 0, reason="the module asks as root whether swapon is permitted")
def test_several_files_are_checked_before_any_is_made(tmp_path):
    proc, results, swap_dir, fstab = _run(tmp_path, ["one", "two"], "--check")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _ran(results["Find out what this host allows"])
    assert _ran(results["Check that this host allows what the role does"])
    assert os.listdir(swap_dir) == []
    assert fstab.read_text() == "# untouched\n"
