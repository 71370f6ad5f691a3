# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _thp: allowed values read from the kernel's files, the RHEL 6 path,
a kernel without THP, apply and rollback, the boot unit and conflict detection,
on temporary sysfs and root trees."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _thp as thp
from ansible_collections.memops.linux.plugins.module_utils._procfs import Reader

# What kernels of different ages print.
KERNEL_FILES = {
    "6.x": {"enabled": "always [madvise] never\n", "defrag": "always defer defer+madvise [madvise] never\n"},
    "4.6": {"enabled": "[always] madvise never\n", "defrag": "[always] defer madvise never\n"},
    "3.10": {"enabled": "[always] madvise never\n", "defrag": "[always] madvise never\n"},
}


def make_sys(tmp_path, kernel="6.x", relative=thp.THP_DIRS[0]):
    sys_root = tmp_path / "sys"
    directory = sys_root / relative
    directory.mkdir(parents=True)
    for name, text in KERNEL_FILES[kernel].items():
        (directory / name).write_text(text)
    return sys_root, directory


def selected(directory, name):
    return thp.read_setting(str(directory), name)["selected"]


def install_kernel(monkeypatch):
    """Writes behave like the kernel's: an offered value is selected, others fail with EINVAL.
    Returns the fake write, whose ``calls`` lists (setting, value)."""
    calls = []

    def write(thp_dir, name, value):
        calls.append((name, value))
        path = os.path.join(thp_dir, name)
        with open(path, encoding="utf-8") as handle:
            tokens = [token.strip("[]") for token in handle.read().split()]
        if value not in tokens:
            raise thp.Rejected("%s: the kernel rejected %r (Invalid argument)" % (path, value))
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(" ".join("[%s]" % token if token == value else token for token in tokens) + "\n")
        return None

    monkeypatch.setattr(thp, "write_setting", write)
    write.calls = calls
    return write


@pytest.fixture
def kernel(monkeypatch):
    return install_kernel(monkeypatch)


@pytest.fixture
def root(tmp_path):
    """A filesystem root for /etc, /usr/lib and /run, and a proc_root with a cmdline."""
    top = tmp_path / "root"
    (top / "etc/systemd/system").mkdir(parents=True)
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n")
    return top, proc


def booted(top):
    """systemd as PID 1 of the test's proc_root (the root fixture's proc, beside top)."""
    (top.parent / "proc" / "1").mkdir(parents=True, exist_ok=True)
    (top.parent / "proc" / "1" / "comm").write_text("systemd\n")


class Systemctl:
    def __init__(self, enabled=False, fail=None):
        self.calls = []
        self.enabled = enabled
        self.fail = fail

    def __call__(self, *args):
        self.calls.append(args)
        if self.fail and args[0] == self.fail:
            return 1, "", "Failed to %s" % self.fail
        if args[0] == "is-enabled":
            return (0, "enabled\n", "") if self.enabled else (1, "disabled\n", "")
        if args[0] == "enable":
            self.enabled = True
        return 0, "", ""


# ---------------------------------------------------------------------------
# the kernel's files


@pytest.mark.parametrize("kernel_name, name, allowed", [
    ("6.x", "defrag", ["always", "defer", "defer+madvise", "madvise", "never"]),
    ("4.6", "defrag", ["always", "defer", "madvise", "never"]),
    ("3.10", "defrag", ["always", "madvise", "never"]),
    ("6.x", "enabled", ["always", "madvise", "never"]),
])
def test_allowed_values_come_from_the_file(tmp_path, kernel_name, name, allowed):
    _sys_root, directory = make_sys(tmp_path, kernel_name)
    assert thp.read_setting(str(directory), name)["allowed"] == allowed


@pytest.mark.parametrize("kernel_name, value", [("3.10", "defer+madvise"), ("4.6", "defer+madvise"),
                                                ("3.10", "defer"), ("6.x", "sometimes")])
def test_a_value_the_kernel_does_not_offer_fails_listing_the_offered(tmp_path, root, kernel, kernel_name, value):
    sys_root, directory = make_sys(tmp_path, kernel_name)
    with pytest.raises(thp.InvalidValue) as raised:
        thp.run({"defrag": value}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))
    offered = thp.read_setting(str(directory), "defrag")["allowed"]
    assert "not offered by this kernel; it offers %s" % ", ".join(offered) in str(raised.value)
    assert kernel.calls == []


def test_a_boolean_is_refused(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    with pytest.raises(thp.InvalidValue, match="boolean"):
        thp.run({"enabled": False}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))


