# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the options of mem_facts that say what it compares against
# (thresholds) and where its kernel log comes from, kept here so the module stays short.

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  thresholds:
    description:
      - Overrides of the thresholds the diagnosis in RV(ansible_facts.memops.health) compares against.
        Keys left out keep the guide's values. Unknown keys are an error.
      - V(available_pct_low) (5.0) and V(swap_used_pct_high) (50.0), the guide's flowchart; V(memory_used_pct_high) (90.0) and
        V(swap_used_pct_exhausted) (80.0), its alert rules; V(available_pct_tight) (10.0), V(swap_pages_per_second) (100.0), V(psi_some_avg10) (10.0),
        V(psi_full_avg10) (5.0) for too little RAM; V(leak_min_growth_bytes) (4 MiB) and V(leak_min_growth_pct) (5.0) for leak suspects across
        samples; V(leak_trend_min_span_hours) (6.0), V(leak_trend_min_fit) (0.8), V(leak_trend_min_growth_bytes) (32 MiB),
        V(leak_trend_min_growth_pct) (10.0), V(leak_trend_recent_share) (0.5) and V(leak_exhaustion_critical_hours) (24.0) for the leak trend of
        O(leak_history); V(oom_recent_seconds) (3600), V(oom_likely_victims) (3) and V(critical_processes) (sshd, mysqld, mariadbd, postgres, mongod,
        redis-server) for the OOM killer; V(commit_pct_monitor) (80.0), V(commit_pct_critical) (95.0), V(commit_limit_min_pct_of_ram) (75.0) for
        strict overcommit; V(no_swap_max_ram_bytes) (4 GiB); V(slab_unreclaimable_pct_monitor) (10.0), V(slab_unreclaimable_pct_critical) (25.0),
        V(slab_reclaimable_pct_monitor) (30.0); V(fragmentation_order) (4), V(fragmentation_unusable_index) (0.9), V(fragmentation_min_free_pct)
        (5.0); V(swappiness_database_max) (10); V(cgroup_limit_pct_monitor) (90.0) and V(cgroup_limit_pct_critical) (98.0), a memory cgroup's working
        set against its limit.
      - The share of RAM from which a part of the breakdown is named when memory is low, V(breakdown_shmem_pct) (10.0),
        V(breakdown_hugetlb_unused_pct) (5.0), V(breakdown_unaccounted_pct) (10.0).
      - The runtimes' heaps, V(heap_unbounded_min_pct) (10.0), the share of RAM (or of its cgroup's limit) a JVM or Node.js process without a heap
        limit must hold to be named, and V(heap_limits_max_pct_of_ram) (100.0), how much of RAM the heap limits of all runtimes may add up to.
    type: dict
    default: {}
  kernel_log:
    description:
      - Where OOM events are read from. V(auto) reads C(/dev/kmsg), falls back to
        C(dmesg), then to C(journalctl -k). V(none) skips the kernel log; the
        C(oom_kill) counter of C(/proc/vmstat) is still returned.
      - With O(proc_root) other than C(/proc) (a captured tree), every source comes from the tree - V(auto) reads
        only the file C(dmesg) beside O(proc_root) (for example C(/captures/web01/dmesg) for
        C(/captures/web01/proc)), holding what C(dmesg), C(journalctl -k) or C(/dev/kmsg) gave on that host,
        and reads no kernel log when there is none; this host's log would be another machine's. A procfs of
        this very kernel and boot (the same C(sys/kernel/random/boot_id), such as the host's C(/proc) mounted
        into a container) is read as the live one.
    type: str
    choices: [auto, none]
    default: auto
"""
