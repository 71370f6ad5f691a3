# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""mem_facts main(): facts from a fixture tree, and bad input refused with a
message that names the problem and what to give instead, never a traceback."""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil

import pytest

from ansible.module_utils import basic

from ansible_collections.memops.linux.plugins.module_utils import _kernlog
from ansible_collections.memops.linux.plugins.modules import mem_facts

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "fixtures")
KIB = 1024


def tree(name):
    return {"proc_root": os.path.join(FIXTURES, name, "proc"), "sys_root": os.path.join(FIXTURES, name, "sys"),
            "kernel_log": "none"}


def hostile_tree(tmp_path, source="host", **files):
    """A copy of the fixture tree ``source`` under tmp_path with ``files``
    ({path below proc, with "__" for "/": text}) written over it."""
    root = tmp_path / source
    shutil.copytree(os.path.join(FIXTURES, source), str(root), symlinks=True)
    for name, text in files.items():
        (root / "proc" / name.replace("__", "/")).write_text(text)
    return {"proc_root": str(root / "proc"), "sys_root": str(root / "sys"), "kernel_log": "none"}


def strict_json(value):
    """``value`` as standard JSON: NaN and Infinity, which json.dumps writes by default, are refused."""
    return json.dumps(value, allow_nan=False)


def assert_clean_failure(result, *fragments):
    assert result.get("failed") is True
    assert "exception" not in result and "Traceback" not in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"]


def test_facts_from_a_fixture_tree(run_module):
    result = run_module(mem_facts, top=3, **tree("low_memory"))
    assert result["changed"] is False and not result.get("failed")
    facts = result["ansible_facts"]["memops"]
    # MemTotal 4045164 kB, MemAvailable 151232 kB
    assert facts["memory"]["used_bytes"] == (4045164 - 151232) * KIB
    assert facts["swap"]["used_bytes"] == (4194300 - 412360) * KIB
    assert [row["pid"] for row in facts["processes"]["top_rss"]] == [2210, 1022, 1501]
    assert facts["oom"]["log_source"] == "none" and facts["oom"]["kill_count"] == 2
    assert facts["cgroup"]["hierarchy"] == "v1" and facts["cgroup"]["limit_bytes"] is None
    assert facts["gather_subset"] == ["overview", "swap", "processes", "oom", "tunables", "commit", "slab",
                                      "fragmentation", "pressure", "cgroup", "capabilities"]
    assert facts["health"]["status"] == "critical"


def test_subset_and_check_mode(run_module):
    result = run_module(mem_facts, gather_subset=["all", "!processes", "!capabilities"], _ansible_check_mode=True,
                        **tree("container"))
    facts = result["ansible_facts"]["memops"]
    assert "processes" not in facts and "capabilities" not in facts
    assert facts["cgroup"]["limit_bytes"] == 512 << 20
    assert result["changed"] is False


@pytest.mark.parametrize("subset, name", [(["bogus"], "'bogus'"), (["all", "!slabs"], "'slabs'")])
def test_unknown_subset(run_module, subset, name):
    result = run_module(mem_facts, gather_subset=subset, **tree("host"))
    assert_clean_failure(result, "gather_subset: unknown subset %s" % name,
                         "expected 'all' or one of overview, swap, processes", "prefixed with '!'")


@pytest.mark.parametrize("top", [-1, -100])
def test_negative_top(run_module, top):
    assert_clean_failure(run_module(mem_facts, top=top, **tree("host")),
                         "top must be 0 or more, got %d" % top)


def test_top_not_a_number(run_module):
    result = run_module(mem_facts, top="ten", **tree("host"))
    assert_clean_failure(result, "top", "int")


@pytest.mark.parametrize("make_root", [
    str,                                                           # an empty directory
    lambda tmp: str(tmp / "missing"),                              # nothing there
    lambda tmp: (tmp / "file").write_text("x") and str(tmp / "file"),  # a file
    lambda tmp: os.path.join(FIXTURES, "host", "sys"),             # sysfs by mistake
], ids=["empty-dir", "missing", "file", "sysfs"])
def test_proc_root_that_is_not_procfs(run_module, tmp_path, make_root):
    proc_root = make_root(tmp_path)
    result = run_module(mem_facts, proc_root=proc_root, kernel_log="none")
    assert_clean_failure(result, "%s/meminfo is missing" % proc_root.rstrip("/"),
                         "proc_root must point at a mounted procfs")


@pytest.mark.parametrize("args, fragments", [
    ({"samples": 0}, ("samples must be from 1 to 1000", "got 0")),
    ({"samples": 10 ** 9}, ("samples must be from 1 to 1000", "got 1000000000")),  # used to run a billion snapshots
    ({"sample_interval": -1.0}, ("sample_interval must be a number of seconds from 0 to 3600", "got -1.0")),
    ({"kernel_log": "dmesg"}, ("kernel_log", "auto, none", "dmesg")),
])
def test_other_bad_options(run_module, args, fragments):
    options = tree("host")
    options.update(args)
    assert_clean_failure(run_module(mem_facts, **options), *fragments)


@pytest.mark.parametrize("interval", ["nan", "inf", "-inf", 1e300, 3600.5])
def test_sample_interval_not_finite_or_too_long(run_module, interval):
    # each used to reach time.sleep(): ValueError for nan, OverflowError for inf and 1e300
    options = tree("host")
    options.update(samples=2, sample_interval=interval)
    result = run_module(mem_facts, **options)
    assert_clean_failure(result, "sample_interval must be a number of seconds from 0 to 3600")
    # the options echoed back (ansible-core 2.16 echoes them) hold no NaN or Infinity, which strict JSON has not
    echoed = result.get("invocation", {}).get("module_args", {}).get("sample_interval", "not echoed")
    assert isinstance(echoed, str) or math.isfinite(echoed)


def test_unknown_threshold(run_module):
    result = run_module(mem_facts, thresholds={"available_pct_lowest": 3}, **tree("host"))
    assert_clean_failure(result, "available_pct_lowest")


def test_absurd_meminfo_numbers_are_skipped_with_a_note(run_module, tmp_path):
    # a 400-digit MemTotal overflowed float arithmetic (OverflowError) in the overview
    meminfo = open(os.path.join(FIXTURES, "host", "proc", "meminfo"), encoding="utf-8").read()
    meminfo = meminfo.replace("MemFree:        23868884 kB", "MemFree:        %s kB" % ("9" * 400))
    meminfo = meminfo.replace("Cached:           219496 kB", "Cached:           %s kB" % ("9" * 5000))
    result = run_module(mem_facts, **hostile_tree(tmp_path, meminfo=meminfo))
    assert not result.get("failed"), result.get("msg")
    facts = result["ansible_facts"]["memops"]
    assert "MemFree" not in facts["memory"]["meminfo"] and "Cached" not in facts["memory"]["meminfo"]
    assert any(note.startswith("meminfo: skipped line 'MemFree:") and note.endswith("(number out of range)")
               for note in facts["notes"])
    strict_json(facts)


@pytest.mark.parametrize("adj", ["garbage\n", "", "5000\n", "9" * 400 + "\n"])
def test_critical_process_with_a_bad_oom_score_adj(run_module, tmp_path, adj):
    # mysqld's oom_score_adj unreadable as a number: the diagnosis crashed with a TypeError (None >= 0)
    result = run_module(mem_facts, **hostile_tree(tmp_path, "database_host", **{"4101__oom_score_adj": adj}))
    assert not result.get("failed"), result.get("msg")
    facts = result["ansible_facts"]["memops"]
    assert facts["processes"]["workloads"]["mysqld"]["min_oom_score_adj"] is None
    assert any(note.startswith("process 4101: oom_score_adj") for note in facts["notes"])
    finding = next(f for f in facts["health"]["findings"] if f["id"] == "oom.critical_unprotected")
    assert any(line.startswith("mysqld") and "oom_score_adj unknown (not readable)" in line
               for line in finding["evidence"])


@pytest.mark.parametrize("meminfo", [
    "\x00\x7fELF\x02\x01\x01\x00\xff\xfe garbage\n",          # binary: no line parses
    "MemTotal:        8041216\nMemFree:         6123456\nMemAvailable:    7012344\n",  # no kB unit
    "MemTotal:       %s kB\nMemFree:         6123456 kB\n" % ("9" * 400),          # out of range
    "MemFree:         6123456 kB\nMemAvailable:    7012344 kB\n",  # no MemTotal line at all
    "MemTotal:              0 kB\nMemFree:               0 kB\n",
], ids=["binary", "unitless", "400-digits", "missing", "zero"])
def test_meminfo_without_memtotal_cannot_be_judged(run_module, tmp_path, meminfo):
    # each used to come out as health ok with no findings
    result = run_module(mem_facts, **hostile_tree(tmp_path, meminfo=meminfo))
    assert_clean_failure(result, "meminfo has no MemTotal line in kB", "cannot be judged")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", 10 ** 400])
def test_threshold_that_is_no_finite_number(run_module, value):
    # "nan" was accepted and silently turned its rule off
    result = run_module(mem_facts, thresholds={"available_pct_low": value}, **tree("host"))
    assert_clean_failure(result, "thresholds: available_pct_low must be a")


def test_nan_and_inf_in_psi_and_uptime_do_not_reach_the_facts(run_module, tmp_path):
    result = run_module(mem_facts, **hostile_tree(
        tmp_path, uptime="nan inf\n",
        pressure__memory="some avg10=nan avg60=inf avg300=-inf total=12\nfull avg10=1e999 avg60=0.50 avg300=0.00 total=9\n"))
    assert not result.get("failed"), result.get("msg")
    facts = result["ansible_facts"]["memops"]
    strict_json(facts)
    assert facts["uptime_seconds"] is None
    assert facts["pressure"]["some"] == {"total_us": 12}
    assert facts["pressure"]["full"] == {"avg60": 0.5, "avg300": 0.0, "total_us": 9}


def _fifo_in(tmp_path, name, source="host"):
    options = hostile_tree(tmp_path, source)
    path = os.path.join(options["sys_root" if name.startswith("sys:") else "proc_root"], name.split(":")[-1])
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    os.mkfifo(path)
    return options


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [
    "vmstat", "swaps", "pressure/memory", "slabinfo", "buddyinfo", "uptime", "stat", "self/mountinfo",
    "sys/vm/swappiness", "sys/fs/inode-nr", "19641/status", "19641/stat", "19641/oom_score_adj", "19641/cmdline",
    "sys:kernel/mm/transparent_hugepage/enabled",
])
def test_a_fifo_in_the_tree_is_not_read(run_module, tmp_path, name):
    # opening a FIFO for reading waited for a writer forever
    result = run_module(mem_facts, **_fifo_in(tmp_path, name))
    assert not result.get("failed"), result.get("msg")
    strict_json(result["ansible_facts"]["memops"])


@pytest.mark.timeout(30)
def test_a_fifo_for_meminfo_is_a_clean_failure(run_module, tmp_path):
    result = run_module(mem_facts, **_fifo_in(tmp_path, "meminfo"))
    assert_clean_failure(result, "meminfo: not a regular file")


def test_a_process_directory_without_some_files_is_counted_not_vanished(run_module, tmp_path):
    # such processes were counted as vanished and left out (0 processes on prometheus/procfs's fixtures)
    complete = run_module(mem_facts, **tree("host"))["ansible_facts"]["memops"]["processes"]
    options = hostile_tree(tmp_path)
    proc = options["proc_root"]
    os.remove(os.path.join(proc, "19641", "oom_score"))
    os.remove(os.path.join(proc, "19641", "oom_score_adj"))
    os.remove(os.path.join(proc, "19682", "status"))
    os.remove(os.path.join(proc, "19683", "stat"))
    os.mkdir(os.path.join(proc, "31337"))  # an empty directory: a process with nothing to read
    result = run_module(mem_facts, **options)
    assert not result.get("failed"), result.get("msg")
    facts = result["ansible_facts"]["memops"]
    procs = facts["processes"]
    assert procs["vanished"] == 0
    assert procs["count"] == complete["count"] + 1
    rows = {row["pid"]: row for row in procs["top_rss"]}
    assert rows[19641]["oom_score"] is None and rows[19641]["oom_score_adj"] is None
    assert rows[19683]["name"] == complete_name(complete, 19683) and rows[19683]["starttime"] is None
    assert rows[19682]["rss_bytes"] > 0
    note = next(n for n in facts["notes"] if n.startswith("processes: counted with what could be read"))
    assert "oom_score of 2" in note and "status of 2" in note and "stat of 2" in note


def complete_name(processes, pid):
    return next(row["name"] for row in processes["top_rss"] if row["pid"] == pid)


def test_a_process_whose_directory_is_gone_is_vanished(run_module, tmp_path, monkeypatch):
    options = hostile_tree(tmp_path)
    gone = os.path.join(options["proc_root"], "19682")
    original = os.listdir

    def listdir(path):  # the process exits between the listing and the reads
        names = original(path)
        if path == options["proc_root"] and os.path.isdir(gone):
            shutil.rmtree(gone)
        return names

    monkeypatch.setattr(os, "listdir", listdir)
    procs = run_module(mem_facts, **options)["ansible_facts"]["memops"]["processes"]
    assert procs["vanished"] == 1 and 19682 not in [row["pid"] for row in procs["top_rss"]]


@pytest.fixture
def live_log_with_kills(monkeypatch):
    """This machine's kernel log, as /dev/kmsg and dmesg would give it: two OOM kills. Returns the list of
    the live sources asked."""
    with open(os.path.join(FIXTURES, "low_memory", "kmsg"), encoding="utf-8") as handle:
        kills = handle.read()
    asked = []

    def read_kmsg(path="/dev/kmsg", max_bytes=0):
        asked.append(path)
        return kills

    def run_command(self, args, **kwargs):
        asked.append(args[0])
        return 0, kills, ""

    monkeypatch.setattr(_kernlog, "read_kmsg", read_kmsg)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return asked


def test_a_tree_without_its_own_kernel_log_reads_none(run_module, tmp_path, live_log_with_kills):
    # this machine's OOM kills were reported as the tree's and judged "recent" against the tree's uptime
    options = dict(hostile_tree(tmp_path), kernel_log="auto")
    facts = run_module(mem_facts, **options)["ansible_facts"]["memops"]
    assert live_log_with_kills == []
    oom = facts["oom"]
    assert oom["events"] == [] and oom["log_source"] == "none" and oom["log_readable"] is False
    assert oom["log_path"] == str(tmp_path / "host" / "dmesg")
    assert any("is not the live /proc" in note and "dmesg is no readable file" in note for note in facts["notes"])
    assert "kernel log: the tree holds no %s: OOM kills are counted, their victims unknown" % oom["log_path"] \
        in facts["health"]["partial"]
    assert facts["capabilities"]["kernel_log_readable"] is False


def test_a_tree_with_a_dmesg_file_reads_its_log(run_module, tmp_path, live_log_with_kills):
    options = dict(hostile_tree(tmp_path), kernel_log="auto")
    shutil.copy(os.path.join(FIXTURES, "logs", "dmesg-3.10.txt"), str(tmp_path / "host" / "dmesg"))
    facts = run_module(mem_facts, **options)["ansible_facts"]["memops"]
    assert live_log_with_kills == []
    oom = facts["oom"]
    assert oom["log_source"] == "tree" and oom["log_readable"] is True
    assert [event["victim"]["name"] for event in oom["events"]] == _tree_victims()
    assert facts["capabilities"]["kernel_log_readable"] is True


def _tree_victims():
    with open(os.path.join(FIXTURES, "logs", "dmesg-3.10.txt"), encoding="utf-8") as handle:
        return [event["victim"]["name"] for event in _kernlog.parse_kernel_log(handle.read())]


def test_a_tree_of_this_boot_reads_the_live_log(run_module, tmp_path, live_log_with_kills, monkeypatch):
    # a host's /proc mounted into a container: the same kernel, the same boot, the same log
    options = dict(hostile_tree(tmp_path), kernel_log="auto")
    monkeypatch.setattr(_kernlog, "_same_boot", lambda reader: True)
    oom = run_module(mem_facts, **options)["ansible_facts"]["memops"]["oom"]
    assert live_log_with_kills == ["/dev/kmsg"]
    assert oom["log_source"] == "kmsg" and oom["log_path"] is None and oom["events"]


def test_same_boot_compares_boot_ids(tmp_path):
    live = _kernlog.procfs.Reader().proc("sys", "kernel", "random", "boot_id")
    other = tmp_path / "proc" / "sys" / "kernel" / "random"
    other.mkdir(parents=True)
    (other / "boot_id").write_text("00000000-0000-0000-0000-000000000000\n")
    reader = _kernlog.procfs.Reader(str(tmp_path / "proc"))
    assert _kernlog._same_boot(reader) is False
    if live:
        (other / "boot_id").write_text(live)
        assert _kernlog._same_boot(reader) is True


def _tree_with_a_secret(tmp_path):
    root = tmp_path / "low_memory"
    shutil.copytree(os.path.join(FIXTURES, "low_memory"), str(root), symlinks=True, dirs_exist_ok=True)
    (root / "proc" / "2210" / "cmdline").write_bytes(
        b"/usr/bin/java\0-Xmx3g\0--password=hunter2\0--api-token\0tok-123\0DB_SECRET=s3cr3t\0--port=3306\0")
    return {"proc_root": str(root / "proc"), "sys_root": str(root / "sys"), "kernel_log": "none"}


def test_secrets_in_command_lines_are_redacted_by_default(run_module, tmp_path):
    result = run_module(mem_facts, top=3, **_tree_with_a_secret(tmp_path))
    facts = result["ansible_facts"]["memops"]
    row = next(r for r in facts["processes"]["top_rss"] if r["pid"] == 2210)
    assert row["cmdline"] == \
        "/usr/bin/java -Xmx3g --password=<redacted> --api-token <redacted> DB_SECRET=<redacted> --port=3306"
    assert not any(secret in repr(facts) for secret in ("hunter2", "tok-123", "s3cr3t"))


def test_redact_patterns_replace_the_defaults(run_module, tmp_path):
    result = run_module(mem_facts, top=3, redact=[r"--port=(\d+)"], **_tree_with_a_secret(tmp_path))
    row = next(r for r in result["ansible_facts"]["memops"]["processes"]["top_rss"] if r["pid"] == 2210)
    assert row["cmdline"] == "/usr/bin/java -Xmx3g --password=hunter2 --api-token tok-123 DB_SECRET=s3cr3t --port=<redacted>"
    result = run_module(mem_facts, top=3, redact=[], **_tree_with_a_secret(tmp_path))
    row = next(r for r in result["ansible_facts"]["memops"]["processes"]["top_rss"] if r["pid"] == 2210)
    assert "--password=hunter2" in row["cmdline"]


def test_a_redact_pattern_that_does_not_compile_fails_clearly(run_module):
    result = run_module(mem_facts, redact=["--password=(\\S+"], **tree("host"))
    assert_clean_failure(result, "mem_facts: redact[0] '--password=(\\\\S+' is not a valid regular expression")


def test_kernel_log_path_gzip_through_the_module(run_module, tmp_path):
    saved = tmp_path / "kern.log.1"
    saved.write_bytes(gzip.compress(b"[ 7063.247407] Memory cgroup out of memory: Killed process 63214 "
                                    b"(uwsgi) total-vm:3149468kB, anon-rss:164992kB, file-rss:52176kB, "
                                    b"shmem-rss:92kB, UID:0 pgtables:1372kB oom_score_adj:986\n"))
    options = dict(tree("low_memory"), kernel_log="auto", kernel_log_path=str(saved))
    oom = run_module(mem_facts, **options)["ansible_facts"]["memops"]["oom"]
    assert (oom["log_source"], oom["log_path"]) == ("file", str(saved))
    assert [event["victim"]["name"] for event in oom["events"]] == ["uwsgi"]


@pytest.mark.parametrize("options, fragments", [
    ({"kernel_log": "none", "kernel_log_path": "/var/log/kern.log"}, ["kernel_log=none", "kernel_log_path"]),
    ({"kernel_log": "auto", "kernel_log_path": "/nonexistent/dmesg"}, ["kernel_log_path /nonexistent/dmesg",
                                                                       "No such file"]),
    ({"kernel_log": "auto", "kernel_log_path": "/dev/zero"}, ["/dev/zero: not a regular file"]),
])
def test_kernel_log_path_bad_input(run_module, options, fragments):
    assert_clean_failure(run_module(mem_facts, **dict(tree("low_memory"), **options)), *fragments)


def test_process_detail_from_a_tree(run_module, tmp_path):
    # the python3 processes of the host tree, one with the smaps of a real python process (fixtures/smaps)
    with open(os.path.join(FIXTURES, "smaps", "python.smaps"), encoding="utf-8") as handle:
        smaps = handle.read()
    options = hostile_tree(tmp_path, **{"19682__smaps": smaps})
    result = run_module(mem_facts, gather_subset=["overview"], process_detail={"names": ["python3", "nginx"],
                                                                               "pids": [424242], "mappings": 2},
                        **options)
    detail = result["ansible_facts"]["memops"]["process_detail"]
    assert [(p["pid"], p["selected_by"]) for p in detail["processes"]] == [(19682, ["name:python3"])]
    process = detail["processes"][0]
    assert process["by_kind"]["heap"]["rss_bytes"] == 68036 * KIB and process["totals_from"] == "smaps_rollup"
    assert [m["path"] for m in process["mappings"]] == ["[heap]", "/var/tmp/memops-process-detail-vm2ixb5q"]
    assert detail["not_found_pids"] == [424242] and detail["unmatched_names"] == ["nginx"]
    assert "process 19641: no smaps to read" in detail["notes"]  # the tree holds no smaps of it
    assert "process_detail" not in run_module(mem_facts, **tree("host"))["ansible_facts"]["memops"]


@pytest.mark.parametrize("detail, fragments", [
    ({}, ("mem_facts: process_detail selects no process", "give pids, names or top")),
    ({"top": -1}, ("top must be a number from 0 to 100", "got -1")),
    ({"pids": list(range(1, 102))}, ("at most 100 pids",)),
    ({"pid": [1]}, ("pid",)),
    (0, ("mem_facts: process_detail must be a dict of pids, names, top and mappings, got 0",)),
    (True, ("process_detail must be a dict", "got True")),
])
def test_process_detail_bad_requests(run_module, detail, fragments):
    assert_clean_failure(run_module(mem_facts, process_detail=detail, **tree("host")), *fragments)
