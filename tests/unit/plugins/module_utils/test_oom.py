# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _oom on fake /proc trees: matching (O6), pid reuse (O4), vanished
and denied processes (O1, O4), and the refusals (O5)."""

from __future__ import annotations

import errno
import os
import re
import time

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _oom
from ansible_collections.memops.linux.plugins.module_utils import _procfs


def stat_line(pid, comm, starttime=1000, flags=0x400000):
    # fields 3..24: state ppid pgrp session tty tpgid flags ... starttime vsize rss
    rest = ["S", "1", str(pid), str(pid), "0", "-1", str(flags)] + ["0"] * 12 + [str(starttime), "1000", "10"]
    return "%d (%s) %s\n" % (pid, comm, " ".join(rest))


def add_process(root, pid, comm, argv=None, score=0, starttime=1000, flags=0x400000, exe=None):
    directory = root / str(pid)
    directory.mkdir()
    (directory / "stat").write_text(stat_line(pid, comm, starttime, flags))
    (directory / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in (argv or [])))
    (directory / "oom_score_adj").write_text("%d\n" % score)
    if exe:
        os.symlink(exe, str(directory / "exe"))
    return directory


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    add_process(root, 1, "systemd", ["/sbin/init"])
    add_process(root, 2, "kthreadd", flags=_procfs.PF_KTHREAD)
    add_process(root, 100, "sleep", ["sleep", "3601"])
    add_process(root, 101, "sleep", ["sleep", "3603"], score=300)
    add_process(root, 200, "replication-age", ["/opt/bin/replication-agent", "--serve"])
    add_process(root, 201, "replication-age", ["/opt/bin/replication-agency"])  # same comm, other program
    add_process(root, 202, "replication-age", ["worker"], exe="/opt/bin/replication-agent")
    (root / "uptime").write_text("5000.00 9000.00\n")
    return root


@pytest.fixture
def reader(proc):
    return _procfs.Reader(str(proc))


def pids(snaps):
    return [s["pid"] for s in snaps]


@pytest.mark.parametrize("score, allow, pid_list, says", [
    (1001, False, (), "out of range"),
    (-1001, True, (), "out of range"),
    (-17, False, None, None),  # legacy-looking values are valid oom_score_adj values
    (-1000, False, (), "allow_never_kill"),
    (-1000, True, (), None),
    (10, False, (1, 100), "PID 1"),
    (10, True, (1, 100), None),
    (True, True, (), "not an integer"),
    ("5", True, (), "not an integer"),
])
def test_check_request(score, allow, pid_list, says):
    if says is None:
        _oom.check_request(score, allow, pid_list or ())
    else:
        with pytest.raises(_oom.Refused, match=says):
            _oom.check_request(score, allow, pid_list or ())


def test_find_by_name_short_and_kernel_threads(reader):
    assert pids(_oom.find_by_name(reader, "sleep", exclude=set())) == [100, 101]
    assert _oom.find_by_name(reader, "kthreadd", exclude=set()) == []
    assert pids(_oom.find_by_name(reader, "sleep", exclude={100})) == [101]


def test_find_by_long_name_confirms_truncated_comm(reader):
    # comm holds 15 characters: 200 matches by argv[0], 202 by its executable, 201 only shares the comm
    assert pids(_oom.find_by_name(reader, "replication-agent", exclude=set())) == [200, 202]
    assert pids(_oom.find_by_name(reader, "replication-agency", exclude=set())) == [201]
    # the truncated name itself is a name of 15 characters: comm alone decides
    assert pids(_oom.find_by_name(reader, "replication-age", exclude=set())) == [200, 201, 202]


def test_find_by_cmdline(reader):
    assert pids(_oom.find_by_cmdline(reader, r"^sleep 360[13]$", exclude=set())) == [100, 101]
    assert pids(_oom.find_by_cmdline(reader, r"--serve", exclude=set())) == [200]
    assert _oom.find_by_cmdline(reader, r"kthreadd", exclude=set()) == []
    with pytest.raises(_oom.Refused, match="not a valid regular expression"):
        _oom.find_by_cmdline(reader, "(")


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"(a*)*b", r"(\w+\s?)*$", r"(?:x|y+)+z", r"x(?=(a*)*)",
                                     r"((ab)+c?)*", r"(a{1,3})+$", r"(?P<n>[a-z]+\d*)+"])
def test_nested_repetition_is_refused_at_once(pattern):
    with pytest.raises(_oom.Refused, match=r"repeats a group that itself repeats .* hours"):
        _oom.compile_regex(pattern)


@pytest.mark.parametrize("pattern", [r"celery .*worker", r"^sleep 360[13]$", r"(foo|bar)+", r"(?:ab{2})+",
                                     r"^/usr/bin/java .*-jar app[.]jar", r"(a*)?b", r"[a-z]+ \d+"])
def test_ordinary_patterns_are_taken(pattern):
    assert _oom.compile_regex(pattern).pattern == pattern


def test_a_search_that_backtracks_for_hours_is_stopped_in_time():
    started = time.monotonic()
    with pytest.raises(_oom.Refused, match=r"took more than 1 seconds to match 2 command lines and was stopped"):
        _oom.bounded_search(re.compile(r"^(a|aa)+$"), ["x", "a" * 80 + "!"], seconds=1.0)
    assert time.monotonic() - started < 3


def test_bounded_search_answers_for_every_text_in_order():
    texts = ["sleep 3601", "x" * 100000, "sleep 3603"] * 1000
    assert _oom.bounded_search(re.compile(r"^sleep"), texts) == [True, False, True] * 1000
    assert _oom.bounded_search(re.compile("x"), []) == []


def test_own_process_is_never_matched(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    add_process(root, os.getpid(), "python3", ["python3", "AnsiballZ_oom_protect.py"])
    assert _oom.find_by_cmdline(_procfs.Reader(str(root)), "AnsiballZ") == []


def test_set_unchanged_and_check_mode(reader, proc):
    snaps = _oom.find_by_pid(reader, [100, 101])
    rows = _oom.set_scores(reader, snaps, 300, check_mode=True)
    assert rows == [{"pid": 100, "name": "sleep", "before": 0, "after": 300, "result": "set"},
                    {"pid": 101, "name": "sleep", "before": 300, "after": 300, "result": "unchanged"}]
    assert (proc / "100" / "oom_score_adj").read_text() == "0\n"
    rows = _oom.set_scores(reader, snaps, 300)
    assert [r["result"] for r in rows] == ["set", "unchanged"]
    assert (proc / "100" / "oom_score_adj").read_text() == "300"
    assert [r["result"] for r in _oom.set_scores(reader, snaps, 5)] == ["set", "set"]
    assert (proc / "101" / "oom_score_adj").read_text() == "5"


def test_reused_pid_is_not_written(reader, proc):
    snaps = _oom.find_by_pid(reader, [100])
    # the process exits and a new one gets pid 100 between the match and the write
    (proc / "100" / "stat").write_text(stat_line(100, "sleep", starttime=2000))
    row = _oom.set_score(reader, snaps[0], 300)
    assert row["result"] == "vanished" and "start time changed" in row["reason"]
    assert (proc / "100" / "oom_score_adj").read_text() == "0\n"


def test_process_exits_between_match_and_write(reader, proc):
    snaps = _oom.find_by_name(reader, "sleep", exclude=set())
    for name in os.listdir(str(proc / "100")):
        os.unlink(str(proc / "100" / name))
    os.rmdir(str(proc / "100"))
    rows = _oom.set_scores(reader, snaps, 300)
    assert [(r["pid"], r["result"]) for r in rows] == [(100, "vanished"), (101, "unchanged")]


@pytest.mark.parametrize("code, result", [
    (errno.ESRCH, "vanished"), (errno.ENOENT, "vanished"), (errno.EACCES, "denied"), (errno.EPERM, "denied"),
])
def test_write_errors_are_rows(reader, proc, monkeypatch, code, result):
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if flags & os.O_WRONLY:
            raise OSError(code, os.strerror(code), path)
        return real_open(path, flags, *args, **kwargs)

    snaps = _oom.find_by_pid(reader, [100])
    monkeypatch.setattr(os, "open", fake_open)
    row = _oom.set_score(reader, snaps[0], -100)
    assert row["result"] == result and row["before"] == 0 and row["after"] is None
    if result == "denied":
        assert "CAP_SYS_RESOURCE" in row["reason"]


def test_kernel_keeping_another_value_is_denied(reader, monkeypatch):
    snaps = _oom.find_by_pid(reader, [100])
    monkeypatch.setattr(_kernel, "write_value", lambda *args, **kwargs: None)  # accepted, not applied
    row = _oom.set_score(reader, snaps[0], 200)
    assert row["result"] == "denied" and "kept 0" in row["reason"]


def test_unknown_pid_is_vanished(reader):
    assert _oom.set_scores(reader, _oom.find_by_pid(reader, [99999]), 10) == [
        {"pid": 99999, "name": None, "before": None, "after": None, "result": "vanished", "reason": "no such process"}]


def test_other_errors_raise(reader, monkeypatch):
    snaps = _oom.find_by_pid(reader, [100])

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(_kernel, "write_value", broken)
    with pytest.raises(_oom.OomError, match="I/O error"):
        _oom.set_score(reader, snaps[0], 200)


def test_read_score_and_start_time(reader):
    assert _oom.read_score(reader, 101) == 300
    assert _oom.read_score(reader, 99999) is None
    # started 1000 ticks (10 s) after boot, 5000 s ago
    assert _oom.started_at(reader, 100, clock_ticks=100, now=100000.0) == 100000.0 - 5000.0 + 10.0
    assert _oom.started_at(reader, 99999) is None


@pytest.mark.parametrize("uptime", ["nan 1\n", "inf 1\n", "-5 1\n", "1e999 1\n", "\n"])
def test_start_time_unknown_when_uptime_is_no_finite_number(proc, reader, uptime):
    # a NaN start time never compares equal or older, so the pid-reuse check would pass blindly
    (proc / "uptime").write_text(uptime)
    assert _oom.started_at(reader, 100, clock_ticks=100, now=100000.0) is None


class Clock:
    """A monotonic clock that moves only when slept; each sleep can change the
    process's oom_score_adj, as the forked child of systemd does before exec."""

    def __init__(self, path, values):
        self.now = 0.0
        self.path = path
        self.values = list(values)
        self.sleeps = 0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.sleeps += 1
        if self.values:
            self.path.write_text("%d\n" % self.values.pop(0))


def test_await_score_waits_for_a_restarted_service_to_apply_its_value(proc, reader):
    clock = Clock(proc / "101" / "oom_score_adj", [300, 300, 250])  # 300 is the parent's value until it applies
    assert _oom.await_score(reader, 101, 250, timeout=5, sleep=clock.sleep, clock=clock) == 250
    assert clock.sleeps == 3


def test_await_score_gives_up_with_what_the_process_holds(proc, reader):
    clock = Clock(proc / "101" / "oom_score_adj", [])
    assert _oom.await_score(reader, 101, -500, timeout=1, sleep=clock.sleep, clock=clock) == 300
    assert clock.now >= 1
    assert _oom.await_score(reader, 99999, -500, timeout=1, sleep=clock.sleep, clock=clock) is None
