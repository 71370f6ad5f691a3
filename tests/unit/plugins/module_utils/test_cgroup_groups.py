# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every memory cgroup, services, containers and pods judged by their own limits:
the facts of _cgroups.memory_groups on the cgroups_v1, cgroups_v2 and
cgroups_container trees (see fixtures/README.md) and the findings of
_rules_cgroups on them, each firing on a group at its limit and silent on a near
miss. Expected values are worked out from the fixture files."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups
from ansible_collections.memops.linux.plugins.module_utils import _diagnosis as diagnosis
from ansible_collections.memops.linux.plugins.module_utils import _memfacts as memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _rules_cgroups as rules
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import fixture_path

MIB = 1 << 20
DOCKER_V1 = "4f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"
DOCKER_V1_CACHE = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
PODMAN_V2 = "e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6"
POD_V1 = "7d3c4b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
POD_V2 = "kubepods-burstable-pod3e2d1c0b_9a8f_4e7d_6c5b_4a3f2e1d0c9b.slice"
CONTAINERD_V2 = "cri-containerd-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.scope"
DOCKER_SCOPE = "/system.slice/docker-%s.scope" % DOCKER_V1
PODMAN_SCOPE = "/machine.slice/libpod-%s.scope" % PODMAN_V2
# where each tree keeps its memory cgroups below sys/
MEMORY_ROOT = {"cgroups_v1": ("fs", "cgroup", "memory"), "cgroups_v2": ("fs", "cgroup"), "cgroups_container": ("fs", "cgroup")}


@pytest.fixture(autouse=True)
def host_independent(monkeypatch):
    """The container marker files of the machine running the tests stay out of the results."""
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists",
                        lambda path: False if path in ("/run/.containerenv", "/.dockerenv") else real_exists(path))
    monkeypatch.setattr(os, "geteuid", lambda: 0)


def tree(name, tmp_path, files=None):
    """A reader of a copy of fixture tree ``name``, with ``files`` (path below the
    memory root -> text) written over it."""
    target = tmp_path / name
    shutil.copytree(fixture_path(name), str(target))
    root = target.joinpath("sys", *MEMORY_ROOT[name])
    for path, text in (files or {}).items():
        (root / path.lstrip("/")).write_text(text)
    return procfs.Reader(proc_root=str(target / "proc"), sys_root=str(target / "sys"))


def groups(reader, top=10, near_limit_pct=90.0, oom_kills=None):
    return cgroups.memory_groups(reader, top, near_limit_pct, oom_kills)


def facts_of(reader, **thresholds):
    """The facts and verdict of mem_facts on ``reader``, without the kernel log."""
    return memfacts.gather(reader, thresholds=diagnosis.merge_thresholds(thresholds), use_kernel_log=False,
                           kmsg_path="/nonexistent/kmsg")


def findings(facts, prefix=""):
    return [finding for finding in facts["health"]["findings"] if finding["id"].startswith(prefix)]


def v1_oom_control(kills):
    return "oom_kill_disable 0\nunder_oom 0\noom_kill %d\n" % kills


def v2_events(max_hits=0, oom=0, kills=0):
    return "low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n" % (max_hits, oom, kills)


# ---------------------------------------------------------------------------
# names: what a person calls a group


