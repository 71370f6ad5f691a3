# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the sysctl module: arguments in, results and clear failures out,
on a temporary proc_root (the kernel's answers come from the module_utils tests' fake)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml

from ansible_collections.memops.linux.plugins.modules import sysctl as module
from ansible_collections.memops.linux.tests.unit.plugins.modules.documentation import documented_options
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_sysctl import (
    install_kernel, make_boot, make_proc,
)


@pytest.fixture
def proc(tmp_path):
    return make_proc(tmp_path)


@pytest.fixture
def kernel(monkeypatch):
    return install_kernel(monkeypatch)


@pytest.fixture
def files(tmp_path):
    """Our file's path in the etc sysctl.d, the load order, and the sysctl.conf read last."""
    boot = make_boot(tmp_path)
    return str(boot.dirs["etc"] / "60-memops.conf"), boot.entries, boot.conf


def test_four_runs(proc, kernel, files, run_module):
    ours, entries = files[:2]
    common = {"values": {"vm.swappiness": 10, "vm/vfs_cache_pressure": "50"}, "proc_root": str(proc),
              "sysctl_file": ours, "sysctl_dirs": entries}
    check = run_module(module, _ansible_check_mode=True, _ansible_diff=True, **common)
    assert check["changed"] and not os.path.exists(ours) and kernel.writes == []
    assert [d["before_header"] for d in check["diff"]] == ["runtime (/proc/sys)", ours]
    apply = run_module(module, **common)
    assert apply["changed"]
    assert apply["settings"] == {"vm.swappiness": {"before": 60, "after": 10, "persisted": True},
                                 "vm.vfs_cache_pressure": {"before": 100, "after": 50, "persisted": True}}
    assert apply["overridden_by"] == [] and "overcommit_guard" not in apply and "backup_file" not in apply
    assert not run_module(module, _ansible_check_mode=True, **common)["changed"]
    assert not run_module(module, **common)["changed"]


@pytest.mark.parametrize("values, says", [
    ({"vm.swappiness": True}, "boolean"),
    ({"vm.swappiness": "yes"}, "boolean"),
    ({"vm.swapiness": 10}, "no such setting"),
    ({"transparent_hugepage": "never"}, "memops.linux.thp"),
    ({"vm.overcommit_ratio": 50, "vm.overcommit_kbytes": 0}, "exclude each other"),
])
def test_clear_failures(proc, kernel, files, run_module, values, says):
    ours, entries = files[:2]
    result = run_module(module, values=values, proc_root=str(proc), sysctl_file=ours, sysctl_dirs=entries)
    assert result["failed"] and says in result["msg"] and result["msg"].startswith("sysctl: ")
    assert kernel.writes == [] and not os.path.exists(ours)


def test_rejected_value_fails_and_persists_nothing(proc, kernel, files, run_module):
    ours, entries = files[:2]
    result = run_module(module, values={"vm.vfs_cache_pressure": 50, "vm.swappiness": 500},
                        proc_root=str(proc), sysctl_file=ours, sysctl_dirs=entries)
    assert result["failed"] and "rejected 500" in result["msg"] and "restored to 100" in result["msg"]
    assert not os.path.exists(ours)


def test_override_is_a_warning(proc, kernel, files, run_module):
    ours, entries, conf = files
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write("vm.swappiness = 60\n")
    result = run_module(module, values={"vm.swappiness": 10}, proc_root=str(proc), sysctl_file=ours,
                        sysctl_dirs=entries)
    assert result["overridden_by"] == [{"key": "vm.swappiness", "file": str(conf), "value": 60}]
    # plain strings before ansible-core 2.19, structured summaries after
    assert str(conf) in json.dumps(result["warnings"])


