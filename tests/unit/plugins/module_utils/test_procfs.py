# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The /proc and /sys parsers and the reader, on fixture files and on the cases
of the reliability checklist (P1-P7, G1): each parser keeps what it can read,
skips the rest, and only a stat/statm line with no shape at all raises."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups
from ansible_collections.memops.linux.plugins.module_utils import _kernlog as kernlog
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import (
    KIB, fixture_path, pid_files, read_fixture, tree_reader)


# ---------------------------------------------------------------------------
# meminfo (P4)

@pytest.mark.parametrize("text, expected", [
    ("MemTotal:       24684084 kB\n", {"MemTotal": 24684084 * KIB}),
    ("HugePages_Total:       4\nHugePages_Free:        3\n", {"HugePages_Total": 4, "HugePages_Free": 3}),
    ("Hugepagesize:       2048 kB", {"Hugepagesize": 2048 * KIB}),
    ("\n\n   \t\nMemFree: 1 kB\n\n", {"MemFree": KIB}),
    ("Active(anon):       1528 kB\n", {"Active(anon)": 1528 * KIB}),
    ("MemTotal:\t8041216 KB\n", {"MemTotal": 8041216 * KIB}),
    ("", {}),
], ids=["kB", "unitless-hugepages", "no-newline", "blank-lines", "parens-in-key", "upper-KB", "empty"])
def test_meminfo_values(text, expected):
    notes = []
    assert procfs.parse_meminfo(text, notes) == expected
    assert notes == []


@pytest.mark.parametrize("line", [
    "garbage line without a colon",
    "Bogus:                12 MB",
    "Weird:           abc kB",
    "Negative:             -5 kB",
    "DirectMap4k:",
    ": 12 kB",
    "Extra: 1 2 kB",
])
def test_meminfo_skips_and_notes_unreadable_lines(line):
    notes = []
    result = procfs.parse_meminfo("MemTotal: 4 kB\n%s\nMemFree: 1 kB\n" % line, notes)
    assert result == {"MemTotal": 4 * KIB, "MemFree": KIB}
    assert len(notes) == 1 and line[:20] in notes[0]


def test_meminfo_odd_fixture_keeps_every_good_line():
    text = read_fixture("odd_meminfo", "proc", "meminfo")
    notes = []
    result = procfs.parse_meminfo(text, notes)
    # five garbage lines (no colon, MB, abc, -5, empty value); blank and whitespace lines pass silently
    assert len(notes) == 5
    good = [line for line in text.splitlines() if line.strip()]
    assert len(result) == len(good) - 5
    assert result["HugePages_Total"] == 4 and result["HugePages_Rsvd"] == 1
    # the parser keeps WSL's absurd SwapFree; the gatherer judges it against /proc/swaps
    assert result["SwapTotal"] == 1048576 * KIB and result["SwapFree"] == 4194304 * KIB


def test_meminfo_captured_host_has_every_line():
    text = read_fixture("host", "proc", "meminfo")
    result = procfs.parse_meminfo(text)
    assert len(result) == len(text.splitlines())
    assert result["MemTotal"] == 24684084 * KIB
    assert result["HugePages_Total"] == 0


# ---------------------------------------------------------------------------
# swaps

def test_swaps_two_areas_in_use():
    devices = procfs.parse_swaps(read_fixture("low_memory", "proc", "swaps"))
    assert devices == [
        {"path": "/dev/dm-1", "type": "partition", "size_bytes": 2097148 * KIB, "used_bytes": 1890000 * KIB,
         "priority": -2, "deleted": False},
        {"path": "/swapfile", "type": "file", "size_bytes": 2097152 * KIB, "used_bytes": 1891940 * KIB,
         "priority": -3, "deleted": False},
    ]


@pytest.mark.parametrize("line, path, deleted", [
    ("/swapfile (deleted)                     file\t\t2097148\t\t0\t\t-2", "/swapfile", True),
    ("/mnt/my\\040swap                         file\t\t1024\t\t0\t\t-2", "/mnt/my swap", False),
    ("/data/back\\134slash                     file\t\t1024\t\t0\t\t-2", "/data/back\\slash", False),
    ("/dev/zram0                              partition\t8388604\t\t0\t\t100", "/dev/zram0", False),
])
def test_swaps_paths(line, path, deleted):
    (device,) = procfs.parse_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + line + "\n")
    assert (device["path"], device["deleted"]) == (path, deleted)


@pytest.mark.parametrize("text", ["Filename\t\tType\tSize\tUsed\tPriority\n", "", "\n\n"])
def test_swaps_none_active(text):
    assert procfs.parse_swaps(text) == []


@pytest.mark.parametrize("line", ["/swapfile file 12 0", "/swapfile file big 0 -2", "/swapfile file 12 0 high"])
def test_swaps_skips_and_notes_broken_lines(line):
    notes = []
    assert procfs.parse_swaps(line + "\n", notes) == []
    assert len(notes) == 1


# ---------------------------------------------------------------------------
# vmstat and other "key value" files

def test_vmstat_captured_host():
    text = read_fixture("host", "proc", "vmstat")
    result = procfs.parse_vmstat(text)
    assert len(result) == len(text.splitlines())
    assert result["oom_kill"] == 1 and result["pswpin"] == 0


