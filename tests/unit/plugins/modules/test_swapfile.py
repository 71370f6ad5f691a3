# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the swapfile module: arguments in, results, diffs and clear
failures out, against the fake kernel of the module_utils tests (real files in
a temporary directory; /proc/swaps, swapon, swapoff and mkswap faked)."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

from ansible_collections.memops.linux.plugins.module_utils import _host
from ansible_collections.memops.linux.plugins.module_utils import _swap
from ansible_collections.memops.linux.plugins.module_utils import _swapdisk
from ansible_collections.memops.linux.plugins.module_utils import _swaphost
from ansible_collections.memops.linux.plugins.modules import swapfile as module
from ansible_collections.memops.linux.tests.unit.plugins.modules.documentation import documented_options
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_swap import CAPS, PAGE, FakeKernel


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    fake = FakeKernel(tmp_path / "kernel")
    monkeypatch.setattr(_swapdisk, "filesystem", lambda directory, mountinfo: dict(fake.fs))
    monkeypatch.setattr(_host, "capabilities", lambda reader: dict(fake.caps))
    monkeypatch.setattr(_swapdisk, "set_nocow", lambda fd: None)
    monkeypatch.setattr(module._procfs, "Reader", lambda *args: fake.reader())
    monkeypatch.setattr(_swap.Request.__init__, "__defaults__",
                        _swap.Request.__init__.__defaults__[:-1] + (PAGE,))
    monkeypatch.setattr(_swaphost.Host, "swapon", lambda self, path, priority: fake.swapon(path, priority))
    monkeypatch.setattr(_swaphost.Host, "swapoff", lambda self, path: fake.swapoff(path))
    monkeypatch.setattr(_swaphost.Host, "mkswap", lambda self, path, page_size: fake.mkswap(path, page_size))
    monkeypatch.setattr(_swaphost.Host, "daemon_reload", lambda self: fake.daemon_reload())
    fake.caps = dict(CAPS)
    return fake