def test_rhel6_path(tmp_path, root, kernel):
    sys_root, directory = make_sys(tmp_path, "3.10", relative=thp.THP_DIRS[1])
    result = thp.run({"enabled": "never"}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))
    assert result["thp_path"] == "/sys/kernel/mm/redhat_transparent_hugepage"
    assert selected(directory, "enabled") == "never"
    assert thp.render_unit({"enabled": "never"}, thp.THP_DIRS[1]).count(
        "StandardInputText=w /sys/kernel/mm/redhat_transparent_hugepage/enabled - - - - never") == 1


def test_a_kernel_without_thp_is_a_clear_error(tmp_path, root):
    (tmp_path / "sys/kernel/mm").mkdir(parents=True)
    with pytest.raises(thp.NotSupported, match="built without CONFIG_TRANSPARENT_HUGEPAGE"):
        thp.run({"enabled": "never"}, reader=Reader(str(root[1]), str(tmp_path / "sys")), root=str(root[0]))


def test_a_sys_root_that_is_not_sysfs(tmp_path, root):
    with pytest.raises(thp.NotSupported, match="does not look like sysfs"):
        thp.find_thp_dir(Reader(sys_root=str(tmp_path / "nothing")))


# ---------------------------------------------------------------------------
# runtime


def test_check_mode_writes_nothing_and_predicts(tmp_path, root, kernel):
    sys_root, directory = make_sys(tmp_path)
    booted(root[0])
    systemctl = Systemctl()
    result = thp.run({"enabled": "never", "defrag": "never"}, persist=True, reader=Reader(str(root[1]), str(sys_root)),
                     root=str(root[0]), check_mode=True, systemctl=systemctl)
    assert result["changed"]
    assert result["settings"]["enabled"] == {"before": "madvise", "after": "never",
                                             "allowed": ["always", "madvise", "never"], "persisted": True}
    assert kernel.calls == [] and systemctl.calls == []
    assert not os.path.exists(thp.unit_path(str(root[0])))
    assert selected(directory, "enabled") == "madvise"
    assert "w /sys/kernel/mm/transparent_hugepage/defrag - - - - never" in result["diff"]["unit"]["after"]


def test_apply_persist_then_idempotent(tmp_path, root, kernel):
    sys_root, directory = make_sys(tmp_path)
    booted(root[0])
    systemctl = Systemctl()
    args = dict(reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]), systemctl=systemctl)
    result = thp.run({"enabled": "never", "defrag": "never"}, persist=True, **args)
    assert result["changed"] and selected(directory, "enabled") == "never" and selected(directory, "defrag") == "never"
    assert systemctl.calls == [("daemon-reload",), ("enable", thp.UNIT_NAME)]
    assert result["persistence"] == {"method": "systemd_unit", "unit": thp.UNIT_NAME,
                                     "unit_path": "/etc/systemd/system/memops-thp.service",
                                     "values": {"enabled": "never", "defrag": "never"}}
    unit = open(thp.unit_path(str(root[0])), encoding="utf-8").read()
    assert "Before=basic.target redis-server.service" in unit and "mongod.service" in unit
    assert "Type=oneshot" in unit and "WantedBy=basic.target" in unit
    assert oct(os.stat(thp.unit_path(str(root[0]))).st_mode & 0o777) == "0o644"
    systemctl.calls.clear()
    for check_mode in (True, False):
        again = thp.run({"enabled": "never", "defrag": "never"}, persist=True, check_mode=check_mode, **args)
        assert not again["changed"]
    assert systemctl.calls == [("is-enabled", thp.UNIT_NAME)] * 2


def test_a_disabled_unit_is_enabled_without_a_reload(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    booted(root[0])
    args = dict(reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))
    thp.run({"enabled": "never"}, persist=True, systemctl=Systemctl(), **args)
    systemctl = Systemctl(enabled=False)
    result = thp.run({"enabled": "never"}, persist=True, systemctl=systemctl, **args)
    assert result["changed"]
    assert systemctl.calls == [("is-enabled", thp.UNIT_NAME), ("enable", thp.UNIT_NAME)]


def test_persist_merges_with_what_the_unit_already_writes(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    booted(root[0])
    args = dict(reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]), systemctl=Systemctl())
    thp.run({"enabled": "never"}, persist=True, **args)
    result = thp.run({"defrag": "defer"}, persist=True, **args)
    assert result["persistence"]["values"] == {"enabled": "never", "defrag": "defer"}


