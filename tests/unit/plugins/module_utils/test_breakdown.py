# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""memory.breakdown over the fixture trees: the parts sum to MemTotal on every
tree, and each part is what its kernel counters make it. Expected values are
worked out by hand from the fixture files (kB values times 1024); the comments
say from which lines."""

from __future__ import annotations

import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _breakdown as breakdown
from ansible_collections.memops.linux.plugins.module_utils import _memfacts as memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils._schema import BREAKDOWN_PARTS
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import (
    FIXTURES, KIB, fixture_path, read_as_live, read_fixture, tree_reader)

MIB = 1 << 20
GIB = 1 << 30
TREES = sorted(name for name in os.listdir(FIXTURES) if os.path.isfile(fixture_path(name, "proc", "meminfo")))


def gathered(tree, top=10):
    reader = tree_reader(tree)
    notes = []
    meminfo = procfs.parse_meminfo(reader.proc("meminfo"), notes)
    return breakdown.gather(reader, meminfo, top, notes)


def parts(result):
    return {part["name"]: part["bytes"] for part in result["parts"]}


def test_every_tree_has_a_meminfo():
    assert TREES == ["cache_heavy", "cgroups_container", "cgroups_v1", "cgroups_v2", "container", "database_host",
                     "heap_over_ram", "hidepid", "host", "hugetlb_unused", "low_memory", "no_smaps_rollup", "odd_meminfo",
                     "tmpfs_full", "unaccounted"]


@pytest.mark.parametrize("tree", TREES)
def test_the_parts_sum_to_memtotal_on_every_tree(tree):
    result = gathered(tree)
    total = procfs.parse_meminfo(read_fixture(tree, "proc", "meminfo"))["MemTotal"]
    assert result["total_bytes"] == total
    assert [part["name"] for part in result["parts"]] == list(BREAKDOWN_PARTS)
    assert all(isinstance(part["bytes"], int) and part["bytes"] >= 0 for part in result["parts"])
    assert sum(part["bytes"] for part in result["parts"]) == total
    details = result["page_cache"]
    assert sum(details.values()) == parts(result)["page_cache"] and min(details.values()) >= 0


def test_gathered_with_the_overview(monkeypatch):
    read_as_live(monkeypatch, "tmpfs_full")
    memory = memfacts.Gatherer(tree_reader("tmpfs_full")).overview()
    assert memory["breakdown"] == gathered("tmpfs_full")
    assert memory["breakdown"]["shmem_mounts"]


def test_no_breakdown_without_memtotal(tmp_path):
    (tmp_path / "meminfo").write_text("MemFree: 100 kB\n")
    assert "breakdown" not in memfacts.Gatherer(procfs.Reader(str(tmp_path), str(tmp_path))).overview()
    assert breakdown.gather(procfs.Reader(str(tmp_path), str(tmp_path)), {"MemFree": 100 * KIB}) is None


def test_each_part_from_its_counters():
    # tmpfs_full/proc/meminfo and sys/block/zram0/mm_stat
    result = gathered("tmpfs_full")
    assert parts(result) == {
        # Active 9906858 + Inactive 5035350 + Unevictable 0 - Buffers 40960 - Cached 10162176:
        # AnonPages 4718592 and the unmapped part of SwapCached 20480
        "process_anon": 4739072 * KIB,
        "page_cache": (40960 + 10162176 - 9752576) * KIB,  # Buffers + Cached - Shmem
        "shmem": 9752576 * KIB,
        "hugetlb": 0,
        "slab": (102400 + 131072) * KIB,  # SReclaimable + SUnreclaim
        # KernelStack 12288 + PageTables 40960 + VmallocUsed 36864 less the stacks in it + Percpu 4096
        "kernel_other": (12288 + 40960 + (36864 - 12288) + 4096) * KIB,
        "compressed_swap": 1073741824,  # zram0 mem_used_total; Zswap 0
        "unaccounted": (16678912 - 307200 - 4739072 - 450560 - 9752576 - 233472 - 81920) * KIB - 1073741824,
        "free": 307200 * KIB,
    }
    assert result["kernel_other"] == {"kernel_stack_bytes": 12288 * KIB, "page_tables_bytes": 40960 * KIB,
                                      "vmalloc_bytes": 24576 * KIB, "percpu_bytes": 4096 * KIB, "other_bytes": 0}
    assert result["slab"] == {"reclaimable_bytes": 102400 * KIB, "unreclaimable_bytes": 131072 * KIB}
    assert result["compressed_swap"] == {"zswap_bytes": 0, "zram_bytes": 1073741824}
    # Mapped 921600 is below Shmem: no file page is mapped for certain
    assert result["page_cache"] == {"reclaimable_bytes": (450560 - 4096) * KIB, "dirty_bytes": 4096 * KIB,
                                    "mapped_bytes": 0, "locked_bytes": 0}
    assert result["overcount_bytes"] == 0


def test_page_cache_that_is_not_reclaimable_at_once():
    # cache_heavy/proc/meminfo: Buffers 2097152 + Cached 52895744 - Shmem 204800 = 54788096 of page cache,
    # Active(file) 31457280 + Inactive(file) 23068672 of it evictable: 262144 locked (Unevictable)
    details = gathered("cache_heavy")["page_cache"]
    assert details == {
        "locked_bytes": 262144 * KIB,
        "dirty_bytes": (524288 + 16384) * KIB,  # Dirty + Writeback
        "mapped_bytes": (1253376 - 204800) * KIB,  # Mapped less Shmem
        "reclaimable_bytes": (54788096 - 262144 - 540672 - 1048576) * KIB,
    }


def test_hugetlb_pools_per_page_size():
    # hugetlb_unused/sys/kernel/mm/hugepages: 2048 kB 6144 pages, 5120 free, 512 reserved; 1 GiB 2 pages, both free
    result = gathered("hugetlb_unused")
    assert result["hugetlb_pools"] == [
        {"page_size_bytes": 2 * MIB, "total": 6144, "free": 5120, "reserved": 512, "surplus": 0,
         "in_use_bytes": (6144 - 4608) * 2 * MIB, "unused_bytes": 4608 * 2 * MIB},
        {"page_size_bytes": GIB, "total": 2, "free": 2, "reserved": 0, "surplus": 0,
         "in_use_bytes": 0, "unused_bytes": 2 * GIB},
    ]
    assert parts(result)["hugetlb"] == 14680064 * KIB  # Hugetlb: every page size (12 GiB + 2 GiB)


def test_hugetlb_without_the_hugetlb_line():
    # kernels before 4.16: the pools, or HugePages_Total x Hugepagesize without them
    meminfo = {"MemTotal": 8 * GIB, "MemFree": GIB, "HugePages_Total": 4, "Hugepagesize": 2 * MIB}
    pools = [{"page_size_bytes": 2 * MIB, "total": 4}, {"page_size_bytes": GIB, "total": 1}]
    assert parts(breakdown.partition(meminfo, pools))["hugetlb"] == GIB + 8 * MIB
    assert parts(breakdown.partition(meminfo))["hugetlb"] == 8 * MIB


def test_no_pool_is_read_when_meminfo_says_there_is_none(fail_open):
    opened = fail_open()
    assert gathered("cache_heavy")["hugetlb_pools"] == []
    assert not [path for path in opened if "hugepages" in path]


def test_old_kernels():
    # before 4.4 VmallocUsed was address space (VmallocChunk not 0): not counted; without the LRU lines
    # process memory is AnonPages + SwapCached
    meminfo = {"MemTotal": 4 * GIB, "MemFree": GIB, "AnonPages": GIB, "SwapCached": 64 * MIB,
               "VmallocUsed": 300 * MIB, "VmallocChunk": 30 * GIB, "KernelStack": 8 * MIB}
    result = breakdown.partition(meminfo)
    assert result["kernel_other"]["vmalloc_bytes"] == 0
    assert parts(result)["process_anon"] == GIB + 64 * MIB
    assert sum(parts(result).values()) == 4 * GIB


def test_counters_above_memtotal_are_taken_off_process_memory():
    # hidepid/proc/meminfo: MemFree 9123456 and the rest add up to 387816 kB more than MemTotal 16318244
    result = gathered("hidepid")
    assert result["overcount_bytes"] == 387816 * KIB
    assert parts(result)["unaccounted"] == 0
    assert parts(result)["process_anon"] == (2612340 - 387816) * KIB  # AnonPages less the excess
    assert parts(result)["free"] == 9123456 * KIB


def test_an_excess_beyond_process_memory_goes_on_down_the_parts():
    meminfo = {"MemTotal": GIB, "MemFree": 950 * MIB, "AnonPages": 50 * MIB, "Buffers": 100 * MIB, "Cached": 0}
    result = breakdown.partition(meminfo)
    assert parts(result)["process_anon"] == 0 and parts(result)["page_cache"] == 74 * MIB
    assert result["overcount_bytes"] == 76 * MIB and sum(parts(result).values()) == GIB


def test_zram_devices(tmp_path):
    for name, stat in (("zram0", "4096 1024 8192 0 8192 0 0 0\n"), ("zram1", "garbage\n"), ("loop0", "x")):
        (tmp_path / "block" / name).mkdir(parents=True)
        (tmp_path / "block" / name / "mm_stat").write_text(stat)
    assert breakdown.zram_bytes(procfs.Reader(str(tmp_path), str(tmp_path))) == 8192
    assert breakdown.zram_bytes(procfs.Reader(str(tmp_path), str(tmp_path / "none"))) == 0


# ---------------------------------------------------------------------------
# shared memory mounts: statvfs(2) on the live system only


def test_shmem_mounts_live(monkeypatch):
    # tmpfs_full/statvfs: /dev/shm 6 GiB used, /tmp 3 GiB (also bind-mounted at /var/tmp/bound), /run/user/1000
    # 50 MiB, /run 2 MiB; /dev empty; ramfs says nothing of its use
    read_as_live(monkeypatch, "tmpfs_full")
    mounts = gathered("tmpfs_full")["shmem_mounts"]
    assert mounts == [
        {"mount_point": "/dev/shm", "type": "tmpfs", "used_bytes": 6 * GIB, "size_bytes": 2037888 * 4096},
        {"mount_point": "/tmp", "type": "tmpfs", "used_bytes": 3 * GIB, "size_bytes": 2037888 * 4096},
        {"mount_point": "/run/user/1000", "type": "tmpfs", "used_bytes": 50 * MIB, "size_bytes": 407578 * 4096},
        {"mount_point": "/run", "type": "tmpfs", "used_bytes": 2 * MIB, "size_bytes": 815156 * 4096},
        {"mount_point": "/mnt/ram disk", "type": "ramfs", "used_bytes": None, "size_bytes": None},
    ]
    assert gathered("tmpfs_full", top=2)["shmem_mounts"] == mounts[:2]
    assert gathered("tmpfs_full")["shmem_mounts_not_read"] is None


def test_a_mount_hidden_under_another_is_not_sized_twice(monkeypatch, tmp_path):
    read_as_live(monkeypatch, "tmpfs_full")
    mountinfo = ("24 23 0:23 / /dev/shm rw - tmpfs tmpfs rw\n"
                 "30 24 0:27 / /dev/shm rw - tmpfs tmpfs rw,size=1g\n")
    mounts, reason = breakdown.shmem_mounts(tree_reader("tmpfs_full"), 10, [], lambda: mountinfo)
    assert [m["mount_point"] for m in mounts] == ["/dev/shm"] and reason is None


def test_a_mount_that_cannot_be_sized_is_left_out(monkeypatch):
    read_as_live(monkeypatch, "tmpfs_full")
    mountinfo = "40 22 0:35 / /gone rw - tmpfs tmpfs rw\n41 22 0:36 / /tmp rw - tmpfs tmpfs rw\n"
    mounts, dummy = breakdown.shmem_mounts(tree_reader("tmpfs_full"), 10, [], lambda: mountinfo)
    assert [m["mount_point"] for m in mounts] == ["/tmp"]


def test_shmem_mounts_are_not_read_off_the_live_system():
    result = gathered("tmpfs_full")
    assert result["shmem_mounts"] == []
    assert result["shmem_mounts_not_read"].startswith("proc_root is %s, not the live /proc" % fixture_path(
        "tmpfs_full", "proc"))


def test_shmem_mounts_without_mountinfo(monkeypatch, fail_open):
    read_as_live(monkeypatch, "tmpfs_full")
    fail_open(lambda path: path.endswith("mountinfo"))
    notes = []
    assert breakdown.shmem_mounts(tree_reader("tmpfs_full"), 10, notes) == (
        [], "/proc/self/mountinfo is not readable")
    assert notes == ["self/mountinfo: permission denied"]


# ---------------------------------------------------------------------------
# evidence for what no counter names


def test_unaccounted_evidence():
    # unaccounted/proc: Balloon 524288 kB, arcstats size 3 GiB, zfs, spl and virtio_balloon loaded
    result = gathered("unaccounted")
    assert result["unaccounted_evidence"] == {"balloon_bytes": 512 * MIB, "zfs_arc_bytes": 3 * GIB,
                                              "drivers": ["spl", "virtio_balloon", "zfs"]}
    assert parts(result)["unaccounted"] == (3 * 1048576 + 512 * 1024 + 96 * 1024) * KIB


def test_no_evidence_on_a_plain_host():
    assert gathered("cache_heavy")["unaccounted_evidence"] == {"balloon_bytes": None, "zfs_arc_bytes": None, "drivers": []}