def test_backup(proc, kernel, files, run_module):
    ours, entries = files[:2]
    with open(ours, "w", encoding="utf-8") as handle:
        handle.write("vm.swappiness = 30\n")
    result = run_module(module, values={"vm.swappiness": 10}, proc_root=str(proc), sysctl_file=ours,
                        sysctl_dirs=entries, backup=True)
    with open(result["backup_file"], encoding="utf-8") as handle:
        assert handle.read() == "vm.swappiness = 30\n"


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == "sysctl"
    spec = module.ARGUMENT_SPEC
    options = documented_options(module)
    assert set(options) == set(spec)
    for name, expected in spec.items():
        for key, value in expected.items():
            assert options[name].get(key) == value, (name, key)
    returned = yaml.safe_load(module.RETURN)
    assert set(returned) == {"changed", "settings", "sysctl_file", "overridden_by", "overcommit_guard", "backup_file"}
    yaml.safe_load(module.EXAMPLES)


def test_action_group_lists_the_module():
    runtime = os.path.join(os.path.dirname(module.__file__), "..", "..", "meta", "runtime.yml")
    with open(runtime, encoding="utf-8") as handle:
        assert "sysctl" in yaml.safe_load(handle)["action_groups"]["memops"]


@pytest.mark.parametrize("link", ["file", "directory"])
def test_a_link_out_of_proc_root_is_not_written_through(proc, files, tmp_path, run_module, link):
    """Real symlinks, real writes: the setting file, or sys/vm, leads out of proc_root."""
    outside = tmp_path / "outside"
    shutil.copytree(str(proc / "sys" / "vm"), str(outside))
    if link == "file":
        (proc / "sys" / "vm" / "swappiness").unlink()
        (proc / "sys" / "vm" / "swappiness").symlink_to(outside / "swappiness")
    else:
        shutil.rmtree(str(proc / "sys" / "vm"))
        (proc / "sys" / "vm").symlink_to(outside)
    before = (outside / "swappiness").read_text()
    result = run_module(module, values={"vm.swappiness": 7}, proc_root=str(proc), sysctl_file=files[0],
                        sysctl_dirs=files[1])
    assert result["failed"] and "vm.swappiness: " in result["msg"]
    assert "leads out of %s (to %s) through a symbolic link" % (proc, outside / "swappiness") in result["msg"]
    assert (outside / "swappiness").read_text() == before and not os.path.exists(files[0])


@pytest.mark.timeout(30)
def test_a_fifo_for_our_sysctl_file_is_a_clear_failure(proc, kernel, files, run_module):
    """A FIFO as our file used to hang the module in its read (found by tests/fuzz)."""
    ours, entries = files[:2]
    os.mkfifo(ours)
    result = run_module(module, values={"vm.swappiness": 10}, proc_root=str(proc), sysctl_file=ours,
                        sysctl_dirs=entries, _ansible_check_mode=True)
    assert result["failed"] and result["msg"] == "sysctl: cannot read %s: not a regular file (a FIFO, socket, " \
        "device or directory)" % ours
    assert kernel.writes == []


@pytest.mark.timeout(30)
def test_a_fifo_in_the_load_order_is_a_warning(proc, kernel, files, run_module):
    """A FIFO among the files read at boot used to hang the module (found by tests/fuzz): it is named in a
    warning and the rest is checked; a masked entry (a link to /dev/null) is no file at all."""
    ours, entries = files[:2]
    fifo = os.path.join(os.path.dirname(ours), "10-vendor.conf")
    os.mkfifo(fifo)
    os.symlink(os.devnull, os.path.join(os.path.dirname(ours), "20-masked.conf"))
    result = run_module(module, values={"vm.swappiness": 10}, proc_root=str(proc), sysctl_file=ours,
                        sysctl_dirs=entries, _ansible_check_mode=True)
    assert not result.get("failed") and result["changed"] and kernel.writes == []
    warnings = [str(w) for w in result["warnings"]]  # ansible-core 2.19+ gives them as dicts
    assert [w for w in warnings if "cannot read %s: not a regular file" % fifo in w]
    assert not [w for w in warnings if "20-masked.conf" in w]
