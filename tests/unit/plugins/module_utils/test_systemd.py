# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _systemd: drop-in paths, rendering, write-only-when-changed, systemctl answers, cgroup trees."""

from __future__ import annotations

import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _systemd
from ansible_collections.memops.linux.plugins.module_utils._procfs import Reader


class FakeSystemctl:
    """``run(argv)`` answering systemctl from a table of argv tuples."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(tuple(argv))
        return self.answers.get(tuple(argv[1:]), (0, "", ""))


@pytest.mark.parametrize("name, unit", [
    ("nginx", "nginx.service"), ("nginx.service", "nginx.service"), ("getty@tty1", "getty@tty1.service"),
    ("user.slice", "user.slice"),
])
def test_unit_name(name, unit):
    assert _systemd.unit_name(name) == unit


@pytest.mark.parametrize("name", ["", "a b", "../etc", "x/y", None, "..", "-H", "--host=evil", "-.slice",
                                  "--kill-whom=all", ".hidden", "caf\u00e9", "a" * 248, "a\nb", "x;y", "a@b/c", 7])
def test_unit_name_refused(name):
    with pytest.raises(_systemd.SystemdError, match="not a systemd unit name"):
        _systemd.unit_name(name)


def test_unit_name_at_the_length_limit():
    assert _systemd.unit_name("a" * 247) == "a" * 247 + ".service"


@pytest.mark.parametrize("name", ["-H", "--host=evil.example", "-pMainPID"])
def test_a_name_like_an_option_never_reaches_systemctl(name):
    run = FakeSystemctl()
    for call in (lambda: _systemd.unit_state(run, name), lambda: _systemd.restart(run, name)):
        with pytest.raises(_systemd.SystemdError, match="not a systemd unit name"):
            call()
    assert run.calls == []


def test_the_unit_comes_after_the_end_of_options():
    run = FakeSystemctl()
    _systemd.unit_state(run, "pg")
    _systemd.restart(run, "pg")
    assert [call[-2:] for call in run.calls] == [("--", "pg.service"), ("--", "pg.service")]


def test_dropin_path_and_text():
    assert _systemd.dropin_path("pg", "oom") == "/etc/systemd/system/pg.service.d/50-memops-oom.conf"
    with pytest.raises(_systemd.SystemdError):
        _systemd.dropin_path("pg", "../x")
    assert _systemd.render_dropin("oom", [("OOMScoreAdjust", -500)]) == (
        "# Managed by memops.linux (oom); changes made here are overwritten.\n[Service]\nOOMScoreAdjust=-500\n")


def test_plan_apply_only_when_changed(tmp_path):
    path = _systemd.dropin_path("pg", "memory", str(tmp_path))
    text = _systemd.render_dropin("memory", [("MemoryMax", 1 << 30)])
    plan = _systemd.plan_dropin(path, text)
    assert plan["changed"] and plan["before"] is None
    assert _systemd.dropin_diff(plan)["before"] == "" and _systemd.dropin_diff(plan)["after_header"] == path
    assert _systemd.apply_dropin(plan) is True
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    again = _systemd.plan_dropin(path, text)
    assert not again["changed"] and _systemd.apply_dropin(again) is False
    removal = _systemd.plan_dropin(path, None)
    assert removal["changed"] and _systemd.apply_dropin(removal) is True
    assert not os.path.exists(os.path.dirname(path))  # the empty pg.service.d goes too
    assert _systemd.plan_dropin(path, None)["changed"] is False


def test_removal_keeps_other_dropins(tmp_path):
    path = _systemd.dropin_path("pg", "memory", str(tmp_path))
    _systemd.apply_dropin(_systemd.plan_dropin(path, "x\n"))
    other = os.path.join(os.path.dirname(path), "override.conf")
    with open(other, "w") as handle:
        handle.write("[Service]\n")
    _systemd.apply_dropin(_systemd.plan_dropin(path, None))
    assert os.path.exists(other)


@pytest.mark.parametrize("text, version", [
    ("systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT", 252),
    ("systemd 219\n+PAM", 219),
    ("nothing here", None),
])
def test_parse_version(text, version):
    assert _systemd.parse_version(text) == version


def test_systemctl_answers_and_failures():
    run = FakeSystemctl({
        ("--version",): (0, "systemd 252 (252.39-1~deb12u2)\n", ""),
        ("show", "-pLoadState", "-pActiveState", "-pMainPID", "-pControlGroup", "-pMemoryCurrent",
         "-pNRestarts", "--", "pg.service"): (0, "LoadState=loaded\nActiveState=active\nMainPID=812\n"
                                              "ControlGroup=/system.slice/pg.service\nMemoryCurrent=[not set]\n"
                                              "NRestarts=2\n", ""),
        ("restart", "--", "bad.service"): (1, "", "Job for bad.service failed.\n"),
    })
    assert _systemd.version(run) == 252
    assert _systemd.unit_state(run, "pg") == {
        "load_state": "loaded", "active_state": "active", "main_pid": 812,
        "control_group": "/system.slice/pg.service", "memory_current": None, "restarts": 2}
    assert _systemd.main_pid(run, "pg") == 812
    with pytest.raises(_systemd.SystemdError, match="restart bad.service failed .rc 1.: Job for bad.service failed"):
        _systemd.restart(run, "bad")
    with pytest.raises(_systemd.SystemdError, match="did not name a systemd version"):
        _systemd.version(FakeSystemctl())
    _systemd.daemon_reload(run)
    assert run.calls[-1] == ("systemctl", "daemon-reload")


def test_no_systemctl():
    def missing(argv):
        raise OSError(2, "No such file or directory")

    with pytest.raises(_systemd.SystemdError, match="does not seem to run systemd"):
        _systemd.version(missing)


def test_memory_current_unlimited_is_none():
    run = FakeSystemctl({("show", "-pLoadState", "-pActiveState", "-pMainPID", "-pControlGroup",
                          "-pMemoryCurrent", "-pNRestarts", "--", "x.service"): (0, "MainPID=0\nMemoryCurrent=18446744073709551615\n", "")})
    state = _systemd.unit_state(run, "x")
    assert state["main_pid"] is None and state["memory_current"] is None


def test_require_systemd_names_the_request_and_the_way_around(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "comm").write_text("systemd\n")
    _systemd.require_systemd(Reader(str(tmp_path)), "app.service", "use cron")
    (tmp_path / "1" / "comm").write_text("tini\n")
    with pytest.raises(_systemd.SystemdError) as caught:
        _systemd.require_systemd(Reader(str(tmp_path)), "app.service", "use cron")
    assert str(caught.value) == "app.service needs systemd as PID 1, and PID 1 here is not systemd; use cron"
