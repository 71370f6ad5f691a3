# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every finding of the diagnosis: fires on a host that has the problem, stays
silent on a healthy one, and honours its thresholds."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis

GIB = 1 << 30
MIB = 1 << 20


def proc(pid, name, rss=100 * MIB, swap=0, oom_score=10, adj=0):
    return {"pid": pid, "name": name, "cmdline": name, "user": "root", "rss_bytes": rss, "pss_bytes": rss,
            "swap_bytes": swap, "oom_score": oom_score, "oom_score_adj": adj, "mem_pct": 1.0}


def healthy():
    """A 16 GiB host with plenty available, 4 GiB swap barely used, nothing wrong."""
    total = 16 * GIB
    return {
        "uptime_seconds": 100000.0,
        "memory": {"total_bytes": total, "used_bytes": 4 * GIB, "free_bytes": 8 * GIB,
                   "available_bytes": 12 * GIB, "available_pct": 75.0, "used_pct": 25.0,
                   "buff_cache_bytes": 4 * GIB},
        "swap": {"total_bytes": 4 * GIB, "used_bytes": 100 * MIB, "free_bytes": 4 * GIB - 100 * MIB,
                 "used_pct": 2.44, "devices": []},
        "processes": {"top_rss": [proc(10, "app")], "top_swap": [], "top_oom_score": [proc(10, "app", oom_score=0)],
                      "workloads": {}, "runtimes": []},
        "oom": {"kill_count": 0, "events": []},
        "commit": {"strict": False, "limit_bytes": 12 * GIB, "committed_as_bytes": 3 * GIB,
                   "committed_pct_of_limit": 25.0, "overcommit_ratio": 50},
        "slab": {"total_bytes": 300 * MIB, "reclaimable_bytes": 200 * MIB, "unreclaimable_bytes": 100 * MIB,
                 "top_caches": [{"name": "dentry", "size_bytes": 50 * MIB}], "dentries": {}, "inodes": {}},
        "fragmentation": {"zones": [{"node": 0, "zone": "Normal", "free_bytes": 8 * GIB,
                                     "unusable_index": [0.0, 0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                                     "largest_free_block_bytes": 4 * MIB}],
                          "compact_fail": 0},
        "pressure": {"available": True, "some": {"avg10": 0.0}, "full": {"avg10": 0.0}},
        "tunables": {"vm": {"swappiness": 60, "overcommit_memory": 0},
                     "thp": {"enabled": {"selected": "madvise", "allowed": ["always", "madvise", "never"]}}},
    }


def ids(facts, **overrides):
    return [f["id"] for f in diagnosis.diagnose(facts, diagnosis.merge_thresholds(overrides))["findings"]]


def test_healthy_host_is_ok_with_no_findings():
    result = diagnosis.diagnose(healthy(), diagnosis.merge_thresholds({}))
    assert result["status"] == "ok"
    assert result["findings"] == []


def low_available(facts, swap_pct):
    facts["memory"].update(available_bytes=int(0.03 * 16 * GIB), available_pct=3.0, used_pct=97.0)
    facts["swap"].update(used_pct=swap_pct, used_bytes=int(swap_pct / 100 * 4 * GIB))
    return facts


def with_workload(facts, name, adj=0, pids=(500,)):
    facts["processes"]["workloads"][name] = {"count": len(pids), "pids": list(pids), "rss_bytes": GIB,
                                             "min_oom_score_adj": adj}
    return facts


def runtime(pid, name, kind, rss=200 * MIB, limit=None, cgroup_limit=None):
    return {"pid": pid, "name": name, "runtime": kind, "rss_bytes": rss, "cmdline": "%s app" % name,
            "heap_limit": "-Xmx%dm" % (limit >> 20) if limit else None, "heap_limit_bytes": limit,
            "heap_limit_source": "flag" if limit else None, "memory_limit_bytes": cgroup_limit}


def with_samples(facts, series):
    facts["samples"] = {"count": len(series), "interval": 5.0, "window_seconds": 5.0 * (len(series) - 1),
                        "growth": [{"pid": 77, "name": "leaky", "starttime": 1, "rss_series": series,
                                    "growth_bytes": series[-1] - series[0]}]}
    return facts


def oom_event(uptime):
    return {"uptime_seconds": uptime, "logged_at": None, "scope": "memcg", "constraint": "CONSTRAINT_MEMCG",
            "memcg": "/oomtest", "victim": {"pid": 4242, "name": "python3", "rss_bytes": 50 * MIB}}


def strict(facts, committed_pct, limit=12 * GIB):
    facts["commit"].update(strict=True, committed_pct_of_limit=committed_pct, limit_bytes=limit)
    return facts


# (finding id, make the problem, expected severity)
POSITIVE = [
    ("memory.available_low", lambda f: low_available(f, 70.0), "critical"),
    ("memory.available_low", lambda f: low_available(f, 10.0), "monitor"),
    ("memory.used_high", lambda f: f["memory"].update(used_pct=93.0, available_pct=7.0), "monitor"),
    ("leak.suspect", lambda f: with_samples(f, [100 * MIB, 110 * MIB, 125 * MIB]), "monitor"),
    ("ram.insufficient", lambda f: (f["memory"].update(available_pct=8.0),
                                    f["swap"].update(pswpin_rate=300.0, pswpout_rate=500.0)), "monitor"),
    ("ram.insufficient", lambda f: f["pressure"]["full"].update(avg10=12.0), "critical"),
    ("oom.kills", lambda f: f["oom"].update(kill_count=3, events=[oom_event(1000.0)]), "monitor"),
    ("oom.kills", lambda f: f["oom"].update(kill_count=1, events=[oom_event(99000.0)]), "critical"),
    ("oom.likely_victims", lambda f: f["processes"].update(top_oom_score=[proc(9, "java", oom_score=700)]), "info"),
    ("oom.critical_unprotected", lambda f: with_workload(f, "mysqld", adj=0), "info"),
    ("commit.near_limit", lambda f: strict(f, 85.0), "monitor"),
    ("commit.near_limit", lambda f: strict(f, 97.0), "critical"),
    ("commit.limit_low", lambda f: strict(f, 30.0, limit=8 * GIB), "monitor"),
    ("swap.exhausted", lambda f: f["swap"].update(used_pct=92.0, used_bytes=int(3.7 * GIB)), "critical"),
    ("swap.high", lambda f: f["swap"].update(used_pct=60.0), "monitor"),
    ("swap.none", lambda f: (f["memory"].update(total_bytes=2 * GIB),
                             f["swap"].update(total_bytes=0, used_pct=0.0, used_bytes=0)), "monitor"),
    ("slab.unreclaimable_high", lambda f: f["slab"].update(unreclaimable_bytes=2 * GIB), "monitor"),
    ("slab.unreclaimable_high", lambda f: f["slab"].update(unreclaimable_bytes=5 * GIB), "critical"),
    ("slab.dentry_inode_bloat", lambda f: f["slab"].update(reclaimable_bytes=6 * GIB), "monitor"),
    ("fragmentation.high", lambda f: f["fragmentation"]["zones"][0].update(
        unusable_index=[0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0]), "monitor"),
    ("tuning.swappiness", lambda f: with_workload(f, "postgres", adj=-900), "info"),
    ("tuning.thp", lambda f: (with_workload(f, "redis-server", adj=-900),
                              f["tunables"]["thp"]["enabled"].update(selected="always")), "info"),
    ("tuning.redis_overcommit", lambda f: with_workload(f, "redis-server", adj=-900), "info"),
    ("tuning.heap_unbounded", lambda f: f["processes"]["runtimes"].append(
        runtime(31, "java", "jvm", rss=2 * GIB)), "info"),
    ("tuning.heap_unbounded", lambda f: f["processes"]["runtimes"].append(
        runtime(32, "node", "node", rss=2 * GIB)), "info"),
    ("heap.limits_exceed_ram", lambda f: f["processes"]["runtimes"].extend(
        [runtime(33, "java", "jvm", limit=10 * GIB), runtime(34, "java", "jvm", limit=8 * GIB)]), "monitor"),
    ("heap.over_cgroup_limit", lambda f: f["processes"]["runtimes"].append(
        runtime(35, "java", "jvm", limit=4 * GIB, cgroup_limit=3 * GIB)), "monitor"),
]


@pytest.mark.parametrize("finding_id, make, severity", POSITIVE, ids=[f"{p[0]}-{p[2]}" for p in POSITIVE])
def test_finding_fires_on_the_problem(finding_id, make, severity):
    facts = healthy()
    make(facts)
    result = diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))
    found = [f for f in result["findings"] if f["id"] == finding_id]
    assert found, "%s did not fire: %s" % (finding_id, [f["id"] for f in result["findings"]])
    finding = found[0]
    assert finding["severity"] == severity
    assert finding["title"] and finding["evidence"] and all(isinstance(e, str) for e in finding["evidence"])
    assert finding["remedy"]["summary"]
    assert finding["remedy"]["role"] or finding["remedy"]["module"]
    expected_status = "ok" if severity == "info" else severity
    if severity != "info":
        assert diagnosis.SEVERITIES.index(result["status"] if result["status"] != "ok" else "info") >= \
            diagnosis.SEVERITIES.index(expected_status)


