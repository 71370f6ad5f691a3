# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The guide's emergency levers: drop caches, compact memory, cycle swap.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). The plans are pure functions of meminfo
and /proc/swaps so that the guards are tested without touching a kernel.
"""

from __future__ import annotations

import errno
from typing import Sequence

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _kernel as kernel
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _swap as swap

# A dentry and its share of an inode in the slab. Measured on ext4 and tmpfs
# with drop_caches: about 1 KiB of SReclaimable per unused dentry dropped.
DENTRY_BYTES = 1024
COMPACT_COUNTERS = ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated")


class ReclaimError(Exception):
    """The action is refused or the kernel would not take it."""


def memory_snapshot(mi: dict) -> dict:
    """The numbers an operator compares before and after a reclaim, from parsed meminfo."""
    swap_total = mi.get("SwapTotal", 0)
    swap_free = min(mi.get("SwapFree", 0), swap_total)
    return {
        "free_bytes": mi.get("MemFree", 0),
        "available_bytes": mi.get("MemAvailable", mi.get("MemFree", 0)),
        "cached_bytes": mi.get("Cached", 0),
        "buffers_bytes": mi.get("Buffers", 0),
        "slab_reclaimable_bytes": mi.get("SReclaimable", 0),
        "swap_used_bytes": swap_total - swap_free,
        "swap_cached_bytes": mi.get("SwapCached", 0),
    }


def read_meminfo(reader: procfs.Reader) -> dict[str, int]:
    """/proc/meminfo parsed; an unreadable one is a clear error."""
    text = reader.proc("meminfo")
    if not text:
        raise ReclaimError("%s is not readable; proc_root must point at a mounted procfs"
                           % reader.proc_path("meminfo"))
    return procfs.parse_meminfo(text)


def drop_estimate(reader: procfs.Reader, mi: dict, level: int) -> dict:
    """What drop_caches at ``level`` would free, estimated before it runs from
    parsed meminfo ``mi`` and the reader's dentry-state.

    Level 1 drops clean page cache that no process maps: the file LRU lists
    less Mapped (sync has made dirty pages clean by then). Level 2 drops unused
    dentries and the inodes they pin: the unused count from dentry-state at
    DENTRY_BYTES each, never more than SReclaimable. Right after a drop both
    are near zero, which is what makes a second run report no change."""
    page_cache = slab = 0
    if level & 1:
        if "Active(file)" in mi:
            file_lru = mi["Active(file)"] + mi.get("Inactive(file)", 0)
        else:  # kernels before 2.6.28 have one LRU for everything
            file_lru = mi.get("Cached", 0) + mi.get("Buffers", 0) - mi.get("Shmem", 0)
        page_cache = max(file_lru - mi.get("Mapped", 0), 0)
    if level & 2:
        dentries = procfs.parse_dentry_state(reader.proc("sys", "fs", "dentry-state") or "")
        slab = min(dentries.get("nr_unused", 0) * DENTRY_BYTES, mi.get("SReclaimable", 0))
    return {"page_cache_bytes": page_cache, "slab_bytes": slab, "total_bytes": page_cache + slab}


def buddy_zones(reader: procfs.Reader, page_size: int = 4096) -> list[dict]:
    """The zones of /proc/buddyinfo (procfs.parse_buddyinfo)."""
    return procfs.parse_buddyinfo(reader.proc("buddyinfo") or "", page_size)


def fragmented_zones(zones: list[dict], mi: dict, thresholds: dict) -> list[str]:
    """'node/zone' names of ``zones`` that the diagnosis's fragmentation rule
    flags with ``thresholds`` (``mi``: parsed meminfo): the zones compaction is for."""
    bad = diagnosis.fragmented_zones(zones, mi.get("MemTotal", 0), mi.get("MemFree", 0), thresholds)
    return ["%d/%s" % (z["node"], z["zone"]) for z in bad]


def compact_counters(reader: procfs.Reader) -> dict[str, int]:
    """The kernel's compaction counters from vmstat, without the prefix; they
    move only when compaction really scans and migrates pages."""
    vmstat = procfs.parse_vmstat(reader.proc("vmstat") or "")
    return {key[len("compact_"):]: vmstat[key] for key in COMPACT_COUNTERS if key in vmstat}


def largest_free_orders(zones: list[dict]) -> dict:
    """{'node/zone': largest free order} of ``zones`` (compaction raises them)."""
    return {"%d/%s" % (z["node"], z["zone"]): z["largest_free_order"] for z in zones}


def swap_cycle_plan(snapshot: dict, devices: list[dict], min_available: int,
                    memcgs_over_limit: Sequence[tuple[str, int]] = ()) -> dict:
    """Whether RAM can take back every swapped-out page and still keep
    ``min_available`` bytes available (_swap.absorb_room). Pages in the swap
    cache are already in RAM, so they do not count. A memory cgroup over its
    limit (usage + swap) forbids it too: swapoff charges each page back to its
    cgroup, and the kernel OOM-kills in a cgroup that cannot take them, however
    much RAM is free."""
    must_move = max(snapshot["swap_used_bytes"] - snapshot["swap_cached_bytes"], 0)
    available = snapshot["available_bytes"]
    return {
        "devices": [d["path"] for d in devices],
        "swap_to_move_bytes": must_move,
        "available_bytes": available,
        "available_after_bytes": available - must_move,
        "min_available_bytes": min_available,
        "needed": bool(devices) and snapshot["swap_used_bytes"] > 0,
        "memcgs_over_limit": [{"cgroup": path, "excess_bytes": excess} for path, excess in memcgs_over_limit],
        # RAM keeps min_available after taking them: the swap layer's rule, with min_available as its reserve
        "allowed": (available >= min_available and must_move <= swap.absorb_room(available, min_available)
                    and not memcgs_over_limit),
    }


def write_knob(reader: procfs.Reader, name: str, value: int) -> None:
    """Write an action knob below proc_root/sys/vm; permission problems are
    reported as what they are: the host does not allow it."""
    path = reader.proc_path("sys", "vm", name)
    try:
        kernel.write_value(path, value)
    except kernel.KernelWriteError as exc:
        raise ReclaimError(_denied(exc))


def _denied(exc):
    if isinstance(exc, kernel.NotPermitted):
        return ("%s is read-only here (%s): this host or container does not allow reclaiming memory; "
                "run the task on the host itself, as root" % (exc.path, exc.strerror))
    if exc.errno == errno.ENOENT:
        return "%s does not exist: this kernel does not offer it" % exc.path
    return str(exc)