def test_persist_without_systemd_fails_before_anything_is_written(tmp_path, root, kernel):
    sys_root, directory = make_sys(tmp_path)
    with pytest.raises(thp.PersistError, match="systemd is not running here"):
        thp.run({"enabled": "never"}, persist=True, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]), systemctl=Systemctl())
    assert kernel.calls == [] and selected(directory, "enabled") == "madvise"


def test_a_value_the_kernel_does_not_select_is_put_back_and_not_persisted(tmp_path, root, monkeypatch):
    sys_root, directory = make_sys(tmp_path)
    booted(root[0])

    def write(thp_dir, name, value):
        path = os.path.join(thp_dir, name)
        if name == "defrag":  # takes the write, keeps its old value
            return
        tokens = [token.strip("[]") for token in open(path, encoding="utf-8").read().split()]
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(" ".join("[%s]" % t if t == value else t for t in tokens) + "\n")

    monkeypatch.setattr(thp, "write_setting", write)
    with pytest.raises(thp.Rejected) as raised:
        thp.run({"enabled": "never", "defrag": "never"}, persist=True, reader=Reader(str(root[1]), str(sys_root)),
                root=str(root[0]), systemctl=Systemctl())
    assert "kernel selected 'madvise'" in str(raised.value) and "put back: enabled=madvise" in str(raised.value)
    assert selected(directory, "enabled") == "madvise"
    assert not os.path.exists(thp.unit_path(str(root[0])))


@pytest.mark.parametrize("err, says", [
    (errno.EROFS, "mounted read-only here, as in an unprivileged container"),
    (errno.EINVAL, "the kernel rejected 'never' (Invalid argument)"),
])
def test_real_write_errors_are_named(tmp_path, monkeypatch, err, says):
    _sys_root, directory = make_sys(tmp_path)

    def refuse(*_args, **_kwargs):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(thp.os, "open", refuse)
    with pytest.raises(thp.ThpError) as raised:
        thp.write_setting(str(directory), "enabled", "never")
    assert says in str(raised.value)


def test_persist_false_warns_about_an_older_unit_value(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    booted(root[0])
    args = dict(reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]), systemctl=Systemctl())
    thp.run({"enabled": "never"}, persist=True, **args)
    result = thp.run({"enabled": "madvise"}, **args)
    assert any("persist is false but /etc/systemd/system/memops-thp.service still sets never" in warning
               for warning in result["warnings"])
    assert result["settings"]["enabled"]["persisted"] is False


def test_the_unit_runs_no_shell():
    text = thp.render_unit({"defrag": "defer+madvise", "enabled": "never"}, thp.THP_DIRS[0])
    exec_lines = [line for line in text.splitlines() if line.startswith("Exec")]
    assert exec_lines == ["ExecStart=systemd-tmpfiles --create -"]
    assert "/bin/sh" not in text and "echo" not in text
    assert [line for line in text.splitlines() if line.startswith("StandardInput")] == [
        "StandardInput=data",
        "StandardInputText=w /sys/kernel/mm/transparent_hugepage/enabled - - - - never",
        "StandardInputText=w /sys/kernel/mm/transparent_hugepage/defrag - - - - defer+madvise"]


@pytest.mark.parametrize("value", ["never'; rm -rf / #", "never\nExecStart=/bin/sh", "never x", "inherit", "yes"])
def test_the_unit_takes_only_the_values_the_kernel_defines(value):
    with pytest.raises(thp.InvalidValue, match="not a value the kernel defines"):
        thp.render_unit({"enabled": value}, thp.THP_DIRS[0])


@pytest.mark.parametrize("offered", ["always madvise [never] evil;touch", "always [madvise] never inherit"])
def test_a_token_the_tree_offers_outside_the_kernels_set_is_refused(tmp_path, root, kernel, offered):
    sys_root, directory = make_sys(tmp_path)
    (directory / "enabled").write_text(offered + "\n")
    value = offered.split()[-1]
    with pytest.raises(thp.InvalidValue, match="not a value the kernel defines for this setting"):
        thp.run({"enabled": value}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]), persist=False)
    assert kernel.calls == []


def test_a_unit_of_the_earlier_shell_form_is_read_and_rewritten():
    legacy = ("[Service]\nExecStart=/bin/sh -c 'echo never > /sys/kernel/mm/transparent_hugepage/enabled'\n"
              "ExecStart=/bin/sh -c 'echo defer > /sys/kernel/mm/transparent_hugepage/defrag'\n")
    assert thp.parse_unit(legacy) == {"enabled": "never", "defrag": "defer"}
    assert thp.render_unit(thp.parse_unit(legacy), thp.THP_DIRS[0]) != legacy


