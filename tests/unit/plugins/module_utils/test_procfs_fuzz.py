# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Property tests: every parser in _procfs takes any text (random, or lines
that are nearly right) and returns its documented types. None raises, except
parse_pid_stat and parse_statm, which may raise ParseError (a ProcfsError)
for text with none of their shape.

The number of examples comes from the Hypothesis profile loaded in
tests/conftest.py (``ci`` draws the same examples on every run) times
MEMOPS_FUZZ_SCALE (default 1), so a parser change can be searched harder with
``MEMOPS_FUZZ_SCALE=20 pytest tests/unit/plugins/module_utils/test_procfs_fuzz.py``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given, settings, strategies as st  # noqa: E402

from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups  # noqa: E402
from ansible_collections.memops.linux.plugins.module_utils import _kernlog as kernlog  # noqa: E402
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs  # noqa: E402
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.procfs_strategies import (  # noqa: E402
    any_text, numbers, words, lines_of, meminfo_line, swaps_line, key_int_line, slab_line, buddy_line,
    pressure_line, selector_text, stat_text, status_line, statm_text, smaps_line, cgroup_line, log_line,
    mountinfo_line, kstat_line, modules_line, mm_stat_text,
)


SCALE = max(1, int(os.environ.get("MEMOPS_FUZZ_SCALE", "1")))
FUZZ = settings(max_examples=120 * SCALE)

# ---------------------------------------------------------------------------
# return-type checks


