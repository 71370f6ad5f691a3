# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rules that say what holds the memory when memory is low, from ``memory.breakdown``.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Each rule takes ``(facts, thresholds)`` like
the rules of _diagnosis, which runs them with its own, and stays silent unless
memory is low (the lines of ``memory.available_low`` and ``memory.used_high``)
and its part holds at least its threshold's share of RAM. Processes (the top
consumers of ``memory.available_low``) and slab (``slab.*``) have their rules
in _diagnosis; page cache is never a cause: the kernel gives it back.
"""

from __future__ import annotations

from typing import Iterator

from ansible_collections.memops.linux.plugins.module_utils._schema import finding as _finding, remedy as _remedy, section
from ansible_collections.memops.linux.plugins.module_utils._units import format_size

# how many mounts and pools a finding's evidence names
_LISTED = 5


def _low_memory(facts, t):
    """(memory facts, breakdown parts by name) when memory is low and the breakdown was gathered, else None."""
    mem = section(facts, "memory")
    breakdown = mem.get("breakdown")
    if not mem.get("total_bytes") or not isinstance(breakdown, dict):
        return None
    if mem.get("available_pct", 100.0) >= t["available_pct_low"] and mem.get("used_pct", 0.0) <= t["memory_used_pct_high"]:
        return None
    return mem, {part["name"]: part["bytes"] for part in breakdown.get("parts") or []}


def _part_held(facts, t, part, threshold):
    """(memory facts, bytes of ``part``) when memory is low and the part holds at least ``t[threshold]`` % of RAM."""
    low = _low_memory(facts, t)
    if low is None:
        return None
    mem, parts = low
    held = parts.get(part, 0)
    return (mem, held) if 100.0 * held / mem["total_bytes"] >= t[threshold] else None


def _share(value, mem):
    return "%s (%.1f%% of RAM) while available is %s (%.1f%%)" % (
        format_size(value), 100.0 * value / mem["total_bytes"], format_size(mem.get("available_bytes") or 0),
        mem.get("available_pct", 0.0))


def rule_shmem(facts: dict, t: dict) -> Iterator[dict]:
    held = _part_held(facts, t, "shmem", "breakdown_shmem_pct")
    if held is None:
        return
    mem, shmem = held
    breakdown = mem["breakdown"]
    mounts = [m for m in breakdown.get("shmem_mounts") or [] if m.get("used_bytes") != 0][:_LISTED]
    evidence = ["shared memory and tmpfs (Shmem) hold " + _share(shmem, mem)]
    for mount in mounts:
        evidence.append("%s %s: %s used of size=%s" % (
            mount["type"], mount["mount_point"],
            "unknown" if mount["used_bytes"] is None else format_size(mount["used_bytes"]),
            "unlimited" if mount["size_bytes"] is None else format_size(mount["size_bytes"])))
    in_mounts = sum(m["used_bytes"] or 0 for m in breakdown.get("shmem_mounts") or [])
    if breakdown.get("shmem_mounts_not_read"):
        evidence.append("mounts not read: " + breakdown["shmem_mounts_not_read"])
    elif in_mounts < shmem / 2:
        evidence.append("the mounts hold %s: the rest is System V or POSIX shared memory (ipcs -m), shared "
                        "anonymous mappings, GPU buffers or tmpfs in other mount namespaces (containers)"
                        % format_size(in_mounts))
    yield _finding(
        "shmem.holds_memory", "monitor", "Shared memory and tmpfs hold much of RAM", evidence,
        _remedy("Delete what is no longer needed from those mounts and cap each with size= "
                "(mount -o remount,size=...; in /etc/fstab to keep it); remove stale segments (ipcs -m, ipcrm)."),
        {"shmem_bytes": shmem, "mounts": [m["mount_point"] for m in mounts]})


def rule_hugetlb_unused(facts: dict, t: dict) -> Iterator[dict]:
    low = _low_memory(facts, t)
    if low is None:
        return
    mem = low[0]
    pools = [p for p in mem["breakdown"].get("hugetlb_pools") or [] if p.get("unused_bytes")]
    unused = sum(p["unused_bytes"] for p in pools)
    if not unused or 100.0 * unused / mem["total_bytes"] < t["breakdown_hugetlb_unused_pct"]:
        return
    evidence = ["hugetlb pages no process uses or has reserved hold " + _share(unused, mem)]
    for pool in pools[:_LISTED]:
        evidence.append("%s pages: %d in the pool, %d free, %d reserved, %d surplus: %s unused" % (
            format_size(pool["page_size_bytes"]), pool["total"], pool["free"], pool["reserved"], pool["surplus"],
            format_size(pool["unused_bytes"])))
    default_size = (mem.get("hugepages") or {}).get("size_bytes")
    default = next((p for p in pools if p["page_size_bytes"] == default_size), None)
    others = "nr_hugepages of the other page sizes (%s) in /sys/kernel/mm/hugepages/hugepages-<size>kB/, or " \
             "hugepagesz=/hugepages= on the kernel command line for pools set at boot" % ", ".join(
                 format_size(p["page_size_bytes"]) for p in pools if p is not default)
    if default is not None:
        # the persistent pool less its unused pages: what is in use or reserved stays
        keep = max(default["total"] - default["surplus"] - default["unused_bytes"] // default["page_size_bytes"], 0)
        remedy = _remedy("Lower vm.nr_hugepages to the pages in use or reserved (%d); the kernel gives the rest "
                         "back at once.%s" % (keep, " Lower " + others + "." if len(pools) > 1 else ""),
                         role="memops.linux.vm_tuning", variable="vm_tuning_nr_hugepages", value=keep)
    else:
        remedy = _remedy("Lower " + others + ".")
    yield _finding(
        "hugetlb.unused", "monitor", "Huge pages are reserved but unused", evidence, remedy,
        {"unused_bytes": unused, "page_sizes": [p["page_size_bytes"] for p in pools]})


def rule_unaccounted(facts: dict, t: dict) -> Iterator[dict]:
    held = _part_held(facts, t, "unaccounted", "breakdown_unaccounted_pct")
    if held is None:
        return
    mem, unaccounted = held
    found = mem["breakdown"].get("unaccounted_evidence") or {}
    evidence = ["memory no kernel counter names holds " + _share(unaccounted, mem),
                "MemTotal less free, processes, page cache, shared memory, huge pages, slab, other kernel "
                "memory and compressed swap"]
    if found.get("balloon_bytes"):
        evidence.append("a balloon driver holds %s (meminfo Balloon): the hypervisor took it back"
                        % format_size(found["balloon_bytes"]))
    if found.get("zfs_arc_bytes"):
        evidence.append("the ZFS ARC holds %s (arcstats size)" % format_size(found["zfs_arc_bytes"]))
    if found.get("drivers"):
        evidence.append("loaded drivers that hold memory outside the counters: " + ", ".join(found["drivers"]))
    if len(evidence) == 2:
        evidence.append("no balloon, ZFS ARC or such driver found: look at lsmod and /proc/vmallocinfo")
    yield _finding(
        "memory.unaccounted", "monitor", "Memory is held outside every kernel counter", evidence,
        _remedy("Find the driver that holds it: give a ballooned guest its memory back from the hypervisor, cap the "
                "ZFS ARC (zfs_arc_max), free GPU memory with the vendor's tools."),
        {"unaccounted_bytes": unaccounted, "balloon_bytes": found.get("balloon_bytes"),
         "zfs_arc_bytes": found.get("zfs_arc_bytes"), "drivers": found.get("drivers") or []})


RULES = (rule_shmem, rule_hugetlb_unused, rule_unaccounted)
