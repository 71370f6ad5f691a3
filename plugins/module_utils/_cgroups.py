# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Memory cgroups: the hierarchy's layout, a group's directory and memory files, walking groups.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), part of the host layer: everything the
collection knows about cgroup v1 and cgroup2 lives here, read through a
:class:`_procfs.Reader` so that ``sys_root`` points at another host's sysfs.

One vocabulary, systemd's: the *hierarchy* is ``unified`` (cgroup2 only),
``hybrid`` (cgroup v1 controllers plus a cgroup2 tree at
``/sys/fs/cgroup/unified``), ``legacy`` (cgroup v1 only) or ``none``; a
*controller* is ``v1`` or ``v2``. The facts publish the hierarchy of their own
process under the older names v1 and v2 (``_schema.CGROUP_HIERARCHY_FACT``).
"""

from __future__ import annotations

import collections
import heapq
import os
import re
from typing import Iterator

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils._schema import CGROUP_HIERARCHY_FACT

HIERARCHIES = ("unified", "hybrid", "legacy", "none")
V1_UNLIMITED_MIN = 1 << 62  # v1 prints PAGE_COUNTER_MAX * page size (9223372036854771712)
# The trees below /sys/fs/cgroup that hold a systemd unit's group, in the order to look:
# cgroup2 (unified, or its tree in hybrid mode), then v1's name=systemd.
_UNIT_TREES = ("", "unified", "systemd")
# The memory usage file of each tree that can hold it.
_USAGE_FILES = (("", "memory.current"), ("unified", "memory.current"), ("memory", "memory.usage_in_bytes"))
# What a group's memory is read from, per controller: usage, limit, OOM counters.
_GROUP_FILES = {"v1": ("memory.usage_in_bytes", "memory.limit_in_bytes", ("memory.oom_control",)),
                "v2": ("memory.current", "memory.max", ("memory.events.local", "memory.events"))}
# The page cache a group can drop without harm: usage less it is its working set (docker stats, the kubelet).
_INACTIVE_FILE = {"v1": "total_inactive_file", "v2": "inactive_file"}
# Groups the walk of every memory cgroup reads at most: a host can hold thousands.
MAX_GROUPS = 1000
# How many groups near their limit or with OOM kills the facts keep at least, whatever ``top`` says.
MIN_REPORTED = 10
# systemd unit types whose groups hold processes.
UNIT_TYPES = ("service", "scope", "slice", "socket", "mount", "swap")
# A container's group: <engine>-<id>.scope (systemd cgroup driver) or <engine>-<id> (cgroupfs).
_CONTAINER_GROUP = re.compile(r"^(libpod|docker|cri-containerd|crio)-([0-9a-f]{64})(?:\.scope)?$")
_RUNTIMES = {"libpod": "podman", "docker": "docker", "cri-containerd": "containerd", "crio": "cri-o"}
# A bare container id below an engine's group (cgroupfs driver: /docker/<id>, /kubepods/.../pod<uid>/<id>).
_CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")
_PARENT_RUNTIMES = (("docker", "docker"), ("libpod_parent", "podman"), ("kubepods", "kubernetes"))
# A Kubernetes pod: pod<uid> (cgroupfs) or kubepods[-<qos>]-pod<uid with _ for ->.slice (systemd).
_POD_GROUP = re.compile(r"^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}(?:[-_][0-9a-f]{4}){3}[-_][0-9a-f]{12})(?:\.slice)?$")
# The keys of a group in the facts' lists, in the order they are published.
GROUP_KEYS = ("path", "name", "kind", "container_id", "runtime", "pod_uid", "usage_bytes", "working_set_bytes",
              "limit_bytes", "limit_pct", "limit_hits", "oom_count", "oom_kill_count", "pressure")


def hierarchy(cgroup2: bool, v1: bool) -> str:
    """The one decision: the hierarchy made of a cgroup2 tree and v1 hierarchies, present or not."""
    if cgroup2:
        return "hybrid" if v1 else "unified"
    return "legacy" if v1 else "none"


def parse_limit(text: str) -> int | None:
    """A cgroup memory limit file -> bytes, or None for 'no limit' (v2 'max',
    v1's page-counter maximum) or unreadable text."""
    value = text.strip()
    if value == "max":
        return None
    number = procfs.to_int(value)
    if number is None or number < 0 or number >= V1_UNLIMITED_MIN:
        return None
    return number


def parse_proc_cgroup(text: str) -> dict:
    """/proc/PID/cgroup -> {hierarchy (as the facts publish it: v1, v2, hybrid, none),
    memory_path, unified_path}: the groups the process belongs to."""
    memory_path = None
    unified_path = None
    v1_seen = False
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy_id, controllers, path = parts
        if hierarchy_id == "0" and controllers == "":
            unified_path = path
        else:
            v1_seen = True
            if "memory" in controllers.split(","):
                memory_path = path
    return {"hierarchy": CGROUP_HIERARCHY_FACT[hierarchy(unified_path is not None, v1_seen)],
            "memory_path": memory_path, "unified_path": unified_path}


def service_unit(text: str) -> str | None:
    """The system service a process runs in, from its /proc/PID/cgroup (the cgroup2 or name=systemd path):
    'nginx.service' for /system.slice/nginx.service, 'postgresql@15-main.service' below a slice of its own;
    None outside a system service (a scope, a user's units, no systemd)."""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1] in ("", "name=systemd") and parts[2].startswith("/system.slice/"):
            unit = parts[2].rstrip("/").rsplit("/", 1)[-1]
            return unit if unit.endswith(".service") else None
    return None