@pytest.mark.parametrize("path, name, kind, container_id, runtime, pod_uid", [
    (DOCKER_SCOPE, DOCKER_V1[:12], "container", DOCKER_V1, "docker", None),
    ("/docker/%s" % DOCKER_V1, DOCKER_V1[:12], "container", DOCKER_V1, "docker", None),
    (PODMAN_SCOPE, PODMAN_V2[:12], "container", PODMAN_V2, "podman", None),
    (PODMAN_SCOPE + "/container", PODMAN_SCOPE + "/container", "group", PODMAN_V2, "podman", None),
    ("/kubepods/burstable/pod%s" % POD_V1, POD_V1, "pod", None, "kubernetes", POD_V1),
    ("/kubepods.slice/kubepods-burstable.slice/%s/%s" % (POD_V2, CONTAINERD_V2), CONTAINERD_V2[15:27], "container",
     CONTAINERD_V2[15:79], "containerd", "3e2d1c0b-9a8f-4e7d-6c5b-4a3f2e1d0c9b"),
    ("/system.slice/nginx.service", "nginx.service", "service", None, None, None),
    ("/system.slice", "system.slice", "slice", None, None, None),
    ("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "scope", None, None, None),
    ("/memops-batch", "/memops-batch", "group", None, None, None),
])
def test_groups_are_named_as_people_know_them(path, name, kind, container_id, runtime, pod_uid):
    described = cgroups.describe(path)
    assert (described["name"], described["kind"]) == (name, kind)
    assert (described["container_id"], described["runtime"], described["pod_uid"]) == (container_id, runtime, pod_uid)


# ---------------------------------------------------------------------------
# the facts: top groups, groups near their limit, OOM events, pressure


def test_v1_groups_top_usage_near_limit_and_limit_hits(tmp_path):
    result = groups(tree("cgroups_v1", tmp_path))
    assert (result["controller"], result["read"], result["truncated"]) == ("v1", 10, False)
    top = result["top_usage"]
    # memory.usage_in_bytes, largest first; the root (the host) is not a group
    assert [row["path"] for row in top[:3]] == ["/system.slice", "/system.slice/postgresql.service",
                                                "/system.slice/docker-%s.scope" % DOCKER_V1_CACHE]
    assert [row["usage_bytes"] for row in top[:3]] == [5368709120, 3351248896, 1048576000]
    assert set(top[0]) == set(cgroups.GROUP_KEYS)
    # unlimited (the page counter maximum) is no limit
    assert top[0]["limit_bytes"] is None and top[0]["limit_pct"] is None
    # the docker container at 256 MiB: working set 268173312 - 524288 (total_inactive_file), failcnt 5412
    near = result["near_limit"]
    assert [row["path"] for row in near] == [DOCKER_SCOPE]
    assert near[0]["working_set_bytes"] == 268173312 - 524288
    assert near[0]["limit_pct"] == round(100.0 * (268173312 - 524288) / 268435456, 1) == 99.7
    assert near[0]["limit_hits"] == 5412
    assert (near[0]["kind"], near[0]["runtime"], near[0]["name"]) == ("container", "docker", DOCKER_V1[:12])
    assert near[0]["pressure"] is None  # cgroup v1 has no per-group pressure
    assert result["oom_kills"] == []


def test_v1_page_cache_is_not_a_limit_near_miss(tmp_path):
    """The other container uses 97.7% of its 1 GiB, 200 MiB of it inactive page cache: 78.1%."""
    result = groups(tree("cgroups_v1", tmp_path))
    cached = [row for row in result["top_usage"] if row["container_id"] == DOCKER_V1_CACHE][0]
    assert cached["usage_bytes"] / cached["limit_bytes"] > 0.97
    assert cached["limit_pct"] == 78.1
    assert cached["path"] not in [row["path"] for row in result["near_limit"]]


def test_v2_groups_near_limit_with_pressure_and_limit_hits(tmp_path):
    result = groups(tree("cgroups_v2", tmp_path))
    assert result["controller"] == "v2"
    near = result["near_limit"]
    assert [row["path"] for row in near] == [PODMAN_SCOPE]
    assert near[0]["limit_hits"] == 1840  # memory.events.local max
    assert near[0]["pressure"]["some"]["avg10"] == 35.5
    assert near[0]["pressure"]["full"]["avg10"] == 12.25
    assert (near[0]["kind"], near[0]["runtime"]) == ("container", "podman")
    # nginx.service: (492830720 - 19922944) / 536870912 = 88.1%, below 90: listed by usage only
    nginx = [row for row in result["top_usage"] if row["name"] == "nginx.service"][0]
    assert (nginx["limit_pct"], nginx["limit_hits"]) == (88.1, 3)
    assert [row["path"] for row in groups(tree("cgroups_v2", tmp_path / "lower"), near_limit_pct=88.0)["near_limit"]] == [
        PODMAN_SCOPE, "/system.slice/nginx.service"]


def test_v1_oom_kills_from_oom_control(tmp_path):
    reader = tree("cgroups_v1", tmp_path, {"system.slice/nginx.service/memory.oom_control": v1_oom_control(2)})
    result = groups(reader, oom_kills=2)
    assert [(row["path"], row["oom_kill_count"]) for row in result["oom_kills"]] == [("/system.slice/nginx.service", 2)]
    # no OOM kill on the host since boot: the counters are not read for every group, only for those listed
    quiet = groups(tree("cgroups_v1", tmp_path / "quiet"), oom_kills=0)
    assert quiet["oom_kills"] == []
    assert all(row["oom_kill_count"] == 0 for row in quiet["top_usage"])


def test_v2_oom_kills_from_the_groups_own_events(tmp_path):
    nginx = "system.slice/nginx.service/"
    files = {nginx + "memory.events.local": v2_events(3, 1, 1), nginx + "memory.events": v2_events(3, 1, 1),
             "system.slice/memory.events": v2_events(3, 1, 1)}
    result = groups(tree("cgroups_v2", tmp_path, files), oom_kills=1)
    assert [(row["path"], row["oom_count"], row["oom_kill_count"]) for row in result["oom_kills"]] == [
        ("/system.slice/nginx.service", 1, 1)]


def test_v2_oom_kills_before_events_local_are_counted_once(tmp_path):
    """Before 5.2 memory.events counts the descendants' events: the slice above the service is not listed."""
    reader = tree("cgroups_v2", tmp_path, {"system.slice/nginx.service/memory.events": v2_events(3, 1, 1),
                                           "system.slice/memory.events": v2_events(3, 1, 1)})
    for path in ("system.slice/nginx.service", "system.slice"):
        os.remove(os.path.join(cgroups.memory_root(reader, "v2"), path, "memory.events.local"))
    result = groups(reader, oom_kills=1)
    assert [row["path"] for row in result["oom_kills"]] == ["/system.slice/nginx.service"]


def test_the_walk_keeps_the_shallow_groups_and_says_it_was_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "MAX_GROUPS", 3)
    result = groups(tree("cgroups_v1", tmp_path))
    assert (result["read"], result["truncated"]) == (3, True)
    assert all(row["path"].count("/") == 1 for row in result["top_usage"])