def test_unit_round_trip():
    text = thp.render_unit({"defrag": "defer+madvise", "enabled": "never"}, thp.THP_DIRS[0])
    assert thp.parse_unit(text) == {"enabled": "never", "defrag": "defer+madvise"}
    assert text.index("transparent_hugepage/enabled") < text.index("transparent_hugepage/defrag")


# ---------------------------------------------------------------------------
# conflicts


def test_kernel_cmdline_conflict(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    (root[1] / "cmdline").write_text("root=/dev/sda1 transparent_hugepage=never quiet\n")
    result = thp.run({"enabled": "madvise"}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))
    assert [(c["source"], c["setting"], c["value"]) for c in result["conflicts"]] == [
        ("kernel_cmdline", "enabled", "never")]
    assert any("transparent_hugepage=never" in warning for warning in result["warnings"])


def test_tuned_conflict_through_an_include(tmp_path, root, kernel):
    sys_root, _directory = make_sys(tmp_path)
    top, proc = root
    (top / "etc/tuned").mkdir(parents=True)
    (top / "etc/tuned/active_profile").write_text("my-db\n")
    (top / "etc/tuned/my-db").mkdir()
    (top / "etc/tuned/my-db/tuned.conf").write_text("[main]\ninclude=throughput-performance\n[sysctl]\nvm.swappiness=10\n")
    (top / "usr/lib/tuned/throughput-performance").mkdir(parents=True)
    (top / "usr/lib/tuned/throughput-performance/tuned.conf").write_text(
        "[main]\nsummary=Broadly applicable tuning\n\n[vm]\ntransparent_hugepages=always\n")
    (proc / "812").mkdir()
    (proc / "812/comm").write_text("tuned\n")
    conflicts = thp.find_conflicts(Reader(str(proc)), str(top))
    assert [(c["source"], c["path"], c["value"]) for c in conflicts] == [
        ("tuned", "/usr/lib/tuned/throughput-performance/tuned.conf", "always")]
    assert "active, tuned running" in conflicts[0]["detail"]


def test_unit_rc_local_and_tmpfiles_conflicts_but_not_our_own_unit(tmp_path, root, kernel):
    top, proc = root
    (top / "etc/systemd/system/disable-thp.service").write_text(
        "[Service]\nExecStart=/bin/sh -c 'echo never > /sys/kernel/mm/transparent_hugepage/enabled'\n")
    (top / "etc/systemd/system" / thp.UNIT_NAME).write_text(thp.render_unit({"enabled": "never"}, thp.THP_DIRS[0]))
    (top / "etc/rc.local").write_text("#!/bin/sh\necho never > /sys/kernel/mm/redhat_transparent_hugepage/defrag\n")
    (top / "etc/tmpfiles.d").mkdir(parents=True)
    (top / "etc/tmpfiles.d/thp.conf").write_text(
        "# comment\nw /sys/kernel/mm/transparent_hugepage/enabled - - - - madvise\n")
    conflicts = thp.find_conflicts(Reader(str(proc)), str(top), own_unit=thp.unit_path(str(top)))
    assert [(c["source"], c["path"], c["setting"], c["value"]) for c in conflicts] == [
        ("systemd_unit", "/etc/systemd/system/disable-thp.service", "enabled", None),
        ("rc_local", "/etc/rc.local", "defrag", None),
        ("tmpfiles", "/etc/tmpfiles.d/thp.conf", "enabled", "madvise"),
    ]


def test_no_conflicts_on_a_clean_host(tmp_path, root):
    assert thp.find_conflicts(Reader(str(root[1])), str(root[0])) == []


def test_multi_size_thp_that_does_not_inherit_is_a_warning(tmp_path, root, kernel):
    sys_root, directory = make_sys(tmp_path)
    for size, text in (("64kB", "always [inherit] madvise never"), ("2048kB", "[always] inherit madvise never"),
                       ("16kB", "always inherit madvise [never]")):
        (directory / ("hugepages-" + size)).mkdir()
        (directory / ("hugepages-" + size) / "enabled").write_text(text + "\n")
    assert thp.per_size_overrides(str(directory)) == {"hugepages-2048kB": "always", "hugepages-16kB": "never"}
    result = thp.run({"enabled": "never"}, reader=Reader(str(root[1]), str(sys_root)), root=str(root[0]))
    assert [w for w in result["warnings"] if "hugepages-2048kB (always) keep their own setting" in w]
    assert not [w for w in result["warnings"] if "16kB" in w or "64kB" in w]
