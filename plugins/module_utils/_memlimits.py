# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A service's systemd memory directives, chosen for the systemd and cgroups at hand.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import).

- ``MemoryMax=`` from systemd 231 on (on cgroup v1 systemd writes it to
  memory.limit_in_bytes); older systemd only knows ``MemoryLimit=``.
- ``MemoryHigh=`` (231+) and ``MemorySwapMax=`` (232+) exist only for the
  cgroup2 memory controller; elsewhere they are skipped with a reason, because
  systemd would accept and ignore them.
- A hard limit below what the service uses now is refused unless forced: v1
  answers EBUSY, cgroup2 OOM-kills the service on the spot.

The guide's cgroup example for processes that are not services - a memory
cgroup ``memops-<name>`` of ours with a cap, processes moved in by pid - is
here too, for v1 (``memory.limit_in_bytes``) and cgroup2 (``memory.max``).
"""

from __future__ import annotations

import errno
import os
import re
from typing import Iterable

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _units

MEMORY_MAX_SINCE = 231
MEMORY_SWAP_MAX_SINCE = 232
INFINITY = "infinity"


class LimitError(Exception):
    """A limit is invalid or unsafe; nothing was changed."""


def parse_limit(value: int | str | None, name: str) -> int | str | None:
    """A size or 'infinity' -> bytes or 'infinity'; None stays None. Only
    swap_max may be 0 (no swap at all)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == INFINITY:
        return INFINITY
    try:
        return _units.parse_size(value, name=name, allow_zero=name == "swap_max")
    except _units.SizeError as exc:
        raise LimitError("%s, or infinity" % exc)


def directives(systemd_version: int, memory_controller: str | None, max_bytes: int | str | None = None,
               high_bytes: int | str | None = None, swap_max_bytes: int | str | None = None,
               restart_on_oom: bool = False) -> tuple[list[tuple[str, int | str]], list[dict]]:
    """(list of (key, value), list of skipped {directive, reason}) for a drop-in."""
    chosen = []
    skipped = []
    unified = memory_controller == "v2"
    if max_bytes is not None:
        chosen.append(("MemoryMax" if systemd_version >= MEMORY_MAX_SINCE else "MemoryLimit", max_bytes))
    # the directives that exist only for the cgroup2 memory controller, and the systemd that has them
    for directive, value, since in (("MemoryHigh", high_bytes, MEMORY_MAX_SINCE),
                                    ("MemorySwapMax", swap_max_bytes, MEMORY_SWAP_MAX_SINCE)):
        if value is None:
            continue
        if systemd_version < since or not unified:
            skipped.append({"directive": directive, "reason": _reason(systemd_version, memory_controller, since)})
        else:
            chosen.append((directive, value))
    if restart_on_oom:
        chosen.append(("Restart", "on-failure"))
    return chosen, skipped


def _reason(systemd_version, memory_controller, since):
    if systemd_version < since:
        return "systemd %d lacks it (needs %d or newer)" % (systemd_version, since)
    return ("it needs the cgroup2 (unified) memory controller, and the memory controller here is %s"
            % (memory_controller or "not available"))


def check_usage(limit: int | str | None, current: int | None, force: bool, directive: str = "MemoryMax",
                holder: str = "the service") -> str | None:
    """Refuse a hard limit below the current usage unless forced; returns a warning or None."""
    if limit in (None, INFINITY) or current is None or limit >= current:
        return None
    message = ("%s=%s is below the current use of %s, %s; on cgroup v1 the kernel refuses it (EBUSY), on "
               "cgroup2 it OOM-kills at once"
               % (directive, _units.format_size(limit), holder, _units.format_size(current)))
    if not force:
        raise LimitError(message + "; raise the limit, or set force: true to apply it anyway")
    return message + " (applied because force is set)"


# ---------------------------------------------------------------------------
# a memory cgroup of ours for processes that are not services


GROUP_PREFIX = "memops-"
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_LIMIT_FILES = {"v1": "memory.limit_in_bytes", "v2": "memory.max"}