def test_no_memory_controller_no_groups(tmp_path):
    (tmp_path / "fs" / "cgroup").mkdir(parents=True)
    (tmp_path / "fs" / "cgroup" / "cgroup.controllers").write_text("cpu io pids\n")
    assert cgroups.memory_groups(procfs.Reader(sys_root=str(tmp_path)), 10, 90.0) is None


def test_the_facts_carry_the_groups_and_the_nearest_limit(tmp_path):
    host = facts_of(tree("cgroups_v1", tmp_path))["cgroup"]
    assert host["effective_limit"] is None  # user.slice and the root: unlimited
    assert [row["path"] for row in host["groups"]["near_limit"]] == [DOCKER_SCOPE]
    inside = facts_of(tree("cgroups_container", tmp_path))["cgroup"]
    limit = inside["effective_limit"]
    assert (limit["path"], limit["limit_bytes"], limit["usage_bytes"]) == ("/", 536870912, 524288000)
    assert limit["working_set_bytes"] == 524288000 - 4194304
    assert inside["groups"]["top_usage"] == []  # the container's own group is the root of what it sees


# ---------------------------------------------------------------------------
# the verdict: a container or service at its limit on a healthy host


@pytest.mark.parametrize("name, path, label, command", [
    ("cgroups_v1", DOCKER_SCOPE, "docker container %s" % DOCKER_V1[:12], "`docker update --memory 384m %s`" % DOCKER_V1[:12]),
    ("cgroups_v2", PODMAN_SCOPE, "podman container %s" % PODMAN_V2[:12], "`podman update --memory 384m %s`" % PODMAN_V2[:12]),
])
def test_container_at_its_limit_on_a_healthy_host(tmp_path, name, path, label, command):
    facts = facts_of(tree(name, tmp_path))
    assert facts["memory"]["available_pct"] == 75.0  # the host is fine
    assert findings(facts, "memory.") == []
    found = findings(facts, "cgroup.")
    assert [(f["id"], f["severity"]) for f in found] == [("cgroup.near_limit", "critical")]
    assert found[0]["title"] == "%s is at its memory limit" % label
    assert "cgroup %s" % path in found[0]["evidence"]
    assert command in found[0]["remedy"]["summary"]
    assert found[0]["data"]["path"] == path
    assert facts["health"]["status"] == "critical"


@pytest.mark.parametrize("name, directory, usage, inactive", [
    ("cgroups_v1", DOCKER_SCOPE, "memory.usage_in_bytes", "total_inactive_file"),
    ("cgroups_v2", PODMAN_SCOPE, "memory.current", "inactive_file"),
])
@pytest.mark.parametrize("used_mib, finding", [
    (230, None),  # 89.8%: a near miss
    (232, ("cgroup.near_limit", "monitor", "near")),  # 90.6%
    (251, ("cgroup.near_limit", "critical", "at")),  # 98.0%
])
def test_near_limit_fires_from_its_threshold_and_a_near_miss_is_silent(tmp_path, name, directory, usage, inactive,
                                                                       used_mib, finding):
    files = {directory + "/" + usage: "%d\n" % (used_mib * MIB), directory + "/memory.stat": "%s 0\n" % inactive}
    if name == "cgroups_v2":  # no limit hits, no pressure: only the working set judges
        files.update({directory + "/memory.events.local": v2_events(), directory + "/memory.pressure": ""})
    facts = facts_of(tree(name, tmp_path, files))
    found = [(f["id"], f["severity"]) for f in findings(facts, "cgroup.")]
    if finding is None:
        assert found == []
        assert facts["health"]["status"] == "ok"
    else:
        assert found == [finding[:2]]
        assert " is %s its memory limit" % finding[2] in findings(facts, "cgroup.")[0]["title"]


