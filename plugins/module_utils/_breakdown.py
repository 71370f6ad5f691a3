# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where the memory went: MemTotal split into parts that sum to it exactly.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). ``partition()`` is pure: /proc/meminfo (and
what the zram devices hold) -> the parts of ``memory.breakdown``. ``gather()``
reads, through the Reader, the few files meminfo does not summarise: the
hugetlb pools per page size, the zram devices, the tmpfs/devtmpfs/ramfs mounts
(sized with statvfs on the live /proc only) and the evidence for memory that
no counter names. docs/breakdown.md says how each part is computed and why.
"""

from __future__ import annotations

import os
from typing import Callable

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils._schema import BREAKDOWN_PARTS

# mounts are sized with statvfs(2) only when proc_root is this process's own /proc
LIVE_PROC_ROOT = "/proc"
# file systems whose files live in RAM (or swap)
SHMEM_FILESYSTEMS = ("tmpfs", "devtmpfs", "ramfs")

# loaded modules that hold memory no /proc/meminfo counter names: balloon drivers, ZFS, GPU memory managers
MEMORY_DRIVERS = frozenset(("amdgpu", "hv_balloon", "nouveau", "nvidia", "radeon", "spl", "ttm", "virtio_balloon",
                            "vmw_balloon", "vmwgfx", "xen_balloon", "zfs"))
# taken off first when the counters add up to more than MemTotal (they are not read atomically)
_OVERCOUNT_ORDER = ("process_anon", "page_cache", "kernel_other", "slab", "shmem", "compressed_swap", "hugetlb",
                    "free")


def partition(meminfo: dict[str, int], hugetlb_pools: list[dict] | None = None, zram_bytes: int = 0) -> dict:
    """/proc/meminfo (bytes, as parse_meminfo returns it) -> memory.breakdown
    without its mounts: ``parts`` in BREAKDOWN_PARTS order, summing to MemTotal,
    and the details of page cache, slab, other kernel memory and compressed swap."""
    mi = meminfo
    total = mi["MemTotal"]
    free = mi.get("MemFree", 0)
    # Buffers + Cached is every file page but the swap cache; shared memory (tmpfs, SysV, shared anonymous) is among them
    file_pages = mi.get("Buffers", 0) + mi.get("Cached", 0)
    shmem = min(mi.get("Shmem", 0), file_pages)
    page_cache = file_pages - shmem
    anon = mi.get("AnonPages", 0)
    if "Active" in mi and "Inactive" in mi:
        # The LRU lists hold every file page and every anonymous page (mapped, mlocked on the unevictable list,
        # or in the swap cache) once: what they hold beyond the file pages is the processes' anonymous memory,
        # without counting a swapped-in page twice as AnonPages + SwapCached would.
        anon = max(anon, mi["Active"] + mi["Inactive"] + mi.get("Unevictable", 0) - file_pages)
    else:
        anon += mi.get("SwapCached", 0)
    slab_reclaimable = mi.get("SReclaimable", 0)
    slab_unreclaimable = mi.get("SUnreclaim", max(mi.get("Slab", 0) - slab_reclaimable, 0))
    kernel = _kernel_other(mi, slab_reclaimable)
    compressed = {"zswap_bytes": mi.get("Zswap", 0), "zram_bytes": zram_bytes}
    sizes = {
        "process_anon": anon,
        "page_cache": page_cache,
        "shmem": shmem,
        "hugetlb": _hugetlb_bytes(mi, hugetlb_pools),
        "slab": slab_reclaimable + slab_unreclaimable,
        "kernel_other": sum(kernel.values()),
        "compressed_swap": compressed["zswap_bytes"] + zram_bytes,
        "free": free,
    }
    overcount = sum(sizes.values()) - total
    sizes["unaccounted"] = max(-overcount, 0)
    excess = overcount
    for name in _OVERCOUNT_ORDER:
        if excess <= 0:
            break
        taken = min(sizes[name], excess)
        sizes[name] -= taken
        excess -= taken
    return {
        "total_bytes": total,
        "parts": [{"name": name, "bytes": sizes[name]} for name in BREAKDOWN_PARTS],
        "overcount_bytes": max(overcount, 0),
        "page_cache": _page_cache(mi, sizes["page_cache"]),
        "slab": {"reclaimable_bytes": slab_reclaimable, "unreclaimable_bytes": slab_unreclaimable},
        "kernel_other": kernel,
        "compressed_swap": compressed,
    }


def _kernel_other(mi, slab_reclaimable):
    stacks = mi.get("KernelStack", 0)
    # Since 5.3 VmallocUsed counts the pages vmalloc allocated, kernel stacks among them where they are
    # vmapped (CONFIG_VMAP_STACK, the default on 64-bit): count them once. Before 4.4 it was address space
    # (ioremap included), told apart by a VmallocChunk other than 0: not RAM, left to unaccounted.
    vmalloc = 0 if mi.get("VmallocChunk") else max(mi.get("VmallocUsed", 0) - stacks, 0)
    return {
        "kernel_stack_bytes": stacks,
        "page_tables_bytes": mi.get("PageTables", 0),
        "vmalloc_bytes": vmalloc,
        "percpu_bytes": mi.get("Percpu", 0),
        # secondary page tables (KVM, IOMMU), other reclaimable kernel memory, bounce and FUSE buffers
        "other_bytes": (mi.get("SecPageTables", 0) + max(mi.get("KReclaimable", 0) - slab_reclaimable, 0)
                        + mi.get("Bounce", 0) + mi.get("WritebackTmp", 0)),
    }


def _hugetlb_bytes(mi, pools):
    if "Hugetlb" in mi:  # every page size, kernel 4.16 and later
        return mi["Hugetlb"]
    if pools:
        return sum(pool["total"] * pool["page_size_bytes"] for pool in pools)
    return mi.get("HugePages_Total", 0) * mi.get("Hugepagesize", 0)


def _page_cache(mi, page_cache):
    """The page cache split into what is not reclaimable at once (locked, dirty, mapped) and the rest."""
    if "Active(file)" in mi and "Inactive(file)" in mi:
        # page cache off the evictable file lists is on the unevictable one: ramfs, mlocked files
        locked = min(max(page_cache - mi["Active(file)"] - mi["Inactive(file)"], 0), page_cache)
    else:
        locked = 0
    dirty = min(mi.get("Dirty", 0) + mi.get("Writeback", 0), page_cache - locked)
    # Mapped counts mapped shared memory too, and the kernel does not say how much of Shmem is mapped:
    # what Shmem cannot explain is mapped file pages for certain
    mapped = min(max(mi.get("Mapped", 0) - mi.get("Shmem", 0), 0), page_cache - locked - dirty)
    return {"reclaimable_bytes": page_cache - locked - dirty - mapped, "dirty_bytes": dirty,
            "mapped_bytes": mapped, "locked_bytes": locked}


# ---------------------------------------------------------------------------
# what meminfo does not summarise


def hugetlb_pools(reader: procfs.Reader, meminfo: dict[str, int], notes: list | None = None) -> list[dict]:
    """The hugetlb pools with pages, per page size (/sys/kernel/mm/hugepages/hugepages-<N>kB), smallest
    page first. ``unused_bytes`` are the free pages no mapping has reserved: lowering the pool frees them."""
    if meminfo.get("Hugetlb", 1) == 0:  # no pool has a page: nothing to read
        return []
    try:
        entries = sorted(os.listdir(reader.sys_path("kernel", "mm", "hugepages")))
    except OSError:
        return []
    pools = []
    for entry in entries:
        size_kib = procfs.to_int(entry[len("hugepages-"):-len("kB")]) if entry.startswith("hugepages-") else None
        if size_kib is None:
            continue
        counts = {}
        for key, name in (("total", "nr_hugepages"), ("free", "free_hugepages"), ("reserved", "resv_hugepages"),
                          ("surplus", "surplus_hugepages")):
            counts[key] = procfs.to_int((reader.try_sys("kernel", "mm", "hugepages", entry, name, notes=notes)
                                         or "").strip()) or 0
        if not counts["total"]:
            continue
        size = size_kib * procfs.KIB
        unused = max(counts["free"] - counts["reserved"], 0)
        pools.append(dict(page_size_bytes=size, in_use_bytes=(counts["total"] - unused) * size,
                          unused_bytes=unused * size, **counts))
    pools.sort(key=lambda pool: pool["page_size_bytes"])
    return pools


def zram_bytes(reader: procfs.Reader, notes: list | None = None) -> int:
    """RAM the zram devices take (mm_stat's mem_used_total, compressed pages and their overhead)."""
    try:
        devices = [name for name in os.listdir(reader.sys_path("block")) if name.startswith("zram")]
    except OSError:
        return 0
    used = 0
    for name in devices:
        stat = procfs.parse_zram_mm_stat(reader.try_sys("block", name, "mm_stat", notes=notes) or "")
        used += stat.get("mem_used_total", 0)
    return used


def shmem_mounts(reader: procfs.Reader, top: int, notes: list | None = None,
                 read_mountinfo: Callable[[], str | None] | None = None) -> tuple[list[dict], str | None]:
    """The ``top`` tmpfs, devtmpfs and ramfs mounts holding most (empty ones left out), each file system
    once, and None; or []
    and why they were not read. statvfs(2) sizes them: only on the live /proc, whose mount points are ours."""
    if reader.proc_root != LIVE_PROC_ROOT:
        return [], "proc_root is %s, not the live /proc: mounts are sized on the live system only" % reader.proc_root
    text = read_mountinfo() if read_mountinfo else reader.try_proc("self", "mountinfo", notes=notes)
    if text is None:
        return [], "/proc/self/mountinfo is not readable"
    visible = {}
    lines = [line for line in text.splitlines() if " - tmpfs " in line or " - devtmpfs " in line or " - ramfs " in line]
    for mount in procfs.parse_mountinfo("\n".join(lines)):
        visible[mount["mount_point"]] = mount  # a later mount on the same point hides the earlier one
    mounts = []
    seen = set()
    for mount in visible.values():
        if mount["type"] not in SHMEM_FILESYSTEMS or mount["device"] in seen:
            continue
        seen.add(mount["device"])  # bind mounts of one file system hold its pages once
        try:
            vfs = os.statvfs(mount["mount_point"])
        except OSError:
            continue
        # tmpfs without a size limit and ramfs report no blocks: their use is unknown
        sized = vfs.f_blocks > 0
        if sized and vfs.f_blocks == vfs.f_bfree:
            continue  # empty
        mounts.append({"mount_point": mount["mount_point"], "type": mount["type"],
                       "used_bytes": (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize if sized else None,
                       "size_bytes": vfs.f_blocks * vfs.f_frsize if sized else None})
    mounts.sort(key=lambda m: -1 if m["used_bytes"] is None else m["used_bytes"], reverse=True)
    return mounts[:top], None


def unaccounted_evidence(reader: procfs.Reader, meminfo: dict[str, int], notes: list | None = None) -> dict:
    """What may hold the memory no counter names: a balloon driver, the ZFS ARC, drivers known to."""
    arc = procfs.parse_kstat(reader.try_proc("spl", "kstat", "zfs", "arcstats", notes=notes) or "").get("size")
    modules = procfs.parse_proc_modules(reader.try_proc("modules", notes=notes) or "")
    return {"balloon_bytes": meminfo.get("Balloon"), "zfs_arc_bytes": arc,
            "drivers": sorted(MEMORY_DRIVERS.intersection(modules))}


def gather(reader: procfs.Reader, meminfo: dict[str, int], top: int = 10, notes: list | None = None,
           read_mountinfo: Callable[[], str | None] | None = None) -> dict | None:
    """memory.breakdown, or None when meminfo has no MemTotal. ``read_mountinfo`` returns
    /proc/self/mountinfo for a caller that reads it once for several uses."""
    if not meminfo.get("MemTotal"):
        return None
    pools = hugetlb_pools(reader, meminfo, notes)
    result = partition(meminfo, pools, zram_bytes(reader, notes))
    result["shmem_mounts"], result["shmem_mounts_not_read"] = shmem_mounts(reader, top, notes, read_mountinfo)
    result["hugetlb_pools"] = pools
    result["unaccounted_evidence"] = unaccounted_evidence(reader, meminfo, notes)
    return result
