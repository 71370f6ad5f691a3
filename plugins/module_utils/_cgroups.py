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

import os
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
    """The memory limit of the group of a process with ``membership`` (parse_proc_cgroup), None without one."""
    directory, controller = own_group(reader, membership)
    if directory is None:
        return None
    return _number(reader, directory, "memory.limit_in_bytes" if controller == "v1" else "memory.max", parse_limit)


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
    if controller == "v1":
        limit = _number(reader, directory, "memory.limit_in_bytes", parse_limit)
        usage = _number(reader, directory, "memory.usage_in_bytes", parse_limit)
        swapped = _counters(reader, directory, "memory.stat").get("total_swap")
    else:
        limit = _number(reader, directory, "memory.max", parse_limit)
        usage = _number(reader, directory, "memory.current", parse_limit)
        swapped = _number(reader, directory, "memory.swap.current", parse_limit)
    if limit is None or usage is None or not swapped:
        return 0
    return max(0, usage + swapped - limit)


def walk(top: str) -> Iterator[str]:
    """Every group directory at and below ``top``, parents first; links are not followed."""
    yield top
    try:
        with os.scandir(top) as entries:
            children = [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for child in children:
        yield from walk(child)


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
    return sorted({int(line) for line in text.split() if line.isdigit()})


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
        if text is not None and text.strip().isdigit():
            return int(text)
    return None