@pytest.mark.parametrize("text, expected, skipped", [
    ("oom_kill 3\npswpin 12\n", {"oom_kill": 3, "pswpin": 12}, 0),
    ("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", {"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 0}, 0),
    ("low 0\nhigh 0\nmax 37\noom 2\noom_kill 1\n", {"low": 0, "high": 0, "max": 37, "oom": 2, "oom_kill": 1}, 0),
    ("nr_free_pages\n", {}, 1),
    ("a 1 2\nb x\n\nc 3\n", {"c": 3}, 2),
])
def test_key_int_lines(text, expected, skipped):
    notes = []
    assert procfs.parse_key_int_lines(text, notes, source="memory.events") == expected
    assert len(notes) == skipped
    assert all(note.startswith("memory.events:") for note in notes)


# ---------------------------------------------------------------------------
# slabinfo (P5: the parser side; root-only and absent files are the gatherer's, see test_memfacts)

def test_slabinfo_sorted_by_cache_size():
    caches = procfs.parse_slabinfo(read_fixture("no_smaps_rollup", "proc", "slabinfo"), page_size=4096)
    assert [c["name"] for c in caches] == ["ext4_inode_cache", "dentry", "radix_tree_node", "kmalloc-64"]
    ext4 = caches[0]
    # 40320 objects, 30 per slab -> 1344 slabs of 8 pages
    assert ext4["num_slabs"] == 1344
    assert ext4["size_bytes"] == 1344 * 8 * 4096
    assert ext4["active_bytes"] == 40120 * 1080


def test_slabinfo_page_size_and_notes():
    text = ("slabinfo - version: 2.1\n# name <active_objs> ...\n"
            "kmalloc-64        30012  30208     64   64    1 : tunables    0    0    0 : slabdata    472    472      0\n"
            "broken line\n"
            "dentry 1 2 3 : tunables 0 0 0 : slabdata x y 0\n")
    notes = []
    (cache,) = procfs.parse_slabinfo(text, page_size=65536, notes=notes)
    assert cache["size_bytes"] == 472 * 65536
    assert len(notes) == 2


def test_slabinfo_captured_host_is_trimmed_but_whole():
    text = read_fixture("host", "proc", "slabinfo")
    caches = procfs.parse_slabinfo(text)
    assert len(caches) == len(text.splitlines()) - 2
    sizes = [c["size_bytes"] for c in caches]
    assert sizes == sorted(sizes, reverse=True)


# ---------------------------------------------------------------------------
# buddyinfo (P7: the number of orders follows the kernel's MAX_ORDER)

def _zone_line(counts, zone="Normal"):
    return "Node 0, zone %8s " % zone + " ".join("%6d" % c for c in counts) + " \n"


@pytest.mark.parametrize("orders", [9, 11, 14], ids=["ppc64-64k-pages", "x86-default", "arm64-64k-old"])
def test_buddyinfo_orders_follow_the_line(orders):
    counts = list(range(1, orders + 1))
    (zone,) = procfs.parse_buddyinfo(_zone_line(counts))
    assert zone["free_blocks_by_order"] == counts
    assert len(zone["unusable_index"]) == orders
    assert zone["largest_free_order"] == orders - 1
    assert zone["free_pages"] == sum(c << o for o, c in enumerate(counts))


def test_buddyinfo_mixed_lengths_in_one_file():
    zones = procfs.parse_buddyinfo(_zone_line([1] * 11, "DMA32") + "Node 1, zone   Normal 1 2 3\n")
    assert [(z["node"], z["zone"], len(z["free_blocks_by_order"])) for z in zones] == [
        (0, "DMA32", 11), (1, "Normal", 3)]


def test_buddyinfo_values_by_hand():
    (zone,) = procfs.parse_buddyinfo("Node 0, zone   Normal      4      2      1\n", page_size=4096)
    # 4 single pages + 2 pairs + 1 block of 4 = 12 pages
    assert zone["free_pages"] == 12 and zone["free_bytes"] == 12 * 4096
    assert zone["largest_free_order"] == 2 and zone["largest_free_block_bytes"] == 4 * 4096
    # order 1 can use 8 of the 12 pages, order 2 only 4
    assert zone["unusable_index"] == [0.0, 0.333, 0.667]


def test_buddyinfo_empty_zone():
    (zone,) = procfs.parse_buddyinfo("Node 0, zone      DMA      0      0      0\n")
    assert zone["free_pages"] == 0 and zone["largest_free_order"] is None
    assert zone["largest_free_block_bytes"] == 0 and zone["unusable_index"] == [None, None, None]


def test_buddyinfo_fragmented_fixture():
    zones = procfs.parse_buddyinfo(read_fixture("low_memory", "proc", "buddyinfo"))
    normal = zones[2]
    assert normal["zone"] == "Normal" and normal["largest_free_order"] == 3
    assert normal["free_pages"] == 1530 + 214 * 2 + 9 * 4 + 1 * 8


@pytest.mark.parametrize("line", ["Node 0, zone Normal", "Node x, zone Normal 1 2", "Node 0, zone Normal 1 -2 3",
                                  "Node 0, zone Normal 1 two 3", "something else"])
def test_buddyinfo_skips_and_notes(line):
    notes = []
    assert procfs.parse_buddyinfo(line + "\n", notes=notes) == []
    assert len(notes) == 1


@pytest.mark.parametrize("counts, expected", [
    ([0, 0], [None, None]),
    ([8], [0.0]),
    ([0, 0, 1], [0.0, 0.0, 0.0]),
    ([4, 0, 1], [0.0, 0.5, 0.5]),
])
def test_unusable_free_index(counts, expected):
    assert procfs.unusable_free_index(counts) == expected


# ---------------------------------------------------------------------------
# pressure

def test_pressure_fixture():
    result = procfs.parse_pressure(read_fixture("container", "proc", "pressure", "memory"))
    assert result == {"some": {"avg10": 0.12, "avg60": 0.08, "avg300": 0.02, "total_us": 3128871},
                      "full": {"avg10": 0.0, "avg60": 0.01, "avg300": 0.0, "total_us": 1211993}}


def test_pressure_odd_lines():
    notes = []
    result = procfs.parse_pressure("some avg10=x avg60=0.50 total=12\nnonsense here\n\n", notes)
    assert result == {"some": {"avg60": 0.5, "total_us": 12}}
    assert len(notes) == 1


# ---------------------------------------------------------------------------
# /proc/sys/fs counters and THP selector files

@pytest.mark.parametrize("text, expected", [
    ("98352\t0\n", {"nr_inodes": 98352, "nr_free_inodes": 0}),
    ("98352\n", {}),
    ("", {}),
    ("a b\n", {}),
])
def test_inode_nr(text, expected):
    assert procfs.parse_inode_nr(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("115087\t113456\t45\t0\t16575\t0\n",
     {"nr_dentry": 115087, "nr_unused": 113456, "age_limit": 45, "want_pages": 0, "nr_negative": 16575}),
    ("50400\t40120\t45\t0\t0\t0\n",
     {"nr_dentry": 50400, "nr_unused": 40120, "age_limit": 45, "want_pages": 0, "nr_negative": 0}),
    ("12 x 45\n", {"nr_dentry": 12, "age_limit": 45}),
    ("", {}),
])
def test_dentry_state(text, expected):
    assert procfs.parse_dentry_state(text) == expected


@pytest.mark.parametrize("text, selected, allowed", [
    ("always [madvise] never\n", "madvise", ["always", "madvise", "never"]),
    ("[always] madvise never\n", "always", ["always", "madvise", "never"]),
    ("always defer defer+madvise [madvise] never\n", "madvise", ["always", "defer", "defer+madvise", "madvise", "never"]),
    ("always within_size advise [never] deny force\n", "never",
     ["always", "within_size", "advise", "never", "deny", "force"]),
    ("always [inherit] madvise never\n", "inherit", ["always", "inherit", "madvise", "never"]),
    ("1\n", "1", []),
    ("", None, []),
    ("always madvise never\n", None, ["always", "madvise", "never"]),
])
def test_selector(text, selected, allowed):
    assert procfs.parse_selector(text) == {"selected": selected, "allowed": allowed}


def test_selector_on_captured_files():
    base = fixture_path("host", "sys", "kernel", "mm", "transparent_hugepage")
    for name in ("enabled", "defrag", "shmem_enabled"):
        with open(os.path.join(base, name)) as handle:
            text = handle.read()
        result = procfs.parse_selector(text)
        assert "[%s]" % result["selected"] in text
        assert len(result["allowed"]) == len(text.split())


# ---------------------------------------------------------------------------
# /proc/PID/stat (P1: the name sits between the first '(' and the LAST ')')

TAIL = ("S 1 1651 1651 0 -1 4194560 1234 0 12 0 150 40 0 0 20 0 1 0 4101 9523200 775 18446744073709551615 "
        "1 1 0 0 0 0 0 4096 16386 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0")


@pytest.mark.parametrize("comm", [
    "bash", "(sd-pam)", "odd) (name x", "tmux: server", "a\nb", ") (", "x)", "(", "", "kworker/0:0H-events_highpri",
    "a) S 99 99 99",
], ids=["plain", "sd-pam", "parens-and-spaces", "colon-space", "newline", "close-open", "trailing-close",
        "lone-open", "empty", "kworker", "fake-fields"])
def test_stat_comm(comm):
    stat = procfs.parse_pid_stat("1651 (%s) %s\n" % (comm, TAIL))
    assert stat["comm"] == comm
    assert (stat["pid"], stat["state"], stat["ppid"], stat["flags"]) == (1651, "S", 1, 4194560)
    assert (stat["starttime"], stat["vsize_bytes"], stat["rss_pages"]) == (4101, 9523200, 775)


def test_stat_captured_odd_name():
    proc_root = fixture_path("host", "proc")
    odd = [pid for pid in os.listdir(proc_root) if pid.isdigit()
           and read_fixture("host", "proc", pid, "comm").strip() == "odd) (name x"]
    assert len(odd) == 1
    stat = procfs.parse_pid_stat(read_fixture("host", "proc", odd[0], "stat"))
    assert stat["comm"] == "odd) (name x" and stat["pid"] == int(odd[0])


def test_stat_kernel_thread_flag():
    kthreadd = procfs.parse_pid_stat(read_fixture("host", "proc", "2", "stat"))
    assert kthreadd["comm"] == "kthreadd" and kthreadd["flags"] & procfs.PF_KTHREAD
    init = procfs.parse_pid_stat(read_fixture("host", "proc", "1", "stat"))
    assert not init["flags"] & procfs.PF_KTHREAD


def test_stat_old_kernel_44_fields():
    line = "412 (java) S 1 412 412 0 -1 4202752 91234 0 12 0 5000 300 0 0 20 0 41 0 2900 4402343936 355121 " \
           "18446744073709551615 4194304 4196468 140735340525472 140735340520000 140229010000000 0 0 0 16800975 " \
           "18446744073709551615 0 0 17 1 0 0 0 0 0"
    stat = procfs.parse_pid_stat(line)
    assert (stat["comm"], stat["starttime"], stat["rss_pages"]) == ("java", 2900, 355121)


@pytest.mark.parametrize("text", [
    "", "garbage", "12 (x", "12 x) S 1", "abc (x) " + TAIL, "12 (x) S 1 2 3", "(x) " + TAIL,
    "12 (x) S one 1 1 0 -1 4194560 1234 0 12 0 150 40 0 0 20 0 1 0 4101 9523200 775",
])
def test_stat_without_shape_raises_parse_error(text):
    with pytest.raises(procfs.ParseError):
        procfs.parse_pid_stat(text)


# ---------------------------------------------------------------------------
# /proc/PID/status (P3: kernel threads and zombies lack the Vm* lines)

def test_status_user_process():
    status = procfs.parse_status(read_fixture("low_memory", "proc", "2210", "status"))
    assert status["Name"] == "java"
    assert status["VmRSS"] == 2150400 * KIB and status["VmSwap"] == 1048576 * KIB
    assert status["Uid"] == "1001\t1001\t1001\t1001"
    assert status["Threads"] == "1"


@pytest.mark.parametrize("tree, pid", [("host", "2"), ("no_smaps_rollup", "3"), ("no_smaps_rollup", "1207")],
                         ids=["kthreadd-6.x", "kthread-4.9", "zombie"])
def test_status_without_vm_lines(tree, pid):
    status = procfs.parse_status(read_fixture(tree, "proc", pid, "status"))
    assert "Name" in status and "State" in status
    assert not [key for key in status if key.startswith("Vm")]


@pytest.mark.parametrize("text, expected", [
    ("Name:\t(sd-pam)\n", {"Name": "(sd-pam)"}),
    ("Name:\tweird: name\n", {"Name": "weird: name"}),
    ("VmRSS:\t  abc kB\n", {"VmRSS": "abc kB"}),
    ("no colon here\n:\tvalue\nGroups:\t\n", {"Groups": ""}),
    ("VmSwap:\t       0 kB", {"VmSwap": 0}),
    ("", {}),
])
def test_status_tolerant_lines(text, expected):
    assert procfs.parse_status(text) == expected


# ---------------------------------------------------------------------------
# statm

def test_statm_values():
    assert procfs.parse_statm("765 442 413 5 0 123 0\n") == {
        "size": 765, "resident": 442, "shared": 413, "text": 5, "lib": 0, "data": 123, "dt": 0}
    assert procfs.parse_statm("1 2 3") == {"size": 1, "resident": 2, "shared": 3}


@pytest.mark.parametrize("text", ["", "1 2", "1 x 3 4", "\n"])
def test_statm_without_shape_raises_parse_error(text):
    with pytest.raises(procfs.ParseError):
        procfs.parse_statm(text)


# ---------------------------------------------------------------------------
# smaps and smaps_rollup (P2: the same sums from either)

def test_smaps_rollup():
    totals = procfs.parse_smaps(read_fixture("low_memory", "proc", "1022", "smaps_rollup"))
    assert totals["Rss"] == 820000 * KIB and totals["Pss"] == 818000 * KIB and totals["Swap"] == 1500000 * KIB


def test_smaps_sums_every_mapping():
    totals = procfs.parse_smaps(read_fixture("no_smaps_rollup", "proc", "412", "smaps"))
    assert totals["Pss"] == (4 + 1400000 + 10240) * KIB
    assert totals["Rss"] == (4 + 1400000 + 20480) * KIB
    assert "VmFlags" not in totals


def test_smaps_of_a_zombie_is_empty():
    assert procfs.parse_smaps(read_fixture("no_smaps_rollup", "proc", "1207", "smaps")) == {}


def test_smaps_ignores_headers_and_non_kb_lines():
    text = ("7f00-7f01 r--p 00000000 08:01 12   /opt/odd: 12 kB\n"
            "Pss:  8 kB\nTHPeligible:    0\nProtectionKey:  0\nVmFlags: rd mr kB\nPss: x kB\n")
    assert procfs.parse_smaps(text) == {"Pss": 8 * KIB}


# ---------------------------------------------------------------------------
# cmdline and capability masks

@pytest.mark.parametrize("data, expected", [
    (b"/usr/bin/java\0-Xmx1g\0-jar\0/opt/app.jar\0", ["/usr/bin/java", "-Xmx1g", "-jar", "/opt/app.jar"]),
    (b"php-fpm: pool www                      \0", ["php-fpm: pool www                      "]),
    (b"redis-server *:6379\0\0\0", ["redis-server *:6379"]),
    (b"", []),
    (b"a\0\0b\0", ["a", "", "b"]),
    (b"caf\xe9\0", ["caf\ufffd"]),
    ("str\0input\0", ["str", "input"]),
])
def test_cmdline(data, expected):
    assert procfs.parse_cmdline(data) == expected


@pytest.mark.parametrize("text, expected", [
    ("000001ffffffffff", (1 << 41) - 1),
    ("00000000800405fb\n", 0x800405FB),
    ("", None),
    ("xyz", None),
    (None, None),
])
def test_cap_mask(text, expected):
    assert procfs.parse_cap_mask(text) == expected


# ---------------------------------------------------------------------------
# cgroups (G1)

@pytest.mark.parametrize("tree, expected", [
    ("host", {"hierarchy": "hybrid", "memory_path": "/supervisor/job-1", "unified_path": "/"}),
    ("no_smaps_rollup", {"hierarchy": "v1", "memory_path": "/system.slice/app.service", "unified_path": None}),
    ("low_memory", {"hierarchy": "v1", "memory_path": "/user.slice", "unified_path": None}),
    ("hidepid", {"hierarchy": "v2", "memory_path": None,
                 "unified_path": "/user.slice/user-1000.slice/session-4.scope"}),
    ("container", {"hierarchy": "v2", "memory_path": None, "unified_path": "/"}),
])
def test_proc_cgroup_fixtures(tree, expected):
    assert cgroups.parse_proc_cgroup(read_fixture(tree, "proc", "self", "cgroup")) == expected


@pytest.mark.parametrize("text, expected", [
    ("", {"hierarchy": "none", "memory_path": None, "unified_path": None}),
    ("garbage\n\n", {"hierarchy": "none", "memory_path": None, "unified_path": None}),
    ("0::/\n4:memory:/a:b\n", {"hierarchy": "hybrid", "memory_path": "/a:b", "unified_path": "/"}),
    ("3:cpu,memory:/x\n", {"hierarchy": "v1", "memory_path": "/x", "unified_path": None}),
    ("1:name=systemd:/\n0::/init.scope\n", {"hierarchy": "hybrid", "memory_path": None, "unified_path": "/init.scope"}),
])
def test_proc_cgroup_lines(text, expected):
    assert cgroups.parse_proc_cgroup(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("max\n", None),                   # v2: no limit
    ("9223372036854771712\n", None),   # v1 on 4 KiB pages: PAGE_COUNTER_MAX * page size, no limit
    ("9223372036854775807\n", None),   # v1 on old kernels: LLONG_MAX
    ("9223372036854710272\n", None),   # v1 on 64 KiB pages
    ("536870912\n", 536870912),
    ("  4096 \n", 4096),
    ("0\n", 0),
    ("-1\n", None),
    ("", None),
    ("lots\n", None),
])
def test_cgroup_limit(text, expected):
    assert cgroups.parse_limit(text) == expected


