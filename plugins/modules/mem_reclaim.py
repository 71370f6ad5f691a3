#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mem_reclaim
short_description: Reclaim memory now - drop caches, compact, or bring swapped pages back into RAM
version_added: 0.1.0
description:
  - The emergency levers of a memory incident, with the guards an operator applies by hand.
  - V(drop_caches) flushes dirty pages (C(sync)) and then writes O(level) to C(/proc/sys/vm/drop_caches). It does so
    only when at least O(min_reclaimable) is estimated droppable (see RV(reclaimable)), so a second run right after
    the first reports no change.
  - V(compact) writes to C(/proc/sys/vm/compact_memory) so that free memory forms larger blocks again. It does so
    only when a zone is fragmented by the same rule as the diagnosis (O(thresholds)), so a run on memory that is
    already in large blocks reports no change.
  - V(swap_cycle) turns each active swap area off and on again, one at a time, which moves swapped-out pages
    back into RAM. It runs only when RAM can take every swapped page and still keep O(min_available) available;
    otherwise it fails without touching anything. It also refuses while a memory cgroup holds more than its
    limit in RAM and swap, since the kernel would OOM-kill there when the pages come back.
  - Returns memory before and after and the bytes freed.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._roots
  - memops.linux._roots.sys_root
  - memops.linux._attributes.LINUX
attributes:
  check_mode:
    support: full
    details:
      - Reports what would happen, including whether the O(min_available) guard allows V(swap_cycle), and changes nothing.
  diff_mode:
    support: partial
    details:
      - Shows memory before and after (for V(compact), the largest free block per zone).
      - In check mode, shows what V(drop_caches) and V(swap_cycle) are expected to leave; V(compact) has no check-mode
        diff, since its outcome cannot be known before it runs.
options:
  action:
    description:
      - What to reclaim.
    type: str
    required: true
    choices: [drop_caches, compact, swap_cycle]
  level:
    description:
      - For V(drop_caches). V(1) page cache, V(2) reclaimable slab (dentries and inodes), V(3) both.
    type: int
    choices: [1, 2, 3]
    default: 3
  min_available:
    description:
      - For V(swap_cycle), how much memory must still be available after every swapped page is back in RAM.
      - A size such as V(512M), V(1G), V(1.5GiB) or a number of bytes.
    type: str
    default: 256M
  min_reclaimable:
    description:
      - For V(drop_caches), the least that must be droppable for the caches to be dropped; less is reported as
        nothing to do, unchanged.
      - A size such as V(64M) or V(1G), or V(0) to drop whenever the task runs.
    type: str
    default: 64M
  thresholds:
    description:
      - For V(compact), the diagnosis thresholds that decide whether a zone is fragmented, with the keys and guide
        defaults of the C(thresholds) option of M(memops.linux.mem_facts), so that one dictionary drives both.
      - V(fragmentation_order) (default V(4)), V(fragmentation_unusable_index) (default V(0.9)) and
        V(fragmentation_min_free_pct) (default V(5.0)) are the ones that matter here; other known keys are accepted
        and unknown keys are an error.
    type: dict
    default: {}
  force:
    description:
      - Drop caches or compact even when the check finds nothing worth reclaiming.
      - Not accepted with V(swap_cycle), whose guard protects running processes.
    type: bool
    default: false
notes:
  - Each action reports C(changed) only when it ran, and runs only when there is something to reclaim - droppable
    cache over O(min_reclaimable), a fragmented zone, swap in use - so a second run reports no change unless memory
    has filled, fragmented or swapped again in between. O(force) makes V(drop_caches) and V(compact) run regardless.
  - Dropping caches costs I/O later, when the data is read again; it is relief, not a fix.
seealso:
  - name: Documentation for /proc/sys/vm
    description: drop_caches and compact_memory.
    link: https://docs.kernel.org/admin-guide/sysctl/vm.html
"""

EXAMPLES = r"""
- name: Drop page cache, dentries and inodes
  memops.linux.mem_reclaim:
    action: drop_caches
    level: 3

- name: Compact memory when free memory is fragmented at the order of a 2 MiB huge page
  memops.linux.mem_reclaim:
    action: compact
    thresholds:
      fragmentation_order: 9

- name: Compact memory whatever state it is in
  memops.linux.mem_reclaim:
    action: compact
    force: true