@pytest.fixture
def where(tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    return {"path": str(directory / "swapfile"), "fstab": str(directory / "fstab"), "min_free": 0}


@pytest.fixture
def run(run_module):
    return lambda **args: run_module(module, **args)


def test_four_runs_for_each_step(kernel, where, run):
    """check mode, apply, check mode again, apply again: create, grow, shrink, remove."""
    for options in ({"size": "8M", "priority": 4}, {"size": "16M", "priority": 4}, {"size": "4M", "priority": 4},
                    {"state": "absent"}):
        args = dict(where, **options)
        before_files = sorted(os.listdir(os.path.dirname(where["path"])))
        before_swaps = [dict(a) for a in kernel.areas]
        check = run(_ansible_check_mode=True, _ansible_diff=True, **args)
        assert check["changed"] and check["actions"]
        assert sorted(os.listdir(os.path.dirname(where["path"]))) == before_files
        assert kernel.areas == before_swaps
        applied = run(_ansible_diff=True, **args)
        assert applied["changed"] and applied["actions"] == check["actions"]
        for key in ("exists", "size_bytes", "active", "priority", "mode", "fstab_line"):
            assert applied[key] == check[key], key
        assert applied["diff"][0]["after"] == check["diff"][0]["after"]
        assert not run(_ansible_check_mode=True, **args)["changed"]
        again = run(**args)
        assert not again["changed"] and again["actions"] == []


def test_create_result(kernel, where, run):
    result = run(size="8M", priority=4, _ansible_diff=True, **where)
    assert result["changed"] is True
    assert {k: result[k] for k in ("exists", "size_bytes", "active", "priority", "used_bytes", "mode", "fstab_line",
                                   "fstab", "filesystem", "allocation", "systemd_reloaded")} == {
        "exists": True, "size_bytes": 8 << 20, "active": True, "priority": 4, "used_bytes": 0, "mode": "0600",
        "fstab_line": "%s none swap sw,pri=4 0 0" % where["path"], "fstab": where["fstab"], "filesystem": "ext4",
        "allocation": "fallocate", "systemd_reloaded": False}
    assert result["actions"] == ["create %s (8 MiB, fallocate)" % where["path"], "mkswap %s" % where["path"],
                                 "swapon %s (priority 4)" % where["path"],
                                 "fstab %s: %s none swap sw,pri=4 0 0" % (where["fstab"], where["path"])]
    assert [d["before_header"] for d in result["diff"]] == ["%s (swap file)" % where["path"], where["fstab"]]
    assert "active: False" in result["diff"][0]["before"] and "active: True" in result["diff"][0]["after"]
    assert result["diff"][1] == {"before_header": where["fstab"], "after_header": where["fstab"], "before": "",
                                 "after": "%s none swap sw,pri=4 0 0\n" % where["path"]}
    assert stat.S_IMODE(os.stat(where["path"]).st_mode) == 0o600
    assert "path" not in result and "state" not in result  # exit_json would add the file's stat fields


def test_backup(kernel, where, run):
    with open(where["fstab"], "w") as handle:
        handle.write("UUID=1 / ext4 defaults 0 1\n")
    result = run(size="8M", backup=True, **where)
    with open(result["backup_file"]) as handle:
        assert handle.read() == "UUID=1 / ext4 defaults 0 1\n"
    assert "backup_file" not in run(size="8M", backup=True, **where)


@pytest.mark.parametrize("options, reason, says", [
    ({"size": "0"}, "invalid_request", "swapfile: size: '0' is zero"),
    ({"size": "-2G"}, "invalid_request", "negative"),
    ({"size": "4GB"}, "invalid_request", "ambiguous"),
    ({"size": "big"}, "invalid_request", "not a size"),
    ({"size": True}, "invalid_request", "boolean"),
    ({"size": "100K"}, "invalid_request", "too small"),
    ({"size": "9" * 400}, "invalid_request", "larger than any size the kernel takes"),
    ({"size": int("9" * 400)}, "invalid_request", "larger than any size the kernel takes"),
    ({"size": "8M", "min_free": "9" * 400 + "G"}, "invalid_request", "min_free: '9999"),
    ({"size": "8M", "priority": 40000}, "invalid_request", "priority 40000 is out of range"),
    ({"size": "8M", "priority": -5}, "invalid_request", "out of range"),
    ({"size": "8M", "min_free": "1T"}, "not_enough_space", "min_free 1 TiB"),
])
def test_refusals_change_nothing(kernel, where, run, options, reason, says):
    args = dict(where, **options)
    result = run(**args)
    assert result["failed"] and result["reason"] == reason and says in result["msg"]
    assert result["msg"].startswith("swapfile: ")
    assert "exception" not in result and "Traceback" not in json.dumps(result)
    assert os.listdir(os.path.dirname(where["path"])) == [] and kernel.calls == []


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("line", ["{path} /mnt/data none bind 0 0\n", "{path} /mnt/x ext4 loop 0 0\n", "{path}\n"])
def test_fstab_naming_the_path_with_another_type_is_a_clear_failure(kernel, where, run, state, line):
    text = line.format(path=where["path"])
    with open(where["fstab"], "w") as handle:
        handle.write(text)
    result = run(state=state, size="8M", **where)
    assert result["failed"] and result["reason"] == "refused"
    assert result["msg"].startswith("swapfile: %s: line 1 names %s with type " % (where["fstab"], where["path"]))
    assert "fix or remove it by hand" in result["msg"]
    assert "exception" not in result and "Traceback" not in json.dumps(result)
    assert sorted(os.listdir(os.path.dirname(where["path"]))) == ["fstab"] and kernel.calls == []
    with open(where["fstab"]) as handle:
        assert handle.read() == text


@pytest.mark.parametrize("char", ["\xa0", "\r", "\x0b", "\x85", "\u2028", "\u3000"])
def test_paths_with_whitespace_fstab_cannot_carry_are_refused(kernel, where, run, char):
    path = os.path.join(os.path.dirname(where["path"]), "swap%sfile" % char)
    result = run(size="8M", **dict(where, path=path))
    assert result["failed"] and result["reason"] == "invalid_request"
    assert "U+%04X" % ord(char) in result["msg"] and "choose a path without it" in result["msg"]
    assert os.listdir(os.path.dirname(where["path"])) == [] and kernel.calls == []


def test_paths_with_escaped_whitespace_are_idempotent(kernel, where, run):
    args = dict(where, path=os.path.join(os.path.dirname(where["path"]), "my swap\tfile"), size="8M")
    first = run(**args)
    assert first["changed"], first
    again = run(**args)
    assert "failed" not in again, again
    expected = "%s/my\\040swap\\011file none swap" % os.path.dirname(where["path"])
    assert not again["changed"] and again["fstab_line"].startswith(expected)
    with open(where["fstab"]) as handle:
        assert len(handle.readlines()) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_file_owned_by_another_user_is_not_taken_over(kernel, where, run, state):
    with open(where["path"], "wb") as handle:
        handle.write(b"\0" * 4096)
    os.chmod(where["path"], 0o644)
    os.chown(where["path"], 1000, 1000)
    result = run(state=state, size="8M", **where)
    assert result["failed"] and result["reason"] == "unsafe_location"
    assert "%s is owned by uid 1000, not root" % where["path"] in result["msg"]
    st = os.stat(where["path"])
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1000, 0o644) and kernel.calls == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
@pytest.mark.parametrize("mode, owner", [(0o777, 0), (0o775, 0), (0o755, 1000), (0o1777, 1000)])
def test_a_directory_others_can_write_to_is_refused(kernel, where, run, mode, owner):
    directory = os.path.dirname(where["path"])
    os.chmod(directory, mode)
    os.chown(directory, owner, 0)
    result = run(size="8M", **where)
    assert result["failed"] and result["reason"] == "unsafe_location"
    assert result["msg"].startswith("swapfile: %s: %s " % (where["path"], directory))
    assert os.listdir(directory) == [] and kernel.calls == []