def test_cgroup_limit_fixtures():
    v1 = fixture_path("host", "sys", "fs", "cgroup", "memory", "supervisor", "job-1", "memory.limit_in_bytes")
    with open(v1) as handle:
        assert cgroups.parse_limit(handle.read()) is None
    assert cgroups.parse_limit(read_fixture("container", "sys", "fs", "cgroup", "memory.max")) == 512 << 20
    assert cgroups.parse_limit(read_fixture("container", "sys", "fs", "cgroup", "memory.swap.max")) is None


# ---------------------------------------------------------------------------
# kernel log (P6)

def test_kernel_log_legacy_pair_kmsg_records():
    bare, event = kernlog.parse_kernel_log(read_fixture("low_memory", "kmsg"))
    assert bare["victim"]["pid"] == 777 and bare["invoker"] is None and "score" not in bare["victim"]
    assert event["format"] == "legacy" and event["scope"] == "system"
    assert event["uptime_seconds"] == 1834567600 / 1e6 and event["logged_at"] is None
    assert event["constraint"] == "CONSTRAINT_NONE"
    assert event["task_memcg"] == "/system.slice/shop.service"
    assert (event["invoker"], event["gfp_mask"], event["order"]) == ("java", "0x6200ca(GFP_HIGHUSER_MOVABLE)", 0)
    victim = event["victim"]
    assert (victim["pid"], victim["name"], victim["score"]) == (2201, "java", 612)
    assert victim["total_vm_bytes"] == 6449380 * KIB and victim["anon_rss_bytes"] == 2143232 * KIB
    assert victim["rss_bytes"] == 2143232 * KIB
    assert victim["uid"] == 1001  # not on the 4.19 kill line: the uid= of its oom-kill: line