def _read(reader: procfs.Reader, path: str) -> str | None:
    try:
        return reader.read(path)
    except procfs.ProcfsError:
        return None


def layout(reader: procfs.Reader) -> dict:
    """{hierarchy, memory_controller: v2|v1|None} of what is mounted at sys_root/fs/cgroup."""
    root = reader.sys_path("fs", "cgroup")
    controllers = _read(reader, os.path.join(root, "cgroup.controllers"))
    if controllers is not None:  # /sys/fs/cgroup itself is cgroup2
        return {"hierarchy": hierarchy(True, False), "memory_controller": "v2" if "memory" in controllers.split() else None}
    v1_memory = os.path.isdir(os.path.join(root, "memory"))
    v1 = v1_memory or os.path.isdir(os.path.join(root, "systemd"))
    # a cgroup2 tree at /sys/fs/cgroup/unified exists only beside v1 hierarchies (systemd's hybrid mode)
    cgroup2 = os.path.isdir(os.path.join(root, "unified"))
    return {"hierarchy": hierarchy(cgroup2, v1 or cgroup2), "memory_controller": "v1" if v1_memory else None}


def memory_root(reader: procfs.Reader, controller: str | None) -> str | None:
    """The directory of the root memory cgroup for ``controller`` (v1 or v2), or None."""
    if controller == "v1":
        return reader.sys_path("fs", "cgroup", "memory")
    if controller == "v2":
        return reader.sys_path("fs", "cgroup")
    return None


def group_dir(mount: str, path: str | None) -> str | None:
    """The directory of group ``path`` below a cgroup mount; inside a cgroup namespace
    the process sees its own group at the mount's root. None without the mount."""
    if not os.path.isdir(mount):
        return None
    relative = (path or "/").strip("/")
    candidate = os.path.join(mount, relative) if relative else mount  # no trailing "/" for the root group
    return candidate if os.path.isdir(candidate) else mount


def own_group(reader: procfs.Reader, membership: dict) -> tuple:
    """(directory, controller) of the memory cgroup of a process with ``membership``
    (parse_proc_cgroup): v1's memory hierarchy, else a cgroup2-only host's group."""
    base = reader.sys_path("fs", "cgroup")
    if membership["memory_path"] is not None:  # v1 memory controller (legacy or hybrid)
        return group_dir(os.path.join(base, "memory"), membership["memory_path"]), "v1"
    if membership["hierarchy"] == CGROUP_HIERARCHY_FACT["unified"]:
        return group_dir(base, membership["unified_path"]), "v2"
    return None, None


