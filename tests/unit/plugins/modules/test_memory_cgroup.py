# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the memory_cgroup module on fake trees: refusals write nothing, check
mode predicts without creating; the real kernel is exercised by the integration target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _memlimits
from ansible_collections.memops.linux.plugins.modules import memory_cgroup as module
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_oom import add_process, stat_line


@pytest.fixture
def trees(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    add_process(proc, 300, "report-runner", ["report-runner"])
    (proc / "300" / "statm").write_text("10000 10240 0 0 0 0 0\n")  # 40 MiB resident
    sys_root = tmp_path / "sys"
    (sys_root / "fs" / "cgroup" / "unified").mkdir(parents=True)
    (sys_root / "fs" / "cgroup" / "memory").mkdir()
    return {"proc_root": str(proc), "sys_root": str(sys_root)}


@pytest.mark.parametrize("extra, says", [
    ({"name": "Jobs", "max": "1G"}, "lower-case"),
    ({"name": "jobs", "max": "4GB"}, "ambiguous"),
    ({"name": "jobs", "max": "16M", "process_name": "report-runner"}, "below the current use of the group's processes"),
    ({"name": "jobs"}, "state is present but all of the following are missing: max"),
])
def test_refusals_create_nothing(trees, run_module, extra, says):
    result = run_module(module, **dict(trees, **extra))
    assert result["failed"] and says in result["msg"]
    assert os.listdir(os.path.join(trees["sys_root"], "fs", "cgroup", "memory")) == []


@pytest.mark.parametrize("extra", [{"pids": [1]}, {"process_name": "systemd"}, {"pids": [300, 1]}])
def test_pid1_is_refused_without_the_opt_in(trees, run_module, extra):
    add_process(Path(trees["proc_root"]), 1, "systemd", ["/sbin/init"])
    result = run_module(module, name="jobs", max="1G", **dict(trees, **extra))
    assert result["failed"] and "PID 1 (the init process)" in result["msg"] and "allow_pid1: true" in result["msg"]
    assert os.listdir(os.path.join(trees["sys_root"], "fs", "cgroup", "memory")) == []
    allowed = run_module(module, name="jobs", max="1G", allow_pid1=True, _ansible_check_mode=True,
                         **dict(trees, **extra))
    assert allowed["changed"] and 1 in allowed["moved"]


@pytest.mark.parametrize("pids", [[0], [-5], [300, -1]])
def test_pids_below_one_are_refused(trees, run_module, pids):
    result = run_module(module, name="jobs", max="1G", pids=pids, **trees)
    assert result["failed"] and "a process id is a positive number" in result["msg"]
    assert os.listdir(os.path.join(trees["sys_root"], "fs", "cgroup", "memory")) == []


def test_a_reused_pid_is_not_moved(trees, run_module, monkeypatch):
    group = Path(trees["sys_root"]) / "fs" / "cgroup" / "memory" / "memops-jobs"
    group.mkdir()
    for name, text in (("memory.limit_in_bytes", "9223372036854771712\n"), ("memory.usage_in_bytes", "0\n"),
                       ("cgroup.procs", "")):
        (group / name).write_text(text)
    add_process(Path(trees["proc_root"]), 301, "report-runner", ["report-runner"])
    resident_bytes = _memlimits.resident_bytes

    def and_then_pid_300_is_reused(reader, pids):  # between choosing the processes and moving them
        (Path(trees["proc_root"]) / "300" / "stat").write_text(stat_line(300, "bash", starttime=99999))
        return resident_bytes(reader, pids)

    monkeypatch.setattr(_memlimits, "resident_bytes", and_then_pid_300_is_reused)
    result = run_module(module, name="jobs", max="1G", process_name="report-runner", **trees)
    assert result["vanished"] == [300] and result["moved"] == [301]
    assert (group / "cgroup.procs").read_text() == "301"


def test_no_memory_controller(tmp_path, run_module):
    (tmp_path / "fs" / "cgroup").mkdir(parents=True)
    result = run_module(module, name="jobs", max="1G", sys_root=str(tmp_path))
    assert result["failed"] and "no memory cgroup controller" in result["msg"]


def test_check_mode_predicts_and_creates_nothing(trees, run_module):
    result = run_module(module, _ansible_check_mode=True, _ansible_diff=True, name="jobs", max="64M",
                        process_name="report-runner", pids=[999], **trees)
    assert result["changed"] and result["moved"] == [300] and result["vanished"] == [999]
    assert result["memory_controller"] == "v1" and result["limit_bytes"] == 64 << 20
    assert result["diff"]["after"] == {"limit_bytes": 64 << 20, "members": [300]}
    assert not os.path.exists(result["cgroup_path"])


def test_absent_when_missing_is_unchanged(trees, run_module):
    result = run_module(module, name="jobs", state="absent", **trees)
    assert not result["changed"]