def test_kernel_log_bare_killed_process_with_sizes_is_a_kill():
    # the kernel logs "Killed process N (x) total-vm:..." for OOM kills only; the fixture starts with one
    # whose selection line left the ring buffer (vmstat counts it), and syslog filters often keep only these
    assert "Killed process 777 (cron)" in read_fixture("low_memory", "kmsg")
    assert [e["victim"]["pid"] for e in kernlog.parse_kernel_log(read_fixture("low_memory", "kmsg"))] == [777, 2201]
    (event,) = kernlog.parse_kernel_log(
        "[ 10.0] Killed process 12 (x) total-vm:100kB, anon-rss:10kB, file-rss:0kB, shmem-rss:0kB\n")
    assert (event["format"], event["scope"], event["invoker"], event["constraint"]) == ("legacy", "system", None, None)
    assert event["victim"]["rss_bytes"] == 10 * KIB
    # without sizes nor OOM context, a "Killed process" line says nothing of the OOM killer
    assert kernlog.parse_kernel_log("[ 10.0] Killed process 12 (x)\n") == []


def test_kernel_log_new_invocation_drops_a_pending_legacy_selection():
    text = ("[ 1.0] Out of memory: Kill process 5 (a) score 900 or sacrifice child\n"
            "[ 2.0] b invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n"
            "[ 2.1] Killed process 5 (a) total-vm:100kB, anon-rss:10kB, file-rss:0kB\n")
    (event,) = kernlog.parse_kernel_log(text)
    assert event["invoker"] == "b" and event["victim"]["pid"] == 5
    assert "score" not in event["victim"]  # the score of the earlier selection is not lent