def memory_limit(reader: procfs.Reader, membership: dict) -> int | None:
    """The memory limit a process with ``membership`` (parse_proc_cgroup) lives under: its group's, or the
    nearest one above it (a service in a limited slice, a process in a container's sub-group); None without one."""
    directory, controller = own_group(reader, membership)
    if directory is None:
        return None
    found = effective_limit(reader, directory, controller)
    return found["limit_bytes"] if found else None


def _number(reader, directory, name, parse=procfs.to_int):
    text = _read(reader, os.path.join(directory, name))
    return None if text is None else parse(text.strip())


def _counters(reader, directory, name):
    return procfs.parse_key_int_lines(_read(reader, os.path.join(directory, name)) or "", None)


def memory_state(reader: procfs.Reader, directory: str, controller: str) -> dict:
    """The memory files of one group, as the facts publish them: limit, usage, peak,
    swap limit and OOM counters; None where a file is missing or unreadable."""
    if controller == "v1":
        control = _counters(reader, directory, "memory.oom_control")
        return {
            "limit_bytes": _number(reader, directory, "memory.limit_in_bytes", parse_limit),
            "usage_bytes": _number(reader, directory, "memory.usage_in_bytes"),
            "max_usage_bytes": _number(reader, directory, "memory.max_usage_in_bytes"),
            "swap_limit_bytes": _number(reader, directory, "memory.memsw.limit_in_bytes", parse_limit),
            "failcnt": _number(reader, directory, "memory.failcnt"),
            "oom_kill_count": control.get("oom_kill"),
            "oom_kill_disable": bool(control.get("oom_kill_disable")),
        }
    events = _counters(reader, directory, "memory.events")
    return {
        "limit_bytes": _number(reader, directory, "memory.max", parse_limit),
        "high_bytes": _number(reader, directory, "memory.high", parse_limit),
        "usage_bytes": _number(reader, directory, "memory.current"),
        "max_usage_bytes": _number(reader, directory, "memory.peak"),
        "swap_limit_bytes": _number(reader, directory, "memory.swap.max", parse_limit),
        "oom_kill_count": events.get("oom_kill"),
        "oom_count": events.get("oom"),
    }


def excess(reader: procfs.Reader, directory: str, controller: str) -> int:
    """usage + swapped out - limit of one group (hierarchical counters), 0 or more:
    what cannot come back from swap without going over the limit."""
    usage_file, limit_file, _events = _GROUP_FILES[controller]
    limit = _number(reader, directory, limit_file, parse_limit)
    usage = _number(reader, directory, usage_file, parse_limit)
    if controller == "v1":
        swapped = _counters(reader, directory, "memory.stat").get("total_swap")
    else:
        swapped = _number(reader, directory, "memory.swap.current", parse_limit)
    if limit is None or usage is None or not swapped:
        return 0
    return max(0, usage + swapped - limit)


def walk(top: str, limit: int | None = None) -> Iterator[str]:
    """Every group directory at and below ``top``, parents first (breadth first, so
    that a ``limit`` on how many are yielded keeps the shallow ones: slices, services,
    containers, pods); links are not followed."""
    queue = collections.deque((top,))
    count = 0
    while queue and (limit is None or count < limit):
        directory = queue.popleft()
        count += 1
        yield directory
        try:
            with os.scandir(directory) as entries:
                queue.extend([entry.path for entry in entries if entry.is_dir(follow_symlinks=False)])
        except OSError:
            continue