# (finding id, a near miss that must stay silent)
NEGATIVE = [
    ("memory.available_low", lambda f: f["memory"].update(available_pct=5.5)),
    ("memory.used_high", lambda f: f["memory"].update(used_pct=89.0)),
    ("leak.suspect", lambda f: with_samples(f, [100 * MIB, 130 * MIB, 120 * MIB])),  # not steady
    ("leak.suspect", lambda f: with_samples(f, [100 * MIB, 101 * MIB, 102 * MIB])),  # too small
    ("leak.suspect", lambda f: f.update(samples={"count": 1, "growth": []})),
    ("ram.insufficient", lambda f: f["swap"].update(pswpin_rate=300.0, pswpout_rate=500.0)),  # plenty available
    ("ram.insufficient", lambda f: f["pressure"]["some"].update(avg10=9.0)),
    ("oom.kills", lambda f: f["oom"].update(kill_count=0, events=[])),
    ("oom.critical_unprotected", lambda f: with_workload(f, "mysqld", adj=-500)),
    ("oom.critical_unprotected", lambda f: with_workload(f, "nginx", adj=0)),
    ("commit.near_limit", lambda f: f["commit"].update(committed_pct_of_limit=97.0)),  # heuristic mode
    ("commit.near_limit", lambda f: strict(f, 60.0)),
    ("commit.limit_low", lambda f: strict(f, 30.0, limit=14 * GIB)),
    ("swap.exhausted", lambda f: f["swap"].update(used_pct=79.0)),
    ("swap.high", lambda f: f["swap"].update(used_pct=49.0)),
    ("swap.none", lambda f: f["swap"].update(total_bytes=0, used_pct=0.0)),  # 16 GiB host
    ("slab.unreclaimable_high", lambda f: f["slab"].update(unreclaimable_bytes=GIB)),
    ("slab.dentry_inode_bloat", lambda f: f["slab"].update(reclaimable_bytes=4 * GIB)),
    ("fragmentation.high", lambda f: (f["memory"].update(free_bytes=GIB // 2),
                                      f["fragmentation"]["zones"][0].update(
                                          unusable_index=[0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0]))),
    ("tuning.swappiness", lambda f: (with_workload(f, "postgres", adj=-900),
                                     f["tunables"]["vm"].update(swappiness=10))),
    ("tuning.thp", lambda f: f["tunables"]["thp"]["enabled"].update(selected="always")),  # no redis
    ("tuning.thp", lambda f: with_workload(f, "redis-server", adj=-900)),  # THP madvise
    ("tuning.redis_overcommit", lambda f: (with_workload(f, "redis-server", adj=-900),
                                           f["tunables"]["vm"].update(overcommit_memory=1))),
    ("tuning.heap_unbounded", lambda f: f["processes"]["runtimes"].append(
        runtime(31, "java", "jvm", rss=2 * GIB, limit=2 * GIB))),
    ("tuning.heap_unbounded", lambda f: f["processes"]["runtimes"].append(runtime(31, "java", "jvm", rss=GIB))),
    ("heap.limits_exceed_ram", lambda f: f["processes"]["runtimes"].extend(
        [runtime(33, "java", "jvm", limit=8 * GIB), runtime(34, "node", "node", limit=8 * GIB)])),  # exactly RAM
    ("heap.over_cgroup_limit", lambda f: f["processes"]["runtimes"].append(
        runtime(35, "java", "jvm", limit=3 * GIB, cgroup_limit=3 * GIB))),
    # the RSS ranking again, with no adjusted score, says nothing more
    ("oom.likely_victims", lambda f: f["processes"].update(top_rss=[proc(9, "java"), proc(10, "app")],
                                                           top_oom_score=[proc(9, "java", oom_score=700),
                                                                          proc(10, "app", oom_score=5)])),
]


@pytest.mark.parametrize("finding_id, make", NEGATIVE, ids=[f"{n[0]}-{i}" for i, n in enumerate(NEGATIVE)])
def test_finding_stays_silent_on_a_near_miss(finding_id, make):
    facts = healthy()
    make(facts)
    assert finding_id not in ids(facts)


# thresholds move the line: (finding, make the problem, overrides that silence it)
THRESHOLDS = [
    ("memory.available_low", lambda f: low_available(f, 70.0), {"available_pct_low": 2.0}),
    ("leak.suspect", lambda f: with_samples(f, [100 * MIB, 110 * MIB, 125 * MIB]), {"leak_min_growth_bytes": 64 * MIB}),
    ("swap.high", lambda f: f["swap"].update(used_pct=60.0), {"swap_used_pct_high": 65.0}),
    ("commit.near_limit", lambda f: strict(f, 85.0), {"commit_pct_monitor": 90.0}),
    ("slab.unreclaimable_high", lambda f: f["slab"].update(unreclaimable_bytes=2 * GIB),
     {"slab_unreclaimable_pct_monitor": 20.0}),
    ("oom.critical_unprotected", lambda f: with_workload(f, "mysqld", adj=0), {"critical_processes": ["sshd"]}),
    ("tuning.swappiness", lambda f: with_workload(f, "postgres", adj=-900), {"swappiness_database_max": 60}),
]


@pytest.mark.parametrize("finding_id, make, overrides", THRESHOLDS, ids=[t[0] for t in THRESHOLDS])
def test_thresholds_are_honoured(finding_id, make, overrides):
    facts = healthy()
    make(facts)
    assert finding_id in ids(facts)
    assert finding_id not in ids(copy.deepcopy(facts), **overrides)


def test_likely_victims_when_an_adjusted_score_or_another_order_says_more():
    facts = healthy()
    facts["processes"]["top_rss"] = [proc(9, "java"), proc(10, "app")]
    facts["processes"]["top_oom_score"] = [proc(10, "app", oom_score=800), proc(9, "java", oom_score=700)]
    assert "oom.likely_victims" in ids(facts)  # another order than RSS
    facts["processes"]["top_oom_score"] = [proc(9, "java", oom_score=900, adj=300), proc(10, "app", oom_score=5)]
    assert "oom.likely_victims" in ids(facts)  # the RSS order, but a score someone adjusted


def test_advice_never_raises_a_healthy_database_host_above_ok():
    """A database host whose memory is healthy, with every piece of advice there is: still ok."""
    facts = healthy()
    with_workload(facts, "mysqld", adj=0)
    with_workload(facts, "redis-server", adj=0)
    facts["tunables"]["thp"]["enabled"].update(selected="always")
    facts["processes"]["runtimes"].append(runtime(31, "java", "jvm", rss=4 * GIB))
    facts["processes"]["top_oom_score"] = [proc(31, "java", oom_score=300, adj=100)]
    result = diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))
    assert {f["id"] for f in result["findings"]} == {
        "oom.likely_victims", "oom.critical_unprotected", "tuning.swappiness", "tuning.thp",
        "tuning.redis_overcommit", "tuning.heap_unbounded"}
    assert {f["severity"] for f in result["findings"]} == {"info"} and result["status"] == "ok"