def test_kernel_log_modern_and_memcg_kmsg():
    system, memcg = kernlog.parse_kernel_log(read_fixture("hidepid", "kmsg"))
    assert system["format"] == "modern" and system["scope"] == "system"
    assert system["constraint"] == "CONSTRAINT_NONE" and system["memcg"] is None
    assert (system["invoker"], system["order"]) == ("python3", 0)
    victim = system["victim"]
    assert (victim["pid"], victim["name"], victim["uid"], victim["oom_score_adj"]) == (1688, "python3", 1000, 200)
    assert victim["pgtables_bytes"] == 25804 * KIB
    assert victim["rss_bytes"] == (13012344 + 4096 + 0) * KIB
    assert system["uptime_seconds"] == 6120333510 / 1e6

    assert memcg["scope"] == "memcg" and memcg["constraint"] == "CONSTRAINT_MEMCG"
    assert memcg["memcg"] == "/system.slice/batch.service" and memcg["task_memcg"] == "/system.slice/batch.service"
    assert memcg["memcg_usage_bytes"] == 262144 * KIB and memcg["memcg_limit_bytes"] == 262144 * KIB
    assert (memcg["invoker"], memcg["gfp_mask"]) == ("stress", "0xcc0(GFP_KERNEL)")
    assert (memcg["victim"]["pid"], memcg["victim"]["uid"]) == (2044, 0)


