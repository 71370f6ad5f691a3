# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rules on memory cgroups: services, containers and pods at or near their memory
limit or whose processes the OOM killer took, and the memory a container is judged by.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), part of the rules layer. ``RULES`` take
``(facts, thresholds)`` like the rules of _diagnosis, which runs them after its
own; they read the ``groups`` of the cgroup facts (_cgroups.memory_groups), so a
group at its limit is a finding even when the host has memory to spare.
``memory_view`` is the memory the verdict on available memory is taken against:
the host's, or, inside a container whose cgroup has a memory limit, that limit.
"""

from __future__ import annotations

import os
from typing import Iterator

from ansible_collections.memops.linux.plugins.module_utils._schema import finding as _finding, remedy as _remedy, section
from ansible_collections.memops.linux.plugins.module_utils._units import format_size

MIB = 1 << 20
# systemd units whose MemoryMax= a drop-in of memops.linux.memory_limits sets
_DROP_IN_UNITS = ("service", "slice")
# the memory cgroups memops.linux.memory_cgroup makes (memory_limits_groups): /memops-<name>
_OUR_GROUPS = "/memops-"
# container runtimes whose limit is a pod's resources.limits.memory
_KUBERNETES = ("kubernetes", "containerd", "cri-o")


def _pct(part, whole):
    return round(100.0 * part / whole, 2)


def memory_view(facts: dict) -> dict:
    """The ``memory`` facts the verdict on available memory reads: the host's, or, when
    mem_facts runs inside a container whose cgroup (or a group above it) has a memory
    limit below RAM, that limit as the total and the limit less the group's working set
    (no more than the host has available) as available, with ``container_limit``:
    {path, evidence, remedy} for the finding."""
    mem = section(facts, "memory")
    limit = section(facts, "cgroup").get("effective_limit") or {}
    total = limit.get("limit_bytes")
    if not section(facts, "capabilities").get("container") or not total or not mem.get("total_bytes") \
            or total >= mem["total_bytes"]:
        return mem
    held = limit.get("working_set_bytes")
    if held is None:
        held = limit.get("usage_bytes") or 0
    available = max(0, min(total - held, mem.get("available_bytes", total)))
    evidence = ["inside a container: judged against its memory limit %s (cgroup %s, holding %s), not the host's %s"
                % (format_size(total), limit.get("path") or limit["directory"], format_size(held), format_size(mem["total_bytes"]))]
    remedy = _remedy("Raise the container's memory limit (the runtime's --memory, a pod's resources.limits.memory) "
                     "or reduce what runs in it.")
    return dict(mem, total_bytes=total, available_bytes=available, used_bytes=total - available,
                available_pct=_pct(available, total), used_pct=_pct(total - available, total),
                container_limit={"path": limit.get("path"), "evidence": evidence, "remedy": remedy})


def _label(group):
    """How titles and evidence name a group."""
    kind, name = group["kind"], group["name"]
    if kind == "container":
        return "%s container %s" % (group["runtime"], name) if group["runtime"] else "container %s" % name
    if kind == "pod":
        return "pod %s" % name
    if kind == "group":
        return "cgroup %s" % name
    if group["container_id"]:
        return "%s in container %s" % (name, group["container_id"][:12])
    return name


def _limit_remedy(group):
    """The fix of a group at its limit: raise the limit where it is set (the unit's
    drop-in, the container runtime, the pod, our memory cgroup), by half again."""
    limit = group["limit_bytes"]
    size = "%dM" % -(-limit * 3 // 2 // MIB) if limit else None
    wanted = "to %s or more" % size if size else "(it is set on a group above this one)"
    kind, name, container = group["kind"], group["name"], group["container_id"]
    if group["pod_uid"] or group["runtime"] in _KUBERNETES:
        return _remedy("Raise resources.limits.memory of %s%s %s, or find what grew in it." % (
            "container %s" % container[:12] if container else "the containers",
            " of pod %s" % group["pod_uid"] if group["pod_uid"] else "", "to %si or more" % size if size else wanted))
    if container:
        runtime = group["runtime"] or "docker"
        return _remedy("Raise the memory limit of %s %s: `%s update --memory %s %s` where the runtime allows it, "
                       "or recreate the container with a larger --memory; or find what grew in it." % (
                           _label(group), wanted, runtime, (size or "<size>").lower(), container[:12]))
    if kind in _DROP_IN_UNITS:
        return _remedy("Raise MemoryMax= of %s %s, or find what grew in it." % (name, wanted),
                       role="memops.linux.memory_limits", variable="memory_limits_services",
                       value=[{"name": name, "max": size}] if size else None)
    if kind != "group":
        return _remedy("Raise the limit of %s %s: systemctl set-property %s MemoryMax=%s." % (
            name, wanted, name, size or "<size>"))
    ours = group["path"][len(_OUR_GROUPS):] if group["path"].startswith(_OUR_GROUPS) else None
    if ours and "/" not in ours:
        return _remedy("Raise the max of memory cgroup %s %s, or find what grew in it." % (group["path"], wanted),
                       role="memops.linux.memory_limits", variable="memory_limits_groups",
                       value=[{"name": ours, "max": size}] if size else None)
    return _remedy("Raise the limit of cgroup %s %s (memory.max, on cgroup v1 memory.limit_in_bytes) where it is set, "
                   "or move work out of it." % (group["path"], wanted))


def _state_lines(group):
    """Evidence of a group's use of its limit: working set, limit hits, pressure."""
    lines = ["cgroup %s" % group["path"]]
    if group["limit_bytes"]:
        lines.append("working set %s of its %s limit (%.1f%%; %s with page cache)" % (
            format_size(group["working_set_bytes"]), format_size(group["limit_bytes"]), group["limit_pct"],
            format_size(group["usage_bytes"])))
    if group["limit_hits"]:
        lines.append("hit its limit %d times" % group["limit_hits"])
    pressure = group["pressure"] or {}
    some, full = (pressure.get("some") or {}).get("avg10"), (pressure.get("full") or {}).get("avg10")
    if some is not None:
        lines.append("memory pressure some avg10 %.2f%%, full avg10 %s%%" % (some, "%.2f" % full if full is not None else "n/a"))
    return lines