def is_int(value):
    """An int and not a bool (bool is an int subclass)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int_dict(value):
    return isinstance(value, dict) and all(isinstance(k, str) and is_int(v) for k, v in value.items())


def check_devices(devices):
    assert isinstance(devices, list)
    for device in devices:
        assert set(device) == {"path", "type", "size_bytes", "used_bytes", "priority", "deleted"}
        assert isinstance(device["path"], str) and isinstance(device["type"], str)
        assert all(is_int(device[k]) for k in ("size_bytes", "used_bytes", "priority"))
        assert isinstance(device["deleted"], bool)


def check_caches(caches):
    assert isinstance(caches, list)
    for cache in caches:
        assert isinstance(cache["name"], str)
        assert all(is_int(v) for k, v in cache.items() if k != "name")
    sizes = [c["size_bytes"] for c in caches]
    assert sizes == sorted(sizes, reverse=True)


def check_zones(zones):
    assert isinstance(zones, list)
    for zone in zones:
        assert is_int(zone["node"]) and isinstance(zone["zone"], str)
        counts = zone["free_blocks_by_order"]
        assert counts and all(is_int(c) and c >= 0 for c in counts)
        assert is_int(zone["free_pages"]) and is_int(zone["free_bytes"])
        assert zone["largest_free_order"] is None or 0 <= zone["largest_free_order"] < len(counts)
        assert len(zone["unusable_index"]) == len(counts)
        assert all(i is None or 0.0 <= i <= 1.0 for i in zone["unusable_index"])


def check_pressure(result):
    assert isinstance(result, dict) and set(result) <= {"some", "full"}
    for entry in result.values():
        for key, value in entry.items():
            assert isinstance(key, str)
            assert isinstance(value, float) if key.startswith("avg") else is_int(value)


def check_selector(result):
    assert set(result) == {"selected", "allowed"}
    assert result["selected"] is None or isinstance(result["selected"], str)
    assert all(isinstance(a, str) for a in result["allowed"])


def check_stat(stat):
    assert set(stat) == {"pid", "comm", "state", "ppid", "flags", "starttime", "vsize_bytes", "rss_pages"}
    assert isinstance(stat["comm"], str) and isinstance(stat["state"], str)
    assert all(is_int(stat[k]) for k in ("pid", "ppid", "flags", "starttime", "vsize_bytes", "rss_pages"))


def check_status(status):
    assert all(isinstance(k, str) and (is_int(v) or isinstance(v, str)) for k, v in status.items())


def check_cgroup(result):
    assert result["hierarchy"] in ("v1", "v2", "hybrid", "none")
    assert all(result[k] is None or isinstance(result[k], str) for k in ("memory_path", "unified_path"))


def check_limit(value):
    assert value is None or (is_int(value) and value >= 0)


def check_events(events):
    assert isinstance(events, list)
    for event in events:
        assert event["format"] in ("modern", "legacy") and event["scope"] in ("system", "memcg")
        assert event["uptime_seconds"] is None or isinstance(event["uptime_seconds"], float)
        victim = event["victim"]
        assert is_int(victim["pid"]) and isinstance(victim["name"], str)
        for key in ("uid", "total_vm_bytes", "anon_rss_bytes", "file_rss_bytes", "shmem_rss_bytes",
                    "pgtables_bytes", "oom_score_adj", "rss_bytes"):
            assert victim[key] is None or is_int(victim[key])
        for key in ("memcg_usage_bytes", "memcg_limit_bytes", "order"):
            assert event[key] is None or is_int(event[key])
        assert isinstance(event["notes"], list) and all(isinstance(note, str) for note in event["notes"])


def check_mount_options(options):
    assert options is None or all(isinstance(k, str) and (v is True or isinstance(v, str))
                                  for k, v in options.items())


def check_mounts(mounts):
    assert all(set(m) == {"mount_point", "type", "source", "options", "device"}
               and all(isinstance(v, str) for v in m.values()) for m in mounts)


def check_names(names):
    assert isinstance(names, list) and all(isinstance(n, str) and n for n in names)


# name -> (call, strategy, check, may raise ParseError)
PARSERS = {
    "parse_meminfo": (lambda t: procfs.parse_meminfo(t, []), lines_of(meminfo_line), is_int_dict, False),
    "parse_swaps": (lambda t: procfs.parse_swaps(t, []), lines_of(swaps_line), check_devices, False),
    "parse_key_int_lines": (lambda t: procfs.parse_key_int_lines(t, [], "memory.events"), lines_of(key_int_line),
                            is_int_dict, False),
    "parse_vmstat": (lambda t: procfs.parse_vmstat(t, []), lines_of(key_int_line), is_int_dict, False),
    "parse_slabinfo": (lambda t: procfs.parse_slabinfo(t, 4096, []), lines_of(slab_line), check_caches, False),
    "parse_buddyinfo": (lambda t: procfs.parse_buddyinfo(t, 4096, []), lines_of(buddy_line), check_zones, False),
    "parse_pressure": (lambda t: procfs.parse_pressure(t, []), lines_of(pressure_line), check_pressure, False),
    "parse_inode_nr": (procfs.parse_inode_nr, statm_text, is_int_dict, False),
    "parse_dentry_state": (procfs.parse_dentry_state, statm_text, is_int_dict, False),
    "parse_selector": (procfs.parse_selector, selector_text, check_selector, False),
    "parse_pid_stat": (procfs.parse_pid_stat, stat_text, check_stat, True),
    "parse_status": (procfs.parse_status, lines_of(status_line, 20), check_status, False),
    "parse_statm": (procfs.parse_statm, statm_text, is_int_dict, True),
    "parse_smaps": (procfs.parse_smaps, lines_of(smaps_line, 20), is_int_dict, False),
    "parse_cap_mask": (procfs.parse_cap_mask, st.one_of(st.text("0123456789abcdefABCDEFx_ ", max_size=20), any_text),
                       lambda v: v is None or is_int(v), False),
    "parse_proc_cgroup": (cgroups.parse_proc_cgroup, lines_of(cgroup_line), check_cgroup, False),
    "parse_cgroup_limit": (cgroups.parse_limit, st.one_of(numbers, st.just("max"), any_text), check_limit, False),
    "parse_kernel_log": (kernlog.parse_kernel_log, lines_of(log_line, 16), check_events, False),
    "parse_mount_options": (lambda t: procfs.parse_mount_options(t, "/proc"), lines_of(mountinfo_line),
                            check_mount_options, False),
    "parse_mountinfo": (procfs.parse_mountinfo, lines_of(mountinfo_line), check_mounts, False),
    "parse_kstat": (procfs.parse_kstat, lines_of(kstat_line), is_int_dict, False),
    "parse_proc_modules": (procfs.parse_proc_modules, lines_of(modules_line), check_names, False),
    "parse_zram_mm_stat": (procfs.parse_zram_mm_stat, mm_stat_text, is_int_dict, False),
}


def call(name, text):
    parse, _strategy, check, may_raise = PARSERS[name]
    try:
        result = parse(text)
    except procfs.ParseError:
        if not may_raise:
            raise
        return
    assert check(result) is not False


def test_every_parser_is_fuzzed():
    parsers = {name for name in dir(procfs) if name.startswith("parse_") and callable(getattr(procfs, name))}
    assert parsers - set(PARSERS) - {"parse_cmdline", "parse_status_fields"} == set()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parser_on_near_valid_lines(name):
    @FUZZ
    @given(PARSERS[name][1])
    def run(text):
        call(name, text)

    run()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parser_on_any_text(name):
    @FUZZ
    @given(any_text)
    def run(text):
        call(name, text)

    run()


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_cmdline_any_input(data):
    argv = procfs.parse_cmdline(data)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    assert not argv or argv[-1] != ""


@pytest.mark.skipif(not hasattr(procfs, "parse_status_fields"), reason="parse_status_fields not in this _procfs")
@FUZZ
@given(lines_of(status_line, 20),
       st.lists(st.one_of(st.sampled_from(["Name", "Uid", "VmRSS", "VmSwap", "State"]),
                          words.filter(lambda w: w and ":" not in w)), max_size=5))
def test_status_fields_agree_with_status(text, keys):
    full = procfs.parse_status(text)
    assert procfs.parse_status_fields(text, keys) == {key: full[key] for key in keys if key in full}


@FUZZ
@given(st.lists(st.integers(min_value=0, max_value=2 ** 40), max_size=20))
def test_unusable_free_index_range(counts):
    index = procfs.unusable_free_index(counts)
    assert len(index) == len(counts)
    if sum(counts):
        assert index[0] == 0.0 and all(0.0 <= i <= 1.0 for i in index)
        assert index == sorted(index)
    else:
        assert index == [None] * len(counts)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(["1", "42", "self", "12a", "\u00b2", "\u0663\u0664", "007"]),
                          st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
                                  min_size=1, max_size=8).filter(lambda n: n not in (".", ".."))),
                max_size=8, unique=True))
def test_reader_pids_any_directory(names):
    root = tempfile.mkdtemp(prefix="memops-pids-")
    try:
        for name in names:
            try:
                with open(os.path.join(root, name), "w"):
                    pass
            except (OSError, ValueError):  # a name the filesystem refuses
                continue
        pids = procfs.Reader(proc_root=root).pids()
        assert all(is_int(p) for p in pids) and pids == sorted(pids)
        assert set(pids) <= {int(n) for n in os.listdir(root) if n.isascii() and n.isdigit()}
    finally:
        shutil.rmtree(root)