def test_kernel_log_dmesg_brackets_legacy_global_and_memcg():
    system, memcg = kernlog.parse_kernel_log(read_fixture("logs", "dmesg-3.10.txt"))
    assert (system["format"], system["scope"], system["uptime_seconds"]) == ("legacy", "system", 8123.45795)
    assert system["constraint"] is None  # 3.10 prints no oom-kill:constraint line
    assert system["victim"]["score"] == 515
    # 3.10 has no shmem-rss: the RSS is anon + file
    assert system["victim"]["shmem_rss_bytes"] is None
    assert system["victim"]["rss_bytes"] == (1048576 + 1024) * KIB
    # 3.10 logs no oom-kill: line: the scope says memcg, the constraint is not made up
    assert (memcg["format"], memcg["scope"], memcg["constraint"]) == ("legacy", "memcg", None)
    assert memcg["memcg"] == "/docker/3f2a9c" and memcg["task_memcg"] == "/docker/3f2a9c"
    assert memcg["memcg_usage_bytes"] == 524288 * KIB and memcg["memcg_limit_bytes"] == 524288 * KIB
    assert (memcg["victim"]["pid"], memcg["victim"]["score"]) == (5012, 998)


def test_kernel_log_journalctl_short_monotonic():
    (event,) = kernlog.parse_kernel_log(read_fixture("logs", "journal-5.14.txt"))
    assert event["uptime_seconds"] == 7312.00519 and event["logged_at"] is None
    assert (event["format"], event["scope"], event["constraint"]) == ("modern", "system", "CONSTRAINT_NONE")
    assert event["invoker"] == "stress-ng" and event["order"] == 0
    assert event["task_memcg"] == "/user.slice/user-1000.slice/session-3.scope"
    victim = event["victim"]
    assert (victim["pid"], victim["name"], victim["uid"], victim["oom_score_adj"]) == (9812, "stress-ng", 1000, 1000)


def test_kernel_log_syslog_with_kernel_timestamps():
    (event,) = kernlog.parse_kernel_log(read_fixture("logs", "syslog.txt"))
    assert event["logged_at"] == "Nov 26 13:40:02" and event["uptime_seconds"] == 5120.3313
    assert event["invoker"] == "postgres"
    assert event["victim"]["shmem_rss_bytes"] == 102400 * KIB
    assert event["victim"]["rss_bytes"] == (3120004 + 1024 + 102400) * KIB


def test_kernel_log_iso_syslog_without_kernel_timestamps():
    line = ("2026-11-26T13:40:02.331300+00:00 db01 kernel: Out of memory: Killed process 3311 (postgres) "
            "total-vm:4411212kB, anon-rss:3120004kB, file-rss:1024kB, shmem-rss:0kB, UID:111 pgtables:7012kB "
            "oom_score_adj:-500\n")
    (event,) = kernlog.parse_kernel_log(line)
    assert event["logged_at"] == "2026-11-26T13:40:02.331300+00:00" and event["uptime_seconds"] is None
    assert event["victim"]["oom_score_adj"] == -500


