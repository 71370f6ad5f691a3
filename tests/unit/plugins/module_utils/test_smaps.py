# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_smaps: one process in depth, from real smaps captured with their pmap -x output
(fixtures/smaps/README.md), and the odd shapes smaps takes."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _smaps

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "smaps")
KIB = 1024


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def pmap_rows(name):
    """{start address: (Kbytes, RSS, Dirty)} of a pmap -x output."""
    rows = {}
    for line in fixture(name).splitlines()[2:]:
        fields = line.split()
        rows[int(fields[0], 16)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return rows


def block(header, **sizes):
    """A mapping block of smaps: the header line, then 'Key: N kB' lines (sizes in kB)."""
    lines = [header]
    for key in ("Size", "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Swap",
                "SwapPss", "AnonHugePages", "Shared_Hugetlb", "Private_Hugetlb"):
        lines.append("%-16s%8d kB" % (key + ":", sizes.get(key, 0)))
    lines += ["THPeligible:    0", "VmFlags: rd wr mr mw me ac sd"]
    return "\n".join(lines) + "\n"


def make_tree(tmp_path, processes):
    """A proc tree: {pid: {file name: text}}."""
    root = tmp_path / "proc"
    for pid, files in processes.items():
        directory = root / str(pid)
        directory.mkdir(parents=True)
        for name, text in files.items():
            (directory / name).write_text(text)
    return _procfs.Reader(str(root), str(tmp_path / "sys"))


def python_tree(tmp_path, pid=4242, rollup=True):
    files = {"smaps": fixture("python.smaps"), "comm": "python3\n", "cmdline": "python3\0holder.py\0"}
    if rollup:
        files["smaps_rollup"] = fixture("python.smaps_rollup")
    return make_tree(tmp_path, {pid: files})


@pytest.mark.parametrize("name", ["python", "bash"])
def test_every_mapping_agrees_with_pmap_x(name):
    # pmap -x: Kbytes is Size, RSS is Rss, Dirty is Shared_Dirty + Private_Dirty, per mapping
    mappings = _smaps.parse_mappings(fixture(name + ".smaps"))
    rows = pmap_rows(name + ".pmap")
    assert len(mappings) == len(rows) >= 5
    summary = _smaps.summarise(mappings, None, len(mappings))
    for m in summary["mappings"]:
        start = int(m["address"].split("-")[0], 16)
        assert (m["size_bytes"] // KIB, m["rss_bytes"] // KIB, m["dirty_bytes"] // KIB) == rows[start], m
    assert summary["size_bytes"] // KIB == sum(row[0] for row in rows.values())
    assert summary["dirty_bytes"] // KIB == sum(row[2] for row in rows.values())


def test_kinds_of_the_python_process():
    kinds = {m["path"]: (m["kind"], m["deleted"]) for m in _smaps.parse_mappings(fixture("python.smaps"))}
    assert kinds["[heap]"] == ("heap", False)
    assert kinds["[stack]"] == ("stack", False)
    assert kinds["/SYSV00000000"] == ("shmem", True)
    assert kinds["/dev/shm/memops-process-detail-26254"] == ("shmem", True)
    assert kinds["/var/tmp/memops-process-detail-vm2ixb5q"] == ("file", False)
    assert kinds[""] == ("anonymous", False)
    assert kinds["[vdso]"] == kinds["[vvar]"] == kinds["[vsyscall]"] == ("other", False)


def test_the_python_process_in_depth(tmp_path):
    reader = python_tree(tmp_path)
    found = _smaps.detail(reader, _smaps.check_request({"pids": [4242], "mappings": 4}), [])
    process = found["processes"][0]
    assert (process["pid"], process["name"], process["cmdline"], process["selected_by"]) == (
        4242, "python3", "python3 holder.py", ["pid"])
    # the totals are the rollup's: the whole process, trimmed mappings too
    assert process["totals_from"] == "smaps_rollup"
    assert process["rss_bytes"] == 109376 * KIB and process["pss_bytes"] == 107191 * KIB
    assert process["uss_bytes"] == (20872 + 86044) * KIB  # Private_Clean + Private_Dirty: smem's USS
    assert process["shared_bytes"] == (2460 + 0) * KIB and process["dirty_bytes"] == 86044 * KIB
    assert process["swap_bytes"] == process["swap_pss_bytes"] == 0
    # the sums by kind are the mappings': 64 MiB of heap, 8 MiB SysV and 4 MiB POSIX shared memory, a 16 MiB file
    assert process["by_kind"]["heap"]["rss_bytes"] == 68036 * KIB
    assert process["by_kind"]["shmem"]["rss_bytes"] == (8192 + 4096) * KIB
    assert process["by_kind"]["shmem"]["count"] == 2
    assert process["by_kind"]["file"]["rss_bytes"] >= 16384 * KIB
    assert [m["path"] for m in process["mappings"]] == [
        "[heap]", "/var/tmp/memops-process-detail-vm2ixb5q", "/SYSV00000000", "/dev/shm/memops-process-detail-26254"]
    assert process["mapping_count"] == 12 and process["truncated"] is False
    assert found["notes"] == [] and found["not_found_pids"] == []


def test_without_smaps_rollup_the_totals_are_summed_from_smaps(tmp_path):
    # kernels before 4.14 have no smaps_rollup
    reader = python_tree(tmp_path, rollup=False)
    process = _smaps.detail(reader, _smaps.check_request({"pids": [4242]}), [])["processes"][0]
    rows = pmap_rows("python.pmap")
    assert process["totals_from"] == "smaps"
    assert process["rss_bytes"] // KIB == sum(row[1] for row in rows.values())
    assert process["dirty_bytes"] // KIB == sum(row[2] for row in rows.values())
    assert process["rss_bytes"] == sum(part["rss_bytes"] for part in process["by_kind"].values())


ODD = "".join((
    block("00400000-00401000 r--p 00000000 fd:01 12 /opt/my app/bin/server with spaces", Size=4, Rss=4, Pss=4,
          Private_Clean=4),
    block("00500000-00600000 rw-s 00000000 00:05 77 /opt/data file.db (deleted)", Size=1024, Rss=512, Pss=256,
          Shared_Dirty=512),
    block("7f0000000000-7f0000100000 rw-p 00000000 00:00 0   [anon:jemalloc arena]", Size=1024, Rss=1000, Pss=1000,
          Private_Dirty=1000, Swap=24, SwapPss=24, AnonHugePages=512),
    block("7f0000200000-7f0000300000 rw-s 00000000 00:01 1033 /memfd:wayland-shm (deleted)", Size=1024, Rss=8, Pss=8,
          Shared_Dirty=8),
    block("7f0000400000-7f0000500000 rw-s 00000000 00:01 44 /dev/zero (deleted)", Size=1024, Rss=16, Pss=16,
          Private_Dirty=16),
    block("7f0000600000-7f0000800000 rw-s 00000000 00:0f 2 /anon_hugepage (deleted)", Size=2048, Shared_Hugetlb=2048),
    block("7f0000800000-7f0000900000 rw-p 00000000 00:00 0 [stack:1234]", Size=1024, Rss=12, Pss=12, Private_Dirty=12),
    block("7f0000a00000-7f0000b00000 rw-s 00000000 00:01 9 [anon_shmem:pool]", Size=1024, Rss=4, Pss=4, Shared_Dirty=4),
    block("7f0000c00000-7f0000c01000 r-xp 00000000 00:00 0 [uprobes]", Size=4),
))


def test_odd_paths_kinds_and_huge_pages():
    mappings = {m["address"]: m for m in _smaps.parse_mappings(ODD)}
    assert mappings["00400000-00401000"]["path"] == "/opt/my app/bin/server with spaces"
    deleted = mappings["00500000-00600000"]
    assert (deleted["path"], deleted["deleted"], deleted["kind"]) == ("/opt/data file.db", True, "file")
    assert mappings["7f0000000000-7f0000100000"]["kind"] == "anonymous"
    assert mappings["7f0000200000-7f0000300000"]["kind"] == "shmem"  # memfd
    assert mappings["7f0000400000-7f0000500000"]["kind"] == "shmem"  # a shared anonymous mapping
    assert mappings["7f0000800000-7f0000900000"]["kind"] == "stack"  # a thread's stack, kernels before 4.5
    assert mappings["7f0000a00000-7f0000b00000"]["kind"] == "shmem"
    assert mappings["7f0000c00000-7f0000c01000"]["kind"] == "other"
    summary = _smaps.summarise(list(mappings.values()), None, 3)
    # hugetlb pages are not in Rss: counted apart, as pmap -x and smem leave them out
    assert summary["hugetlb_bytes"] == 2048 * KIB
    assert summary["rss_bytes"] == (4 + 512 + 1000 + 8 + 16 + 12 + 4) * KIB
    assert summary["anon_huge_bytes"] == 512 * KIB
    assert summary["swap_bytes"] == summary["swap_pss_bytes"] == 24 * KIB
    assert summary["uss_bytes"] == (4 + 1000 + 16 + 12) * KIB
    assert summary["shared_bytes"] == (512 + 8 + 4) * KIB
    # largest by RSS plus swap
    assert [m["address"] for m in summary["mappings"]] == [
        "7f0000000000-7f0000100000", "00500000-00600000", "7f0000400000-7f0000500000"]
    assert summary["mappings"][0]["swap_bytes"] == 24 * KIB


def test_lines_of_no_known_shape_are_skipped_and_noted():
    notes = []
    text = "garbage line\n" + block("00400000-00401000 r--p 00000000 fd:01 12 /bin/x", Size=4, Rss=4) + \
        "Rss: lots kB\nPss: -4 kB\n"
    mappings = _smaps.parse_mappings(text, notes)
    assert [(m["path"], m["rss"], m["pss"]) for m in mappings] == [("/bin/x", 4 * KIB, 0)]
    assert notes == ["smaps: 3 line(s) of no known shape skipped"]


def test_a_huge_smaps_is_cut_at_a_whole_mapping_and_said(tmp_path):
    # 3000 mappings of some 500 bytes: read at most 100 KiB
    text = "".join(block("%012x-%012x rw-p 00000000 00:00 0 " % (0x10000 * i, 0x10000 * i + 4096), Size=4, Rss=4)
                   for i in range(1, 3001))
    reader = make_tree(tmp_path, {7: {"smaps": text, "comm": "big\n"}})
    found = _smaps.read_process(reader, 7, 5, limit=100 * KIB)
    assert found["truncated"] is True and found["totals_from"] == "smaps"
    assert 0 < found["mapping_count"] < 3000
    assert found["rss_bytes"] == found["mapping_count"] * 4 * KIB  # no half-read mapping counted
    assert "first %d mappings read" % found["mapping_count"] in found["notes"][0]


def test_selection_by_pid_name_and_top_with_what_is_missing(tmp_path):
    smaps = block("00400000-00401000 r--p 00000000 fd:01 12 /bin/x", Size=4, Rss=4, Pss=4)
    reader = make_tree(tmp_path, {pid: {"smaps": smaps, "comm": name + "\n", "cmdline": name + "\0"}
                                  for pid, name in ((10, "postgres"), (11, "postgres"), (12, "redis-server"),
                                                    (13, "bash"))})
    rows = [{"pid": 10, "name": "postgres", "rss_bytes": 100}, {"pid": 11, "name": "postgres", "rss_bytes": 300},
            {"pid": 12, "name": "redis-server", "rss_bytes": 900}, {"pid": 13, "name": "bash", "rss_bytes": 5}]
    request = _smaps.check_request({"pids": [13, 999], "names": ["postgres", "nginx"], "top": 1})
    found = _smaps.detail(reader, request, rows)
    assert {p["pid"]: p["selected_by"] for p in found["processes"]} == {
        13: ["pid"], 11: ["name:postgres"], 10: ["name:postgres"], 12: ["top"]}
    assert found["not_found_pids"] == [999] and found["unmatched_names"] == ["nginx"]


def test_denied_vanished_and_kernel_threads(tmp_path, fail_open):
    reader = make_tree(tmp_path, {20: {"smaps": "", "comm": "kthreadd\n"}, 21: {"smaps": "x", "comm": "other\n"},
                                  22: {"comm": "captured\n"}, 23: {"smaps": "x", "comm": "exiting\n"}})
    gone = str(tmp_path / "proc" / "23")
    fail_open(lambda path: path.endswith("/21/smaps"), errno.EACCES)
    fail_open(lambda path: path.endswith("/20/smaps_rollup"), errno.ESRCH)  # a kernel thread has no mm
    # the process exits between the choice and the read: its directory goes with it
    fail_open(lambda path: path.endswith("/23/smaps") and not shutil.rmtree(gone), errno.ESRCH)
    found = _smaps.detail(reader, _smaps.check_request({"pids": [20, 21, 22, 23]}), [])
    assert [(p["pid"], p["rss_bytes"], p["mapping_count"]) for p in found["processes"]] == [(20, 0, 0)]
    assert found["access_denied_pids"] == [21] and found["vanished_pids"] == [23]
    assert "process 20 (kthreadd): no mappings: a kernel thread or a process that is exiting" in found["notes"]
    assert "process 22: no smaps to read" in found["notes"]  # a captured tree without the file
    assert any("permission denied" in note and "become" in note for note in found["notes"])


@pytest.mark.parametrize("request_, fragment", [
    ({}, "selects no process"),
    ({"pids": [], "names": [], "top": 0}, "selects no process"),
    ({"pid": [1]}, "unknown key(s) pid"),
    ({"top": -1}, "top must be a number from 0 to 100"),
    ({"top": 101}, "top must be a number from 0 to 100"),
    ({"top": 1, "mappings": -3}, "mappings must be a number from 0 to 1000"),
    ({"top": True}, "top must be"),
    ({"pids": [0]}, "pids must be process ids"),
    ({"pids": list(range(1, 200))}, "at most 100 pids"),
    ({"names": ["/usr/bin/python3"]}, "without a directory"),
    ({"names": [" "]}, "names must be process names"),
    ([1, 2], "must be a dict"),
])
def test_bad_requests_name_the_problem(request_, fragment):
    with pytest.raises(_smaps.SmapsError) as caught:
        _smaps.check_request(request_)
    assert fragment in str(caught.value)


def test_request_defaults():
    assert _smaps.check_request({"names": ["a", "a"]}) == {"pids": [], "names": ["a"], "top": 0, "mappings": 10}


def test_any_text_parses_without_an_exception():
    hypothesis = pytest.importorskip("hypothesis")
    strategies = hypothesis.strategies
    lines = strategies.sampled_from(fixture("python.smaps").splitlines() + [
        "", "Rss: -4 kB", "Rss: 99999999999999999999999 kB", "Size:", "x-y", "0-1 r", "[heap]", ": kB"])

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(strategies.lists(strategies.one_of(lines, strategies.text(max_size=40)), max_size=40))
    def run(parts):
        mappings = _smaps.parse_mappings("\n".join(parts), [])
        summary = _smaps.summarise(mappings, None, 3)
        assert summary["mapping_count"] == len(mappings)
        assert all(m["kind"] in _smaps.KINDS for m in mappings)

    run()
