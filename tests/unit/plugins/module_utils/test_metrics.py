# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_metrics: the exposition text the checker writes, read back by a small
parser written from the format's specification and by promtool."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _metrics

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def _unescape(text):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], text)


def parse(text):
    """Exposition text -> ({name: {frozenset(labels): value}}, {name: type}, {name: help})."""
    samples, types, helps = {}, {}, {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            types[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, "not a sample line: %r" % line
            name, labels_text, value = match.groups()
            labels = {}
            position = 0
            while labels_text and position < len(labels_text):
                label = _LABEL.match(labels_text, position)
                assert label, "bad labels in %r" % line
                labels[label.group(1)] = _unescape(label.group(2))
                position = label.end()
            key = frozenset(labels.items())
            assert key not in samples.setdefault(name, {}), "duplicate series %r" % line
            samples[name][key] = float(value)
    return samples, types, helps


FACTS = {
    "memory": {"available_bytes": 3 << 30, "total_bytes": 8 << 30},
    "commit": {"limit_bytes": 4 << 30, "committed_as_bytes": 3 << 30},
    "oom": {"kill_count": 7},
    "processes": {"top_rss": [
        {"pid": 10, "name": "postgres", "rss_bytes": 900},
        {"pid": 11, "name": 'we"ird\\na\nme', "rss_bytes": 800},
        {"pid": 12, "name": "java", "rss_bytes": 700},
    ]},
}
HEALTH = {"status": "critical", "findings": [
    {"id": "memory.available_low", "severity": "critical"},
    {"id": "leak.suspect", "severity": "monitor"},
    {"id": "leak.suspect", "severity": "monitor"},
    {"id": "oom.likely_victims", "severity": "info"},
]}


def test_checker_families_round_trip():
    text = _metrics.render(_metrics.checker_families(FACTS, HEALTH, 0.25, 1700000000.5, top=2))
    samples, types, helps = parse(text)
    assert samples["memops_health_status"] == {frozenset(): 2.0}
    assert samples["memops_finding"] == {
        frozenset({("id", "memory.available_low"), ("severity", "critical")}): 1.0,
        frozenset({("id", "leak.suspect"), ("severity", "monitor")}): 2.0,
        frozenset({("id", "oom.likely_victims"), ("severity", "info")}): 1.0,
    }
    assert samples["memops_available_bytes"] == {frozenset(): float(3 << 30)}
    assert samples["memops_commit_ratio"] == {frozenset(): 0.75}
    assert samples["memops_oom_kills_total"] == {frozenset(): 7.0}
    assert types["memops_oom_kills_total"] == "counter"
    # top=2: the third process is left out; the odd name survives escaping
    assert samples["memops_top_process_rss_bytes"] == {
        frozenset({("name", "postgres"), ("pid", "10")}): 900.0,
        frozenset({("name", 'we"ird\\na\nme'), ("pid", "11")}): 800.0,
    }
    assert samples["memops_check_duration_seconds"] == {frozenset(): 0.25}
    assert samples["memops_check_last_success_timestamp_seconds"] == {frozenset(): 1700000000.5}
    assert set(types) == set(helps) == set(samples)
    assert all(kind in ("gauge", "counter") for kind in types.values())


def _group(path, name, kind, working_set, limit, kills=0):
    return {"path": path, "name": name, "kind": kind, "working_set_bytes": working_set, "limit_bytes": limit,
            "oom_kill_count": kills}


CAUSE_FACTS = {
    "memory": {"total_bytes": 1000 << 20},
    "commit": {"overcommit_memory": 2},
    "fragmentation": {"zones": [
        {"node": 0, "zone": "Normal", "free_bytes": 200 << 20, "unusable_index": [0.0, 0.25, 0.5, None]},
        {"node": 0, "zone": "DMA", "free_bytes": 5 << 20, "unusable_index": [0.0, 0.9]},  # under 1% of RAM free
    ]},
    "cgroup": {"groups": {
        "near_limit": [_group("/system.slice/app.service", "app.service", "service", 95, 100)],
        "oom_kills": [_group("/oomtest", "oomtest", "group", 10, 50, kills=3),
                      _group("/system.slice/app.service", "app.service", "service", 95, 100)],
        "top_usage": [_group("/user.slice", "user.slice", "slice", 800, None)],
    }},
}


def test_cause_families():
    samples, types = parse(_metrics.render(_metrics.checker_families(CAUSE_FACTS, HEALTH, 0, 0)))[:2]
    assert samples["memops_overcommit_memory"] == {frozenset(): 2.0}
    assert samples["memops_fragmentation_unusable_index"] == {
        frozenset({("node", "0"), ("zone", "Normal"), ("order", str(order))}): value
        for order, value in ((0, 0.0), (1, 0.25), (2, 0.5))}
    service = frozenset({("path", "/system.slice/app.service"), ("name", "app.service"), ("kind", "service")})
    oomtest = frozenset({("path", "/oomtest"), ("name", "oomtest"), ("kind", "group")})
    # each group once; a group without a limit has no ratio
    assert samples["memops_cgroup_usage_ratio"] == {service: 0.95, oomtest: 0.2}
    assert samples["memops_cgroup_oom_kills_total"] == {oomtest: 3.0}
    assert types["memops_cgroup_oom_kills_total"] == "counter"


def test_cause_families_are_left_out_without_their_facts():
    samples = parse(_metrics.render(_metrics.checker_families(
        {"commit": {"overcommit_memory": None}, "cgroup": {"groups": None}}, HEALTH, 0, 0)))[0]
    assert not {"memops_overcommit_memory", "memops_fragmentation_unusable_index", "memops_cgroup_usage_ratio",
                "memops_cgroup_oom_kills_total"} & set(samples)


@pytest.mark.parametrize("status, value", [("ok", 0), ("monitor", 1), ("critical", 2)])
def test_health_status_values(status, value):
    samples = parse(_metrics.render(_metrics.checker_families({}, {"status": status, "findings": []}, 0, 0)))[0]
    assert samples["memops_health_status"] == {frozenset(): float(value)}


def test_missing_facts_leave_families_out_instead_of_zero():
    facts = {"memory": {}, "commit": {"limit_bytes": None, "committed_as_bytes": 5}, "oom": {"kill_count": None}}
    samples = parse(_metrics.render(_metrics.checker_families(facts, {"status": "ok", "findings": []}, 0, 0)))[0]
    for name in ("memops_available_bytes", "memops_commit_ratio", "memops_oom_kills_total"):
        assert name not in samples
    # families without samples still carry HELP and TYPE, and no sample line
    assert samples.get("memops_finding", {}) == {}


@pytest.mark.parametrize("value, escaped", [
    ("plain", "plain"),
    ('a"b', 'a\\"b'),
    ("a\\b", "a\\\\b"),
    ("a\nb", "a\\nb"),
    ("\\n", "\\\\n"),  # a literal backslash-n is not a line feed
    ("caf\u00e9", "caf\u00e9"),
    (b"bad\xff".decode("utf-8", "surrogateescape"), "bad\ufffd"),
    (42, "42"),
])
def test_escape_label_value(value, escaped):
    assert _metrics.escape_label_value(value) == escaped


@pytest.mark.parametrize("value, text", [
    (1, "1"), (True, "1"), (0.5, "0.5"), (float("nan"), "NaN"), (float("inf"), "+Inf"), (-math.inf, "-Inf"),
    (1 << 40, "1099511627776"),
])
def test_format_value(value, text):
    assert _metrics.format_value(value) == text


def test_help_escapes_backslash_and_newline():
    text = _metrics.render([_metrics.family("x", "gauge", "a\\b\nc", [({}, 1)])])
    assert text.splitlines()[0] == "# HELP x a\\\\b\\nc"


@pytest.mark.parametrize("families, message", [
    ([_metrics.family("memops-bad", "gauge", "h")], "metric name"),
    ([_metrics.family("9lives", "gauge", "h")], "metric name"),
    ([_metrics.family("x", "summary", "h")], "type"),
    ([_metrics.family("x", "gauge", "h", [({"bad-label": 1}, 1)])], "label name"),
    ([_metrics.family("x", "gauge", "h", [({"__reserved": 1}, 1)])], "label name"),
    ([_metrics.family("x", "gauge", "h", [({"a": 1}, 1), ({"a": "1"}, 2)])], "two samples"),
    ([_metrics.family("x", "gauge", "h"), _metrics.family("x", "gauge", "h")], "given twice"),
])
def test_render_refuses_what_the_format_does_not_allow(families, message):
    with pytest.raises(_metrics.MetricsError, match=message):
        _metrics.render(families)


@pytest.mark.skipif(not shutil.which(PROMTOOL), reason="promtool (Debian package prometheus) is not installed")
def test_promtool_lints_the_rendered_text_clean():
    text = _metrics.render(_metrics.checker_families(dict(FACTS, **CAUSE_FACTS), HEALTH, 0.25, 1700000000.5))
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr == ""
