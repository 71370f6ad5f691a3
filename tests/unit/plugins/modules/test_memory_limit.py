# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the memory_limit module with a fake systemctl: directives per
hierarchy (G3), the usage guard (G2), daemon-reload only when the drop-in changed."""

from __future__ import annotations

import os

import pytest

from ansible.module_utils import basic

from ansible_collections.memops.linux.plugins.modules import memory_limit as module

MIB = 1 << 20


class Systemctl:
    def __init__(self, version=252, memory_current=40 * MIB, load_state="loaded"):
        self.version = version
        self.memory_current = memory_current
        self.load_state = load_state
        self.calls = []

    def __call__(self, argv):
        self.calls.append(tuple(argv[1:]))
        if argv[1] == "--version":
            return 0, "systemd %d (%d.1)\n" % (self.version, self.version), ""
        if argv[1] == "show":
            return 0, ("LoadState=%s\nMainPID=77\nControlGroup=/system.slice/app.service\nMemoryCurrent=%d\n"
                       % (self.load_state, self.memory_current)), ""
        return 0, "", ""

    def reloads(self):
        return self.calls.count(("daemon-reload",))


@pytest.fixture
def hybrid(tmp_path):
    root = tmp_path / "sys"
    (root / "fs" / "cgroup" / "unified").mkdir(parents=True)
    (root / "fs" / "cgroup" / "memory").mkdir()
    return root


def install(monkeypatch, fake):
    """Install the fake systemctl; module warnings are collected in ``fake.warnings``
    (how ansible-core reports them differs between versions and test orders)."""
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kwargs: fake(argv))
    fake.warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: fake.warnings.append(warning))
    return fake


def proc_with_pid1(tmp_path, comm):
    """A proc_root whose PID 1 is ``comm``."""
    (tmp_path / comm / "1").mkdir(parents=True, exist_ok=True)
    (tmp_path / comm / "1" / "comm").write_text(comm + "\n")
    return str(tmp_path / comm)


def args(tmp_path, sys_root, **extra):
    result = {"service": "app", "unit_dir": str(tmp_path / "units"), "sys_root": str(sys_root),
              "proc_root": proc_with_pid1(tmp_path, "systemd")}
    result.update(extra)
    return result


def test_without_systemd_as_pid1_nothing_is_asked_or_written(tmp_path, hybrid, monkeypatch, run_module):
    fake = install(monkeypatch, Systemctl())
    result = run_module(module, **args(tmp_path, hybrid, max="64M", proc_root=proc_with_pid1(tmp_path, "tini")))
    assert result["failed"]
    assert result["msg"] == ("memory_limit: app.service needs systemd as PID 1, and PID 1 here is not systemd; cap "
                             "processes that are not systemd services with memops.linux.memory_cgroup instead")
    assert fake.calls == [] and not os.path.exists(str(tmp_path / "units"))


def test_four_runs_on_hybrid(tmp_path, hybrid, monkeypatch, run_module):
    fake = install(monkeypatch, Systemctl())
    common = args(tmp_path, hybrid, max="64M", high="48M", swap_max=0, restart_on_oom=True)
    dropin = str(tmp_path / "units" / "app.service.d" / "50-memops-memory.conf")
    check = run_module(module, _ansible_check_mode=True, _ansible_diff=True, **common)
    assert check["changed"] and not os.path.exists(dropin) and fake.reloads() == 0
    assert check["directives"] == {"MemoryMax": 64 * MIB, "Restart": "on-failure"}
    assert [s["directive"] for s in check["left_out"]] == ["MemoryHigh", "MemorySwapMax"]
    # Ansible reserves "skipped": a list there would turn the task into a skipped one
    assert "skipped" not in check
    assert any("MemorySwapMax left out" in w for w in fake.warnings)
    assert check["cgroup"] == {"hierarchy": "hybrid", "memory_controller": "v1"}
    assert check["diff"]["after"].endswith("[Service]\nMemoryMax=67108864\nRestart=on-failure\n")
    apply = run_module(module, **common)
    assert apply["changed"] and apply["daemon_reload"] and fake.reloads() == 1
    assert not run_module(module, _ansible_check_mode=True, **common)["changed"]
    again = run_module(module, **common)
    assert not again["changed"] and not again["daemon_reload"] and fake.reloads() == 1
    removed = run_module(module, state="absent", **args(tmp_path, hybrid))
    assert removed["changed"] and not os.path.exists(dropin) and fake.reloads() == 2


def test_old_systemd_gets_memory_limit(tmp_path, hybrid, monkeypatch, run_module):
    install(monkeypatch, Systemctl(version=219))
    result = run_module(module, **args(tmp_path, hybrid, max="1G"))
    assert result["directives"] == {"MemoryLimit": 1 << 30}


def test_unified_gets_every_directive(tmp_path, monkeypatch, run_module):
    root = tmp_path / "sys"
    (root / "fs" / "cgroup").mkdir(parents=True)
    (root / "fs" / "cgroup" / "cgroup.controllers").write_text("cpu io memory pids\n")
    install(monkeypatch, Systemctl())
    result = run_module(module, **args(tmp_path, root, max="1G", high="900M", swap_max="infinity"))
    assert result["directives"] == {"MemoryMax": 1 << 30, "MemoryHigh": 900 * MIB, "MemorySwapMax": "infinity"}
    assert result["left_out"] == []


@pytest.mark.parametrize("extra, says", [
    ({"max": "16M"}, "below the current use of the service, 40 MiB"),
    ({"max": "4GB"}, "ambiguous"),
    ({}, "give max, high, swap_max or restart_on_oom"),
    ({"max": "1G", "service": "a b"}, "not a systemd unit name"),
])
def test_refusals_write_nothing(tmp_path, hybrid, monkeypatch, run_module, extra, says):
    fake = install(monkeypatch, Systemctl())
    result = run_module(module, **args(tmp_path, hybrid, **extra))
    assert result["failed"] and says in result["msg"]
    assert not os.path.exists(str(tmp_path / "units")) and fake.reloads() == 0


def test_force_applies_below_usage_with_a_warning(tmp_path, hybrid, monkeypatch, run_module):
    fake = install(monkeypatch, Systemctl())
    result = run_module(module, **args(tmp_path, hybrid, max="16M", force=True))
    assert result["changed"] and any("applied because force is set" in w for w in fake.warnings)


def test_unknown_unit(tmp_path, hybrid, monkeypatch, run_module):
    install(monkeypatch, Systemctl(load_state="not-found"))
    result = run_module(module, **args(tmp_path, hybrid, max="1G"))
    assert result["failed"] and "systemd knows no unit app.service" in result["msg"]