def test_kernel_log_victim_name_with_parentheses():
    line = ("[ 5.0] Out of memory: Killed process 42 (odd) (name x) total-vm:1000kB, anon-rss:800kB, "
            "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:40kB oom_score_adj:0\n")
    (event,) = kernlog.parse_kernel_log(line)
    assert event["victim"]["name"] == "odd) (name x"


@pytest.mark.parametrize("text", [
    "",
    "[ 1.0] oom_reaper: reaped process 2201 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB\n",
    "[ 1.0] Out of memory and no killable processes...\n",
    "Nov 26 13:40:03 db01 postgres[3300]: LOG:  server process (PID 3311) was terminated by signal 9: Killed\n",
    "6,1,2,-;usb 1-1: new high-speed USB device number 2 using ehci-pci\n",
])
def test_kernel_log_without_kills(text):
    assert kernlog.parse_kernel_log(text) == []


# ---------------------------------------------------------------------------
# mountinfo options (P5: hidepid)

@pytest.mark.parametrize("tree, expected", [("hidepid", "invisible"), ("host", None), ("container", None)])
def test_mount_options_hidepid(tree, expected):
    options = procfs.parse_mount_options(read_fixture(tree, "proc", "self", "mountinfo"), "/proc")
    assert options is not None and options.get("hidepid") == expected


def test_mount_options_details():
    text = ("25 29 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw,hidepid=2,gid=27\n"
            "40 29 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw,size=1024k\n"
            "41 25 0:41 / /proc rw,relatime - proc proc rw,hidepid=invisible\n")
    options = procfs.parse_mount_options(text, "/proc")
    assert options["hidepid"] == "invisible"  # the last mount on /proc wins
    assert procfs.parse_mount_options(text.splitlines()[0], "/proc") == {
        "rw": True, "nosuid": True, "nodev": True, "noexec": True, "relatime": True, "hidepid": "2", "gid": "27"}
    assert procfs.parse_mount_options(text, "/mnt/with space")["size"] == "1024k"
    assert procfs.parse_mount_options(text, "/sys") is None
    assert procfs.parse_mount_options("garbage\n\n1 2 3\n", "/proc") is None


# ---------------------------------------------------------------------------
# the reader

def test_reader_reads_and_misses():
    reader = tree_reader("container")
    assert reader.proc("meminfo").startswith("MemTotal:")
    assert reader.proc("slabinfo") is None           # absent: None, not an error
    assert reader.proc("1", "nothing", "here") is None
    assert reader.sys("fs", "cgroup", "memory.max") == "536870912\n"
    assert reader.read(fixture_path("container", "proc", "meminfo", "below-a-file")) is None  # ENOTDIR


def test_reader_pids_are_numeric_and_sorted():
    assert tree_reader("container").pids() == [1, 7, 9, 10, 23]
    assert 2 not in tree_reader("container").pids()


def test_reader_pids_of_a_missing_root():
    with pytest.raises(procfs.ProcfsError):
        procfs.Reader(proc_root=fixture_path("no-such-tree")).pids()


def test_reader_denied(fail_open):
    reader = tree_reader("hidepid")
    fail_open(lambda path: path.endswith("/slabinfo"))
    with pytest.raises(procfs.AccessDenied):
        reader.proc("slabinfo")


@pytest.mark.parametrize("code, error", [
    (errno.ENOENT, procfs.ProcessGone), (errno.ESRCH, procfs.ProcessGone),
    (errno.EACCES, procfs.AccessDenied), (errno.EPERM, procfs.AccessDenied), (errno.EIO, procfs.ProcfsError),
])
def test_reader_pid_errors(fail_open, code, error):
    reader = tree_reader("hidepid")
    fail_open(pid_files(reader.proc_root, [1733]), code)
    with pytest.raises(error):
        reader.read_pid(1733, "status")
    assert reader.read_pid(1702, "comm") == "bash\n"


@pytest.mark.parametrize("code, expected", [
    (errno.ENOENT, None), (errno.EINVAL, None), (errno.EACCES, procfs.AccessDenied), (errno.EIO, procfs.ProcfsError),
])
def test_reader_read_errors(fail_open, code, expected):
    reader = tree_reader("host")
    fail_open(lambda path: path.endswith("/meminfo"), code)
    if expected is None:
        assert reader.proc("meminfo") is None
    else:
        with pytest.raises(expected):
            reader.proc("meminfo")


def test_reader_directory_is_an_error():
    with pytest.raises(procfs.ProcfsError):
        tree_reader("host").proc("sys")


def test_reader_limit_and_binary():
    reader = tree_reader("low_memory")
    data = reader.read_pid(2210, "cmdline", binary=True, limit=4)
    assert isinstance(data, bytes) and data.startswith(b"/usr")
    assert reader.read_pid(2210, "cmdline").startswith("/usr/bin/java\0")


def test_reader_undecodable_bytes(tmp_path):
    (tmp_path / "meminfo").write_bytes(b"MemTotal: 1 kB\nNa\xffme: 2 kB\n")
    text = procfs.Reader(proc_root=str(tmp_path)).proc("meminfo")
    assert procfs.parse_meminfo(text) == {"MemTotal": KIB, "Na\ufffdme": 2 * KIB}


