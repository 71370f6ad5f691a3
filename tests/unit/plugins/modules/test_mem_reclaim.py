# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the mem_reclaim module on a temporary proc_root.

The knobs under proc_root/sys/vm are plain files here, so a write shows up as
their content; os.sync is recorded instead of run. The real kernel's answer to
the same writes is checked by the integration target mem_reclaim."""

from __future__ import annotations

import pytest

from ansible_collections.memops.linux.plugins.modules import mem_reclaim as module
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_reclaim import (
    COMPACT, FRAGMENTED, MEMINFO, proc_tree,
)


@pytest.fixture
def proc(tmp_path, monkeypatch):
    """A proc_root whose drop_caches and compact_memory record what was written."""
    synced = []
    monkeypatch.setattr(module.os, "sync", lambda: synced.append(True))

    def make(meminfo=MEMINFO, dentry_state="30000 20000 45 0 5000 0", buddyinfo=COMPACT):
        proc_tree(tmp_path, meminfo, dentry_state, buddyinfo, "compact_migrate_scanned 30\n")
        for knob in ("drop_caches", "compact_memory"):
            (tmp_path / "sys" / "vm").mkdir(parents=True, exist_ok=True)
            (tmp_path / "sys" / "vm" / knob).write_text("")
        return str(tmp_path)

    def written(knob):
        return (tmp_path / "sys" / "vm" / knob).read_text()

    make.written = written
    make.synced = synced
    return make


def test_drop_caches_check_mode_writes_nothing_and_shows_the_expected_memory(proc, run_module):
    result = run_module(module, action="drop_caches", proc_root=proc(), _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] and result["msg"].startswith("Would drop")
    assert proc.written("drop_caches") == "" and proc.synced == []
    assert result["after"] == result["before"]
    expected = result["diff"]["after"]
    assert result["diff"]["after_header"] == "meminfo (expected)"
    assert expected["free_bytes"] - result["before"]["free_bytes"] == result["reclaimable"]["total_bytes"]
    assert expected["slab_reclaimable_bytes"] == result["before"]["slab_reclaimable_bytes"] - 20000 * 1024


@pytest.mark.parametrize("level", [1, 2, 3])
def test_drop_caches_syncs_then_writes_the_level(proc, run_module, level):
    result = run_module(module, action="drop_caches", level=level, min_reclaimable="1M", proc_root=proc())
    assert result["changed"] and proc.written("drop_caches") == str(level) and proc.synced == [True]


def test_drop_caches_with_little_to_drop_changes_nothing(proc, run_module):
    root = proc(meminfo="MemTotal: 4194304 kB\nMemFree: 4000000 kB\nActive(file): 20000 kB\nMapped: 10000 kB\n"
                        "SReclaimable: 9000 kB\n", dentry_state="1106 16 45 0 4 0")
    result = run_module(module, action="drop_caches", proc_root=root, _ansible_diff=True)
    assert not result["changed"] and "diff" not in result
    assert result["msg"].startswith("Nothing to drop: about 9.8 MiB") and "below min_reclaimable (64 MiB)" in result["msg"]
    assert proc.written("drop_caches") == "" and proc.synced == []
    forced = run_module(module, action="drop_caches", force=True, proc_root=root)
    assert forced["changed"] and proc.written("drop_caches") == "3"


def test_compact_runs_only_on_a_fragmented_zone(proc, run_module):
    calm = run_module(module, action="compact", proc_root=proc(buddyinfo=COMPACT))
    assert not calm["changed"] and calm["fragmented_zones"] == [] and proc.written("compact_memory") == ""
    assert calm["msg"] == "Nothing to compact: no zone has its free memory mostly in blocks below order 4."
    check = run_module(module, action="compact", proc_root=proc(buddyinfo=FRAGMENTED), _ansible_check_mode=True)
    assert check["changed"] and check["fragmented_zones"] == ["0/Normal"] and proc.written("compact_memory") == ""
    assert "compact_counters" not in check
    ran = run_module(module, action="compact", proc_root=proc(buddyinfo=FRAGMENTED), _ansible_diff=True)
    assert ran["changed"] and proc.written("compact_memory") == "1"
    assert ran["msg"] == "Compacted memory (fragmented zones: 0/Normal)."
    assert ran["diff"]["before"] == {"largest_free_order": {"0/DMA": 10, "0/Normal": 3}}
    assert ran["compact_counters"] == {"migrate_scanned": 0}  # fixture counters stay; the kernel's grow (integration)


def test_compact_thresholds_come_from_the_diagnosis(proc, run_module):
    result = run_module(module, action="compact", proc_root=proc(buddyinfo=FRAGMENTED),
                        thresholds={"fragmentation_order": 2})
    assert not result["changed"] and proc.written("compact_memory") == ""
    forced = run_module(module, action="compact", force=True, proc_root=proc(buddyinfo=COMPACT))
    assert forced["changed"] and forced["msg"] == "Compacted memory (forced)." and proc.written("compact_memory") == "1"


@pytest.mark.parametrize("args, says", [
    ({"action": "swap_cycle", "force": True}, "force does not apply to swap_cycle"),
    ({"action": "drop_caches", "min_reclaimable": "a lot"}, "min_reclaimable"),
    ({"action": "drop_caches", "min_reclaimable": "9" * 400}, "min_reclaimable: '99999"),
    ({"action": "drop_caches", "min_reclaimable": "9" * 400 + "T"}, "larger than any size"),
    ({"action": "swap_cycle", "min_available": "9" * 400}, "min_available: '99999"),
    ({"action": "compact", "thresholds": {"fragmentation_ordre": 4}}, "unknown key 'fragmentation_ordre'"),
    ({"action": "compact", "thresholds": {"fragmentation_order": "high"}}, "fragmentation_order must be a number"),
])
def test_bad_input_is_refused_before_anything_is_written(proc, run_module, args, says):
    result = run_module(module, proc_root=proc(), **args)
    assert result["failed"] and result["msg"].startswith("mem_reclaim: ") and says in result["msg"]
    assert proc.written("drop_caches") == proc.written("compact_memory") == "" and proc.synced == []


@pytest.mark.parametrize("level", [[0], [1, 2], 0, "deep"])
def test_a_level_of_another_kind_is_refused_without_a_traceback(proc, run_module, level):
    """A list given for level once raised TypeError inside ansible-core 2.16's choices check (found by fuzzing)."""
    result = run_module(module, action="drop_caches", level=level, proc_root=proc())
    assert result["failed"] and "level" in result["msg"] and "Traceback" not in result["msg"] and "exception" not in result
    assert proc.written("drop_caches") == "" and proc.synced == []
