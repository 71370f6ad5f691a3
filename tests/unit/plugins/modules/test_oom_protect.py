# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the oom_protect module: refusals (O5), and the service path with a
fake systemctl - drop-in, daemon-reload only on change, pending_restart (O3),
verification after a restart (O2)."""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from ansible.module_utils import basic

from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _oom
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _host
from ansible_collections.memops.linux.plugins.modules import oom_protect as module
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_oom import add_process


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    add_process(root, 1, "systemd", ["/sbin/init"])
    add_process(root, 812, "postgres", ["postgres", "-D", "/srv"], starttime=100)
    add_process(root, 813, "postgres", ["postgres: walwriter"], starttime=100)
    (root / "uptime").write_text("5000.00 9000.00\n")
    cgroup = tmp_path / "sys" / "fs" / "cgroup" / "unified" / "system.slice" / "pg.service"
    cgroup.mkdir(parents=True)
    (cgroup / "cgroup.procs").write_text("812\n813\n")
    return root


class Systemd:
    """systemctl for one unit ``pg.service``; a restart starts a new MainPID whose
    oom_score_adj is what systemd could apply (``applies``)."""

    def __init__(self, proc, applies=True):
        self.proc = proc
        self.applies = applies
        self.calls = []
        self.main_pid = 812

    def __call__(self, argv):
        args = tuple(argv[1:])
        self.calls.append(args)
        if args[0] == "show":
            return 0, ("LoadState=loaded\nActiveState=active\nMainPID=%d\nControlGroup=/system.slice/pg.service\n"
                       "MemoryCurrent=1000\nNRestarts=0\n" % self.main_pid), ""
        if args[0] == "restart":
            self.main_pid += 100
            dropin = self.proc.parent / "units" / "pg.service.d" / "50-memops-oom.conf"
            value = dropin.read_text().split("OOMScoreAdjust=")[1].strip() if self.applies else "0"
            add_process(self.proc, self.main_pid, "postgres", ["postgres"], score=int(value), starttime=500050)  # just now: after the drop-in
            cgroup = self.proc.parent / "sys/fs/cgroup/unified/system.slice/pg.service/cgroup.procs"
            cgroup.write_text("%d\n" % self.main_pid)
        return 0, "", ""

    def count(self, verb):
        return sum(1 for call in self.calls if call[0] == verb)


@pytest.fixture
def systemd(proc, monkeypatch):
    fake = Systemd(proc)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kwargs: fake(argv))
    monkeypatch.setattr(_host, "systemd_is_pid1", lambda reader: True)
    return fake


def service_args(proc, **extra):
    args = {"service": "pg", "score_adj": -500, "persist": True, "proc_root": str(proc),
            "sys_root": str(proc.parent / "sys"), "unit_dir": str(proc.parent / "units")}
    args.update(extra)
    return args


@pytest.mark.parametrize("args, says", [
    ({"pid": 812, "score_adj": 1001}, "out of range"),
    ({"pid": 812, "score_adj": -1001}, "out of range"),
    ({"pid": 812, "score_adj": -1000}, "allow_never_kill"),
    ({"pid": 1, "score_adj": 100}, "PID 1"),
    ({"name": "systemd", "score_adj": 100}, "PID 1"),
    ({"pid": 812, "score_adj": 10, "persist": True}, "persist applies to a systemd service"),
    ({"pid": 812, "score_adj": 10, "restart": True}, "restart applies to a systemd service"),
    ({"service": "pg", "score_adj": 10, "restart": True}, "restart applies with persist"),
    ({"pid": 812, "name": "postgres", "score_adj": 10}, "mutually exclusive"),
    ({"score_adj": 10}, "one of the following is required"),
    # a selector given as null passes required_one_of; it used to reach re.compile(None) (found by tests/fuzz)
    ({"cmdline_regex": None, "score_adj": 10}, "choose the processes with one of pid, name, cmdline_regex, service"),
    ({"name": None, "score_adj": 10}, "each was null"),
    ({"service": "", "score_adj": 10}, "each was null or empty"),
    ({"pid": 0, "score_adj": 10}, "pid 0 is not a process id"),
    ({"pid": -5, "score_adj": 10}, "pid -5 is not a process id"),
])
def test_refusals_write_nothing(proc, run_module, args, says):
    args.setdefault("proc_root", str(proc))
    result = run_module(module, **args)
    assert result["failed"] and says in result["msg"]
    assert "Traceback" not in result["msg"]
    assert [(proc / p / "oom_score_adj").read_text() for p in ("1", "812")] == ["0\n", "0\n"]


@pytest.fixture
def long_command_line():
    """A real process whose command line is 80 a's and a '!' (its argv[0]), then '600'."""
    child = subprocess.Popen(["a" * 80 + "!", "600"], executable="/bin/sleep")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the kernel shows the new command line
        with open("/proc/%d/cmdline" % child.pid, "rb") as handle:
            if handle.read() == b"a" * 80 + b"!\x00600\x00":
                break
        time.sleep(0.01)
    yield child
    child.kill()
    child.wait()