- name: Bring swapped pages back into RAM when at least 1 GiB stays available
  memops.linux.mem_reclaim:
    action: swap_cycle
    min_available: 1G
  register: cycled

- name: Show what moved
  ansible.builtin.debug:
    msg: "{{ cycled.plan.swap_to_move_bytes | human_readable }} moved back into RAM"
"""

RETURN = r"""
action:
  description: The action that ran (or would run in check mode).
  returned: always
  type: str
  sample: drop_caches
before:
  description: Memory before the action, in bytes.
  returned: always
  type: dict
  sample: {free_bytes: 1073741824, available_bytes: 3221225472, cached_bytes: 2147483648, buffers_bytes: 10485760,
           slab_reclaimable_bytes: 209715200, swap_used_bytes: 0, swap_cached_bytes: 0}
after:
  description: Memory after the action, in bytes, with the same keys as RV(before). Equal to RV(before) in check mode.
  returned: always
  type: dict
  sample: {free_bytes: 3221225472, available_bytes: 3300000000, cached_bytes: 52428800, buffers_bytes: 1048576,
           slab_reclaimable_bytes: 20971520, swap_used_bytes: 0, swap_cached_bytes: 0}
freed_bytes:
  description: How much free memory grew (never negative). For V(swap_cycle) free memory shrinks; see RV(plan).
  returned: always
  type: int
  sample: 2147483648
reclaimable:
  description:
    - For V(drop_caches), what was estimated droppable before it ran, in bytes. C(page_cache_bytes) is clean page
      cache that no process maps (levels 1 and 3); C(slab_bytes) is unused dentries and their inodes at about 1 KiB
      each (levels 2 and 3); C(total_bytes) is compared with O(min_reclaimable).
  returned: when action is drop_caches
  type: dict
  sample: {page_cache_bytes: 2147483648, slab_bytes: 15728640, total_bytes: 2163212288}
fragmented_zones:
  description: For V(compact), the C(node/zone) names that were fragmented by O(thresholds) before it ran.
  returned: when action is compact
  type: list
  elements: str
  sample: ["0/Normal"]
largest_free_order:
  description: For V(compact), the largest free block order per C(node/zone) before and after.
  returned: when action is compact
  type: dict
  sample: {before: {"0/Normal": 3}, after: {"0/Normal": 10}}
compact_counters:
  description:
    - For V(compact) when it ran, how much the kernel's compaction counters in C(/proc/vmstat) grew during the run
      (pages scanned for migration, free pages scanned, pages isolated).
  returned: when action is compact and it ran (not in check mode)
  type: dict
  sample: {migrate_scanned: 3526655, free_scanned: 14515, isolated: 11941}
plan:
  description:
    - For V(swap_cycle), the guard's numbers - C(devices), C(swap_to_move_bytes) (swapped pages not already in the
      swap cache), C(available_bytes), C(available_after_bytes), C(min_available_bytes), C(needed),
      C(memcgs_over_limit) (each C(cgroup) and its C(excess_bytes)), C(allowed).
  returned: when action is swap_cycle
  type: dict
  sample: {devices: [/swapfile], swap_to_move_bytes: 536870912, available_bytes: 4294967296,
           available_after_bytes: 3758096384, min_available_bytes: 268435456, needed: true,
           memcgs_over_limit: [], allowed: true}
msg:
  description: What happened, in a sentence.
  returned: always
  type: str
  sample: Dropped page cache and reclaimable slab (level 3), about 2.0 GiB droppable.
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _reclaim
from ansible_collections.memops.linux.plugins.module_utils import _swaphost
from ansible_collections.memops.linux.plugins.module_utils import _units

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
LEVELS = {1: "page cache", 2: "reclaimable slab (dentries and inodes)", 3: "page cache and reclaimable slab"}


def _swap_devices(reader):
    return _procfs.parse_swaps(reader.proc("swaps") or "")


