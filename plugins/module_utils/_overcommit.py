# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Strict overcommit: the commit limit the kernel computes, and the guard that
refuses a setting which would leave less room than is already committed.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import, no I/O): meminfo (as _procfs.parse_meminfo
gives it) and the settings in, numbers or OvercommitRefused out.
"""

from __future__ import annotations

import os

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

OVERCOMMIT_MEMORY = "vm.overcommit_memory"
OVERCOMMIT_RATIO = "vm.overcommit_ratio"
OVERCOMMIT_KBYTES = "vm.overcommit_kbytes"
OVERCOMMIT_NEVER = 2
OVERCOMMIT_KEYS = (OVERCOMMIT_MEMORY, OVERCOMMIT_RATIO, OVERCOMMIT_KBYTES)


class OvercommitRefused(Exception):
    """Strict overcommit would leave less commit room than is already committed."""


def hugetlb_bytes(meminfo: dict) -> int:
    if "Hugetlb" in meminfo:
        return meminfo["Hugetlb"]
    return meminfo.get("HugePages_Total", 0) * meminfo.get("Hugepagesize", 0)


def commit_limit(meminfo: dict, ratio: int, kbytes: int, page_size: int | None = None) -> int:
    """CommitLimit in bytes, computed in pages as the kernel does (mm/util.c
    vm_commit_limit): overcommit_kbytes when set, else (RAM - huge pages) x
    overcommit_ratio / 100; plus swap. Equals /proc/meminfo's CommitLimit for the
    running ratio and kbytes."""
    page = page_size or PAGE_SIZE
    if kbytes:
        allowed = kbytes * 1024 // page
    else:
        allowed = (meminfo.get("MemTotal", 0) // page - hugetlb_bytes(meminfo) // page) * ratio // 100
    return (allowed + meminfo.get("SwapTotal", 0) // page) * page


def overcommit_guard(meminfo: dict, current: dict, settings: dict, force: bool = False,
                     page_size: int | None = None) -> dict | None:
    """Check the commit room strict overcommit (vm.overcommit_memory=2) would leave.

    ``current`` holds the running ints of overcommit_memory, overcommit_ratio and
    overcommit_kbytes (dotted names), ``settings`` the values asked for (kernel text).
    Returns None when the result is not strict mode, else a dict with
    ``commit_limit_bytes``, ``committed_as_bytes``, ``ratio``, ``kbytes``, ``passed``
    and ``forced``. Raises OvercommitRefused when CommitLimit would fall below
    Committed_AS and force is false: fork() and new allocations would fail with
    ENOMEM on the whole host."""
    def wanted(name):
        return int(settings[name]) if name in settings else None

    mode = wanted(OVERCOMMIT_MEMORY)
    mode = current[OVERCOMMIT_MEMORY] if mode is None else mode
    if mode != OVERCOMMIT_NEVER:
        return None
    ratio, kbytes = wanted(OVERCOMMIT_RATIO), wanted(OVERCOMMIT_KBYTES)
    # writing one of ratio/kbytes makes the kernel set the other to 0
    if ratio is not None and kbytes is None:
        kbytes = 0 if ratio != current[OVERCOMMIT_RATIO] else current[OVERCOMMIT_KBYTES]
    if kbytes is not None and ratio is None:
        ratio = 0 if kbytes != current[OVERCOMMIT_KBYTES] else current[OVERCOMMIT_RATIO]
    if ratio is None:
        ratio, kbytes = current[OVERCOMMIT_RATIO], current[OVERCOMMIT_KBYTES]
    limit = commit_limit(meminfo, ratio, kbytes, page_size)
    committed = meminfo.get("Committed_AS")
    if committed is None and not force:
        raise OvercommitRefused("vm.overcommit_memory=2 refused: /proc/meminfo has no Committed_AS, so the "
                                "commit room cannot be checked; set force: true to go ahead unchecked")
    result = {
        "commit_limit_bytes": limit,
        "committed_as_bytes": committed,
        "ratio": ratio,
        "kbytes": kbytes,
        "passed": committed is not None and limit >= committed,
        "forced": False,
    }
    if result["passed"]:
        return result
    if force:
        result["forced"] = True
        return result
    swap = meminfo.get("SwapTotal", 0)
    usable = meminfo.get("MemTotal", 0) - hugetlb_bytes(meminfo)
    need = max(committed - swap, 0)
    hints = ["add swap", "set force: true if this is really meant"]
    if usable > 0:
        least = -(-need * 100 // usable)
        while commit_limit(meminfo, least, 0, page_size) < committed:  # page rounding
            least += 1
        hints.insert(0, "raise vm.overcommit_ratio to at least %d" % least)
    if kbytes:
        least = -(-need // 1024)
        while commit_limit(meminfo, 0, least, page_size) < committed:
            least += 1
        hints.insert(0, "raise vm.overcommit_kbytes to at least %d" % least)
    how = ("overcommit_kbytes %d kB" % kbytes) if kbytes else (
        "(RAM %d - huge pages %d) x overcommit_ratio %d%%" % (meminfo.get("MemTotal", 0), hugetlb_bytes(meminfo), ratio))
    raise OvercommitRefused(
        "vm.overcommit_memory=2 refused: CommitLimit would be %d bytes (swap %d + %s) but %d bytes are "
        "already committed (Committed_AS); fork() and new allocations would fail with ENOMEM across the "
        "host. Nothing was changed. To go ahead: %s" % (limit, swap, how, committed, "; or ".join(hints)))