@pytest.mark.parametrize("pattern, says", [
    (r"^(a+)+$", "repeats a group that itself repeats"),
    (r"^(a|aa)+$", "was stopped; it backtracks too much"),
])
def test_catastrophic_cmdline_regex_is_a_clear_error_within_seconds(long_command_line, run_module, pattern, says):
    started = time.monotonic()
    result = run_module(module, cmdline_regex=pattern, score_adj=500)
    assert time.monotonic() - started < 5
    assert result["failed"] and result["msg"].startswith("oom_protect: cmdline_regex %r " % pattern)
    assert says in result["msg"] and result["processes"] == []
    with open("/proc/%d/oom_score_adj" % long_command_line.pid) as handle:
        assert handle.read() == "0\n"


def test_cmdline_regex_still_finds_a_real_process(long_command_line, run_module):
    result = run_module(module, cmdline_regex=r"^a{80}! 600$", score_adj=0, _ansible_check_mode=True)
    assert [row["pid"] for row in result["processes"]] == [long_command_line.pid]


def _deny(monkeypatch, pids):
    write_value = _kernel.write_value

    def refuse(path, value, dir_fd=None):
        if int(os.readlink("/proc/self/fd/%d" % dir_fd).rsplit("/", 1)[1]) in pids:
            raise _kernel.NotPermitted(path, errno.EACCES, "Permission denied")
        return write_value(path, value, dir_fd=dir_fd)

    monkeypatch.setattr(_kernel, "write_value", refuse)


def test_every_process_denied_fails_and_says_why(proc, run_module, monkeypatch):
    _deny(monkeypatch, {812, 813})
    result = run_module(module, name="postgres", score_adj=-500, proc_root=str(proc))
    assert result["failed"] and not result["changed"]
    assert result["msg"].startswith("oom_protect: no process could be set to -500: the kernel refused all 2 (pid 812")
    for words in ("CAP_SYS_RESOURCE", "OOMScoreAdjust=", "persist: true and restart: true"):
        assert words in result["msg"]
    assert [row["result"] for row in result["processes"]] == ["denied", "denied"]


def test_some_processes_denied_is_still_a_success(proc, run_module, monkeypatch):
    _deny(monkeypatch, {813})
    result = run_module(module, name="postgres", score_adj=-500, proc_root=str(proc))
    assert "failed" not in result and result["changed"]
    assert [row["result"] for row in result["processes"]] == ["set", "denied"]


@pytest.mark.skipif(os.geteuid() != 0 or _host.capabilities(_procfs.Reader())["cap_sys_resource"],
                    reason="needs root without CAP_SYS_RESOURCE (this test machine's case)")
def test_a_real_process_denied_without_cap_sys_resource_fails(run_module):
    child = subprocess.Popen(["sleep", "600"])
    try:
        result = run_module(module, pid=child.pid, score_adj=-100)
        assert result["failed"] and "no process could be set to -100" in result["msg"]
        assert "OOMScoreAdjust=" in result["msg"]
        with open("/proc/%d/oom_score_adj" % child.pid) as handle:
            assert handle.read() == "0\n"
    finally:
        child.kill()
        child.wait()


def test_pid1_with_opt_in(proc, run_module):
    result = run_module(module, pid=1, score_adj=-1000, allow_never_kill=True, proc_root=str(proc))
    assert result["changed"] and result["processes"][0]["after"] == -1000


