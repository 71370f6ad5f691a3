# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _reclaim

MIB = 1 << 20
DEVICES = [{"path": "/swapfile", "type": "file", "size_bytes": 1024 * MIB, "used_bytes": 600 * MIB,
            "priority": -2, "deleted": False}]


def snapshot(available, swap_used, swap_cached=0):
    return {"free_bytes": available, "available_bytes": available, "cached_bytes": 0, "buffers_bytes": 0,
            "slab_reclaimable_bytes": 0, "swap_used_bytes": swap_used, "swap_cached_bytes": swap_cached}


@pytest.mark.parametrize("available, used, cached, minimum, allowed, to_move", [
    (2048 * MIB, 600 * MIB, 0, 256 * MIB, True, 600 * MIB),
    (800 * MIB, 600 * MIB, 0, 256 * MIB, False, 600 * MIB),   # would leave 200 MiB
    (856 * MIB, 600 * MIB, 0, 256 * MIB, True, 600 * MIB),    # exactly the margin
    (800 * MIB, 600 * MIB, 200 * MIB, 256 * MIB, True, 400 * MIB),  # swap cache is already in RAM
    (100 * MIB, 0, 0, 256 * MIB, False, 0),
])
def test_swap_cycle_guard(available, used, cached, minimum, allowed, to_move):
    plan = _reclaim.swap_cycle_plan(snapshot(available, used, cached), DEVICES, minimum)
    assert plan["allowed"] is allowed
    assert plan["swap_to_move_bytes"] == to_move
    assert plan["available_after_bytes"] == available - to_move
    assert plan["needed"] is (used > 0)
    assert plan["devices"] == ["/swapfile"]


def test_a_memory_cgroup_over_its_limit_forbids_the_cycle():
    plan = _reclaim.swap_cycle_plan(snapshot(8192 * MIB, 600 * MIB), DEVICES, 256 * MIB,
                                    [("/kubepods/pod1", 40 * MIB)])
    assert not plan["allowed"]
    assert plan["memcgs_over_limit"] == [{"cgroup": "/kubepods/pod1", "excess_bytes": 40 * MIB}]


def test_no_devices_means_nothing_to_do():
    assert not _reclaim.swap_cycle_plan(snapshot(MIB, 0), [], 0)["needed"]


def test_snapshot_reads_meminfo_and_caps_odd_swapfree(tmp_path):
    (tmp_path / "meminfo").write_text(
        "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\nCached: 200 kB\nBuffers: 10 kB\n"
        "SReclaimable: 30 kB\nSwapCached: 5 kB\nSwapTotal: 50 kB\nSwapFree: 80 kB\n")
    snap = _reclaim.memory_snapshot(_procfs.Reader(str(tmp_path)))
    assert snap == {"free_bytes": 102400, "available_bytes": 409600, "cached_bytes": 204800, "buffers_bytes": 10240,
                    "slab_reclaimable_bytes": 30720, "swap_used_bytes": 0, "swap_cached_bytes": 5120}


def test_snapshot_without_procfs_is_a_clear_error(tmp_path):
    with pytest.raises(_reclaim.ReclaimError, match="proc_root must point at a mounted procfs"):
        _reclaim.memory_snapshot(_procfs.Reader(str(tmp_path)))


@pytest.mark.parametrize("error", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_read_only_knob_says_the_host_does_not_allow_it(tmp_path, monkeypatch, error):
    # Stands in for /proc/sys mounted read-only (an unprivileged container), which
    # root cannot reproduce with file modes; the real case runs in Molecule.
    (tmp_path / "sys" / "vm").mkdir(parents=True)

    def refuse(path, flags, *args):
        raise OSError(error, os.strerror(error), path)

    monkeypatch.setattr(_reclaim.os, "open", refuse)
    with pytest.raises(_reclaim.ReclaimError, match="does not allow reclaiming memory"):
        _reclaim.write_knob(_procfs.Reader(str(tmp_path)), "drop_caches", 3)


def test_missing_knob_names_the_kernel(tmp_path):
    (tmp_path / "sys" / "vm").mkdir(parents=True)
    with pytest.raises(_reclaim.ReclaimError, match="this kernel does not offer it"):
        _reclaim.write_knob(_procfs.Reader(str(tmp_path)), "compact_memory", 1)