# ---------------------------------------------------------------------------
# kernel log sources

def test_read_kmsg_missing_device():
    assert kernlog.read_kmsg(fixture_path("container", "kmsg")) is None


def test_read_kmsg_records():
    assert kernlog.read_kmsg(fixture_path("low_memory", "kmsg")) == read_fixture("low_memory", "kmsg")


def test_read_kmsg_restricted(fail_open):
    fail_open(lambda path: path.endswith("kmsg"), errno.EPERM)
    with pytest.raises(procfs.AccessDenied):
        kernlog.read_kmsg(fixture_path("hidepid", "kmsg"))


# ---------------------------------------------------------------------------
# numbers no kernel prints: int() refuses more than 4300 digits (Python 3.11+),
# and a float timestamp can overflow; each is skipped, never raised

HUGE = "9" * 4301


def test_huge_numbers_slabinfo_and_buddyinfo():
    notes = []
    slab = "dentry 1 2 192 21 1 : tunables 0 0 0 : slabdata 1 %s 0\n" % HUGE
    assert procfs.parse_slabinfo(slab, notes=notes) == [] and len(notes) == 1
    assert procfs.parse_buddyinfo("Node %s, zone Normal 1 2\n" % HUGE, notes=notes) == [] and len(notes) == 2


@pytest.mark.parametrize("line, check", [
    ("6,1,%s,-;Out of memory: Killed process 5 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB" % HUGE,
     lambda e: e["uptime_seconds"] is None and e["victim"]["pid"] == 5),
    ("[ %s.5] Out of memory: Killed process 5 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB" % HUGE,
     lambda e: e["uptime_seconds"] is None),
    ("[ 1.0] Out of memory: Killed process 5 (a) total-vm:%skB, anon-rss:1kB, file-rss:0kB" % HUGE,
     lambda e: e["victim"]["total_vm_bytes"] is None and e["victim"]["rss_bytes"] == KIB),
])
def test_huge_numbers_kernel_log_fields(line, check):
    (event,) = kernlog.parse_kernel_log(line + "\n")
    assert check(event)


def test_huge_numbers_kernel_log_unusable_pid_score_and_usage():
    text = ("[ 1.0] a invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0\n"
            "[ 1.1] memory: usage %skB, limit 512kB, failcnt 1\n"
            "[ 1.2] Memory cgroup out of memory: Kill process 5 (a) score %s or sacrifice child\n"
            "[ 1.3] Killed process 5 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n"
            "[ 2.0] Out of memory: Killed process %s (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n"
            % (HUGE, HUGE, HUGE))
    (event,) = kernlog.parse_kernel_log(text)
    assert event["memcg_usage_bytes"] is None and event["memcg_limit_bytes"] == 512 * KIB
    assert event["victim"]["score"] is None and event["victim"]["pid"] == 5


def test_reader_pids_skip_digits_int_refuses(tmp_path):
    for name in ("12", "\u00b2", "\u0663", "self", "7"):
        (tmp_path / name).mkdir()
    assert procfs.Reader(proc_root=str(tmp_path)).pids() == [7, 12]


def test_status_name_that_looks_like_a_size_stays_text():
    text = "Name:\t12 kB\nVmRSS:\t  100 kB\n"
    assert procfs.parse_status(text)["Name"] == "12 kB"
    assert procfs.parse_status_fields(text, ("Name", "VmRSS")) == {"Name": "12 kB", "VmRSS": 102400}


@pytest.mark.parametrize("text, expected", [
    ("18446744073709551615", (1 << 64) - 1), ("-18446744073709551615", 1 - (1 << 64)),
    ("18446744073709551616", None), ("9" * 400, None), ("9" * 5000, None), (" 42\n", 42),
])
def test_to_int_refuses_numbers_no_kernel_counter_holds(text, expected):
    assert procfs.to_int(text) == expected


def test_meminfo_sizes_need_their_unit():
    notes = []
    assert procfs.parse_meminfo("MemTotal: 8041216\nHugePages_Free: 3\n", notes) == {"HugePages_Free": 3}
    assert notes == ["meminfo: skipped line 'MemTotal: 8041216' (no kB unit)"]


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "x", None])
def test_to_float_refuses_what_is_no_finite_number(text):
    assert procfs.to_float(text) is None


@pytest.mark.timeout(30)
def test_reader_does_not_open_a_fifo_for_reading(tmp_path):
    (tmp_path / "proc" / "7").mkdir(parents=True)
    os.mkfifo(str(tmp_path / "proc" / "vmstat"))
    os.mkfifo(str(tmp_path / "proc" / "7" / "status"))
    reader = procfs.Reader(str(tmp_path / "proc"), str(tmp_path / "sys"))
    notes = []
    assert reader.try_proc("vmstat", notes=notes) is None
    assert notes == ["vmstat: not a regular file (a FIFO, socket, device or directory), not read"]
    with pytest.raises(procfs.NotRegularFile):
        reader.read_pid_record(7, "status")
    with pytest.raises(procfs.NotRegularFile):
        reader.read_pid(7, "status")
    with pytest.raises(procfs.NotRegularFile):
        reader.proc("7")  # a directory