def test_unprotected_services_are_named_by_their_unit():
    facts = healthy()
    with_workload(facts, "mysqld", adj=0)["processes"]["workloads"]["mysqld"]["unit"] = "mariadb.service"
    with_workload(facts, "sshd", adj=0)["processes"]["workloads"]["sshd"]["unit"] = "ssh.service"
    with_workload(facts, "redis-server", adj=0)  # not a service of its own: no unit
    finding = next(f for f in diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))["findings"]
                   if f["id"] == "oom.critical_unprotected")
    assert finding["remedy"]["variable"] == "oom_protect_services"
    assert sorted(finding["remedy"]["value"], key=lambda v: v["name"]) == [
        {"name": "mariadb.service", "score_adj": -500}, {"name": "ssh.service", "score_adj": -500}]
    assert "mysqld (mariadb.service) runs with oom_score_adj >= 0" in finding["evidence"]
    assert any("redis-server" in line and "oom_protect_processes" in line for line in finding["evidence"])


def test_threshold_lowered_makes_a_healthy_host_fire():
    assert "memory.available_low" in ids(healthy(), available_pct_low=80.0)


def test_status_is_the_most_severe_finding_and_info_does_not_count():
    facts = healthy()
    facts["processes"]["top_oom_score"] = [proc(9, "java", oom_score=700)]
    assert diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))["status"] == "ok"
    facts["swap"].update(used_pct=60.0)
    assert diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))["status"] == "monitor"
    facts["swap"].update(used_pct=95.0)
    result = diagnosis.diagnose(facts, diagnosis.merge_thresholds({}))
    assert result["status"] == "critical"
    assert result["findings"][0]["severity"] == "critical"
    assert result["counts"] == {"info": 1, "monitor": 0, "critical": 1}


def test_rules_stay_silent_when_their_subsets_were_not_gathered():
    assert diagnosis.diagnose({"memory": {"total_bytes": 0}}, diagnosis.merge_thresholds({}))["findings"] == []
    assert diagnosis.diagnose({}, diagnosis.merge_thresholds({}))["status"] == "ok"


@pytest.mark.parametrize("overrides, message", [
    ({"availabel_pct_low": 5}, "unknown key 'availabel_pct_low'"),
    ({"available_pct_low": "five"}, "available_pct_low must be a number"),
    ({"available_pct_low": True}, "available_pct_low must be a number"),
    ({"swap_used_pct_high": -1}, "must not be negative"),
    ({"critical_processes": "sshd"}, "critical_processes must be a list"),
])
def test_bad_thresholds_are_clear_errors(overrides, message):
    with pytest.raises(diagnosis.ThresholdError, match=message):
        diagnosis.merge_thresholds(overrides)


def test_numeric_strings_are_accepted_as_thresholds():
    assert diagnosis.merge_thresholds({"available_pct_low": "7.5"})["available_pct_low"] == 7.5
    assert diagnosis.merge_thresholds({"fragmentation_order": "3"})["fragmentation_order"] == 3