def test_a_sticky_directory_owned_by_root_is_accepted(kernel, where, run):
    os.chmod(os.path.dirname(where["path"]), 0o1777)
    assert run(size="8M", **where)["changed"]


def test_examples_keep_swap_out_of_world_writable_directories():
    assert "/tmp/" not in module.EXAMPLES


@pytest.mark.parametrize("fs_type", ["tmpfs", "overlay", "nfs", "zfs"])
def test_unsupported_filesystem(kernel, where, run, fs_type):
    kernel.fs["type"] = fs_type
    result = run(size="8M", **where)
    assert result["reason"] == "unsupported_filesystem"
    assert result["msg"].startswith("swapfile: %s is on %s" % (os.path.dirname(where["path"]), fs_type))
    assert os.listdir(os.path.dirname(where["path"])) == []


def test_existing_data_file_is_left_untouched(kernel, where, run):
    with open(where["path"], "wb") as handle:
        handle.write(b"precious data\n")
    for state in ("present", "absent"):
        result = run(size="8M", state=state, **where)
        assert result["reason"] == "not_a_swap_file" and "left untouched" in result["msg"]
        with open(where["path"], "rb") as handle:
            assert handle.read() == b"precious data\n"


def test_container_is_refused(kernel, where, run):
    kernel.caps = {"swapon_permitted": False, "container": True, "container_type": "podman"}
    result = run(size="8M", **where)
    assert result["reason"] == "not_permitted"
    assert "not permitted in a podman container" in result["msg"]
    assert os.listdir(os.path.dirname(where["path"])) == []


def test_required_size(kernel, where, run):
    result = run(**where)
    assert result["failed"] and "size" in result["msg"]