def memcgs_over_limit(reader: procfs.Reader) -> list:
    """Memory cgroups whose pages do not fit under their limit, so that some
    must stay in swap -> list of (cgroup path, excess bytes), largest first.

    swapoff charges every page it brings back to the page's cgroup; a cgroup
    over its limit then reclaims, and when reclaim cannot keep up the kernel
    OOM-kills one of its processes, however much RAM the host has free (the
    kernel's own protection, killing the swapoff process first, only works for
    a system-wide OOM)."""
    controller = layout(reader)["memory_controller"]
    root = memory_root(reader, controller)
    if root is None or (controller == "v1" and not os.path.exists(os.path.join(root, "memory.usage_in_bytes"))):
        return []
    found = []
    for directory in walk(root):
        over = excess(reader, directory, controller)
        if over:
            relative = os.path.relpath(directory, root)
            found.append(("/" if relative == "." else "/" + relative, over))
    return sorted(found, key=lambda item: -item[1])


def members(reader: procfs.Reader, directory: str) -> list:
    """The pids in the group at ``directory`` (its cgroup.procs), sorted; [] when unreadable."""
    return _pids(_read(reader, os.path.join(directory, "cgroup.procs")) or "")


def _pids(text):
    return sorted({pid for pid in map(procfs.to_int, text.split()) if pid is not None and pid > 0})


def unit_pids(reader: procfs.Reader, control_group: str | None) -> list:
    """Pids in a unit's group (systemd's ControlGroup property), read from the
    tree systemd keeps: cgroup2 (unified or hybrid) first, then name=systemd.
    An empty list when the group cannot be found or read."""
    if not control_group:
        return []
    relative = control_group.lstrip("/")
    for tree in _UNIT_TREES:
        text = _read(reader, reader.sys_path("fs", "cgroup", tree, relative, "cgroup.procs"))
        if text is not None:
            return _pids(text)
    return []


def unit_memory_usage(reader: procfs.Reader, control_group: str | None) -> int | None:
    """Bytes charged to a unit's group, read from the memory controller
    (cgroup2 memory.current, else v1 memory.usage_in_bytes); None when unknown."""
    if not control_group:
        return None
    relative = control_group.lstrip("/")
    for tree, name in _USAGE_FILES:
        text = _read(reader, reader.sys_path("fs", "cgroup", tree, relative, name))
        usage = procfs.to_int(text)
        if usage is not None and usage >= 0:
            return usage
    return None


# ---------------------------------------------------------------------------
# every memory cgroup, named as a person knows it: services, containers, pods


def describe(path: str) -> dict:
    """A group's path below the memory root -> {name, kind, container_id, runtime, pod_uid}.

    A systemd unit is named by its unit (kind: its type, such as service or slice), a
    container by its short id (kind container), a Kubernetes pod by its uid (kind pod),
    anything else by its path (kind group). The groups below a container or a pod (the
    units of a container that runs systemd, a pod's containers) carry its id and uid too."""
    parts = [part for part in path.split("/") if part]
    found = {"container_id": None, "runtime": None, "pod_uid": None}
    kind = "group"
    for index, part in enumerate(parts):
        engine = _CONTAINER_GROUP.match(part)
        pod = _POD_GROUP.match(part)
        if engine or _CONTAINER_ID.match(part):
            runtime = _RUNTIMES[engine.group(1)] if engine else next(
                (runtime for parent, runtime in _PARENT_RUNTIMES if parent in parts[:index]), None)
            found.update(container_id=engine.group(2) if engine else part, runtime=runtime or found["runtime"])
            kind = "container"
        elif pod:
            found.update(pod_uid=pod.group(1).replace("_", "-"), runtime=found["runtime"] or "kubernetes")
            kind = "pod"
        else:
            suffix = part.rpartition(".")[2]
            kind = suffix if "." in part and suffix in UNIT_TYPES else "group"
    names = {"container": (found["container_id"] or "")[:12], "pod": found["pod_uid"], "group": path}
    found.update(name=names.get(kind, parts[-1] if parts else path), kind=kind)
    return found


def _group_memory(reader, directory, controller, events=True):
    """Usage, limit and (with ``events``) OOM counters of one group, from two or three
    small files; None when the group has no memory usage file (cgroup2 without the
    controller there)."""
    usage_file, limit_file, event_files = _GROUP_FILES[controller]
    usage = _number(reader, directory, usage_file)
    if usage is None:
        return None
    group = {"directory": directory, "usage_bytes": usage, "limit_bytes": _number(reader, directory, limit_file, parse_limit)}
    if events:
        _add_events(reader, group, event_files)
    return group


