# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Gatherer over each fixture tree. Expected values are worked out by hand
from the fixture files (kB values times 1024); the comments say from which."""

from __future__ import annotations

import datetime
import errno
import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _host as host
from ansible_collections.memops.linux.plugins.module_utils import _kernlog as kernlog
from ansible_collections.memops.linux.plugins.module_utils import _memfacts as memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import (
    KIB, fixture_path, pid_files, read_fixture, tree_reader)

USERS = {0: "root", 33: "www-data", 106: "mysql", 110: "postgres", 999: "redis", 1000: "deploy"}


@pytest.fixture(autouse=True)
def host_independent(monkeypatch):
    """Keep the machine running the tests out of the results: user names come
    from a fixed table, not its /etc/passwd, and the container marker files
    (/run/.containerenv, /.dockerenv) that _container() looks for outside
    proc_root are absent, whatever this machine has."""
    monkeypatch.setattr(memfacts, "_USERS", {})

    def getpwuid(uid):
        if uid not in USERS:
            raise KeyError(uid)
        return memfacts.pwd.struct_passwd((USERS[uid], "x", uid, uid, "", "/", "/usr/sbin/nologin"))

    monkeypatch.setattr(memfacts.pwd, "getpwuid", getpwuid)
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists",
                        lambda path: False if path in ("/run/.containerenv", "/.dockerenv") else real_exists(path))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    # the trees stand for the live host here, their kmsg for its /dev/kmsg (tree logs: test_mem_facts.py)
    monkeypatch.setattr(kernlog, "tree_log_path", lambda reader: None)


def gatherer(tree, top=10, kmsg=True, reader=None, **options):
    kmsg_path = fixture_path(tree, "kmsg") if kmsg else fixture_path(tree, "no-kmsg-here")
    return memfacts.Gatherer(reader or tree_reader(tree), top=top, kmsg_path=kmsg_path, **options)


def gather(tree, subsets=memfacts.SUBSETS, **options):
    return gatherer(tree, **options).gather(subsets)


def pids(rows):
    return [row["pid"] for row in rows]


def copy_tree(tree, tmp_path, mounted_at_root=True):
    """A copy of a fixture tree whose mountinfo names the copy's proc as the
    procfs mount point, as /proc/self/mountinfo names proc_root on a live host."""
    target = tmp_path / tree
    shutil.copytree(fixture_path(tree), str(target))
    mountinfo = target / "proc" / "self" / "mountinfo"
    if mounted_at_root:
        mountinfo.write_text(mountinfo.read_text().replace(" /proc ", " %s " % (target / "proc")))
    return target


# ---------------------------------------------------------------------------
# overview: the numbers of free(1), procps-ng 4

@pytest.mark.parametrize("tree, total, free, available, buffers, cached_and_sreclaimable", [
    ("host", 24684084, 23868884, 23966392, 2364, 219496 + 184180),
    ("low_memory", 4045164, 89540, 151232, 2104, 118456 + 31232),
    ("odd_meminfo", 8041216, 6123456, 7012344, 34567, 912345 + 41234),
    ("container", 8024072, 1203452, 5122340, 181204, 3701256 + 301212),
])
def test_overview_like_free(tree, total, free, available, buffers, cached_and_sreclaimable):
    memory = gatherer(tree).overview()
    assert memory["total_bytes"] == total * KIB
    assert memory["used_bytes"] == (total - available) * KIB
    assert memory["free_bytes"] == free * KIB
    assert memory["available_bytes"] == available * KIB and memory["available_estimated"] is False
    assert memory["buffers_bytes"] == buffers * KIB
    assert memory["cached_bytes"] == cached_and_sreclaimable * KIB
    assert memory["buff_cache_bytes"] == (buffers + cached_and_sreclaimable) * KIB
    assert memory["available_pct"] == round(100.0 * available / total, 2)
    assert memory["used_pct"] == round(100.0 * (total - available) / total, 2)


def test_overview_low_memory_is_below_five_percent():
    memory = gatherer("low_memory").overview()
    assert memory["available_pct"] == 3.74  # 151232 / 4045164
    assert memory["anon_hugepages_bytes"] == 2048000 * KIB


def test_overview_hugepages_are_counts():
    hugepages = gatherer("odd_meminfo").overview()["hugepages"]
    assert hugepages == {"total": 4, "free": 3, "size_bytes": 2048 * KIB, "hugetlb_bytes": 8192 * KIB}


def test_overview_without_memavailable(tmp_path):
    # kernels before 3.14: available is estimated as free + buffers + cached + reclaimable slab
    (tmp_path / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n"
                                      "SReclaimable: 25 kB\n")
    memory = memfacts.Gatherer(procfs.Reader(str(tmp_path))).overview()
    assert memory["available_estimated"] is True
    assert memory["available_bytes"] == 375 * KIB and memory["used_bytes"] == 625 * KIB


def test_overview_without_meminfo(tmp_path):
    g = memfacts.Gatherer(procfs.Reader(str(tmp_path)))
    assert g.overview() == {"total_bytes": None, "meminfo": {}}
    assert "meminfo: not readable" in g.notes


def test_overview_notes_odd_meminfo_lines():
    g = gatherer("odd_meminfo")
    g.overview()
    assert len([n for n in g.notes if n.startswith("meminfo: skipped line")]) == 5


# ---------------------------------------------------------------------------
# swap

def test_swap_in_use():
    swap = gatherer("low_memory").swap()
    assert swap["total_bytes"] == 4194300 * KIB and swap["free_bytes"] == 412360 * KIB
    assert swap["used_bytes"] == (4194300 - 412360) * KIB
    assert swap["used_bytes"] == sum(d["used_bytes"] for d in swap["devices"])  # 1890000 + 1891940
    assert swap["used_pct"] == 90.17
    assert swap["cached_bytes"] == 60212 * KIB
    assert (swap["pswpin"], swap["pswpout"]) == (1823412, 4120334)
    assert [d["path"] for d in swap["devices"]] == ["/dev/dm-1", "/swapfile"]


def test_swap_wsl_swapfree_above_swaptotal():
    g = gatherer("odd_meminfo")
    swap = g.swap()
    # SwapFree 4194304 > SwapTotal 1048576: /proc/swaps says 8192 kB used
    assert swap["total_bytes"] == 1048576 * KIB
    assert swap["free_bytes"] == (1048576 - 8192) * KIB and swap["used_bytes"] == 8192 * KIB
    assert any("SwapFree" in note and "exceeds SwapTotal" in note for note in g.notes)


def test_swap_none():
    swap = gatherer("host").swap()
    assert swap["total_bytes"] == 0 and swap["used_bytes"] == 0 and swap["used_pct"] == 0.0
    assert swap["devices"] == []


# ---------------------------------------------------------------------------
# processes

def test_processes_low_memory_top_lists():
    processes = gatherer("low_memory", top=3).processes()
    assert processes["count"] == 7 and processes["kernel_threads"] == 2
    assert (processes["vanished"], processes["access_denied"], processes["partial_view"]) == (0, 0, False)
    # VmRSS: java 2150400, mysqld 820000, php-fpm 95000 / 93000 / 12000, systemd 4100, sshd 3000
    assert pids(processes["top_rss"]) == [2210, 1022, 1501]
    # VmSwap: mysqld 1500000, java 1048576, php-fpm 300000
    assert pids(processes["top_swap"]) == [1022, 2210, 1501]
    # oom_score: 612, 420, 80
    assert pids(processes["top_oom_score"]) == [2210, 1022, 1501]
    assert pids(processes["top_pss"]) == [2210, 1022, 1501]
    assert processes["rss_bytes_total"] == (4100 + 3000 + 820000 + 12000 + 95000 + 93000 + 2150400) * KIB
    assert processes["swap_bytes_total"] == (1200 + 2400 + 1500000 + 20000 + 300000 + 280000 + 1048576) * KIB


def test_processes_rows_are_complete():
    processes = gatherer("low_memory", top=3).processes()
    java = processes["top_rss"][0]
    assert java == {
        "pid": 2210, "name": "java", "cmdline": "/usr/bin/java -Xms3g -Xmx3g -jar /opt/shop/shop.jar",
        "user": "1001",  # no passwd entry: the uid
        "rss_bytes": 2150400 * KIB, "pss_bytes": 2148000 * KIB, "swap_bytes": 1048576 * KIB,
        "oom_score": 612, "oom_score_adj": 0, "mem_pct": 53.16, "state": "S", "ppid": 1, "starttime": 183500,
    }
    php = processes["top_rss"][2]
    assert php["user"] == "www-data" and php["cmdline"] == "php-fpm: pool www" + " " * 43


def test_processes_by_name_sums():
    by_name = gatherer("low_memory", top=3).processes()["by_name"]
    assert by_name == [
        {"name": "java", "count": 1, "rss_bytes": 2150400 * KIB, "swap_bytes": 1048576 * KIB, "mem_pct": 53.16},
        {"name": "mysqld", "count": 1, "rss_bytes": 820000 * KIB, "swap_bytes": 1500000 * KIB, "mem_pct": 20.27},
        {"name": "php-fpm7.3", "count": 3, "rss_bytes": (12000 + 95000 + 93000) * KIB,
         "swap_bytes": (20000 + 300000 + 280000) * KIB, "mem_pct": 4.94},
    ]


def test_pss_only_for_candidates(fail_open):
    opened = fail_open()
    processes = gatherer("low_memory", top=3).processes()
    read = sorted(int(path.split(os.sep)[-2]) for path in opened if path.endswith("smaps_rollup"))
    # the 2 x top largest by RSS, plus the top swap users (already among them); sshd (3000 kB) is not
    assert read == [1, 1022, 1500, 1501, 1502, 2210]
    assert all(row["pss_bytes"] is not None for row in processes["top_rss"])


def test_pss_from_smaps_without_smaps_rollup():
    processes = gatherer("no_smaps_rollup").processes()
    pss = {row["pid"]: row["pss_bytes"] for row in processes["top_pss"]}
    assert pss == {
        412: (4 + 1400000 + 10240) * KIB,   # java: three mappings
        905: (66666 + 30000) * KIB,         # postgres: shared memory split between two
        906: (66667 + 2000) * KIB,
        1: (512 + 4096) * KIB,
        388: (1200 + 800) * KIB,
    }
    assert pids(processes["top_pss"]) == [412, 905, 906, 1, 388]


def test_zombie_without_vm_lines_is_counted_with_no_memory():
    processes = gatherer("no_smaps_rollup").processes()
    assert processes["count"] == 6 and processes["kernel_threads"] == 2
    zombie = [row for row in processes["top_rss"] if row["pid"] == 1207]
    assert zombie and zombie[0]["rss_bytes"] == 0 and zombie[0]["pss_bytes"] is None
    assert zombie[0]["state"] == "Z"


@pytest.mark.parametrize("code", [errno.ESRCH, errno.ENOENT])
def test_pss_smaps_rollup_without_mm_falls_back_to_smaps(fail_open, code):
    g = gatherer("no_smaps_rollup")
    # the tree has no smaps_rollup (ENOENT); a process without an mm answers ESRCH: both go on to smaps
    fail_open(lambda path: path.endswith("/412/smaps_rollup"), code)
    java = [row for row in g.processes()["top_pss"] if row["pid"] == 412]
    assert java[0]["pss_bytes"] == (4 + 1400000 + 10240) * KIB


def test_pss_unreadable_is_null_not_fatal(fail_open):
    fail_open(lambda path: path.endswith("/1733/smaps_rollup"), errno.EACCES)
    processes = gatherer("hidepid").processes()
    python = processes["top_rss"][0]
    assert python["pid"] == 1733 and python["pss_bytes"] is None
    assert processes["vanished"] == 0 and processes["access_denied"] == 0


def test_processes_container():
    processes = gatherer("container").processes()
    assert processes["count"] == 5 and processes["kernel_threads"] == 0
    assert pids(processes["top_rss"]) == [23, 9, 10, 7, 1]
    assert pids(processes["top_pss"]) == [23, 9, 10, 7, 1]
    assert processes["by_name"][0] == {"name": "gunicorn", "count": 3, "rss_bytes": (38912 + 88064 + 86016) * KIB,
                                       "swap_bytes": 0, "mem_pct": round(100.0 * (38912 + 88064 + 86016) / 8024072, 2)}
    redis = processes["top_rss"][0]
    assert redis["cmdline"] == "redis-server *:6379" and redis["user"] == "redis"


def test_processes_odd_names():
    processes = gatherer("odd_meminfo").processes()
    names = {row["pid"]: row["name"] for row in processes["top_rss"]}
    assert names[311] == "tmux: server"
    assert {"name": "init", "count": 2, "rss_bytes": (1500 + 1100) * KIB, "swap_bytes": 0,
            "mem_pct": round(100.0 * 2600 / 8041216, 2)} in processes["by_name"]


def test_processes_captured_host():
    processes = gatherer("host").processes()
    # pids 2, 3, 4 are kernel threads; 1, the capture script and its two children are not
    assert processes["kernel_threads"] == 3 and processes["count"] == 4
    rss = {row["name"]: row["rss_bytes"] for row in processes["top_rss"]}
    assert rss["odd) (name x"] == 13512 * KIB and rss["supervisor"] == 18088 * KIB
    assert [row["rss_bytes"] for row in processes["top_rss"]] == [46348 * KIB, 18088 * KIB, 15120 * KIB, 13512 * KIB]


def test_top_zero():
    processes = gatherer("low_memory", top=0).processes()
    assert processes["count"] == 7
    assert processes["top_rss"] == processes["top_pss"] == processes["top_swap"] == processes["by_name"] == []


def test_process_that_vanishes_mid_scan(fail_open, tmp_path):
    target = copy_tree("hidepid", tmp_path)
    reader = procfs.Reader(str(target / "proc"), str(target / "sys"))
    status_1702 = pid_files(reader.proc_root, [1702], {"status"})

    def exits(path):  # 1702 exits after its stat was read: its directory goes, then its status is opened
        if status_1702(path):
            shutil.rmtree(os.path.join(reader.proc_root, "1702"), ignore_errors=True)
        return False

    fail_open(exits)
    fail_open(status_1702, errno.ENOENT)
    # 1651 exits before: ESRCH, whatever is left of its directory
    fail_open(pid_files(reader.proc_root, [1651], {"stat"}), errno.ESRCH)
    processes = memfacts.Gatherer(reader).processes()
    assert processes["vanished"] == 2 and processes["count"] == 4
    assert 1702 not in pids(processes["top_rss"]) and 1651 not in pids(processes["top_rss"])


def test_hidepid_denied_processes(fail_open):
    reader = tree_reader("hidepid")
    # a non-root reader under hidepid gets EACCES for other users' processes (root reads the fixture, so
    # the denial is simulated)
    fail_open(pid_files(reader.proc_root, [1, 2, 3, 742]), errno.EACCES)
    processes = gatherer("hidepid", reader=reader).processes()
    assert processes["access_denied"] == 4 and processes["partial_view"] is True
    assert processes["count"] == 4 and processes["kernel_threads"] == 0
    assert sorted(pids(processes["top_rss"])) == [1650, 1651, 1702, 1733]


def test_unreadable_stat_is_noted(tmp_path):
    target = copy_tree("hidepid", tmp_path)
    (target / "proc" / "1702" / "stat").write_text("garbage without a name\n")
    g = memfacts.Gatherer(procfs.Reader(str(target / "proc"), str(target / "sys")))
    processes = g.processes()
    assert processes["count"] == 5 and processes["vanished"] == 0  # 6 user processes, one unreadable
    assert any(note.startswith("process 1702:") for note in g.notes)


@pytest.mark.parametrize("euid, partial", [(1000, True), (0, False)])
def test_hidepid_mount_option(tmp_path, monkeypatch, euid, partial):
    target = copy_tree("hidepid", tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    processes = memfacts.Gatherer(procfs.Reader(str(target / "proc"), str(target / "sys"))).processes()
    assert processes["hidepid"] == "invisible" and processes["partial_view"] is partial


def test_no_hidepid():
    target_processes = gatherer("host").processes()
    assert target_processes["hidepid"] is None and target_processes["partial_view"] is False


# ---------------------------------------------------------------------------
# OOM events (P6)

def _utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_oom_legacy_kill_from_kmsg():
    oom = gatherer("low_memory").oom()
    assert oom["log_source"] == "kmsg" and oom["log_readable"] is True
    # vmstat counts 2 kills; the ring buffer kept the pair of one, and a bare "Killed process" of the other
    assert oom["kill_count"] == 2 and oom["kill_count_available"] is True
    bare, event = oom["events"]
    assert bare["victim"]["pid"] == 777 and bare["logged_at"] == _utc(1764000000 + 912.345001)
    assert event["victim"]["pid"] == 2201 and event["format"] == "legacy"
    assert event["logged_at"] == _utc(1764000000 + 1834.5676)  # btime + uptime of the record


def test_oom_recent_events_keep_the_last_top():
    oom = gatherer("hidepid", top=1).oom()
    assert [e["scope"] for e in oom["events"]] == ["system", "memcg"]
    assert [e["victim"]["pid"] for e in oom["recent_events"]] == [2044]
    assert oom["kill_count"] == 2


def test_oom_without_kernel_log_keeps_the_counter():
    g = gatherer("container", kmsg=False)
    oom = g.oom()
    assert oom["log_source"] == "none" and oom["log_readable"] is False and oom["events"] == []
    assert oom["kill_count"] == 3
    assert any("oom_kill counter only" in note for note in g.notes)


def test_oom_counter_missing_before_4_13():
    oom = gatherer("no_smaps_rollup", kmsg=False).oom()
    assert oom["kill_count"] is None and oom["kill_count_available"] is False


def test_oom_kernel_log_off(monkeypatch):
    def must_not_read(*args, **kwargs):
        raise AssertionError("the kernel log was read")

    monkeypatch.setattr(kernlog, "read_kmsg", must_not_read)
    g = gatherer("low_memory", use_kernel_log=False, log_commands=must_not_read)
    oom = g.oom()
    assert oom["log_source"] == "none" and oom["events"] == [] and oom["kill_count"] == 2
    # skipping the log does not make it unreadable: the capability is still probed (the fixture kmsg opens)
    assert g.capabilities()["kernel_log_readable"] is True


@pytest.mark.parametrize("outputs, source, victims", [
    ({"dmesg": "dmesg-3.10.txt", "journalctl": "journal-5.14.txt"}, "dmesg", [4321, 5012]),
    ({"dmesg": None, "journalctl": "journal-5.14.txt"}, "journal", [9812]),
    ({"dmesg": None, "journalctl": None}, "none", []),
], ids=["dmesg", "journalctl", "nothing"])
def test_oom_fallback_order_when_kmsg_is_restricted(monkeypatch, outputs, source, victims):
    calls = []

    def restricted(path):
        raise procfs.AccessDenied("%s: permission denied" % path)

    def run(argv):
        calls.append(argv[0])
        name = outputs[argv[0]]
        return read_fixture("logs", name) if name else None

    monkeypatch.setattr(kernlog, "read_kmsg", restricted)
    g = gatherer("hidepid", log_commands=run)
    oom = g.oom()
    assert oom["log_source"] == source
    assert [e["victim"]["pid"] for e in oom["events"]] == victims
    last_command = {"dmesg": "dmesg", "journal": "journalctl", "none": "journalctl"}[source]
    assert calls == ["dmesg", "journalctl"][:len(calls)] and calls[-1] == last_command
    assert oom["kill_count"] == 2  # the vmstat counter, whatever the log
    assert any("dmesg_restrict" in note for note in g.notes)
    assert g.capabilities()["kernel_log_readable"] is (source != "none")


def test_oom_journal_events_get_wall_clock_time(monkeypatch):
    monkeypatch.setattr(kernlog, "read_kmsg", lambda path: None)

    def journal_only(argv):
        return read_fixture("logs", "journal-5.14.txt") if argv[0] == "journalctl" else None

    (event,) = gatherer("hidepid", log_commands=journal_only).oom()["events"]
    assert event["logged_at"] == _utc(1764100000 + 7312.00519)


def test_oom_garbled_timestamp_is_not_fatal(tmp_path):
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("3,1,%d,-;Out of memory: Killed process 5 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n"
                    % (10 ** 30))
    g = memfacts.Gatherer(tree_reader("low_memory"), kmsg_path=str(kmsg), log_commands=False)
    (event,) = g.oom()["events"]
    assert event["victim"]["pid"] == 5 and event["logged_at"] is None


# ---------------------------------------------------------------------------
# tunables, commit, slab, fragmentation, pressure

def test_tunables_captured_host():
    tunables = gatherer("host").tunables()
    vm = tunables["vm"]
    assert vm["swappiness"] == 60 and vm["overcommit_memory"] == 0 and vm["overcommit_ratio"] == 50
    assert not set(vm) & {"drop_caches", "compact_memory", "stat_refresh"}
    assert tunables["fs"]["inode_nr"] == [132454, 73168]
    assert tunables["fs"]["dentry_state"] == [59370, 48749, 45, 0, 613, 0]
    thp = tunables["thp"]
    assert thp["available"] and thp["enabled"]["selected"] == "madvise"
    assert thp["defrag"]["allowed"] == ["always", "defer", "defer+madvise", "madvise", "never"]
    assert thp["khugepaged_defrag"] == {"selected": "1", "allowed": []}
    # hugepages-8kB/enabled could not be read on the captured host: left out
    assert sorted(thp["sizes"]) == ["1024kB", "128kB", "16kB", "2048kB", "256kB", "32kB", "512kB", "64kB"]
    assert thp["sizes"]["2048kB"]["selected"] == "inherit" and thp["sizes"]["64kB"]["selected"] == "never"
    assert tunables["ksm"] == {"available": True, "run": 0, "pages_sharing": 0}


def test_tunables_old_kernel():
    tunables = gatherer("no_smaps_rollup").tunables()
    thp = tunables["thp"]
    assert thp["enabled"] == {"selected": "always", "allowed": ["always", "madvise", "never"]}
    assert thp["defrag"]["allowed"] == ["always", "defer", "madvise", "never"] and thp["sizes"] == {}
    assert tunables["ksm"] == {"available": False}
    assert tunables["vm"]["lowmem_reserve_ratio"] == "256\t256\t32\t0\t0"


def test_tunables_without_thp(tmp_path):
    target = copy_tree("odd_meminfo", tmp_path)
    shutil.rmtree(str(target / "sys" / "kernel"))
    tunables = memfacts.Gatherer(procfs.Reader(str(target / "proc"), str(target / "sys"))).tunables()
    assert tunables["thp"] == {"available": False, "path": None}
    assert tunables["ksm"] == {"available": False}


def test_commit_overcommitted():
    commit = gatherer("low_memory").commit()
    assert commit["limit_bytes"] == 6216880 * KIB and commit["committed_as_bytes"] == 7912340 * KIB
    assert commit["committed_pct_of_limit"] == 127.27
    assert commit["headroom_bytes"] == (6216880 - 7912340) * KIB
    assert commit["strict"] is False and commit["overcommit_ratio"] == 50 and commit["overcommit_kbytes"] == 0


def test_slab_with_slabinfo():
    slab = gatherer("no_smaps_rollup", top=2).slab()
    assert slab["slabinfo_readable"] is True
    assert [c["name"] for c in slab["top_caches"]] == ["ext4_inode_cache", "dentry"]
    assert slab["total_bytes"] == 210120 * KIB and slab["unreclaimable_bytes"] == 49780 * KIB
    assert slab["unreclaimable_pct_of_ram"] == 1.23  # 49780 / 4046684
    assert slab["inodes"] == {"nr_inodes": 45120, "nr_free_inodes": 1020}
    assert slab["dentries"]["nr_dentry"] == 121632


def test_slab_without_slabinfo():
    slab = gatherer("odd_meminfo").slab()
    assert slab["slabinfo_readable"] is False and slab["top_caches"] == []
    assert slab["reclaimable_bytes"] == 41234 * KIB


def test_slab_root_only(fail_open):
    fail_open(lambda path: path.endswith("/slabinfo"), errno.EACCES)
    g = gatherer("hidepid")
    slab = g.slab()
    assert slab["slabinfo_readable"] is False and slab["top_caches"] == []
    assert slab["total_bytes"] == 612340 * KIB  # meminfo still says how much
    assert "slabinfo: permission denied (root only)" in g.notes


def test_fragmentation():
    fragmentation = gatherer("low_memory").fragmentation()
    assert fragmentation["max_order"] == 10
    assert [z["zone"] for z in fragmentation["zones"]] == ["DMA", "DMA32", "Normal"]
    assert fragmentation["zones"][2]["largest_free_order"] == 3
    assert (fragmentation["compact_stall"], fragmentation["compact_fail"], fragmentation["compact_success"]) == (
        912, 701, 211)


def test_pressure():
    assert gatherer("container").pressure()["some"]["avg10"] == 0.12
    assert gatherer("no_smaps_rollup").pressure() == {"available": False}


# ---------------------------------------------------------------------------
# cgroups (G1)

def test_cgroup_hybrid_captured_host():
    cgroup = gatherer("host").cgroup()
    assert cgroup["hierarchy"] == "hybrid" and cgroup["memory_version"] == "v1"
    assert cgroup["directory"] == fixture_path("host", "sys", "fs", "cgroup", "memory", "supervisor", "job-1")
    assert cgroup["limit_bytes"] is None and cgroup["swap_limit_bytes"] is None  # 9223372036854771712
    assert (cgroup["usage_bytes"], cgroup["max_usage_bytes"], cgroup["failcnt"]) == (65867776, 215916544, 0)
    assert cgroup["oom_kill_count"] == 0 and cgroup["oom_kill_disable"] is False


@pytest.mark.parametrize("tree, expected", [
    ("no_smaps_rollup", {"hierarchy": "v1", "memory_version": "v1", "limit_bytes": 2147483648, "usage_bytes": 1523412992,
                         "max_usage_bytes": 1610612736, "swap_limit_bytes": None, "failcnt": 12,
                         "oom_kill_count": None}),
    ("low_memory", {"hierarchy": "v1", "memory_version": "v1", "limit_bytes": None, "usage_bytes": 312475648,
                    "max_usage_bytes": 1073741824, "swap_limit_bytes": None, "failcnt": 0, "oom_kill_count": 0}),
    ("container", {"hierarchy": "v2", "memory_version": "v2", "limit_bytes": 536870912, "high_bytes": None,
                   "usage_bytes": 312475648, "max_usage_bytes": 398458880, "swap_limit_bytes": None,
                   "oom_kill_count": 1, "oom_count": 2}),
    ("hidepid", {"hierarchy": "v2", "memory_version": "v2", "limit_bytes": None, "high_bytes": None,
                 "usage_bytes": 2621440000, "max_usage_bytes": None, "swap_limit_bytes": None,
                 "oom_kill_count": 0, "oom_count": 0}),
    ("odd_meminfo", {"hierarchy": "v2", "memory_version": "v2", "limit_bytes": None, "usage_bytes": None,
                     "oom_kill_count": None}),
])
def test_cgroup_limits(tree, expected):
    cgroup = gatherer(tree).cgroup()
    assert cgroup["memory_controller"] is True
    assert {key: cgroup[key] for key in expected} == expected


def test_cgroup_directories():
    assert gatherer("container").cgroup()["directory"] == fixture_path("container", "sys", "fs", "cgroup")
    assert gatherer("hidepid").cgroup()["directory"] == fixture_path(
        "hidepid", "sys", "fs", "cgroup", "user.slice", "user-1000.slice", "session-4.scope")


def test_cgroup_namespace_root_falls_back_to_the_mount(tmp_path):
    # inside a cgroup namespace the own group is the mount's root, whatever /proc/self/cgroup names
    target = copy_tree("container", tmp_path)
    (target / "proc" / "self" / "cgroup").write_text("0::/user.slice/user-1000.slice/user@1000.service/app.slice\n")
    cgroup = memfacts.Gatherer(procfs.Reader(str(target / "proc"), str(target / "sys"))).cgroup()
    assert cgroup["directory"] == str(target / "sys" / "fs" / "cgroup") and cgroup["limit_bytes"] == 536870912


# ---------------------------------------------------------------------------
# capabilities

def test_capabilities_rootless_podman(monkeypatch):
    # /proc/sys is read-only in the container; fixture files are writable for root, so os.access says so
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    capabilities = gatherer("container", kmsg=False).capabilities()
    assert (capabilities["container"], capabilities["container_type"]) == (True, "podman")
    assert capabilities["init_user_namespace"] is False
    assert capabilities["cap_eff"] == "00000000800405fb"
    assert capabilities["cap_sys_admin"] is False and capabilities["cap_sys_resource"] is False
    assert capabilities["proc_sys_vm_writable"] is False and capabilities["thp_writable"] is False
    assert capabilities["swapon_permitted"] is False and capabilities["systemd"] is False


def test_capabilities_captured_host():
    capabilities = gatherer("host").capabilities()
    assert capabilities["container"] is False and capabilities["container_type"] is None
    assert capabilities["init_user_namespace"] is True
    # CapEff 000001fffeffffff: everything but bit 24, CAP_SYS_RESOURCE
    assert capabilities["cap_sys_admin"] is True and capabilities["cap_sys_resource"] is False
    assert capabilities["swapon_permitted"] is True and capabilities["is_root"] is True
    assert capabilities["proc_sys_vm_writable"] is True


def test_capabilities_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    capabilities = gatherer("hidepid").capabilities()
    assert capabilities["is_root"] is False and capabilities["swapon_permitted"] is False
    assert capabilities["systemd"] is True


def test_container_without_environ_is_named_by_its_cgroup(tmp_path):
    target = copy_tree("container", tmp_path)
    os.remove(str(target / "proc" / "1" / "environ"))
    (target / "proc" / "1" / "cgroup").write_text("0::/machine.slice/libpod-3f2a9c.scope\n")
    g = memfacts.Gatherer(procfs.Reader(str(target / "proc"), str(target / "sys")))
    assert host.container(g.reader) == (True, "podman")


# ---------------------------------------------------------------------------
# subsets and the whole gather

@pytest.mark.parametrize("requested, expected", [
    (None, memfacts.SUBSETS),
    ([], memfacts.SUBSETS),
    (["all"], memfacts.SUBSETS),
    (["all", "!slab"], tuple(s for s in memfacts.SUBSETS if s != "slab")),
    (["!processes", "!oom"], tuple(s for s in memfacts.SUBSETS if s not in ("processes", "oom"))),
    (["oom", "swap"], ("swap", "oom")),
    (["memory"], ("overview",)),
    (["overview", " swap "], ("overview", "swap")),
    (["swap", "!swap"], ()),
    (["!all"], ()),
])
def test_resolve_subsets(requested, expected):
    assert memfacts.resolve_subsets(requested) == expected


@pytest.mark.parametrize("requested, name", [(["bogus"], "bogus"), (["all", "!mem"], "mem"), ([""], "")])
def test_resolve_subsets_unknown(requested, name):
    with pytest.raises(memfacts.SubsetError) as error:
        memfacts.resolve_subsets(requested)
    message = str(error.value)
    assert repr(name) in message and "overview, swap, processes" in message and "'!'" in message
    # a bad option, not a file that could not be read: mem_facts names it as such (test_mem_facts)
    assert not isinstance(error.value, procfs.ProcfsError)


@pytest.mark.parametrize("tree", ["host", "container", "no_smaps_rollup", "hidepid", "low_memory", "odd_meminfo"])
def test_gather_every_subset_on_every_tree(tree):
    facts = gather(tree)
    assert set(facts) >= {"memory", "swap", "processes", "oom", "tunables", "commit", "slab", "fragmentation",
                          "pressure", "cgroup", "capabilities", "gather_subset", "notes", "uptime_seconds"}
    assert facts["gather_subset"] == list(memfacts.SUBSETS)
    assert facts["uptime_seconds"] == float(read_fixture(tree, "proc", "uptime").split()[0])
    assert all(isinstance(note, str) for note in facts["notes"])


def test_gather_a_subset():
    facts = gather("low_memory", subsets=("swap",))
    assert set(facts) == {"swap", "gather_subset", "notes", "uptime_seconds"}


def test_gather_with_thresholds_diagnoses_low_memory():
    from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis

    facts = memfacts.gather(tree_reader("low_memory"), thresholds=diagnosis.merge_thresholds({}),
                            kmsg_path=fixture_path("low_memory", "kmsg"), log_commands=False)
    assert facts["health"]["status"] == "critical"
    assert "memory.available_low" in [finding["id"] for finding in facts["health"]["findings"]]


def test_runtimes_carry_their_heap_limits_in_bytes():
    """-Xmx on the command line, MaxRAMPercentage in JAVA_TOOL_OPTIONS, none for Node: in bytes, against RAM."""
    runtimes = {r["pid"]: r for tree in ("low_memory", "no_smaps_rollup", "odd_meminfo")
                for r in gatherer(tree).processes()["runtimes"]}
    assert (runtimes[2210]["heap_limit"], runtimes[2210]["heap_limit_bytes"], runtimes[2210]["heap_limit_source"]) \
        == ("-Xmx3g", 3 << 30, "flag")
    assert runtimes[412]["heap_limit_bytes"] == 1 << 30 and runtimes[412]["heap_limit_source"] == "flag"
    assert runtimes[512]["runtime"] == "node" and runtimes[512]["heap_limit_bytes"] is None
    assert all(r["memory_limit_bytes"] is None for r in runtimes.values())  # no cgroup file in these trees


@pytest.mark.parametrize("euid, partial", [(1000, True), (0, False)])
def test_the_verdict_says_when_it_saw_only_part_of_the_host(tmp_path, monkeypatch, euid, partial):
    """Under hidepid and not root, with the kernel log and slabinfo closed: health.partial names each."""
    target = copy_tree("hidepid", tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    reader = procfs.Reader(str(target / "proc"), str(target / "sys"))
    facts = memfacts.gather(reader, memfacts.SUBSETS, thresholds=diagnosis.merge_thresholds({}),
                            kmsg_path=str(tmp_path / "no-kmsg"))
    missing = facts["health"]["partial"]
    assert bool(any(line.startswith("processes:") for line in missing)) is partial
    assert bool(any(line.startswith("not run as root") for line in missing)) is partial
    assert any(line.startswith("kernel log: not readable") for line in missing)  # no log in this tree


def test_a_complete_view_is_not_partial(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    facts = memfacts.gather(tree_reader("low_memory"), memfacts.SUBSETS, thresholds=diagnosis.merge_thresholds({}),
                            kmsg_path=fixture_path("low_memory", "kmsg"))
    assert facts["health"]["partial"] == [], facts["health"]["partial"]
    skipped = memfacts.gather(tree_reader("low_memory"), memfacts.SUBSETS, thresholds=diagnosis.merge_thresholds({}),
                              use_kernel_log=False)
    assert skipped["oom"]["log_skipped"] and skipped["health"]["partial"] == []  # not asked is not hidden


def _verdict(tree, **overrides):
    facts = memfacts.gather(tree_reader(tree), memfacts.SUBSETS, thresholds=diagnosis.merge_thresholds(overrides),
                            kmsg_path=fixture_path(tree, "no-kmsg-here"), use_kernel_log=False)
    return facts, {f["id"]: f for f in facts["health"]["findings"]}


def test_a_database_host_with_advice_only_is_ok():
    """MariaDB and Redis as services, a JVM without a heap limit holding 3 GiB, THP always, swappiness 60, on a
    host with plenty available: every piece of advice is there, as info, and the host is ok; the unprotected
    services are named by their units, which oom_protect_services takes as given."""
    facts, found = _verdict("database_host")
    assert facts["health"]["status"] == "ok"
    assert {"oom.critical_unprotected", "tuning.thp", "tuning.redis_overcommit", "tuning.swappiness",
            "tuning.heap_unbounded"} <= set(found)
    assert {f["severity"] for f in found.values()} == {"info"}
    unprotected = found["oom.critical_unprotected"]["remedy"]
    assert unprotected["variable"] == "oom_protect_services"
    assert sorted(v["name"] for v in unprotected["value"]) == ["mariadb.service", "redis-server.service"]
    assert found["tuning.heap_unbounded"]["data"]["pid"] == 4103
    # a JVM below heap_unbounded_min_pct of RAM is not worth naming: the near miss
    assert "tuning.heap_unbounded" not in _verdict("database_host", heap_unbounded_min_pct=13.0)[1]


def test_heap_limits_that_exceed_ram():
    """-Xmx16g on the command line, -Xmx12g in JAVA_TOOL_OPTIONS and 1 GiB of NODE_OPTIONS: 29 GiB of heap
    limits on 23.5 GiB of RAM (123 %); silent when the threshold allows 125 %."""
    facts, found = _verdict("heap_over_ram")
    runtimes = {r["pid"]: r for r in facts["processes"]["runtimes"]}
    assert [runtimes[pid]["heap_limit_bytes"] for pid in (4103, 4104, 4105)] == [16 << 30, 12 << 30, 1 << 30]
    assert [runtimes[pid]["heap_limit"] for pid in (4103, 4104, 4105)] == [
        "-Xmx16g", "-Xmx12g", "--max-old-space-size=1024"]
    exceed = found["heap.limits_exceed_ram"]
    assert exceed["severity"] == "monitor" and exceed["data"]["heap_limits_bytes"] == 29 << 30
    assert "tuning.heap_unbounded" not in found  # every runtime here has a limit
    assert "heap.limits_exceed_ram" not in _verdict("heap_over_ram", heap_limits_max_pct_of_ram=125.0)[1]
