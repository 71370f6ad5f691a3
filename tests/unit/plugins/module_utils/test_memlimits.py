# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _memlimits: the directive for each systemd version and cgroup hierarchy (G3), the usage guard (G2)."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _memlimits
from ansible_collections.memops.linux.plugins.module_utils import _procfs

G = 1 << 30


@pytest.mark.parametrize("version, controller, chosen, skipped", [
    (252, "v2", [("MemoryMax", G), ("MemoryHigh", G // 2), ("MemorySwapMax", 0), ("Restart", "on-failure")], []),
    (252, "v1", [("MemoryMax", G), ("Restart", "on-failure")], ["MemoryHigh", "MemorySwapMax"]),
    (231, "v2", [("MemoryMax", G), ("MemoryHigh", G // 2), ("Restart", "on-failure")], ["MemorySwapMax"]),
    (219, "v1", [("MemoryLimit", G), ("Restart", "on-failure")], ["MemoryHigh", "MemorySwapMax"]),
])
def test_directives(version, controller, chosen, skipped):
    got, left_out = _memlimits.directives(version, controller, G, G // 2, 0, True)
    assert got == chosen
    assert [s["directive"] for s in left_out] == skipped


def test_skip_reasons():
    skipped = _memlimits.directives(219, "v2", None, None, 0)[1]
    assert skipped[0]["reason"] == "systemd 219 lacks it (needs 232 or newer)"
    skipped = _memlimits.directives(252, "v1", None, None, 0)[1]
    assert "cgroup2 (unified) memory controller" in skipped[0]["reason"] and "here is v1" in skipped[0]["reason"]


@pytest.mark.parametrize("value, parsed", [
    ("512M", 512 << 20), ("infinity", "infinity"), ("Infinity", "infinity"), (None, None), ("1073741824", G),
])
def test_parse_limit(value, parsed):
    assert _memlimits.parse_limit(value, "max") == parsed


@pytest.mark.parametrize("value", ["4GB", "lots", "-1G", "0"])
def test_parse_limit_refused(value):
    with pytest.raises(_memlimits.LimitError, match="max: .*or infinity"):
        _memlimits.parse_limit(value, "max")


def test_zero_only_for_swap():
    assert _memlimits.parse_limit("0", "swap_max") == 0
    assert _memlimits.parse_limit(0, "swap_max") == 0


def test_usage_guard():
    assert _memlimits.check_usage(G, G // 2, False) is None
    assert _memlimits.check_usage("infinity", G, False) is None
    assert _memlimits.check_usage(G, None, False) is None
    with pytest.raises(_memlimits.LimitError, match="MemoryMax=512 MiB is below the current use of the service, 1 GiB; .*force: true"):
        _memlimits.check_usage(G // 2, G, False)
    assert "applied because force is set" in _memlimits.check_usage(G // 2, G, True, "MemoryLimit")


# ---------------------------------------------------------------------------
# cgroups of ours, on fake sysfs trees (regular files stand in for the kernel's)


def make_v1(tmp_path):
    memory = tmp_path / "fs" / "cgroup" / "memory"
    memory.mkdir(parents=True)
    (memory / "cgroup.procs").write_text("1\n")
    return memory


def make_group(path, *names):
    """What mkdir in a cgroup tree creates: the group's files (the kernel's; here plain files)."""
    os.mkdir(path)
    for name in names + ("cgroup.procs",):
        with open(os.path.join(path, name), "w") as handle:
            handle.write("")


@pytest.mark.parametrize("controller, expected", [
    ("v1", "fs/cgroup/memory/memops-jobs"), ("v2", "fs/cgroup/memops-jobs"),
])
def test_group_path(tmp_path, controller, expected):
    assert _memlimits.group_path(_procfs.Reader(sys_root=str(tmp_path)), controller, "jobs") == str(tmp_path / expected)


@pytest.mark.parametrize("name, controller, says", [
    ("../x", "v1", "lower-case"), ("Jobs", "v1", "lower-case"), ("", "v1", "lower-case"),
    ("jobs", None, "no memory cgroup controller"),
])
def test_group_path_refused(tmp_path, name, controller, says):
    with pytest.raises(_memlimits.LimitError, match=says):
        _memlimits.group_path(_procfs.Reader(sys_root=str(tmp_path)), controller, name)


def test_group_lifecycle_v1(tmp_path):
    memory = make_v1(tmp_path)
    path = _memlimits.group_path(_procfs.Reader(sys_root=str(tmp_path)), "v1", "jobs")
    assert _memlimits.group_state(path, "v1") == {"exists": False, "limit": None, "usage": None, "members": []}
    os.mkdir(path)
    for name, text in (("memory.limit_in_bytes", "9223372036854771712\n"), ("memory.usage_in_bytes", "4096\n"),
                       ("cgroup.procs", "")):
        with open(os.path.join(path, name), "w") as handle:
            handle.write(text)
    assert _memlimits.group_state(path, "v1")["limit"] is None  # v1's "no limit"
    assert _memlimits.apply_group(path, "v1", 64 << 20, [10, 11]) == []
    state = _memlimits.group_state(path, "v1")
    assert state["limit"] == 64 << 20 and state["usage"] == 4096
    assert state["members"] == [11]  # a plain file keeps the last write; the kernel appends
    for name in os.listdir(path):  # the kernel's files vanish with the directory; plain files must go first
        if name != "cgroup.procs":
            os.unlink(os.path.join(path, name))
    with pytest.raises(_memlimits.LimitError, match="cannot remove"):
        _memlimits.remove_group(path, "v1")
    assert (memory / "cgroup.procs").read_text() == "11"  # moved back to the parent before the rmdir


def test_apply_group_errors(tmp_path, monkeypatch):
    make_v1(tmp_path)
    path = _memlimits.group_path(_procfs.Reader(sys_root=str(tmp_path)), "v1", "jobs")
    make_group(path, "memory.limit_in_bytes")
    real_write = _kernel.write_value

    def kernel(target, text):
        if target.endswith("memory.limit_in_bytes") and text == "1":
            raise OSError(errno.EBUSY, "Device or resource busy")
        if target.endswith("cgroup.procs") and text == "99":
            raise OSError(errno.ESRCH, "No such process")
        return real_write(target, text)

    monkeypatch.setattr(_kernel, "write_value", kernel)
    with pytest.raises(_memlimits.LimitError, match="its processes use more than that"):
        _memlimits.apply_group(path, "v1", 1, [])
    assert _memlimits.apply_group(path, "v1", "infinity", [99, 10]) == [99]
    with open(os.path.join(path, "memory.limit_in_bytes")) as handle:
        assert handle.read() == "-1"


def test_v2_unlimited_is_max(tmp_path):
    root = tmp_path / "fs" / "cgroup"
    root.mkdir(parents=True)
    path = _memlimits.group_path(_procfs.Reader(sys_root=str(tmp_path)), "v2", "jobs")
    make_group(path, "memory.max")
    _memlimits.apply_group(path, "v2", None, [])
    with open(os.path.join(path, "memory.max")) as handle:
        assert handle.read() == "max"


def test_resident_bytes(tmp_path):
    proc = tmp_path / "proc"
    (proc / "5").mkdir(parents=True)
    (proc / "5" / "statm").write_text("1000 256 10 1 0 100 0\n")
    assert _memlimits.resident_bytes(_procfs.Reader(str(proc)), [5, 6], page_size=4096) == 256 * 4096