def test_failure_during_apply_reports_reason_and_cleans_up(kernel, where, run):
    kernel.fail["swapon"] = 22  # EINVAL on an explicit fallocate: no fallback
    result = run(size="8M", allocation="fallocate", **where)
    assert result["failed"] and result["reason"] == "failed"
    assert "removed the unfinished" in result["msg"]
    assert result["changed"] is False and result["actions"] == []
    assert os.listdir(os.path.dirname(where["path"])) == []


def test_a_wrong_read_back_fails_and_says_what_was_done(kernel, where, run, monkeypatch):
    real_swapon = kernel.swapon

    def swapon_then_lose(path, priority):
        real_swapon(path, priority)
        kernel.areas.pop()  # the kernel "forgets" the area: the read back must catch it
        kernel.write_swaps()

    monkeypatch.setattr(kernel, "swapon", swapon_then_lose)
    result = run(size="8M", **where)
    assert result["failed"] and result["reason"] == "failed"
    assert "reads back wrong after the run: it is not active" in result["msg"]
    assert result["changed"] is True and len(result["actions"]) == 4


def test_no_systemd_reload_for_another_fstab(kernel, where, run):
    kernel.caps["systemd"] = True
    run(size="8M", **where)
    assert ("daemon-reload",) not in kernel.calls


# ---------------------------------------------------------------------------
# documentation


def doc(name):
    return yaml.safe_load(getattr(module, name))


def test_documentation_matches_argument_spec(monkeypatch):
    captured = {}

    class Capture(Exception):
        pass

    def fake_init(self, argument_spec, **kwargs):
        captured.update(argument_spec=argument_spec, **kwargs)
        raise Capture()

    monkeypatch.setattr(module, "AnsibleModule", type("M", (), {"__init__": fake_init}))
    with pytest.raises(Capture):
        module.main()
    options = documented_options(module)
    spec = captured["argument_spec"]
    assert sorted(options) == sorted(spec)
    for name, option in options.items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert option.get("choices") == spec[name].get("choices"), name
        assert bool(option.get("required")) == bool(spec[name].get("required")), name
    assert captured["supports_check_mode"] is True


def test_every_result_key_is_documented(kernel, where, run):
    documented = set(doc("RETURN"))
    for entry in doc("RETURN").values():
        assert {"description", "returned", "type", "sample"} <= set(entry)
    result = run(size="8M", backup=True, **where)
    result.update(run(size="8M", state="absent", backup=True, **where))
    result.update(run(size="0", **where))
    assert set(result) - {"changed", "failed", "msg", "invocation", "diff"} <= documented


def test_examples_use_the_fqcn_and_name_every_task():
    for task in yaml.safe_load(module.EXAMPLES):
        assert task["name"] and "memops.linux.swapfile" in task


@pytest.mark.parametrize("entry", ["fifo", "directory", "loop"])
def test_a_proc_file_that_is_not_a_file_is_a_clear_failure(tmp_path, run_module, entry):
    """A real proc_root whose meminfo is a FIFO (whose open would block), a directory or a link to itself: the
    module refuses with a message, in check mode and without touching anything (found by tests/fuzz)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    meminfo = proc / "meminfo"
    if entry == "fifo":
        os.mkfifo(str(meminfo))
    elif entry == "directory":
        meminfo.mkdir()
    else:
        meminfo.symlink_to(meminfo)
    result = run_module(module, path=str(tmp_path / "swapfile"), size="8M", fstab=str(tmp_path / "fstab"),
                        proc_root=str(proc), sys_root=str(tmp_path / "sys"), _ansible_check_mode=True)
    assert result["failed"] and result["reason"] == "refused"
    assert result["msg"].startswith("swapfile: cannot read the memory and swap state: %s" % meminfo)
    assert sorted(os.listdir(str(tmp_path))) == ["proc"]