def _add_events(reader, group, event_files):
    """The group's OOM events, OOM kills and (cgroup2) limit hits, from the first of ``event_files`` there is:
    memory.events.local (5.2+) counts the group's own, memory.events its descendants' too."""
    counters = {}
    for name in event_files:
        text = _read(reader, os.path.join(group["directory"], name))
        if text is not None:
            counters = procfs.parse_key_int_lines(text, None)
            group["hierarchical"] = name == "memory.events"  # counts its descendants' events too
            break
    group.update(oom_count=counters.get("oom"), oom_kill_count=counters.get("oom_kill"), limit_hits=counters.get("max"))


def _working_set(reader, directory, controller, usage):
    """Usage less the inactive page cache, which the kernel drops before it lets the group fail.
    One line of memory.stat is looked up, not the forty parsed."""
    text = "\n" + (_read(reader, os.path.join(directory, "memory.stat")) or "")
    start = text.find("\n%s " % _INACTIVE_FILE[controller])
    if start < 0:
        return usage
    end = text.find("\n", start + 1)
    inactive = procfs.to_int(text[start:end if end > 0 else None].split()[-1])
    return usage if inactive is None else max(0, usage - inactive)


def _group_path(directory, root):
    """A group's path as /proc/PID/cgroup and the kernel log write it: / for the root."""
    relative = os.path.relpath(directory, root)
    return "/" if relative == "." else "/" + relative


def _published(reader, root, controller, group):
    """One group as the facts publish it (GROUP_KEYS): named, with its working set, how
    much of its limit that is, its limit hits (v1 memory.failcnt, and memory.memsw.failcnt: with swap
    accounting the memory+swap limit is often the one hit) and its pressure (cgroup2)."""
    directory, usage, limit = group["directory"], group["usage_bytes"], group["limit_bytes"]
    if "oom_kill_count" not in group:
        _add_events(reader, group, _GROUP_FILES[controller][2])
    if "working_set_bytes" not in group:
        group["working_set_bytes"] = _working_set(reader, directory, controller, usage)
    if controller == "v1" and limit is not None:
        hits = [_number(reader, directory, name) for name in ("memory.failcnt", "memory.memsw.failcnt")]
        group["limit_hits"] = None if hits[0] is None else hits[0] + (hits[1] or 0)
    pressure = _read(reader, os.path.join(directory, "memory.pressure")) if controller == "v2" else None
    path = _group_path(directory, root)
    row = dict(group, path=path, pressure=procfs.parse_pressure(pressure) if pressure else None,
               limit_pct=round(100.0 * group["working_set_bytes"] / limit, 1) if limit else None)
    row.update(describe(path))
    return {key: row[key] for key in GROUP_KEYS}


def _own_oom_events(groups):
    """The groups with OOM events of their own: a group whose counters include its
    descendants' (memory.events before memory.events.local, kernel 5.2) is left out
    when a group below it had as many."""
    struck = [group for group in groups if group.get("oom_kill_count") or group.get("oom_count")]
    counts = [(group["directory"] + os.sep, (group["oom_kill_count"], group["oom_count"])) for group in struck]
    return [group for group in struck if not group.get("hierarchical") or not any(
        directory.startswith(group["directory"] + os.sep) and directory != group["directory"] + os.sep
        and count == (group["oom_kill_count"], group["oom_count"]) for directory, count in counts)]