def _cycle_swap(module, reader, before, min_available):
    devices = _swap_devices(reader)
    plan = _reclaim.swap_cycle_plan(before, devices, min_available)
    if not plan["needed"]:
        return False, plan, "No swap is in use; nothing to bring back."
    # the cgroup walk costs a read per group: only when there are pages to move
    plan = _reclaim.swap_cycle_plan(before, devices, min_available, _cgroups.memcgs_over_limit(reader))
    if plan["memcgs_over_limit"]:
        over = ", ".join("%s (%d bytes over)" % (c["cgroup"], c["excess_bytes"]) for c in plan["memcgs_over_limit"])
        module.fail_json(
            msg="mem_reclaim: refusing swap_cycle: memory cgroup(s) %s hold more than their limit in RAM and swap; "
                "bringing their pages back would OOM-kill their processes; raise those limits or restart what "
                "runs there first" % over,
            action="swap_cycle", plan=plan, before=before, after=before, freed_bytes=0)
    if not plan["allowed"]:
        module.fail_json(
            msg="mem_reclaim: refusing swap_cycle: %d bytes must move back into RAM and %d bytes are available, "
                "which would leave %d bytes, below min_available (%d); free memory first or lower min_available"
                % (plan["swap_to_move_bytes"], plan["available_bytes"], plan["available_after_bytes"],
                   min_available), action="swap_cycle", plan=plan, before=before, after=before, freed_bytes=0)
    if module.check_mode:
        return True, plan, "Would cycle %d swap area(s)." % len(plan["devices"])
    for device in devices:
        # re-check before each area: the previous one took memory
        now = _reclaim.memory_snapshot(_reclaim.read_meminfo(reader))
        current = _reclaim.swap_cycle_plan(now, [device], min_available, _cgroups.memcgs_over_limit(reader))
        if not current["allowed"]:
            module.fail_json(msg="mem_reclaim: stopped before %s: RAM can no longer take its pages with "
                                 "min_available left; areas cycled so far are back on" % device["path"], plan=plan)
        try:
            _swaphost.swapoff(device["path"])
        except OSError as exc:
            module.fail_json(msg="mem_reclaim: swapoff %s failed (%s); it is still active" % (
                device["path"], exc.strerror), plan=plan)
        # a negative priority is one the kernel gave; swapon without one lets it give the next
        priority = device["priority"] if device["priority"] >= 0 else None
        try:
            _swaphost.swapon(device["path"], priority)
        except OSError as exc:
            again = "swapon %s%s" % ("--priority %d " % priority if priority is not None else "", device["path"])
            module.fail_json(msg="mem_reclaim: %s was turned off but swapon failed (%s); turn it on again with "
                                 "'%s'" % (device["path"], exc.strerror, again), plan=plan)
    return True, plan, "Cycled %d swap area(s); %d bytes moved back into RAM." % (
        len(plan["devices"]), plan["swap_to_move_bytes"])


def _expected_after_drop(before, estimate):
    """The memory numbers drop_caches should leave, for the check-mode diff."""
    after = dict(before)
    after["free_bytes"] += estimate["total_bytes"]
    after["cached_bytes"] = max(before["cached_bytes"] + before["buffers_bytes"] - estimate["page_cache_bytes"], 0)
    after["buffers_bytes"] = 0
    after["slab_reclaimable_bytes"] = max(before["slab_reclaimable_bytes"] - estimate["slab_bytes"], 0)
    return after


def _drop_caches(module, reader, meminfo, level, min_reclaimable, force):
    estimate = _reclaim.drop_estimate(reader, meminfo, level)
    if estimate["total_bytes"] < min_reclaimable and not force:
        return False, {"reclaimable": estimate}, (
            "Nothing to drop: about %s of %s is droppable, below min_reclaimable (%s)." % (
                _units.format_size(estimate["total_bytes"]), LEVELS[level], _units.format_size(min_reclaimable)))
    if not module.check_mode:
        os.sync()
        _reclaim.write_knob(reader, "drop_caches", level)
    return True, {"reclaimable": estimate}, "%s %s (level %d), about %s droppable." % (
        "Would drop" if module.check_mode else "Dropped", LEVELS[level], level,
        _units.format_size(estimate["total_bytes"]))