def _under_pressure(group, t):
    full = ((group["pressure"] or {}).get("full") or {}).get("avg10")
    return full is not None and full >= t["psi_full_avg10"]


def _data(group):
    keys = ("path", "name", "kind", "container_id", "runtime", "pod_uid", "limit_bytes", "working_set_bytes",
            "limit_pct", "oom_kill_count")
    return {key: group[key] for key in keys}


def rule_cgroup_limits(facts: dict, t: dict) -> Iterator[dict]:
    """A service, container, pod or cgroup whose processes the OOM killer took
    (cgroup.oom_kills), or whose working set is at or near its limit (cgroup.near_limit)."""
    groups = section(section(facts, "cgroup"), "groups")
    events = section(facts, "oom").get("events") or []
    uptime = facts.get("uptime_seconds")
    killed = set()
    for group in groups.get("oom_kills") or []:
        killed.add(group["path"])
        mine = [e for e in events if group["path"] in (e.get("memcg"), e.get("task_memcg"))]
        recent = [e for e in mine if uptime is not None and e.get("uptime_seconds") is not None
                  and uptime - e["uptime_seconds"] <= t["oom_recent_seconds"]]
        close = (group["limit_pct"] or 0) >= t["cgroup_limit_pct_monitor"]
        evidence = ["%s OOM kill(s) in it (%s OOM event(s)) since the group was made" % (
            group["oom_kill_count"] or 0, group["oom_count"] if group["oom_count"] is not None else "n/a")]
        evidence += ["%s killed %s[%s] (RSS %s)" % (
            e.get("logged_at") or "at %ss" % e.get("uptime_seconds"), e["victim"]["name"], e["victim"]["pid"],
            format_size(e["victim"].get("rss_bytes") or 0)) for e in mine[-3:]]
        yield _finding(
            "cgroup.oom_kills", "critical" if recent or close or _under_pressure(group, t) else "monitor",
            "The OOM killer has killed processes in %s" % _label(group), evidence + _state_lines(group),
            _limit_remedy(group), dict(_data(group), recent=len(recent)))
    near = groups.get("near_limit") or []
    # the same limit set twice (a pod and its one container, podman's scope and its inner group): the group below says it
    inner = {(os.path.dirname(group["path"]), group["limit_bytes"]) for group in near}
    for group in near:
        pct = group["limit_pct"]
        if group["path"] in killed or pct is None or pct < t["cgroup_limit_pct_monitor"] \
                or any((path + "/").startswith(group["path"] + "/") and limit == group["limit_bytes"] for path, limit in inner):
            continue
        critical = pct >= t["cgroup_limit_pct_critical"] or _under_pressure(group, t)
        yield _finding(
            "cgroup.near_limit", "critical" if critical else "monitor",
            "%s is %s its memory limit" % (_label(group), "at" if critical else "near"), _state_lines(group),
            _limit_remedy(group), _data(group))


RULES = (rule_cgroup_limits,)