def group_path(reader: _procfs.Reader, memory_controller: str | None, name: str) -> str:
    """The directory of cgroup ``memops-<name>``: below the v1 memory hierarchy,
    or at the top of the cgroup2 tree."""
    if not _GROUP_NAME.match(name or ""):
        raise LimitError("group name %r: expected lower-case letters, digits, '-' and '_' (up to 63)" % (name,))
    root = _cgroups.memory_root(reader, memory_controller)
    if root is None:
        raise LimitError("this host has no memory cgroup controller (neither v1 nor cgroup2); "
                         "a memory cap on processes needs one")
    return os.path.join(root, GROUP_PREFIX + name)


def group_state(path: str, memory_controller: str) -> dict:
    """{exists, limit, usage, members} of a cgroup directory."""
    if not os.path.isdir(path):
        return {"exists": False, "limit": None, "usage": None, "members": []}
    reader = _procfs.Reader()
    memory = _cgroups.memory_state(reader, path, memory_controller)
    return {"exists": True, "limit": memory["limit_bytes"], "usage": memory["usage_bytes"],
            "members": _cgroups.members(reader, path)}


def resident_bytes(reader: _procfs.Reader, pids: Iterable[int], page_size: int | None = None) -> int:
    """Sum of the resident memory of ``pids`` (those that are gone count 0)."""
    page_size = page_size or os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            total += _procfs.parse_statm(reader.read_pid(pid, "statm"))["resident"] * page_size
        except _procfs.ProcfsError:
            continue
    return total


def check_members(pids: Iterable[int], allow_pid1: bool) -> None:
    """Refuses PID 1 without the opt-in: capping init caps every process it
    starts from then on, and an OOM kill inside the group can take init down."""
    if 1 in pids and not allow_pid1:
        raise LimitError("the request chooses PID 1 (the init process); in a capped group the kernel can OOM-kill "
                         "it and every process it starts afterwards is capped with it. Choose other processes, or "
                         "set allow_pid1: true to mean it")


def start_time(reader: _procfs.Reader, pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), None when the process is gone."""
    try:
        return _procfs.parse_pid_stat(reader.read_pid_record(pid, "stat"))["starttime"]
    except _procfs.ProcfsError:
        return None


def apply_group(path: str, memory_controller: str, limit: int | str | None, pids: Iterable[int],
                reader: _procfs.Reader | None = None, started: dict[int, int] | None = None) -> list[int]:
    """Create the cgroup, set its limit, move ``pids`` in. Returns the pids that
    vanished on the way. A limit the kernel refuses (v1 EBUSY below usage) is a LimitError.

    With ``started`` ({pid: start time when chosen}), each pid's start time is
    read again just before it is written: a pid that now belongs to another
    process (reused) is not moved and counts as vanished."""
    limit_name = _LIMIT_FILES[memory_controller]
    if limit in (None, INFINITY):
        value = "max" if memory_controller == "v2" else "-1"
    else:
        value = "%d" % limit
    try:
        if not os.path.isdir(path):
            os.mkdir(path, 0o755)
        _kernel.write_value(os.path.join(path, limit_name), value)
    except OSError as exc:
        busy = " (its processes use more than that)" if exc.errno == errno.EBUSY else ""
        raise LimitError("cannot set %s in %s: %s%s" % (limit_name, path, exc.strerror or exc, busy))
    vanished = []
    for pid in pids:
        if started is not None and start_time(reader, pid) != started.get(pid):
            vanished.append(pid)
            continue
        try:
            _kernel.write_value(os.path.join(path, "cgroup.procs"), "%d" % pid)
        except OSError as exc:
            if exc.errno in (errno.ESRCH, errno.ENOENT):
                vanished.append(pid)
                continue
            raise LimitError("cannot move pid %d into %s: %s" % (pid, path, exc.strerror or exc))
    return vanished


def remove_group(path: str, memory_controller: str) -> bool:
    """Move the members back to the parent cgroup and remove the directory."""
    if not os.path.isdir(path):
        return False
    parent = os.path.dirname(path)
    for pid in group_state(path, memory_controller)["members"]:
        try:
            _kernel.write_value(os.path.join(parent, "cgroup.procs"), "%d" % pid)
        except OSError as exc:
            if exc.errno not in (errno.ESRCH, errno.ENOENT):
                raise LimitError("cannot move pid %d out of %s: %s" % (pid, path, exc.strerror or exc))
    try:
        os.rmdir(path)
    except OSError as exc:
        raise LimitError("cannot remove %s: %s" % (path, exc.strerror or exc))
    return True
