# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The findings that name what holds the memory (_rules_breakdown), on the fixture
trees of each case: tmpfs, unused hugetlb pages and unaccounted memory fire on
their tree; each stays silent on near misses built from that tree (the same host
with memory no longer low, the part just under its threshold, the pool's pages
all in use), and the cache-heavy host is ok."""

from __future__ import annotations

import math
import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _memfacts as memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _rules_breakdown as rules_breakdown
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import (
    FIXTURES, fixture_path, read_as_live)

GIB = 1 << 30
CASES = {  # tree -> (the finding its RAM makes, the threshold that names it)
    "tmpfs_full": ("shmem.holds_memory", "breakdown_shmem_pct"),
    "hugetlb_unused": ("hugetlb.unused", "breakdown_hugetlb_unused_pct"),
    "unaccounted": ("memory.unaccounted", "breakdown_unaccounted_pct"),
}
BREAKDOWN_IDS = {"shmem.holds_memory", "hugetlb.unused", "memory.unaccounted"}


def facts_of(monkeypatch, tree, root=FIXTURES, live=True):
    """The memory facts of ``tree`` as mem_facts gathers them, read as the live system (mounts sized) or not."""
    with monkeypatch.context() as patched:
        if live:
            read_as_live(patched, tree, root)
        reader = procfs.Reader(os.path.join(root, tree, "proc"), os.path.join(root, tree, "sys"))
        return {"memory": memfacts.Gatherer(reader).overview()}


def diagnose(facts, **thresholds):
    return diagnosis.diagnose(facts, diagnosis.merge_thresholds(thresholds))


def by_id(result):
    return {finding["id"]: finding for finding in result["findings"]}


def variant(tmp_path, tree, meminfo_kib=None, files=None):
    """A copy of ``tree`` under tmp_path with some meminfo lines (kB) and other files replaced; its root."""
    shutil.copytree(fixture_path(tree), str(tmp_path / tree))
    path = tmp_path / tree / "proc" / "meminfo"
    lines = []
    for line in path.read_text().splitlines():
        key = line.split(":", 1)[0]
        lines.append("%-15s %8d kB" % (key + ":", meminfo_kib[key]) if key in (meminfo_kib or {}) else line)
    path.write_text("\n".join(lines) + "\n")
    for name, text in (files or {}).items():
        (tmp_path / tree / name).write_text(text)
    return str(tmp_path)


def with_available_at(tree, pct):
    """meminfo lines of ``tree`` with anonymous memory given back (to free) until available is ``pct`` of RAM."""
    mi = procfs.parse_meminfo(open(fixture_path(tree, "proc", "meminfo"), encoding="utf-8").read())
    kib = {key: value // 1024 for key, value in mi.items() if key in (
        "MemTotal", "MemFree", "MemAvailable", "AnonPages", "Active", "Active(anon)")}
    moved = math.ceil(kib["MemTotal"] * pct / 100.0) - kib["MemAvailable"]
    assert 0 < moved < kib["AnonPages"]
    for key in ("MemFree", "MemAvailable"):
        kib[key] += moved
    for key in ("AnonPages", "Active", "Active(anon)"):
        kib[key] -= moved
    return kib


@pytest.mark.parametrize("tree", sorted(CASES))
def test_the_part_that_holds_the_memory_is_named(tree, monkeypatch):
    result = diagnose(facts_of(monkeypatch, tree))
    assert result["status"] == "monitor"
    found = by_id(result)
    # the symptom as before, and the one part that holds the memory, at the same severity
    assert set(found) == {"memory.available_low", CASES[tree][0]}
    assert found[CASES[tree][0]]["severity"] == "monitor"


def test_tmpfs_names_its_mounts_and_size(monkeypatch):
    finding = by_id(diagnose(facts_of(monkeypatch, "tmpfs_full")))["shmem.holds_memory"]
    assert finding["evidence"][0].startswith("shared memory and tmpfs (Shmem) hold 9.3 GiB (58.5% of RAM)")
    assert "tmpfs /dev/shm: 6 GiB used of size=7.8 GiB" in finding["evidence"]
    assert "tmpfs /tmp: 3 GiB used of size=7.8 GiB" in finding["evidence"]
    assert "ramfs /mnt/ram disk: unknown used of size=unlimited" in finding["evidence"]
    assert not any("/var/tmp/bound" in line for line in finding["evidence"])  # /tmp bind-mounted: held once
    assert finding["data"]["mounts"][:2] == ["/dev/shm", "/tmp"]
    assert finding["data"]["shmem_bytes"] == 9752576 * 1024
    assert "size=" in finding["remedy"]["summary"]


def test_tmpfs_mounts_not_read_off_the_live_system_are_said_so(monkeypatch):
    finding = by_id(diagnose(facts_of(monkeypatch, "tmpfs_full", live=False)))["shmem.holds_memory"]
    assert finding["data"]["mounts"] == []
    assert finding["evidence"][-1].startswith("mounts not read: proc_root is ")


def test_shared_memory_outside_the_mounts_is_said_so(monkeypatch, tmp_path):
    # /dev/shm and /tmp emptied: the 9.3 GiB of Shmem are SysV/POSIX segments or in other namespaces
    statvfs = open(fixture_path("tmpfs_full", "statvfs"), encoding="utf-8").read()
    statvfs = statvfs.replace("/dev/shm 4096 2037888 465024", "/dev/shm 4096 2037888 2037888").replace(
        "/tmp 4096 2037888 1251456", "/tmp 4096 2037888 2037888")
    root = variant(tmp_path, "tmpfs_full", files={"statvfs": statvfs})
    finding = by_id(diagnose(facts_of(monkeypatch, "tmpfs_full", root)))["shmem.holds_memory"]
    assert finding["data"]["mounts"] == ["/run/user/1000", "/run", "/mnt/ram disk"]
    assert "ipcs -m" in finding["evidence"][-1]


def test_unused_hugetlb_pages_lower_nr_hugepages_through_vm_tuning(monkeypatch):
    finding = by_id(diagnose(facts_of(monkeypatch, "hugetlb_unused")))["hugetlb.unused"]
    assert finding["evidence"] == [
        "hugetlb pages no process uses or has reserved hold 11 GiB (34.5% of RAM) while available is 1.3 GiB (4.0%)",
        "2 MiB pages: 6144 in the pool, 5120 free, 512 reserved, 0 surplus: 9 GiB unused",
        "1 GiB pages: 2 in the pool, 2 free, 0 reserved, 0 surplus: 2 GiB unused",
    ]
    remedy = finding["remedy"]
    # 6144 pages less the 4608 free and unreserved: the 1024 in use and the 512 reserved stay
    assert (remedy["role"], remedy["variable"], remedy["value"]) == (
        "memops.linux.vm_tuning", "vm_tuning_nr_hugepages", 1536)
    assert "other page sizes (1 GiB)" in remedy["summary"]
    assert finding["data"] == {"unused_bytes": 11 * GIB, "page_sizes": [2 << 20, GIB]}


def test_unused_pages_of_another_size_only_are_lowered_in_sysfs(monkeypatch, tmp_path):
    pool = os.path.join("sys", "kernel", "mm", "hugepages", "hugepages-2048kB")
    root = variant(tmp_path, "hugetlb_unused", files={os.path.join(pool, "free_hugepages"): "512\n"})
    hugetlb = by_id(diagnose(facts_of(monkeypatch, "hugetlb_unused", root)))
    # the 2 GiB of free 1 GiB pages are 6.4% of RAM: vm.nr_hugepages (2 MiB pages) is not the fix
    assert hugetlb["hugetlb.unused"]["remedy"]["role"] is None
    assert "other page sizes (1 GiB)" in hugetlb["hugetlb.unused"]["remedy"]["summary"]


def test_unaccounted_memory_with_its_evidence(monkeypatch):
    finding = by_id(diagnose(facts_of(monkeypatch, "unaccounted")))["memory.unaccounted"]
    assert finding["evidence"][0].startswith("memory no kernel counter names holds 3.6 GiB (45.3% of RAM)")
    assert "a balloon driver holds 512 MiB (meminfo Balloon): the hypervisor took it back" in finding["evidence"]
    assert "the ZFS ARC holds 3 GiB (arcstats size)" in finding["evidence"]
    assert finding["evidence"][-1] == "loaded drivers that hold memory outside the counters: spl, virtio_balloon, zfs"
    assert finding["data"]["drivers"] == ["spl", "virtio_balloon", "zfs"]
    assert "zfs_arc_max" in finding["remedy"]["summary"]


def test_unaccounted_memory_without_a_suspect_says_where_to_look(monkeypatch, tmp_path):
    root = variant(tmp_path, "unaccounted", meminfo_kib={"Balloon": 0}, files={
        "proc/modules": "", os.path.join("proc", "spl", "kstat", "zfs", "arcstats"): ""})
    finding = by_id(diagnose(facts_of(monkeypatch, "unaccounted", root)))["memory.unaccounted"]
    assert finding["evidence"][2:] == ["no balloon, ZFS ARC or such driver found: look at lsmod and /proc/vmallocinfo"]


@pytest.mark.parametrize("tree", sorted(CASES))
def test_silent_when_memory_is_not_low(tree, monkeypatch, tmp_path):
    # the same host with some process memory freed: available 10% of RAM, used 90%, on neither line
    root = variant(tmp_path, tree, meminfo_kib=with_available_at(tree, 10.0))
    facts = facts_of(monkeypatch, tree, root)
    assert facts["memory"]["available_pct"] == 10.0 and facts["memory"]["used_pct"] == 90.0
    result = diagnose(facts)
    assert (result["status"], result["findings"]) == ("ok", [])
    # one step more to low memory and the part is named again
    root = variant(tmp_path / "low", tree, meminfo_kib=with_available_at(tree, 9.9))
    assert CASES[tree][0] in by_id(diagnose(facts_of(monkeypatch, tree, root)))


@pytest.mark.parametrize("tree", sorted(CASES))
def test_silent_when_the_part_is_just_under_its_threshold(tree, monkeypatch):
    facts = facts_of(monkeypatch, tree)
    finding_id, threshold = CASES[tree]
    share = 100.0 * by_id(diagnose(facts))[finding_id]["data"][
        {"shmem.holds_memory": "shmem_bytes", "hugetlb.unused": "unused_bytes",
         "memory.unaccounted": "unaccounted_bytes"}[finding_id]] / facts["memory"]["total_bytes"]
    assert finding_id not in by_id(diagnose(facts, **{threshold: share + 0.01}))
    assert finding_id in by_id(diagnose(facts, **{threshold: share - 0.01}))


def test_silent_when_every_huge_page_is_in_use_or_reserved(monkeypatch, tmp_path):
    # the database's pages all mapped or reserved: the pool holds RAM, but nothing to give back
    pools = os.path.join("sys", "kernel", "mm", "hugepages")
    root = variant(tmp_path, "hugetlb_unused", files={
        os.path.join(pools, "hugepages-2048kB", "free_hugepages"): "512\n",
        os.path.join(pools, "hugepages-1048576kB", "resv_hugepages"): "2\n"})
    facts = facts_of(monkeypatch, "hugetlb_unused", root)
    assert [pool["unused_bytes"] for pool in facts["memory"]["breakdown"]["hugetlb_pools"]] == [0, 0]
    assert set(by_id(diagnose(facts))) == {"memory.available_low"}


def test_a_cache_heavy_host_is_ok(monkeypatch):
    facts = facts_of(monkeypatch, "cache_heavy")
    parts = {part["name"]: part["bytes"] for part in facts["memory"]["breakdown"]["parts"]}
    assert parts["free"] < 0.01 * facts["memory"]["total_bytes"] < 0.8 * facts["memory"]["total_bytes"] < parts["page_cache"]
    result = diagnose(facts)
    assert (result["status"], result["findings"]) == ("ok", [])


def test_page_cache_is_never_named_as_the_cause(monkeypatch, tmp_path):
    # near miss: the same file server with its cache no longer available (dirty, mapped): low, and said so,
    # but no finding of the breakdown blames the page cache
    root = variant(tmp_path, "cache_heavy", meminfo_kib={"MemAvailable": 2 * 1024 * 1024})
    found = by_id(diagnose(facts_of(monkeypatch, "cache_heavy", root)))
    assert "memory.available_low" in found
    assert not BREAKDOWN_IDS & set(found)


def test_silent_without_a_breakdown():
    facts = {"memory": {"total_bytes": 8 * GIB, "available_bytes": GIB // 10, "available_pct": 1.2, "used_pct": 98.8}}
    assert [finding for rule in rules_breakdown.RULES for finding in rule(facts, diagnosis.DEFAULT_THRESHOLDS)] == []


def test_the_rules_are_run_by_the_diagnosis():
    assert set(rules_breakdown.RULES) <= set(diagnosis.RULES)
