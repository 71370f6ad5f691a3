# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis
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
    snap = _reclaim.memory_snapshot(_reclaim.read_meminfo(_procfs.Reader(str(tmp_path))))
    assert snap == {"free_bytes": 102400, "available_bytes": 409600, "cached_bytes": 204800, "buffers_bytes": 10240,
                    "slab_reclaimable_bytes": 30720, "swap_used_bytes": 0, "swap_cached_bytes": 5120}


def test_snapshot_without_procfs_is_a_clear_error(tmp_path):
    with pytest.raises(_reclaim.ReclaimError, match="proc_root must point at a mounted procfs"):
        _reclaim.read_meminfo(_procfs.Reader(str(tmp_path)))


@pytest.mark.parametrize("error", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_read_only_knob_says_the_host_does_not_allow_it(tmp_path, monkeypatch, error):
    # Stands in for /proc/sys mounted read-only (an unprivileged container), which
    # root cannot reproduce with file modes; the real case runs in Molecule.
    (tmp_path / "sys" / "vm").mkdir(parents=True)

    def refuse(path, flags, *args, **kwargs):
        raise OSError(error, os.strerror(error), path)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(_reclaim.ReclaimError, match="does not allow reclaiming memory"):
        _reclaim.write_knob(_procfs.Reader(str(tmp_path)), "drop_caches", 3)


def test_missing_knob_names_the_kernel(tmp_path):
    (tmp_path / "sys" / "vm").mkdir(parents=True)
    with pytest.raises(_reclaim.ReclaimError, match="this kernel does not offer it"):
        _reclaim.write_knob(_procfs.Reader(str(tmp_path)), "compact_memory", 1)


def proc_tree(tmp_path, meminfo, dentry_state="0 0 45 0 0 0", buddyinfo="", vmstat=""):
    (tmp_path / "sys" / "fs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "meminfo").write_text(meminfo)
    (tmp_path / "sys" / "fs" / "dentry-state").write_text(dentry_state + "\n")
    (tmp_path / "buddyinfo").write_text(buddyinfo)
    (tmp_path / "vmstat").write_text(vmstat)
    return _procfs.Reader(str(tmp_path))


# 1 GiB of file pages of which 100 MiB mapped; 50 MiB of reclaimable slab
MEMINFO = ("MemTotal: 4194304 kB\nMemFree: 2097152 kB\nMemAvailable: 3145728 kB\nBuffers: 10240 kB\n"
           "Cached: 1038336 kB\nShmem: 8192 kB\nActive(file): 786432 kB\nInactive(file): 262144 kB\n"
           "Mapped: 102400 kB\nSReclaimable: 51200 kB\n")


@pytest.mark.parametrize("level, page_cache, slab", [
    (1, 924 * MIB, 0),
    (2, 0, 20000 * 1024),
    (3, 924 * MIB, 20000 * 1024),
])
def test_drop_estimate_counts_what_the_level_drops(tmp_path, level, page_cache, slab):
    reader = proc_tree(tmp_path, MEMINFO, dentry_state="30000 20000 45 0 5000 0")
    assert _reclaim.drop_estimate(reader, _reclaim.read_meminfo(reader), level) == {
        "page_cache_bytes": page_cache, "slab_bytes": slab, "total_bytes": page_cache + slab}


def test_drop_estimate_after_a_drop_is_near_zero(tmp_path):
    # numbers read on a 6.18 host right after "echo 3 > drop_caches"
    reader = proc_tree(tmp_path, "MemTotal: 25000000 kB\nMemFree: 24548400 kB\nBuffers: 1624 kB\nCached: 13220 kB\n"
                                 "Active(file): 4368 kB\nInactive(file): 1436 kB\nMapped: 10348 kB\n"
                                 "SReclaimable: 18748 kB\n", dentry_state="1106 16 45 0 4 0")
    estimate = _reclaim.drop_estimate(reader, _reclaim.read_meminfo(reader), 3)
    assert estimate == {"page_cache_bytes": 0, "slab_bytes": 16 * 1024, "total_bytes": 16 * 1024}


def test_unused_dentries_never_count_for_more_than_the_reclaimable_slab(tmp_path):
    reader = proc_tree(tmp_path, "MemTotal: 4096 kB\nMemFree: 1024 kB\nSReclaimable: 100 kB\n",
                       dentry_state="900000 800000 45 0")
    assert _reclaim.drop_estimate(reader, _reclaim.read_meminfo(reader), 2)["slab_bytes"] == 100 * 1024


def test_drop_estimate_on_a_kernel_with_one_lru(tmp_path):
    reader = proc_tree(tmp_path, "MemTotal: 4096 kB\nMemFree: 1024 kB\nCached: 2048 kB\nBuffers: 64 kB\n"
                                 "Shmem: 512 kB\nMapped: 600 kB\n")
    assert _reclaim.drop_estimate(reader, _reclaim.read_meminfo(reader), 1)["page_cache_bytes"] == (2048 + 64 - 512 - 600) * 1024


# Normal holds 1.9 GiB free; FRAGMENTED has it all in order-0..2 blocks, COMPACT in order-10 blocks
FRAGMENTED = ("Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3\n"
              "Node 0, zone   Normal 200000 100000 50000 10 0 0 0 0 0 0 0\n")
COMPACT = ("Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3\n"
           "Node 0, zone   Normal 10 10 10 10 0 0 0 0 0 0 500\n")


@pytest.mark.parametrize("buddyinfo, free_kb, overrides, zones", [
    (FRAGMENTED, 2097152, {}, ["0/Normal"]),
    (COMPACT, 2097152, {}, []),
    (FRAGMENTED, 102400, {}, []),   # 2.4% free: low memory, not fragmentation
    (FRAGMENTED, 2097152, {"fragmentation_order": 2}, []),   # the order-2 blocks are usable at order 2
    (COMPACT, 2097152, {"fragmentation_order": 10, "fragmentation_unusable_index": 0.0}, ["0/Normal"]),
])
def test_fragmented_zones_follow_the_diagnosis_thresholds(tmp_path, buddyinfo, free_kb, overrides, zones):
    reader = proc_tree(tmp_path, "MemTotal: 4194304 kB\nMemFree: %d kB\n" % free_kb, buddyinfo=buddyinfo)
    assert _reclaim.fragmented_zones(_reclaim.buddy_zones(reader), _reclaim.read_meminfo(reader),
                                     _diagnosis.merge_thresholds(overrides)) == zones


def test_compact_counters_drop_the_prefix_and_keep_what_the_kernel_has(tmp_path):
    reader = proc_tree(tmp_path, MEMINFO, vmstat="nr_free_pages 5\ncompact_migrate_scanned 30\ncompact_isolated 7\n")
    assert _reclaim.compact_counters(reader) == {"migrate_scanned": 30, "isolated": 7}
