# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Swap files that never lose data and never lie.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), in three layers:

- :func:`observe` reads the host into a plain dict: the file (kind, size,
  allocation, swap signature or all-zero content, extents, NOCOW: _swapdisk),
  its entry in /proc/swaps, the filesystem under it, memory, fstab and what the
  host permits (_host).
- :func:`plan` is pure: a :class:`Request` and an observation in, a list of
  steps out, or a :class:`Refused` error when the request is unsafe or
  impossible. Nothing has been touched at that point, so a refusal changes
  nothing and check mode is ``plan()`` alone.
- ``_swaphost.Host`` runs the steps. A file it made and could not finish is
  removed; a swap area it brought up is never taken down before another one
  holds its pages. Failures are :class:`Failed` errors that say what is left.

A swap file whose pages must move (resize, new priority) is retired only after
a temporary "bridge" swap file next to it is active, unless nothing is swapped
out on it or RAM can absorb what is; a crash at any point leaves a state the
next run converges from (an all-zero file is a creation that was interrupted,
a bridge left behind is finished off), and never a second swap file.
"""

from __future__ import annotations

import os
import re

from ansible_collections.memops.linux.plugins.module_utils import _fstab
from ansible_collections.memops.linux.plugins.module_utils import _host as host
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _swapdisk as swapdisk
from ansible_collections.memops.linux.plugins.module_utils._units import MIB, format_size, parse_size

MIN_SIZE = MIB
PRIORITY_MIN = 0
PRIORITY_MAX = 32767  # SWAP_FLAG_PRIO_MASK: the kernel takes no other explicit priority
ALLOCATIONS = ("auto", "fallocate", "dd")
BRIDGE_SUFFIX = ".memops-bridge"
SYSTEM_FSTAB = "/etc/fstab"
# RAM kept free when deciding whether swapped-out pages can come back in:
# a twentieth of RAM, at least this much.
RAM_RESERVE_MIN = 128 * MIB

SUPPORTED_FILESYSTEMS = ("ext4", "xfs", "btrfs", "ext3", "ext2")
_MEMORY_FILESYSTEMS = ("tmpfs", "ramfs", "devtmpfs", "hugetlbfs")
_LAYERED_FILESYSTEMS = ("overlay", "overlayfs", "aufs", "unionfs")
_NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs")
_SUPPORTED_TEXT = "ext4, xfs, btrfs"


# ---------------------------------------------------------------------------
# errors


class SwapError(Exception):
    """Base class; ``reason`` is a short machine-readable name (the module returns it),
    ``completed`` the steps (as describe_step() lines) a failed run did and left in place.
    A subclass's reason is its name in snake case unless it sets its own."""

    reason = "error"
    completed = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "reason" not in cls.__dict__:
            cls.reason = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


class Refused(SwapError):
    """The request is unsafe or impossible here; nothing was changed."""


class InvalidRequest(Refused):
    """An option is wrong, whatever the host."""


class UnsupportedFilesystem(Refused):
    """The filesystem cannot hold a swap file safely."""


class NotASwapFile(Refused):
    """Something else is at the path."""


class UnsafeLocation(Refused):
    """The file or its directory is in another user's hands."""


class NotEnoughSpace(Refused):
    """The filesystem has too little room left for the file (and min_free)."""


class CannotAbsorb(Refused):
    """Swapped-out pages that must move have nowhere to go."""


class NotPermitted(Refused):
    """swapon and swapoff are not permitted here."""


class Failed(SwapError):
    """A step failed on the host; the message says what was undone and what is left."""


class DiskFull(Failed):
    """The filesystem filled up while the file was allocated."""


class HasHoles(Failed):
    """The file came out with holes or extents swapon refuses."""

    reason = "holes"


# ---------------------------------------------------------------------------
# the request