def _compact(module, reader, meminfo, thresholds, force):
    zones = _reclaim.buddy_zones(reader, PAGE_SIZE)
    fragmented = _reclaim.fragmented_zones(zones, meminfo, thresholds)
    orders_before = _reclaim.largest_free_orders(zones)
    extra = {"fragmented_zones": fragmented, "largest_free_order": {"before": orders_before, "after": orders_before}}
    if not fragmented and not force:
        return False, extra, ("Nothing to compact: no zone has its free memory mostly in blocks below order %d."
                              % thresholds["fragmentation_order"])
    if not module.check_mode:
        counters_before = _reclaim.compact_counters(reader)
        _reclaim.write_knob(reader, "compact_memory", 1)
        counters_after = _reclaim.compact_counters(reader)
        extra["largest_free_order"]["after"] = _reclaim.largest_free_orders(_reclaim.buddy_zones(reader, PAGE_SIZE))
        extra["compact_counters"] = {key: counters_after[key] - counters_before.get(key, 0) for key in counters_after}
    why = "fragmented zones: %s" % ", ".join(fragmented) if fragmented else "forced"
    return True, extra, "%s memory (%s)." % ("Would compact" if module.check_mode else "Compacted", why)


def main():
    spec = dict({
        "action": {"type": "str", "required": True, "choices": ["drop_caches", "compact", "swap_cycle"]},
        "level": {"type": "int", "default": 3, "choices": [1, 2, 3]},
        "min_available": {"type": "str", "default": "256M"},
        "min_reclaimable": {"type": "str", "default": "64M"},
        "thresholds": {"type": "dict", "default": {}},
        "force": {"type": "bool", "default": False},
    }, **_procfs.ROOT_OPTIONS)
    try:
        module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    except TypeError:  # ansible-core 2.16's choices check raises on a list of numbers given for level
        module = AnsibleModule(argument_spec=dict(spec, level={"type": "raw"}), supports_check_mode=True)
        module.fail_json(msg="mem_reclaim: level must be 1, 2 or 3, got %r" % (module.params["level"],))
    params = module.params
    action = params["action"]
    if params["force"] and action == "swap_cycle":
        module.fail_json(msg="mem_reclaim: force does not apply to swap_cycle: its guard keeps running processes "
                             "from being OOM-killed and cannot be overridden; lower min_available instead")
    reader = _procfs.Reader(params["proc_root"], params["sys_root"])
    try:
        min_available = _units.parse_size(params["min_available"], name="min_available", allow_zero=True)
        min_reclaimable = _units.parse_size(params["min_reclaimable"], name="min_reclaimable", allow_zero=True)
        thresholds = _diagnosis.merge_thresholds(params["thresholds"])
    except (_units.SizeError, _diagnosis.ThresholdError) as exc:
        module.fail_json(msg="mem_reclaim: %s" % exc)
    result = {"action": action}
    try:
        meminfo = _reclaim.read_meminfo(reader)
        before = _reclaim.memory_snapshot(meminfo)
        if action == "drop_caches":
            changed, extra, msg = _drop_caches(module, reader, meminfo, params["level"], min_reclaimable,
                                               params["force"])
        elif action == "compact":
            changed, extra, msg = _compact(module, reader, meminfo, thresholds, params["force"])
        else:
            changed, plan, msg = _cycle_swap(module, reader, before, min_available)
            extra = {"plan": plan}
        result.update(extra)
        after = before if module.check_mode else _reclaim.memory_snapshot(_reclaim.read_meminfo(reader))
    except (_procfs.ProcfsError, _reclaim.ReclaimError) as exc:
        module.fail_json(msg="mem_reclaim: %s" % exc, **result)
    result.update(before=before, after=after, freed_bytes=max(after["free_bytes"] - before["free_bytes"], 0))
    if changed and module._diff:
        result["diff"] = _diff(action, result, module.check_mode)
    module.exit_json(changed=changed, msg=msg, **result)


def _diff(action, result, check_mode):
    """Memory before and after; in check mode, what the action is expected to
    leave (compaction's outcome cannot be predicted, so its check mode has none)."""
    before, after = result["before"], result["after"]
    if action == "compact":
        if check_mode:
            return {}
        orders = result["largest_free_order"]
        return {"before": {"largest_free_order": orders["before"]}, "after": {"largest_free_order": orders["after"]},
                "before_header": "buddyinfo", "after_header": "buddyinfo"}
    if check_mode and action == "drop_caches":
        after = _expected_after_drop(before, result["reclaimable"])
    elif check_mode:
        plan = result["plan"]
        after = dict(before, swap_used_bytes=0, swap_cached_bytes=0,
                     available_bytes=plan["available_after_bytes"])
    header = "meminfo (expected)" if check_mode else "meminfo"
    return {"before": before, "after": after, "before_header": "meminfo", "after_header": header}


if __name__ == "__main__":
    main()