def memory_groups(reader: procfs.Reader, top: int, near_limit_pct: float, oom_kills: int | None = None) -> dict | None:
    """Every memory cgroup below the root, breadth first and at most MAX_GROUPS of them
    (usage, limit and OOM counters: three small files each, two when ``oom_kills``, the
    host's OOM kills since boot, is 0) -> the ``top`` largest by usage (``top_usage``),
    those whose working set is ``near_limit_pct`` or more of their limit (``near_limit``,
    closest first) and those with OOM events (``oom_kills``, most kills first),
    MIN_REPORTED at least of the last two. Only the groups listed are read further
    (memory.stat, failcnt, pressure). None without a memory controller."""
    controller = layout(reader)["memory_controller"]
    root = memory_root(reader, controller)
    if root is None or not os.path.isdir(root):
        return None
    walked = list(walk(root, MAX_GROUPS + 2))[1:]  # the root is the host, not a group; one more tells a cut
    events = oom_kills != 0  # no OOM kill since boot: no group has had one
    groups = [group for group in (_group_memory(reader, directory, controller, events) for directory in walked[:MAX_GROUPS])
              if group is not None]
    share = near_limit_pct / 100.0
    near = []
    for group in groups:
        limit = group["limit_bytes"]
        if limit and group["usage_bytes"] >= share * limit:  # usage counts page cache: judge the working set
            group["working_set_bytes"] = _working_set(reader, group["directory"], controller, group["usage_bytes"])
            if group["working_set_bytes"] >= share * limit:
                near.append(group)
    keep = max(top, MIN_REPORTED)
    lists = {
        "top_usage": heapq.nlargest(top, groups, key=lambda group: group["usage_bytes"]),
        "near_limit": heapq.nlargest(keep, near, key=lambda group: group["working_set_bytes"] / group["limit_bytes"]),
        "oom_kills": heapq.nlargest(keep, _own_oom_events(groups), key=lambda group: (group["oom_kill_count"] or 0, group["oom_count"] or 0)),
    }
    rows = {}
    for group in [group for listed in lists.values() for group in listed]:
        if group["directory"] not in rows:
            rows[group["directory"]] = _published(reader, root, controller, group)
    result = {"controller": controller, "root": root, "read": min(len(walked), MAX_GROUPS),
              "truncated": len(walked) > MAX_GROUPS, "near_limit_pct": near_limit_pct}
    result.update((name, [rows[group["directory"]] for group in listed]) for name, listed in lists.items())
    return result


def effective_limit(reader: procfs.Reader, directory: str, controller: str) -> dict | None:
    """The nearest group at or above ``directory`` that has a memory limit, up to the root
    of the mount (inside a container, the container's own group): {directory, path (below
    the mount), limit_bytes, usage_bytes, working_set_bytes}, or None when none has."""
    mount = memory_root(reader, controller)
    usage_file, limit_file, _events = _GROUP_FILES[controller]
    current = directory
    while True:
        limit = _number(reader, current, limit_file, parse_limit)
        if limit is not None:
            usage = _number(reader, current, usage_file)
            return {"directory": current, "path": _group_path(current, mount), "limit_bytes": limit, "usage_bytes": usage,
                    "working_set_bytes": None if usage is None else _working_set(reader, current, controller, usage)}
        if current == mount or not current.startswith(os.path.join(mount, "")):
            return None
        current = os.path.dirname(current)


def facts(reader: procfs.Reader, own_cgroup: str | None, top: int, near_limit_pct: float,
          oom_kills: int | None = None) -> dict:
    """The ``cgroup`` facts of mem_facts: from ``own_cgroup`` (the text of /proc/self/cgroup,
    None when unreadable) the hierarchy, the module's own group and its memory files, the
    nearest memory limit at or above it (``effective_limit``); and every group's memory
    (``groups``, memory_groups, told the host's OOM kills since boot)."""
    result = {"hierarchy": "none"}
    if own_cgroup is not None:
        result = parse_proc_cgroup(own_cgroup)
        directory, controller = own_group(reader, result)
        if controller is not None and directory is None:
            result["memory_controller"] = False
        elif controller is not None:
            result.update(memory_controller=True, memory_version=controller, directory=directory)
            result.update(memory_state(reader, directory, controller))
            result["effective_limit"] = effective_limit(reader, directory, controller)
    result["groups"] = memory_groups(reader, top, near_limit_pct, oom_kills)
    return result