class Request:
    """Validated options. Raises InvalidRequest (sizes: the collection's parser)."""

    def __init__(self, path: str, state: str = "present", size: int | str | None = None, priority: int | None = None,
                 persist: bool = True, allocation: str = "auto", min_free: int | str = "1G", fstab: str = SYSTEM_FSTAB,
                 backup: bool = False, page_size: int | None = None) -> None:
        if not path or not os.path.isabs(path):
            raise InvalidRequest("path %r is not absolute; give the full path of the swap file" % (path,))
        if path.endswith("/"):
            raise InvalidRequest("path %s ends with '/'; give the path of a file, not of a directory" % path)
        try:
            _fstab.check_path(path)
        except _fstab.FstabError as exc:
            raise InvalidRequest(str(exc))
        if state not in ("present", "absent"):
            raise InvalidRequest("state %r: expected present or absent" % (state,))
        if allocation not in ALLOCATIONS:
            raise InvalidRequest("allocation %r: expected one of %s" % (allocation, ", ".join(ALLOCATIONS)))
        if priority is not None and (isinstance(priority, bool) or not PRIORITY_MIN <= priority <= PRIORITY_MAX):
            raise InvalidRequest("priority %r is out of range; the kernel takes %d to %d (higher is used first)"
                                 % (priority, PRIORITY_MIN, PRIORITY_MAX))
        self.page_size = page_size or os.sysconf("SC_PAGE_SIZE")
        self.path = os.path.normpath(path)
        self.state = state
        self.priority = priority
        self.persist = persist
        self.allocation = allocation
        self.fstab = fstab
        self.backup = backup
        self.size = None
        try:
            self.min_free = parse_size(min_free, "min_free", allow_zero=True)
            if state == "present":
                if size is None:
                    raise InvalidRequest("size is required with state=present")
                requested = parse_size(size, "size")
                if requested < MIN_SIZE:
                    raise InvalidRequest("size %r is too small; a swap file needs at least %s"
                                         % (size, format_size(MIN_SIZE)))
                self.size = -(-requested // self.page_size) * self.page_size  # whole pages
        except ValueError as exc:
            raise InvalidRequest(str(exc))

    @property
    def bridge(self) -> str:
        directory, name = os.path.split(self.path)
        return os.path.join(directory, "." + name + BRIDGE_SUFFIX)


# ---------------------------------------------------------------------------
# observing the host


def inspect(path: str, page_size: int) -> dict:
    """_swapdisk.inspect_file, its OSError made a Failed that names the path."""
    try:
        return swapdisk.inspect_file(path, page_size)
    except OSError as exc:
        raise Failed("cannot inspect %s: %s" % (path, exc.strerror or exc))


def observe(request: Request, reader: procfs.Reader, capabilities: dict | None = None) -> dict:
    """Everything plan() needs, read from the host. What the host permits is
    only asked (capabilities_of) when a plan needs it: a run that changes
    nothing does not pay for it. A proc file that cannot be read (a FIFO,
    a directory, a link loop in its place) is Refused."""
    try:
        return _observe(request, reader, capabilities)
    except procfs.ProcfsError as exc:
        raise Refused("cannot read the memory and swap state: %s" % exc)


def read_back(request: Request, reader: procfs.Reader) -> dict:
    """What state_of() needs after a run, read from the host again: the swap
    file, the active areas and fstab. The rest of observe() (memory, the
    directory's safety, the filesystem, the host's permissions) only serves
    plan(), which has run by then."""
    try:
        swaps = procfs.parse_swaps(reader.proc("swaps") or "")
    except procfs.ProcfsError as exc:
        raise Refused("cannot read the memory and swap state: %s" % exc)
    info = inspect(request.path, request.page_size)
    _mark_active(info, swaps)
    try:
        return {"file": info, "fstab_text": _fstab.read(request.fstab)}
    except _fstab.FstabError as exc:
        raise Refused("fstab: %s" % exc)


def _mark_active(info, swaps):
    """Sets info["active"] from the entry of /proc/swaps that is the file
    ``info`` describes (None when it is not active); returns that entry."""
    info["active"] = None
    if info["kind"] == "file":
        for area in swaps:
            if area["type"] == "file" and _same_inode(area["path"], info):
                info["active"] = {k: area[k] for k in ("size_bytes", "used_bytes", "priority")}
                return area
    return None


def _observe(request, reader, capabilities):
    page_size = request.page_size
    swaps = procfs.parse_swaps(reader.proc("swaps") or "")
    meminfo = procfs.parse_meminfo(reader.proc("meminfo") or "")
    obs = {"page_size": page_size, "kernel": _kernel_version()}
    ours = []
    for key, path in (("file", request.path), ("bridge", request.bridge)):
        info = inspect(path, page_size)
        area = _mark_active(info, swaps)
        if area:
            ours.append(area)
        obs[key] = info
    obs["other_swap_free_bytes"] = sum(max(0, a["size_bytes"] - a["used_bytes"]) for a in swaps if a not in ours)
    # only pages that would move matter; walking the cgroup tree is skipped otherwise
    obs["memcgs_over_limit"] = []
    if any(a["used_bytes"] for a in ours):
        # imported here: a file with no pages swapped out (every new one) does not load it
        from ansible_collections.memops.linux.plugins.module_utils import _cgroups

        obs["memcgs_over_limit"] = _cgroups.memcgs_over_limit(reader)
    obs["mem_available_bytes"] = meminfo.get("MemAvailable", meminfo.get("MemFree", 0))
    obs["mem_total_bytes"] = meminfo.get("MemTotal", 0)
    try:
        overcommit = (reader.proc("sys", "vm", "overcommit_memory") or "").strip()
    except procfs.ProcfsError:
        overcommit = ""
    obs["strict_overcommit"] = overcommit == "2"
    obs["commit_limit_bytes"] = meminfo.get("CommitLimit", 0)
    obs["committed_bytes"] = meminfo.get("Committed_AS", 0)
    directory = os.path.dirname(request.path)
    obs["directory_exists"] = os.path.isdir(directory)
    obs["trusted_uids"] = sorted({0, os.geteuid()})
    obs["unsafe_directory"] = (swapdisk.unsafe_directory(directory, obs["trusted_uids"])
                               if obs["directory_exists"] else None)
    obs["fs"] = swapdisk.filesystem(directory, reader.proc("self", "mountinfo") or "") if obs["directory_exists"] else None
    try:
        obs["fstab_text"] = _fstab.read(request.fstab)
    except _fstab.FstabError as exc:
        raise Refused("fstab: %s" % exc)
    obs["capabilities"] = capabilities if capabilities is not None else (lambda: host.capabilities(reader))
    return obs


def capabilities_of(obs: dict) -> dict:
    """obs["capabilities"], asked of the host the first time it is needed."""
    if callable(obs["capabilities"]):
        obs["capabilities"] = obs["capabilities"]()
    return obs["capabilities"]


def _same_inode(path, info):
    try:
        other = os.stat(path)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (info["dev"], info["ino"])


def _kernel_version():
    numbers = []
    for part in os.uname().release.split("-")[0].split(".")[:2]:
        numbers.append(int(part) if part.isdigit() else 0)
    return tuple(numbers + [0] * (2 - len(numbers)))


# ---------------------------------------------------------------------------
# planning (pure)


def _step(action, path=None, **details):
    details.update(action=action, path=path)
    return details


def describe_step(step: dict) -> str:
    """A step as one line of the ``actions`` list."""
    action, path = step["action"], step["path"]
    if action == "create":
        return "create %s (%s, %s%s)" % (path, format_size(step["size"]), step["method"],
                                         ", NOCOW" if step["nocow"] else "")
    if action == "swapon" and step.get("priority") is not None:
        return "swapon %s (priority %d)" % (path, step["priority"])
    if action == "fstab":
        if step["line"]:
            return "fstab %s: %s" % (step["file"], step["line"])
        return "fstab %s: remove the entry of %s" % (step["file"], step["entry"])
    if action == "chmod":
        return "chmod 0600 %s (was %04o, uid %d)" % (path, step["was"], step["uid"])
    return "%s %s" % (action, path) if path else action


def ram_reserve(total_bytes: int) -> int:
    """The RAM a swap file change keeps free when pages come back from swap:
    a twentieth of RAM, at least RAM_RESERVE_MIN."""
    return max(RAM_RESERVE_MIN, total_bytes // 20)


def absorb_room(available_bytes: int, reserve_bytes: int, other_swap_free_bytes: int = 0) -> int:
    """Bytes of swapped-out pages that RAM (keeping ``reserve_bytes`` of the
    available memory free) and the free space of the other active swap areas
    can take in: what may be switched off. The one rule for swap files and
    mem_reclaim's swap_cycle."""
    return max(0, available_bytes - reserve_bytes) + other_swap_free_bytes


def absorbable(obs: dict) -> int:
    """absorb_room of an observation."""
    return absorb_room(obs["mem_available_bytes"], ram_reserve(obs["mem_total_bytes"]), obs["other_swap_free_bytes"])


def _check_filesystem(request, obs):
    fs = obs["fs"]
    if fs is None:
        raise InvalidRequest("directory %s does not exist; create it first" % os.path.dirname(request.path))
    kind = fs["type"]
    where = "%s is on %s" % (os.path.dirname(request.path), kind)
    if kind in _MEMORY_FILESYSTEMS:
        raise UnsupportedFilesystem("%s, which lives in memory; swap files need a disk-backed filesystem (%s)"
                                    % (where, _SUPPORTED_TEXT))
    if kind in _LAYERED_FILESYSTEMS:
        raise UnsupportedFilesystem("%s (a container's layered root?), which swapon does not support; "
                                    "put the swap file on a disk-backed filesystem (%s)" % (where, _SUPPORTED_TEXT))
    if kind in _NETWORK_FILESYSTEMS or kind.startswith("fuse"):
        raise UnsupportedFilesystem("%s, a network or FUSE filesystem: swapping over it can deadlock when memory "
                                    "runs short; use a local disk-backed filesystem (%s)" % (where, _SUPPORTED_TEXT))
    if kind == "zfs":
        raise UnsupportedFilesystem("%s: swap on ZFS can deadlock under memory pressure (openzfs#7734); use a "
                                    "partition or a filesystem such as %s" % (where, _SUPPORTED_TEXT))
    if kind not in SUPPORTED_FILESYSTEMS:
        raise UnsupportedFilesystem("%s, which is not known to hold swap files safely; use %s"
                                    % (where, _SUPPORTED_TEXT))
    if kind == "btrfs":
        if fs.get("devices") and fs["devices"] > 1:
            raise UnsupportedFilesystem(
                "%s spanning %d devices; the kernel takes swap files only on a single-device btrfs: "
                "use another filesystem" % (where, fs["devices"]))
        if fs.get("compressed_directory"):
            raise UnsupportedFilesystem(
                "%s with compression set on the directory (chattr +c or the compression property); a swap file "
                "must not be compressed: use a directory without it, e.g. a subvolume of its own"
                % where)


def _check_kind(path, info, what="path"):
    """Refuses anything at ``path`` that is not a swap file of ours, or a file
    whose every byte is zero (a creation that was interrupted)."""
    kind = info["kind"]
    if kind in ("missing", "file") and info.get("content") != "data":
        return
    if kind == "file":
        raise NotASwapFile("%s exists and holds data but no swap signature; it is not a swap file and was left "
                           "untouched: move it away or choose another path" % path)
    if kind == "block device":
        raise NotASwapFile("%s is a block device; this module manages swap files, not partitions or devices" % path)
    if kind == "symlink":
        raise NotASwapFile("%s is a symlink; give the real path of the swap file (links are not followed)" % path)
    raise NotASwapFile("%s %s is a %s; give the path of a swap file" % (what, path, kind))


def _check_owner(path, info, obs):
    """Refuses a file another user owns: a descriptor that user opened earlier
    survives chmod, and with it every page later swapped out to the file."""
    if info["kind"] != "missing" and info.get("uid", 0) not in obs.get("trusted_uids", (0,)):
        raise UnsafeLocation(
            "%s is owned by uid %d, not root; its owner may hold it open and would read what is swapped out to "
            "it. It was left untouched: remove it, or choose a path in a directory only root can write to"
            % (path, info["uid"]))


def _check_directory(request, obs):
    """Refuses a directory where another user can plant, swap or rename the file."""
    unsafe = obs.get("unsafe_directory")
    if unsafe:
        raise UnsafeLocation(
            "%s: %s; another user could replace or keep open the swap file there. Put it in a directory owned by "
            "root that only root can write to (such as / or /var/swap)" % (request.path, unsafe))


def _reusable(request, info, fs):
    """An existing file we may keep as it is (no new allocation)."""
    return (info["size"] == request.size and not info["holes"] and not info["problems"]
            and (fs["type"] != "btrfs" or info["nocow"]))


def _allocation(request, obs):
    if request.allocation != "auto":
        return request.allocation
    if obs["fs"]["type"] == "xfs" and obs["kernel"] < (4, 18):
        return "dd"  # XFS before 4.18 maps unwritten extents as holes for swapon
    return "fallocate"


class _Planner:
    def __init__(self, request: Request, obs: dict) -> None:
        self.request = request
        self.obs = obs
        self.steps: list[dict] = []
        self.free = obs["fs"]["free_bytes"] if obs["fs"] else 0
        self.bridge_up = obs["bridge"]["active"] is not None

    def add(self, action: str, path: str | None = None, **details: object) -> None:
        self.steps.append(_step(action, path, **details))

    def unlink(self, path: str, info: dict) -> None:
        self.add("unlink", path)
        self.free += info.get("allocated", 0)

    def need_space(self, size: int, what: str) -> None:
        if self.free - size < self.request.min_free:
            raise NotEnoughSpace(
                "%s needs %s on %s, which has %s free; with min_free %s kept free that leaves too little: free up "
                "space, choose a smaller size or another filesystem"
                % (what, format_size(size), self.obs["fs"]["mount_point"], format_size(max(0, self.free)),
                   format_size(self.request.min_free)))
        self.free -= size

    def create(self, path: str, size: int, what: str) -> None:
        self.need_space(size, what)
        method = _allocation(self.request, self.obs)
        self.add("create", path, size=size, method=method, nocow=self.obs["fs"]["type"] == "btrfs",
                 fallback=self.request.allocation == "auto")
        self.add("mkswap", path)

    def leftover_bridge(self) -> None:
        bridge = self.obs["bridge"]
        if bridge["kind"] == "missing":
            return
        _check_kind(self.request.bridge, bridge, "leftover temporary file")
        _check_owner(self.request.bridge, bridge, self.obs)
        if not self.bridge_up:
            self.unlink(self.request.bridge, bridge)

    def check_absorb(self, used: int, capacity_after: int, what: str, area_size: int) -> None:
        """Refuses unless the ``used`` bytes that must move find room: RAM (less
        a reserve), free space on the other swap areas and the ``capacity_after``
        of swap this run leaves active; while a memory cgroup is over its limit,
        since moving its pages can OOM-kill its processes; and under strict
        overcommit when the ``area_size`` less would put CommitLimit below what
        is committed (the kernel refuses that swapoff with ENOMEM)."""
        obs = self.obs
        if obs["strict_overcommit"] and obs["committed_bytes"] > obs["commit_limit_bytes"] - area_size:
            raise CannotAbsorb(
                "%s: vm.overcommit_memory is 2 (strict) and without these %s CommitLimit would drop to %s, below "
                "the %s already committed; the kernel refuses such a swapoff. Nothing was changed: add swap "
                "elsewhere first, or lower what is committed" % (
                    what, format_size(area_size), format_size(obs["commit_limit_bytes"] - area_size),
                    format_size(obs["committed_bytes"])))
        reserve = ram_reserve(obs["mem_total_bytes"])
        room = absorbable(obs) + capacity_after
        if used > room:
            raise CannotAbsorb(
                "%s: %s is swapped out there, and RAM (keeping %s free), the other swap areas and the swap left "
                "active can take only %s; nothing was changed: free memory first%s"
                % (what, format_size(used), format_size(reserve), format_size(room),
                   " or choose a larger size" if capacity_after else ""))
        over = obs["memcgs_over_limit"]
        if used and over:
            raise CannotAbsorb(
                "%s: memory cgroups hold swapped-out pages beyond their limits (%s); switching off swap that holds "
                "pages pushes them back through the cgroup's reclaim, and the kernel OOM-kills a process of the "
                "cgroup when reclaim cannot keep up. Nothing was changed: raise or lift those limits, or stop "
                "those processes, first" % (what, ", ".join("%s: %s" % (name, format_size(excess))
                                                            for name, excess in over[:3])))

    def retire(self, info: dict, capacity_after: int, what: str) -> None:
        """swapoff the active file at request.path without losing its pages:
        with a bridge up when pages must move, or straight when there is no room
        for one but RAM can take them in meanwhile."""
        used = info["active"]["used_bytes"]
        self.check_absorb(used, capacity_after, what, info["size"])
        if used and not self.bridge_up:
            size = -(-(used + max(used // 8, 16 * MIB)) // self.request.page_size) * self.request.page_size
            if self.free - size >= self.request.min_free:
                self.create(self.request.bridge, size, "the temporary swap file that holds the pages meanwhile")
                self.add("swapon", self.request.bridge, priority=self.request.priority)
                self.bridge_up = True
            else:
                try:
                    self.check_absorb(used, 0, what, info["size"])
                except CannotAbsorb as exc:
                    raise NotEnoughSpace(
                        "%s; and there is no room for a temporary swap file of %s next to it to hold them "
                        "meanwhile (min_free %s)" % (exc, format_size(size), format_size(self.request.min_free)))
        self.add("swapoff", self.request.path)

    def retire_bridge(self, capacity_after: int) -> None:
        if not self.bridge_up:
            return
        bridge = self.obs["bridge"]
        used = bridge["active"]["used_bytes"] if bridge["active"] else 0
        size = bridge["active"]["size_bytes"] if bridge["active"] else 0
        self.check_absorb(used, capacity_after, "switching off the temporary swap file %s (it stays active)"
                          % self.request.bridge, size)
        self.add("swapoff", self.request.bridge)
        self.add("unlink", self.request.bridge)

    def fstab(self, new_text: str) -> None:
        request, old_text = self.request, self.obs["fstab_text"]
        if new_text == old_text:
            return
        entry = _fstab.swap_entry(new_text, request.path)
        self.add("fstab", None, file=request.fstab, text=new_text, line=entry["line"] if entry else None,
                 entry=request.path, backup=request.backup)
        if os.path.normpath(request.fstab) == SYSTEM_FSTAB and capabilities_of(self.obs).get("systemd"):
            self.add("daemon-reload")

    def present(self) -> None:
        request, obs = self.request, self.obs
        info = obs["file"]
        _check_kind(request.path, info)  # first: a directory or a device is named as such
        _check_owner(request.path, info, obs)
        _check_directory(request, obs)
        _check_filesystem(request, obs)
        self.leftover_bridge()
        active = info["active"]
        swapon = True
        if info["kind"] == "missing":
            self.create(request.path, request.size, "a swap file of %s" % format_size(request.size))
        elif active:
            swapon = False
            if info["size"] != request.size:
                self.retire(info, request.size, "resizing %s to %s" % (request.path, format_size(request.size)))
                self.unlink(request.path, info)
                self.create(request.path, request.size, "a swap file of %s" % format_size(request.size))
                swapon = True
            elif request.priority is not None and active["priority"] != request.priority:
                self.retire(info, request.size, "changing the priority of %s" % request.path)
                swapon = True
        elif not _reusable(request, info, obs["fs"]):
            self.unlink(request.path, info)
            self.create(request.path, request.size, "a swap file of %s" % format_size(request.size))
        elif info["content"] == "zero" or not info["header"]["usable"]:
            self.add("mkswap", request.path)
        if info["kind"] == "file" and (info["mode"] != 0o600 or info["uid"] != 0) and not any(
                s["action"] == "create" and s["path"] == request.path for s in self.steps):
            self.steps.insert(0, _step("chmod", request.path, was=info["mode"], uid=info["uid"]))
        if swapon:
            self.add("swapon", request.path, priority=request.priority)
        self.retire_bridge(request.size)
        if request.persist:
            text = _fstab.set_swap(obs["fstab_text"], request.path, request.priority,
                                   manage_priority=request.priority is not None)
        else:
            text = _fstab.remove(obs["fstab_text"], request.path)
        self.fstab(text)

    def absent(self) -> None:
        request, obs = self.request, self.obs
        info = obs["file"]
        _check_kind(request.path, info)
        _check_owner(request.path, info, obs)
        self.leftover_bridge()
        self.retire_bridge(0)
        if info["active"]:
            self.check_absorb(info["active"]["used_bytes"], 0, "removing %s" % request.path, info["size"])
            self.add("swapoff", request.path)
        self.fstab(_fstab.remove(obs["fstab_text"], request.path))
        if info["kind"] == "file":
            self.add("unlink", request.path)


def plan(request: Request, obs: dict) -> list[dict]:
    """The steps that bring the host to the request, in order. Raises Refused."""
    planner = _Planner(request, obs)
    try:
        if request.state == "present":
            planner.present()
        else:
            planner.absent()
    except _fstab.FstabError as exc:
        raise Refused("%s: %s" % (request.fstab, exc))
    steps = planner.steps
    if any(s["action"] in ("swapon", "swapoff") for s in steps) and not capabilities_of(obs).get("swapon_permitted"):
        caps = capabilities_of(obs)
        where = ("in a %s container" % caps["container_type"]) if caps.get("container") else "here"
        raise NotPermitted(
            "swapon and swapoff are not permitted %s (they need root with CAP_SYS_ADMIN in the host's user "
            "namespace); swap is host-wide: manage it on the host, or in a privileged container" % where)
    return steps


def state_of(request: Request, obs: dict) -> dict:
    """The user-visible state of the swap file in an observation."""
    info = obs["file"]
    try:
        entry = _fstab.swap_entry(obs["fstab_text"], request.path)
    except _fstab.FstabError as exc:
        raise Refused("%s: %s" % (request.fstab, exc))
    exists = info["kind"] != "missing"
    return {
        "exists": exists,
        "size_bytes": info.get("size") if exists else None,
        "active": info["active"] is not None,
        "priority": info["active"]["priority"] if info["active"] else None,
        "used_bytes": info["active"]["used_bytes"] if info["active"] else 0,
        "mode": "%04o" % info["mode"] if exists else None,
        "fstab_line": entry["line"] if entry else None,
    }


def predict(request: Request, before: dict, steps: list[dict]) -> dict:
    """The state plan() leads to, for check mode."""
    after = dict(before)
    for step in steps:
        if step["path"] != request.path:
            if step["action"] == "fstab":
                after["fstab_line"] = step["line"]
            continue
        if step["action"] == "unlink":
            after.update(exists=False, size_bytes=None, mode=None, active=False, priority=None, used_bytes=0)
        elif step["action"] == "create":
            after.update(exists=True, size_bytes=step["size"], mode="0600")
        elif step["action"] == "chmod":
            after["mode"] = "0600"
        elif step["action"] == "swapoff":
            after.update(active=False, priority=None, used_bytes=0)
        elif step["action"] == "swapon":
            after.update(active=True, priority=step["priority"])
    return after


def verify(request: Request, state: dict) -> None:
    """Raises Failed when the state read back after a run is not what was asked."""
    problems = []
    if request.state == "present":
        if not state["active"]:
            problems.append("it is not active")
        if state["size_bytes"] != request.size:
            problems.append("its size is %s, not %s" % (state["size_bytes"], request.size))
        if request.priority is not None and state["priority"] != request.priority:
            problems.append("its priority is %s, not %s" % (state["priority"], request.priority))
        if state["mode"] != "0600":
            problems.append("its mode is %s, not 0600" % state["mode"])
        if request.persist != bool(state["fstab_line"]):
            problems.append("its fstab entry is %s" % (state["fstab_line"] or "missing"))
    else:
        if state["exists"] or state["active"] or state["fstab_line"]:
            problems.append("it still %s" % ("is active" if state["active"] else "exists" if state["exists"]
                                             else "has an fstab entry"))
    if problems:
        raise Failed("%s reads back wrong after the run: %s" % (request.path, "; ".join(problems)))