def test_service_persist_without_restart(proc, systemd, run_module):
    args = service_args(proc)
    dropin = str(proc.parent / "units" / "pg.service.d" / "50-memops-oom.conf")
    check = run_module(module, _ansible_check_mode=True, _ansible_diff=True, **args)
    assert check["changed"] and check["daemon_reload"] and check["pending_restart"]
    dropin_diff, scores_diff = check["diff"]
    assert dropin_diff["before"] == "" and "OOMScoreAdjust=-500" in dropin_diff["after"]
    assert scores_diff["before_header"] == "/proc/PID/oom_score_adj"
    assert scores_diff["before"] == "812 postgres: 0\n813 postgres: 0\n"
    assert scores_diff["after"] == "812 postgres: -500\n813 postgres: -500\n"
    assert not os.path.exists(dropin) and systemd.count("daemon-reload") == 0
    assert (proc / "812" / "oom_score_adj").read_text() == "0\n"

    first = run_module(module, **args)
    assert first["changed"] and first["dropin"] == dropin and first["daemon_reload"]
    assert first["pending_restart"] and not first["restarted"]
    assert [(r["pid"], r["result"], r["after"]) for r in first["processes"]] == [(812, "set", -500), (813, "set", -500)]
    assert systemd.count("daemon-reload") == 1 and systemd.count("restart") == 0

    second = run_module(module, **args)
    assert not second["changed"] and not second["daemon_reload"]
    assert second["pending_restart"]  # still running since before the drop-in
    assert systemd.count("daemon-reload") == 1


def test_service_restart_verifies_main_pid(proc, systemd, run_module):
    args = service_args(proc, restart=True, score_adj=250)
    first = run_module(module, **args)
    assert first["changed"] and first["restarted"] and not first["pending_restart"]
    assert [(r["pid"], r["result"]) for r in first["processes"]] == [(912, "unchanged")]
    assert systemd.count("restart") == 1 and systemd.count("daemon-reload") == 1
    second = run_module(module, **args)
    assert not second["changed"] and not second["restarted"] and systemd.count("restart") == 1


def test_service_restart_that_does_not_apply_fails(proc, systemd, run_module, monkeypatch):
    systemd.applies = False  # a container without CAP_SYS_RESOURCE, a user manager
    monkeypatch.setattr(_oom, "SETTLE_SECONDS", 0.2)
    result = run_module(module, **service_args(proc, restart=True))
    assert result["failed"] and result["restarted"]
    assert "OOMScoreAdjust=-500 but /proc/912/oom_score_adj holds 0" in result["msg"]


def test_service_needs_systemd(proc, run_module, monkeypatch):
    monkeypatch.setattr(_host, "systemd_is_pid1", lambda reader: False)
    result = run_module(module, **service_args(proc))
    assert result["failed"] and "PID 1 here is not systemd" in result["msg"]


def test_diff_lists_each_process_set_and_nothing_once_set(proc, run_module):
    args = {"name": "postgres", "score_adj": 300, "proc_root": str(proc), "_ansible_diff": True}
    check = run_module(module, _ansible_check_mode=True, **args)
    assert check["diff"] == [{"before": "812 postgres: 0\n813 postgres: 0\n",
                              "after": "812 postgres: 300\n813 postgres: 300\n",
                              "before_header": "/proc/PID/oom_score_adj", "after_header": "/proc/PID/oom_score_adj"}]
    assert (proc / "812" / "oom_score_adj").read_text() == "0\n"
    assert run_module(module, **args)["diff"] == check["diff"]
    again = run_module(module, **args)
    assert not again["changed"] and "diff" not in again


def test_a_pid_directory_linked_out_of_proc_root_is_not_written(proc, tmp_path, run_module):
    outside = add_process(tmp_path, 900, "victim", ["victim"])
    (proc / "900").symlink_to(outside)
    result = run_module(module, pid=900, score_adj=100, proc_root=str(proc))
    assert result["failed"] and "leads out of %s (to %s) through a symbolic link" % (proc, outside) in result["msg"]
    assert (outside / "oom_score_adj").read_text() == "0\n"


def test_an_oom_score_adj_link_is_not_followed(proc, tmp_path, run_module):
    precious = tmp_path / "precious"
    precious.write_text("0\n")
    (proc / "812" / "oom_score_adj").unlink()
    (proc / "812" / "oom_score_adj").symlink_to(precious)
    result = run_module(module, pid=812, score_adj=100, proc_root=str(proc))
    assert result["failed"] and "symbolic links" in result["msg"] and "Traceback" not in result["msg"]
    assert precious.read_text() == "0\n"


@pytest.mark.parametrize("service", ["-H", "--host=evil.example", "--kill-whom=all"])
def test_a_service_named_like_an_option_never_reaches_systemctl(proc, systemd, run_module, service):
    result = run_module(module, **service_args(proc, service=service))
    assert result["failed"] and "is not a systemd unit name" in result["msg"] and "not starting with -" in result["msg"]
    assert systemd.calls == [] and not (proc.parent / "units").exists()
