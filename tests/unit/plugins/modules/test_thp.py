# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the thp module: arguments in, results and clear refusals out, on a
temporary sys_root (writes behave as in the module_utils tests' fake kernel)."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _host
from ansible_collections.memops.linux.plugins.module_utils import _thp
from ansible_collections.memops.linux.plugins.modules import thp as module
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_thp import (
    install_kernel, make_sys, selected,
)


@pytest.fixture
def kernel(monkeypatch):
    return install_kernel(monkeypatch)


def test_four_runs(tmp_path, kernel, run_module):
    sys_root, directory = make_sys(tmp_path)
    common = {"enabled": "never", "defrag": "defer", "sys_root": str(sys_root)}
    check = run_module(module, _ansible_check_mode=True, _ansible_diff=True, **common)
    assert check["changed"] and kernel.calls == []
    assert [d["before_header"] for d in check["diff"]] == ["runtime (sysfs)", _thp.unit_path()]
    assert check["diff"][0]["after"] == "enabled = never\ndefrag = defer\n"
    apply = run_module(module, **common)
    assert apply["changed"] and apply["settings"] == check["settings"]
    assert selected(directory, "enabled") == "never" and selected(directory, "defrag") == "defer"
    assert apply["persistence"]["method"] in ("none", "systemd_unit")
    assert not run_module(module, _ansible_check_mode=True, **common)["changed"]
    assert not run_module(module, **common)["changed"]


@pytest.mark.parametrize("kernel_name, args, says", [
    ("3.10", {"defrag": "defer+madvise"}, "'defer+madvise' is not offered by this kernel; it offers always, madvise, never"),
    ("6.x", {"enabled": "no"}, "'no' is not offered by this kernel; it offers always, madvise, never"),
    ("6.x", {"enabled": "never", "persist": True}, "persist needs systemd"),
])
def test_refusals_change_nothing(tmp_path, kernel, run_module, monkeypatch, kernel_name, args, says):
    monkeypatch.setattr(_host, "systemd_is_pid1", lambda reader: False)
    sys_root, directory = make_sys(tmp_path, kernel_name)
    before = selected(directory, "enabled")
    result = run_module(module, sys_root=str(sys_root), **args)
    assert result["failed"] and result["msg"].startswith("thp: ") and says in result["msg"]
    assert kernel.calls == [] and selected(directory, "enabled") == before


def test_a_kernel_without_thp(tmp_path, run_module):
    (tmp_path / "sys/kernel/mm").mkdir(parents=True)
    result = run_module(module, enabled="never", sys_root=str(tmp_path / "sys"))
    assert result["failed"] and "kernel has no transparent huge pages" in result["msg"]


@pytest.mark.parametrize("link", ["file", "directory"])
def test_a_link_out_of_sys_root_is_not_written_through(tmp_path, run_module, link):
    """Real symlinks, real writes: the setting file, or the THP directory, leads out of sys_root."""
    sys_root, directory = make_sys(tmp_path)
    outside = tmp_path / "outside"
    shutil.copytree(str(directory), str(outside))
    before = (outside / "enabled").read_text()
    if link == "file":
        (directory / "enabled").unlink()
        (directory / "enabled").symlink_to(outside / "enabled")
    else:
        shutil.rmtree(str(directory))
        directory.symlink_to(outside)
    result = run_module(module, enabled="never", sys_root=str(sys_root))
    assert result["failed"] and result["msg"].startswith("thp: ")
    assert "leads out of %s (to %s) through a symbolic link" % (sys_root, outside / "enabled") in result["msg"]
    assert (outside / "enabled").read_text() == before


@pytest.mark.parametrize("entry", ["loop", "fifo"])
def test_an_unreadable_proc_cmdline_is_a_clear_failure(tmp_path, kernel, run_module, entry):
    """/proc/cmdline (read for boot-time THP settings) as a link to itself or a FIFO: a message, not a
    traceback (found by tests/fuzz)."""
    sys_root, directory = make_sys(tmp_path)
    proc = tmp_path / "proc"
    proc.mkdir()
    if entry == "loop":
        (proc / "cmdline").symlink_to(proc / "cmdline")
    else:
        os.mkfifo(str(proc / "cmdline"))
    before = selected(directory, "enabled")
    result = run_module(module, enabled="never", sys_root=str(sys_root), proc_root=str(proc), _ansible_check_mode=True)
    assert result["failed"] and result["msg"].startswith("thp: %s: " % (proc / "cmdline"))
    assert kernel.calls == [] and selected(directory, "enabled") == before
