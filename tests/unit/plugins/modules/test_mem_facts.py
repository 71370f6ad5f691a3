# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""mem_facts main(): facts from a fixture tree, and bad input refused with a
message that names the problem and what to give instead, never a traceback."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.modules import mem_facts

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "fixtures")
KIB = 1024


def tree(name):
    return {"proc_root": os.path.join(FIXTURES, name, "proc"), "sys_root": os.path.join(FIXTURES, name, "sys"),
            "kernel_log": "none"}


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
    ({"samples": 0}, ("samples must be 1 or more", "got 0")),
    ({"sample_interval": -1.0}, ("sample_interval must be 0 seconds or more", "got -1.0")),
    ({"kernel_log": "dmesg"}, ("kernel_log", "auto, none", "dmesg")),
])
def test_other_bad_options(run_module, args, fragments):
    options = tree("host")
    options.update(args)
    assert_clean_failure(run_module(mem_facts, **options), *fragments)


def test_unknown_threshold(run_module):
    result = run_module(mem_facts, thresholds={"available_pct_lowest": 3}, **tree("host"))
    assert_clean_failure(result, "available_pct_lowest")


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