def test_pressure_makes_a_group_near_its_limit_critical(tmp_path):
    files = {PODMAN_SCOPE + "/memory.current": "%d\n" % (235 * MIB), PODMAN_SCOPE + "/memory.stat": "inactive_file 0\n"}
    facts = facts_of(tree("cgroups_v2", tmp_path, files))
    assert [(f["id"], f["severity"]) for f in findings(facts, "cgroup.")] == [("cgroup.near_limit", "critical")]
    assert "memory pressure some avg10 35.50%, full avg10 12.25%" in findings(facts, "cgroup.")[0]["evidence"]
    calm = tree("cgroups_v2", tmp_path / "calm", dict(files, **{PODMAN_SCOPE + "/memory.pressure": (
        "some avg10=35.50 avg60=0.00 avg300=0.00 total=5000\nfull avg10=4.99 avg60=0.00 avg300=0.00 total=3000\n")}))
    assert [(f["id"], f["severity"]) for f in findings(facts_of(calm), "cgroup.")] == [("cgroup.near_limit", "monitor")]


def test_service_with_oom_kills_names_the_unit_and_its_drop_in(tmp_path):
    nginx = "system.slice/nginx.service/"
    reader = tree("cgroups_v1", tmp_path, {nginx + "memory.oom_control": v1_oom_control(2), nginx + "memory.failcnt": "17\n",
                                           nginx + "memory.memsw.failcnt": "3\n"})
    assert findings(facts_of(reader), "cgroup.oom_kills") == []  # /proc/vmstat: no OOM kill since boot, nothing read
    vmstat = os.path.join(reader.proc_root, "vmstat")
    with open(vmstat, encoding="utf-8") as handle:
        text = handle.read().replace("oom_kill 0", "oom_kill 2")
    with open(vmstat, "w", encoding="utf-8") as handle:
        handle.write(text)
    facts = facts_of(reader)
    found = [f for f in findings(facts, "cgroup.") if f["id"] == "cgroup.oom_kills"]
    assert len(found) == 1
    assert found[0]["title"] == "The OOM killer has killed processes in nginx.service"
    assert "2 OOM kill(s) in it (n/a OOM event(s)) since the group was made" in found[0]["evidence"]
    assert "hit its limit 20 times" in found[0]["evidence"]  # 17 on memory, 3 on memory+swap
    remedy = found[0]["remedy"]
    assert (remedy["role"], remedy["variable"], remedy["value"]) == (
        "memops.linux.memory_limits", "memory_limits_services", [{"name": "nginx.service", "max": "768M"}])
    # not near its limit (54.7%), no pressure, no recent kill in the kernel log: to watch
    assert found[0]["severity"] == "monitor"
    assert findings(facts_of(tree("cgroups_v1", tmp_path / "none")), "cgroup.oom_kills") == []


def test_oom_kill_events_of_the_kernel_log_are_its_evidence():
    group = dict(cgroups.describe("/memops-it"), path="/memops-it", usage_bytes=60 * MIB, working_set_bytes=60 * MIB,
                 limit_bytes=64 * MIB, limit_pct=93.8, limit_hits=12, oom_count=1, oom_kill_count=1, pressure=None)
    event = {"memcg": "/memops-it", "task_memcg": "/memops-it", "uptime_seconds": 990.0, "logged_at": "2026-12-03T10:00:00",
             "victim": {"name": "python3", "pid": 4321, "rss_bytes": 58 * MIB}}
    facts = {"uptime_seconds": 1000.0, "oom": {"events": [event]}, "cgroup": {"groups": {"oom_kills": [group], "near_limit": [group]}}}
    found = list(rules.rule_cgroup_limits(facts, diagnosis.merge_thresholds({})))
    assert [(f["id"], f["severity"]) for f in found] == [("cgroup.oom_kills", "critical")]  # once, not also near its limit
    assert "2026-12-03T10:00:00 killed python3[4321] (RSS 58 MiB)" in found[0]["evidence"]
    assert found[0]["remedy"]["variable"] == "memory_limits_groups"
    assert found[0]["remedy"]["value"] == [{"name": "it", "max": "96M"}]
    assert found[0]["data"]["recent"] == 1


def test_a_limit_set_twice_is_one_finding_from_the_group_below():
    """A pod and its one container with the same 512 MiB limit: the container is named; a sibling
    whose path starts alike, or a parent with a limit of its own, is judged on its own."""
    def group(path, limit_mib, pct):
        return dict(cgroups.describe(path), path=path, usage_bytes=0, working_set_bytes=0, limit_bytes=limit_mib * MIB,
                    limit_pct=pct, limit_hits=0, oom_count=0, oom_kill_count=0, pressure=None)

    pod = "/kubepods/burstable/pod%s" % POD_V1
    near = [group(pod, 512, 99.0), group(pod + "/" + DOCKER_V1, 512, 98.9), group("/batch", 100, 95.0),
            group("/batchjobs", 100, 95.0), group("/system.slice", 2048, 91.0), group("/system.slice/a.service", 1024, 99.0)]
    facts = {"cgroup": {"groups": {"near_limit": near, "oom_kills": []}}}
    found = [f["data"]["path"] for f in rules.rule_cgroup_limits(facts, diagnosis.merge_thresholds({}))]
    assert found == [pod + "/" + DOCKER_V1, "/batch", "/batchjobs", "/system.slice", "/system.slice/a.service"]


@pytest.mark.parametrize("path, words", [
    ("/kubepods/burstable/pod%s" % POD_V1, ["resources.limits.memory of the containers of pod %s to 768Mi or more" % POD_V1]),
    ("/user.slice/user-1000.slice/session-3.scope", ["systemctl set-property session-3.scope MemoryMax=768M"]),
    ("/batch/jobs", ["cgroup /batch/jobs to 768M or more", "memory.limit_in_bytes"]),
])
def test_the_fix_is_where_the_limit_is_set(path, words):
    group = dict(cgroups.describe(path), path=path, limit_bytes=512 * MIB)
    summary = rules._limit_remedy(group)["summary"]
    assert all(word in summary for word in words), summary


# ---------------------------------------------------------------------------
# inside a container: the verdict against the container's own limit


def test_inside_a_container_the_verdict_is_against_its_limit(tmp_path):
    facts = facts_of(tree("cgroups_container", tmp_path))
    assert facts["capabilities"]["container"] is True
    assert facts["memory"]["available_pct"] == 75.0  # the host's RAM has room
    found = findings(facts, "memory.")
    assert [f["id"] for f in found] == ["memory.available_low"]
    # 512 MiB - (524288000 - 4194304) working set = 16 MiB available, 3.1%
    assert found[0]["evidence"][0] == "available 16 MiB of 512 MiB (3.1% < 5.0%)"
    assert "inside a container: judged against its memory limit 512 MiB (cgroup /, holding 496 MiB), not the host's 16 GiB" \
        in found[0]["evidence"]
    assert "--memory" in found[0]["remedy"]["summary"]
    assert facts["health"]["status"] != "ok"


def test_inside_a_container_a_near_miss_is_silent(tmp_path):
    # 94.0% of the limit in use: 6.0% available, above the 5% line; and above memory_used_pct_high (90)
    reader = tree("cgroups_container", tmp_path, {"memory.current": "%d\n" % (int(512 * 0.94 * MIB) + 4194304)})
    facts = facts_of(reader)
    assert [f["id"] for f in findings(facts, "memory.")] == ["memory.used_high"]
    assert "judged against its memory limit" in findings(facts, "memory.")[0]["evidence"][1]
    quiet = facts_of(tree("cgroups_container", tmp_path / "quiet", {"memory.current": "%d\n" % (200 * MIB)}))
    assert findings(quiet, "memory.") == []
    assert quiet["health"]["status"] == "ok"


def test_a_container_limit_above_ram_or_outside_a_container_is_not_the_view():
    memory = {"total_bytes": 1024 * MIB, "available_bytes": 800 * MIB, "available_pct": 78.1}
    limit = {"path": "/", "limit_bytes": 2048 * MIB, "usage_bytes": 1000 * MIB, "working_set_bytes": 1000 * MIB}
    facts = {"memory": memory, "capabilities": {"container": True}, "cgroup": {"effective_limit": limit}}
    assert rules.memory_view(facts) is memory
    facts["cgroup"]["effective_limit"] = dict(limit, limit_bytes=512 * MIB)
    assert rules.memory_view(facts)["total_bytes"] == 512 * MIB
    facts["capabilities"]["container"] = False  # a host whose own group is limited: a group finding, not the host's view
    assert rules.memory_view(facts) is memory
