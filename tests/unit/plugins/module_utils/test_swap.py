# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swap files: request validation, the pure planner, file inspection, creation
under faults, and runs of whole plans against a fake kernel.

Filesystem types that cannot be mounted on a test machine (NFS, ZFS, FUSE,
vfat) are only refused here, from their mountinfo type; the integration target
refuses tmpfs and overlay for real and runs the rest on ext4, xfs and btrfs."""

from __future__ import annotations

import errno
import os
import stat
import struct
import subprocess

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _swap
from ansible_collections.memops.linux.plugins.module_utils import _swapdisk
from ansible_collections.memops.linux.plugins.module_utils import _swaphost
from ansible_collections.memops.linux.plugins.module_utils._procfs import Reader
from ansible_collections.memops.linux.plugins.module_utils._units import GIB, MIB

PAGE = 4096


def run_command(argv):
    """What AnsibleModule.run_command gives Host: (rc, stdout, stderr)."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


HOST = _swaphost.Host(run=run_command)
CAPS = {"swapon_permitted": True, "systemd": False, "container": False, "container_type": None}


# ---------------------------------------------------------------------------
# a fake kernel: /proc/swaps and meminfo in a temporary tree, swapon/swapoff
# and mkswap acting on real files


class FakeKernel:
    def __init__(self, root, mem_available=16 * GIB, mem_total=24 * GIB, fs_type="ext4", free=50 * GIB):
        self.root = root
        self.proc = root / "proc"
        self.sys = root / "sys"
        (self.proc / "self").mkdir(parents=True)
        self.sys.mkdir()
        self.areas = []
        self.calls = []
        self.fs = {"type": fs_type, "mount_point": "/", "source": "/dev/vda", "options": "rw",
                   "free_bytes": free, "total_bytes": 100 * GIB, "devices": 1, "compressed_directory": False}
        self.fail = {}  # call name -> errno
        self.memory(mem_available, mem_total)
        self.write_swaps()

    def memory(self, available, total=24 * GIB):
        (self.proc / "meminfo").write_text(
            "MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n"
            % (total // 1024, available // 1024, available // 1024))

    def write_swaps(self):
        text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        for area in self.areas:
            text += "%-40s file\t\t%d\t\t%d\t\t%d\n" % (
                "".join("\\%03o" % ord(c) if c in " \t\n\\" else c for c in area["path"]),  # as seq_path does
                area["size"] // 1024 - 4, area["used"] // 1024, area["priority"])
        (self.proc / "swaps").write_text(text)

    def area(self, path):
        return next((a for a in self.areas if a["path"] == path), None)

    def set_used(self, path, used):
        self.area(path)["used"] = used
        self.write_swaps()

    def reader(self):
        return Reader(str(self.proc), str(self.sys))

    # the calls Host makes
    def swapon(self, path, priority):
        self.calls.append(("swapon", path, priority))
        if "swapon" in self.fail:
            code = self.fail.pop("swapon")
            raise OSError(code, os.strerror(code), path)
        with open(path, "rb") as handle:
            if handle.read(PAGE)[-10:] != b"SWAPSPACE2":
                raise OSError(errno.EINVAL, "Invalid argument", path)
        if self.area(path):
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        self.areas.append({"path": path, "size": os.stat(path).st_size, "used": 0,
                           "priority": -2 if priority is None else priority})
        self.write_swaps()

    def swapoff(self, path):
        self.calls.append(("swapoff", path))
        if "swapoff" in self.fail:
            code = self.fail.pop("swapoff")
            raise OSError(code, os.strerror(code), path)
        area = self.area(path)
        if area is None:
            raise OSError(errno.EINVAL, "Invalid argument", path)
        self.areas.remove(area)
        self.write_swaps()

    def mkswap(self, path, page_size):
        self.calls.append(("mkswap", path))
        size = os.stat(path).st_size
        with open(path, "r+b") as handle:
            handle.seek(1024)
            handle.write(struct.pack("=II", 1, size // page_size - 1))
            handle.seek(page_size - 10)
            handle.write(b"SWAPSPACE2")

    def daemon_reload(self):
        self.calls.append(("daemon-reload",))


class FakeHost(_swaphost.Host):
    def __init__(self, kernel):
        super().__init__(run=run_command, reader=kernel.reader())
        self.kernel = kernel

    def swapon(self, path, priority):
        self.kernel.swapon(path, priority)

    def swapoff(self, path):
        self.kernel.swapoff(path)

    def mkswap(self, path, page_size):
        self.kernel.mkswap(path, page_size)

    def daemon_reload(self):
        self.kernel.daemon_reload()


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    fake = FakeKernel(tmp_path / "kernel")
    monkeypatch.setattr(_swapdisk, "filesystem", lambda directory, mountinfo: dict(fake.fs))
    monkeypatch.setattr(_swapdisk, "set_nocow", lambda fd: None)
    return fake


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


def request(path, **options):
    options.setdefault("min_free", 0)
    options.setdefault("fstab", os.path.join(os.path.dirname(str(path)), "fstab"))
    if options.get("state", "present") == "present":
        options.setdefault("size", "8M")
    return _swap.Request(str(path), page_size=PAGE, **options)


def observe(kernel, req, caps=None):
    return _swap.observe(req, kernel.reader(), capabilities=dict(CAPS, **(caps or {})))


def run(kernel, req):
    """One module run: observe, plan, apply, read back. -> (actions, state)."""
    steps = _swap.plan(req, observe(kernel, req))
    FakeHost(kernel).apply(req, steps)
    state = _swap.state_of(req, observe(kernel, req))
    _swap.verify(req, state)
    return [s["action"] for s in steps], state


def files_in(directory):
    return sorted(p.name for p in directory.iterdir() if p.name != "fstab" and not p.name.startswith(".fstab"))


# ---------------------------------------------------------------------------
# requests


@pytest.mark.parametrize("path, options, says", [
    ("swapfile", {}, "not absolute"),
    ("", {}, "not absolute"),
    ("/srv/", {}, "ends with '/'"),
    ("/swapfile", {"state": "gone"}, "state 'gone'"),
    ("/swapfile", {"allocation": "truncate"}, "allocation 'truncate'"),
    ("/swapfile", {"priority": -1}, "priority -1 is out of range"),
    ("/swapfile", {"priority": 32768}, "priority 32768 is out of range; the kernel takes 0 to 32767"),
    ("/swapfile", {"priority": True}, "priority True"),
    ("/swapfile", {"size": None}, "size is required"),
    ("/swapfile", {"size": "0"}, "size: '0' is zero"),
    ("/swapfile", {"size": "-1G"}, "size: '-1G' is negative"),
    ("/swapfile", {"size": "4GB"}, "ambiguous"),
    ("/swapfile", {"size": "lots"}, "size: 'lots' is not a size"),
    ("/swapfile", {"size": True}, "boolean"),
    ("/swapfile", {"size": "512K"}, "size '512K' is too small; a swap file needs at least 1 MiB"),
    ("/swapfile", {"min_free": "-5G"}, "min_free: '-5G' is negative"),
])
def test_invalid_requests(path, options, says):
    options = dict({"size": "1G", "min_free": 0}, **options)
    with pytest.raises(_swap.InvalidRequest) as caught:
        _swap.Request(path, **options)
    assert says in str(caught.value)


def test_request_normalises():
    req = _swap.Request("/srv//swap/./file", size="1.5M", min_free="1G", page_size=PAGE)
    assert req.path == "/srv/swap/file"
    assert req.size == 1536 * 1024  # whole pages already
    assert _swap.Request("/f", size=MIB + 1, page_size=PAGE).size == MIB + PAGE
    assert req.min_free == GIB
    assert req.bridge == "/srv/swap/.file.memops-bridge"
    assert _swap.Request("/f", state="absent", size="nonsense").size is None  # size only matters when present


# ---------------------------------------------------------------------------
# the planner, on synthetic observations


def swap_file(size=8 * MIB, active=None, **extra):
    info = {"kind": "file", "mode": 0o600, "uid": 0, "size": size, "allocated": size, "dev": 1, "ino": 2,
            "content": "swap", "header": {"page_size": PAGE, "pages": size // PAGE, "usable": True},
            "holes": False, "problems": [], "nocow": False, "active": active}
    info.update(extra)
    return info


def active(used=0, priority=-2, size=8 * MIB):
    return {"size_bytes": size - PAGE, "used_bytes": used, "priority": priority}


def obs(file=None, bridge=None, fs_type="ext4", free=50 * GIB, fstab="", caps=None, **extra):
    result = {
        "page_size": PAGE, "kernel": (6, 1),
        "file": file or {"kind": "missing", "active": None},
        "bridge": bridge or {"kind": "missing", "active": None},
        "other_swap_free_bytes": 0, "memcgs_over_limit": [],
        "strict_overcommit": False, "commit_limit_bytes": 20 * GIB, "committed_bytes": 4 * GIB,
        "mem_available_bytes": 16 * GIB, "mem_total_bytes": 24 * GIB,
        "directory_exists": True,
        "fs": {"type": fs_type, "mount_point": "/srv", "source": "/dev/x", "options": "rw", "free_bytes": free,
               "total_bytes": 100 * GIB, "devices": 1, "compressed_directory": False},
        "fstab_text": fstab, "capabilities": dict(CAPS, **(caps or {})),
    }
    result.update(extra)
    return result


def steps_of(req, observation):
    return [(s["action"], s["path"]) for s in _swap.plan(req, observation)]


def actions_of(req, observation):
    return [s["action"] for s in _swap.plan(req, observation)]


REQ = _swap.Request("/srv/swapfile", size="8M", priority=5, min_free=0, fstab="/srv/fstab", page_size=PAGE)
BRIDGE = "/srv/.swapfile.memops-bridge"
LINE = "/srv/swapfile none swap sw,pri=5 0 0\n"


def test_plan_new_file():
    planned = _swap.plan(REQ, obs())
    assert [(s["action"], s["path"]) for s in planned] == [
        ("create", "/srv/swapfile"), ("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile"), ("fstab", None)]
    assert planned[0]["method"] == "fallocate" and planned[0]["nocow"] is False and planned[0]["fallback"]
    assert planned[3]["text"] == LINE
    assert [_swap.describe_step(s) for s in planned] == [
        "create /srv/swapfile (8 MiB, fallocate)", "mkswap /srv/swapfile", "swapon /srv/swapfile (priority 5)",
        "fstab /srv/fstab: /srv/swapfile none swap sw,pri=5 0 0"]


def test_plan_nothing_to_do():
    assert _swap.plan(REQ, obs(swap_file(active=active(priority=5)), fstab=LINE)) == []


@pytest.mark.parametrize("fs_type, says", [
    ("tmpfs", "/srv is on tmpfs, which lives in memory; swap files need a disk-backed filesystem (ext4, xfs, btrfs)"),
    ("ramfs", "lives in memory"),
    ("overlay", "/srv is on overlay (a container's layered root?)"),
    ("nfs", "/srv is on nfs, a network or FUSE filesystem"),
    ("nfs4", "network"),
    ("cifs", "network"),
    ("fuse.sshfs", "FUSE"),
    ("zfs", "openzfs#7734"),
    ("vfat", "/srv is on vfat, which is not known to hold swap files safely"),
    ("unknown", "not known"),
])
def test_unsupported_filesystems(fs_type, says):
    with pytest.raises(_swap.UnsupportedFilesystem) as caught:
        _swap.plan(REQ, obs(fs_type=fs_type))
    assert says in str(caught.value)
    assert caught.value.reason == "unsupported_filesystem"


@pytest.mark.parametrize("fs_type", ["ext2", "ext3", "ext4", "xfs", "btrfs"])
def test_supported_filesystems(fs_type):
    assert steps_of(REQ, obs(fs_type=fs_type))[0] == ("create", "/srv/swapfile")


def test_btrfs_gets_nocow_and_refuses_compression_and_several_devices():
    planned = _swap.plan(REQ, obs(fs_type="btrfs"))
    assert planned[0]["nocow"] is True
    observation = obs(fs_type="btrfs")
    observation["fs"]["devices"] = 2
    with pytest.raises(_swap.UnsupportedFilesystem, match="spanning 2 devices"):
        _swap.plan(REQ, observation)
    observation = obs(fs_type="btrfs")
    observation["fs"]["compressed_directory"] = True
    with pytest.raises(_swap.UnsupportedFilesystem, match="must not be compressed"):
        _swap.plan(REQ, observation)


def test_btrfs_file_without_nocow_is_rebuilt_when_inactive():
    assert steps_of(REQ, obs(swap_file(nocow=False), fs_type="btrfs", fstab=LINE))[:2] == [
        ("unlink", "/srv/swapfile"), ("create", "/srv/swapfile")]
    assert steps_of(REQ, obs(swap_file(nocow=True), fs_type="btrfs", fstab=LINE)) == [("swapon", "/srv/swapfile")]


def test_xfs_before_4_18_is_written_with_zeros():
    assert _swap.plan(REQ, obs(fs_type="xfs", kernel=(4, 17)))[0]["method"] == "dd"
    assert _swap.plan(REQ, obs(fs_type="xfs", kernel=(4, 18)))[0]["method"] == "fallocate"
    explicit = _swap.Request("/srv/swapfile", size="8M", allocation="fallocate", min_free=0, page_size=PAGE)
    planned = _swap.plan(explicit, obs(fs_type="xfs", kernel=(4, 17)))
    assert planned[0]["method"] == "fallocate" and not planned[0]["fallback"]


@pytest.mark.parametrize("info, says", [
    ({"kind": "directory"}, "/srv/swapfile is a directory"),
    ({"kind": "symlink"}, "/srv/swapfile is a symlink; give the real path"),
    ({"kind": "block device"}, "/srv/swapfile is a block device; this module manages swap files, not partitions"),
    ({"kind": "special file"}, "is a special file"),
    (swap_file(content="data", header=None), "holds data but no swap signature; it is not a swap file and was left "
                                             "untouched"),
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_not_a_swap_file(info, says, state):
    info = dict(info, active=None)
    req = _swap.Request("/srv/swapfile", state=state, size="8M", min_free=0, page_size=PAGE)
    with pytest.raises(_swap.NotASwapFile) as caught:
        _swap.plan(req, obs(info))
    assert says in str(caught.value)


def test_a_device_is_named_before_its_filesystem():
    with pytest.raises(_swap.NotASwapFile, match="is a block device"):
        _swap.plan(REQ, obs({"kind": "block device", "active": None}, fs_type="devtmpfs"))


def test_not_enough_space_after_min_free():
    req = _swap.Request("/srv/swapfile", size="8M", min_free="1G", page_size=PAGE)
    assert steps_of(req, obs(free=GIB + 8 * MIB))[0][0] == "create"  # exactly enough
    with pytest.raises(_swap.NotEnoughSpace) as caught:
        _swap.plan(req, obs(free=GIB + 8 * MIB - 1))
    assert "needs 8 MiB on /srv" in str(caught.value) and "min_free 1 GiB" in str(caught.value)


def test_space_of_a_file_being_rebuilt_counts():
    observation = obs(swap_file(size=4 * MIB), free=5 * MIB)
    assert steps_of(REQ, observation)[:2] == [("unlink", "/srv/swapfile"), ("create", "/srv/swapfile")]
    with pytest.raises(_swap.NotEnoughSpace):
        _swap.plan(REQ, obs(swap_file(size=4 * MIB), free=3 * MIB))


@pytest.mark.parametrize("extra, expected", [
    ({}, [("swapon", "/srv/swapfile")]),
    ({"header": {"page_size": PAGE, "pages": 10, "usable": False}}, [("mkswap", "/srv/swapfile"),
                                                                     ("swapon", "/srv/swapfile")]),
    ({"content": "zero", "header": None}, [("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile")]),
    ({"holes": True}, [("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"), ("mkswap", "/srv/swapfile"),
                       ("swapon", "/srv/swapfile")]),
    ({"problems": ["compressed"]}, [("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"),
                                    ("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile")]),
    ({"size": 4 * MIB}, [("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"), ("mkswap", "/srv/swapfile"),
                         ("swapon", "/srv/swapfile")]),
    ({"content": "zero", "header": None, "size": 0}, [("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"),
                                                      ("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile")]),
    ({"mode": 0o644}, [("chmod", "/srv/swapfile"), ("swapon", "/srv/swapfile")]),
])
def test_inactive_files_converge(extra, expected):
    assert steps_of(REQ, obs(swap_file(**extra), fstab=LINE)) == expected


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("which", ["file", "bridge"])
def test_a_file_owned_by_another_user_is_refused(state, which):
    req = _swap.Request("/srv/swapfile", state, "8M" if state == "present" else None, page_size=PAGE)
    files = {"file": swap_file(), "bridge": swap_file()}
    files[which] = swap_file(uid=1000, mode=0o600)
    with pytest.raises(_swap.UnsafeLocation, match=r"is owned by uid 1000, not root; .* left untouched") as caught:
        _swap.plan(req, obs(files["file"], files["bridge"], fstab=LINE, trusted_uids=[0]))
    assert caught.value.reason == "unsafe_location"


def test_an_unsafe_directory_is_refused_before_anything_is_planned():
    with pytest.raises(_swap.UnsafeLocation, match=r"^/srv/swapfile: /srv is writable by others .*only root"):
        _swap.plan(REQ, obs(unsafe_directory="/srv is writable by others (mode 0777) without the sticky bit"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
@pytest.mark.parametrize("mode, owner, says", [
    (0o755, 0, None),
    (0o1777, 0, None),
    (0o777, 0, "is writable by others (mode 0777) without the sticky bit"),
    (0o770, 0, "is writable by its group (mode 0770) without the sticky bit"),
    (0o755, 1000, "is owned by uid 1000, not root"),
    (0o1777, 1000, "is owned by uid 1000, not root"),
])
def test_unsafe_directory_on_real_directories(tmp_path, mode, owner, says):
    shared = tmp_path / "shared"
    below = shared / "below"
    below.mkdir(parents=True)
    os.chmod(str(shared), mode)
    os.chown(str(shared), owner, 0)
    found = _swapdisk.unsafe_directory(str(below), [0])
    assert found == (None if says is None else "%s %s" % (shared, says))
    link = tmp_path / "link"
    link.symlink_to(below)  # a link is judged by where it leads
    assert _swapdisk.unsafe_directory(str(link), [0]) == found


def test_active_file_with_loose_mode_is_fixed_in_place():
    planned = _swap.plan(REQ, obs(swap_file(mode=0o644, active=active(priority=5)), fstab=LINE))
    assert [s["action"] for s in planned] == ["chmod"]
    assert _swap.describe_step(planned[0]) == "chmod 0600 /srv/swapfile (was 0644, uid 0)"


def test_resize_with_nothing_swapped_out():
    assert steps_of(REQ, obs(swap_file(size=4 * MIB, active=active(priority=5)), fstab=LINE)) == [
        ("swapoff", "/srv/swapfile"), ("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"),
        ("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile")]


def test_resize_with_pages_brings_a_bridge_up_first():
    planned = _swap.plan(REQ, obs(swap_file(size=16 * MIB, active=active(used=3 * MIB, priority=5)), fstab=LINE))
    assert [(s["action"], s["path"]) for s in planned] == [
        ("create", BRIDGE), ("mkswap", BRIDGE), ("swapon", BRIDGE), ("swapoff", "/srv/swapfile"),
        ("unlink", "/srv/swapfile"), ("create", "/srv/swapfile"), ("mkswap", "/srv/swapfile"),
        ("swapon", "/srv/swapfile"), ("swapoff", BRIDGE), ("unlink", BRIDGE)]
    assert planned[0]["size"] == 3 * MIB + 16 * MIB  # used + the larger of an eighth and 16 MiB, whole pages


def test_priority_change():
    assert steps_of(REQ, obs(swap_file(active=active(priority=1)), fstab=LINE)) == [
        ("swapoff", "/srv/swapfile"), ("swapon", "/srv/swapfile")]
    assert actions_of(REQ, obs(swap_file(active=active(used=MIB, priority=1)), fstab=LINE)) == [
        "create", "mkswap", "swapon", "swapoff", "swapon", "swapoff", "unlink"]
    no_priority = _swap.Request("/srv/swapfile", size="8M", min_free=0, fstab="/srv/fstab", page_size=PAGE)
    assert _swap.plan(no_priority, obs(swap_file(active=active(priority=1)), fstab=LINE)) == []


def test_no_room_for_a_bridge_but_ram_takes_the_pages():
    observation = obs(swap_file(size=16 * MIB, active=active(used=3 * MIB, priority=5)), fstab=LINE, free=10 * MIB)
    assert actions_of(REQ, observation) == ["swapoff", "unlink", "create", "mkswap", "swapon"]


def test_no_room_for_a_bridge_and_ram_is_short():
    observation = obs(swap_file(size=16 * MIB, active=active(used=3 * GIB, priority=5)), fstab=LINE,
                      free=20 * MIB, mem_available=2 * GIB, mem_total_bytes=4 * GIB)
    observation["mem_available_bytes"] = 2 * GIB
    with pytest.raises(_swap.CannotAbsorb):  # not even the new size helps: 3 GiB > RAM + 8 MiB
        _swap.plan(REQ, observation)
    big = _swap.Request("/srv/swapfile", size="2G", priority=5, min_free=0, page_size=PAGE)
    observation["fs"]["free_bytes"] = 2 * GIB + 20 * MIB - 16 * MIB
    with pytest.raises(_swap.NotEnoughSpace, match="no room for a temporary swap file"):
        _swap.plan(big, observation)


def test_shrink_below_what_ram_and_the_new_size_can_hold_is_refused():
    observation = obs(swap_file(size=4 * GIB, active=active(used=3 * GIB, priority=5, size=4 * GIB)), fstab=LINE)
    observation["mem_available_bytes"] = 1 * GIB
    observation["mem_total_bytes"] = 2 * GIB
    with pytest.raises(_swap.CannotAbsorb) as caught:
        _swap.plan(REQ, observation)
    message = str(caught.value)
    assert message.startswith("resizing /srv/swapfile to 8 MiB: 3 GiB is swapped out there")
    assert "nothing was changed" in message and "choose a larger size" in message
    observation["other_swap_free_bytes"] = 3 * GIB  # room on another swap area
    assert _swap.plan(REQ, observation)


def test_pages_of_cgroups_over_their_limit_are_not_moved():
    observation = obs(swap_file(size=16 * MIB, active=active(used=3 * MIB, priority=5)), fstab=LINE,
                      memcgs_over_limit=[("/kubepods/pod1", 40 * MIB), ("/system.slice/db.service", 2 * MIB)])
    with pytest.raises(_swap.CannotAbsorb) as caught:
        _swap.plan(REQ, observation)
    assert "/kubepods/pod1: 40 MiB, /system.slice/db.service: 2 MiB" in str(caught.value)
    assert "OOM-kills" in str(caught.value)
    # nothing swapped out on our file: nothing moves, nothing to fear
    observation["file"]["active"]["used_bytes"] = 0
    assert _swap.plan(REQ, observation)


def test_strict_overcommit_that_needs_the_swap_is_refused():
    observation = obs(swap_file(size=4 * GIB, active=active(size=4 * GIB)), fstab=LINE)
    observation.update(strict_overcommit=True, commit_limit_bytes=16 * GIB, committed_bytes=13 * GIB)
    with pytest.raises(_swap.CannotAbsorb) as caught:
        _swap.plan(ABSENT, observation)
    assert "vm.overcommit_memory is 2 (strict) and without these 4 GiB CommitLimit would drop to 12 GiB, below " \
           "the 13 GiB already committed" in str(caught.value)
    observation["committed_bytes"] = 12 * GIB
    assert steps_of(ABSENT, observation)[0] == ("swapoff", "/srv/swapfile")
    observation.update(strict_overcommit=False, committed_bytes=30 * GIB)  # heuristic overcommit: no limit
    assert steps_of(ABSENT, observation)[0] == ("swapoff", "/srv/swapfile")


def test_leftover_bridges():
    inactive_bridge = swap_file(size=4 * MIB)
    assert steps_of(REQ, obs(swap_file(active=active(priority=5)), bridge=inactive_bridge, fstab=LINE)) == [
        ("unlink", BRIDGE)]
    active_bridge = swap_file(size=4 * MIB, active=active(used=MIB, size=4 * MIB))
    assert steps_of(REQ, obs(swap_file(active=active(priority=5)), bridge=active_bridge, fstab=LINE)) == [
        ("swapoff", BRIDGE), ("unlink", BRIDGE)]
    # crash after the old file was switched off and removed: the new one is made, then the bridge retires
    assert steps_of(REQ, obs(bridge=active_bridge, fstab=LINE)) == [
        ("create", "/srv/swapfile"), ("mkswap", "/srv/swapfile"), ("swapon", "/srv/swapfile"),
        ("swapoff", BRIDGE), ("unlink", BRIDGE)]
    # crash with both up: the resize goes on with the bridge that is there
    assert actions_of(REQ, obs(swap_file(size=16 * MIB, active=active(used=MIB, priority=5)),
                               bridge=active_bridge, fstab=LINE)) == [
        "swapoff", "unlink", "create", "mkswap", "swapon", "swapoff", "unlink"]
    with pytest.raises(_swap.NotASwapFile, match="holds data"):
        _swap.plan(REQ, obs(bridge=swap_file(content="data", header=None)))


def test_persist_false_removes_the_entry():
    req = _swap.Request("/srv/swapfile", size="8M", priority=5, persist=False, min_free=0, fstab="/srv/fstab",
                        page_size=PAGE)
    planned = _swap.plan(req, obs(swap_file(active=active(priority=5)), fstab="# x\n" + LINE))
    assert [(s["action"], s["text"]) for s in planned] == [("fstab", "# x\n")]
    assert _swap.describe_step(planned[0]) == "fstab /srv/fstab: remove the entry of /srv/swapfile"


def test_conflicting_fstab_entry_is_refused():
    with pytest.raises(_swap.Refused, match="/srv/fstab: line 1 names /srv/swapfile with type ext4"):
        _swap.plan(REQ, obs(fstab="/srv/swapfile /mnt ext4 loop 0 0\n"))


ABSENT = _swap.Request("/srv/swapfile", state="absent", min_free=0, fstab="/srv/fstab", page_size=PAGE)


def test_plan_removal():
    assert steps_of(ABSENT, obs(swap_file(active=active(used=MIB)), fstab=LINE)) == [
        ("swapoff", "/srv/swapfile"), ("fstab", None), ("unlink", "/srv/swapfile")]
    assert steps_of(ABSENT, obs(fstab=LINE)) == [("fstab", None)]
    assert steps_of(ABSENT, obs(swap_file(content="zero", header=None))) == [("unlink", "/srv/swapfile")]
    assert _swap.plan(ABSENT, obs()) == []
    assert _swap.plan(ABSENT, obs(directory_exists=False, fs=None)) == []


def test_removal_tells_systemd_only_about_the_system_fstab():
    system = _swap.Request("/srv/swapfile", state="absent", page_size=PAGE)
    with_systemd = obs(swap_file(active=active()), fstab=LINE, caps={"systemd": True})
    assert ("daemon-reload", None) in steps_of(system, with_systemd)
    assert ("daemon-reload", None) not in steps_of(ABSENT, with_systemd)
    assert ("daemon-reload", None) not in steps_of(system, obs(swap_file(active=active()), fstab=LINE))


def test_removal_whose_pages_ram_cannot_take():
    observation = obs(swap_file(size=4 * GIB, active=active(used=3 * GIB, size=4 * GIB)), fstab=LINE)
    observation["mem_available_bytes"] = 2 * GIB
    with pytest.raises(_swap.CannotAbsorb, match="^removing /srv/swapfile: 3 GiB is swapped out there"):
        _swap.plan(ABSENT, observation)


@pytest.mark.parametrize("req, observation", [
    (REQ, obs()),
    (REQ, obs(swap_file(active=active(priority=1)), fstab=LINE)),
    (ABSENT, obs(swap_file(active=active()))),
])
def test_swapon_not_permitted_is_refused_up_front(req, observation):
    observation["capabilities"] = {"swapon_permitted": False, "container": True, "container_type": "podman"}
    with pytest.raises(_swap.NotPermitted) as caught:
        _swap.plan(req, observation)
    assert str(caught.value).startswith("swapon and swapoff are not permitted in a podman container")


def test_fstab_only_changes_need_no_swapon_permission():
    observation = obs(fstab=LINE, caps={"swapon_permitted": False})
    assert steps_of(ABSENT, observation) == [("fstab", None)]


def test_predict():
    before = _swap.state_of(REQ, obs())
    after = _swap.predict(REQ, before, _swap.plan(REQ, obs()))
    assert after == {"exists": True, "size_bytes": 8 * MIB, "active": True, "priority": 5, "used_bytes": 0,
                     "mode": "0600", "fstab_line": LINE.strip()}
    observation = obs(swap_file(active=active(used=MIB)), fstab=LINE)
    gone = _swap.predict(ABSENT, _swap.state_of(ABSENT, observation), _swap.plan(ABSENT, observation))
    assert gone == {"exists": False, "size_bytes": None, "active": False, "priority": None, "used_bytes": 0,
                    "mode": None, "fstab_line": None}


def test_verify():
    good = {"exists": True, "size_bytes": 8 * MIB, "active": True, "priority": 5, "used_bytes": 0,
            "mode": "0600", "fstab_line": LINE.strip()}
    _swap.verify(REQ, good)
    with pytest.raises(_swap.Failed, match="reads back wrong after the run: it is not active; its priority"):
        _swap.verify(REQ, dict(good, active=False, priority=None))
    with pytest.raises(_swap.Failed, match="it still exists"):
        _swap.verify(ABSENT, dict(good, active=False))


# ---------------------------------------------------------------------------
# reading files


def write_header(path, size, page_size=PAGE, signature=b"SWAPSPACE2", pages=None):
    with open(path, "r+b") as handle:
        handle.seek(1024)
        handle.write(struct.pack("=II", 1, (pages or size // page_size) - 1))
        handle.seek(page_size - 10)
        handle.write(signature)


def allocated(path, size, data=b""):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o600)
    os.posix_fallocate(fd, 0, size)
    if data:
        os.pwrite(fd, data, size // 2)
    os.close(fd)
    return str(path)


def test_inspect_kinds(tmp_path):
    assert _swapdisk.inspect_file(str(tmp_path / "none"), PAGE) == {"kind": "missing"}
    assert _swapdisk.inspect_file(str(tmp_path), PAGE)["kind"] == "directory"
    os.symlink("/etc/passwd", str(tmp_path / "link"))
    assert _swapdisk.inspect_file(str(tmp_path / "link"), PAGE)["kind"] == "symlink"
    os.mkfifo(str(tmp_path / "fifo"))
    assert _swapdisk.inspect_file(str(tmp_path / "fifo"), PAGE)["kind"] == "special file"


def test_inspect_zero_data_and_swap(tmp_path):
    zero = _swapdisk.inspect_file(allocated(tmp_path / "zero", 4 * MIB), PAGE)
    assert (zero["content"], zero["header"], zero["holes"], zero["mode"]) == ("zero", None, False, 0o600)
    data = _swapdisk.inspect_file(allocated(tmp_path / "data", 4 * MIB, b"precious"), PAGE)
    assert data["content"] == "data"
    path = allocated(tmp_path / "swap", 4 * MIB)
    write_header(path, 4 * MIB)
    swap = _swapdisk.inspect_file(path, PAGE)
    assert swap["content"] == "swap" and swap["header"] == {"page_size": PAGE, "pages": 1024, "usable": True}
    write_header(path, 4 * MIB, pages=512)  # mkswap'ed before the file grew
    assert _swapdisk.inspect_file(path, PAGE)["header"]["usable"] is False


@pytest.mark.parametrize("signature, page_size, usable", [
    (b"SWAPSPACE2", 65536, False),  # made on a 64 KiB-page machine: ours, but needs mkswap here
    (b"SWAP-SPACE", PAGE, False),  # the old format
    (b"S1SUSPEND\0", PAGE, False),  # a hibernation image: a swap file all the same
])
def test_other_swap_signatures(tmp_path, signature, page_size, usable):
    path = allocated(tmp_path / "swap", 4 * MIB)
    write_header(path, 4 * MIB, page_size=page_size, signature=signature)
    info = _swapdisk.inspect_file(path, PAGE)
    assert info["content"] == "swap" and info["header"]["usable"] is usable


def test_holes_are_found(tmp_path):
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as handle:
        handle.truncate(4 * MIB)
    assert _swapdisk.inspect_file(str(sparse), PAGE)["holes"] is True
    half = tmp_path / "half"
    with open(half, "wb") as handle:
        handle.write(b"\0" * (2 * MIB))
        handle.truncate(4 * MIB)
    info = _swapdisk.inspect_file(str(half), PAGE)
    assert info["holes"] is True and info["content"] == "zero"


def test_extents_without_fiemap_count_blocks(tmp_path, monkeypatch):
    def no_fiemap(fd, request, *args):
        if request == _swapdisk._FS_IOC_FIEMAP:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_ioctl(fd, request, *args)

    real_ioctl = _swapdisk.fcntl.ioctl
    monkeypatch.setattr(_swapdisk.fcntl, "ioctl", no_fiemap)
    full = allocated(tmp_path / "full", 2 * MIB)
    fd = os.open(full, os.O_RDONLY)
    assert _swapdisk.extents(fd, 2 * MIB) == {"holes": False, "problems": []}
    os.close(fd)
    sparse = tmp_path / "sparse"
    sparse.write_bytes(b"")
    os.truncate(str(sparse), 2 * MIB)
    fd = os.open(str(sparse), os.O_RDONLY)
    assert _swapdisk.extents(fd, 2 * MIB)["holes"] is True
    os.close(fd)


def test_data_after_a_hole_is_data(tmp_path):
    path = tmp_path / "late"
    with open(path, "wb") as handle:
        handle.seek(3 * MIB)
        handle.write(b"x")
    assert _swapdisk.inspect_file(str(path), PAGE)["content"] == "data"


MOUNTINFO = (
    "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:25 / /tmp rw shared:5 - tmpfs tmpfs rw,size=100k\n"
    "31 22 0:26 / /srv rw - xfs /dev/vdb rw\n"
    "32 31 0:27 / /srv/my\\040data rw - btrfs /dev/vdc rw,compress=zstd:3\n"
    "33 22 0:28 / /srv rw - nfs4 host:/export rw\n"
    "bogus line\n"
)


def test_mountinfo():
    mounts = _procfs.parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 5
    assert mounts[3] == {"mount_point": "/srv/my data", "type": "btrfs", "source": "/dev/vdc",
                         "options": "rw,rw,compress=zstd:3", "device": "0:27"}
    assert _swapdisk.mount_of(mounts, "/var/tmp")["type"] == "ext4"
    assert _swapdisk.mount_of(mounts, "/tmp")["type"] == "tmpfs"
    assert _swapdisk.mount_of(mounts, "/tmpx")["type"] == "ext4"
    assert _swapdisk.mount_of(mounts, "/srv/my data/swap")["type"] == "btrfs"
    assert _swapdisk.mount_of(mounts, "/srv/other")["type"] == "nfs4"  # mounted over the xfs one
    assert _swapdisk.mount_of([], "/") is None


def test_filesystem_of_a_real_directory(tmp_path):
    fs = _swapdisk.filesystem(str(tmp_path), "1 0 0:1 / / rw - ext4 /dev/root rw\n")
    assert fs["type"] == "ext4" and fs["free_bytes"] > 0 and fs["total_bytes"] >= fs["free_bytes"]
    assert _swapdisk.filesystem(str(tmp_path), "")["type"] == "unknown"


def memcg(root, name, files):
    directory = root / name if name else root
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, value in files.items():
        (directory / file_name).write_text(value)


def v1(usage, limit, swap):
    return {"memory.usage_in_bytes": str(usage), "memory.limit_in_bytes": str(limit),
            "memory.stat": "swap %d\ntotal_swap %d\n" % (swap, swap)}


def v2(current, limit, swap):
    return {"memory.current": str(current), "memory.max": str(limit), "memory.swap.current": str(swap)}


def test_memcgs_over_limit_v1(tmp_path):
    sys_root = tmp_path / "sys"
    base = sys_root / "fs" / "cgroup" / "memory"
    unlimited = "9223372036854771712"
    memcg(base, "", v1(900000000, unlimited, 300000000))
    memcg(base, "pod", v1(40 * MIB, 40 * MIB, 48 * MIB))
    memcg(base, "pod/inner", v1(1000, unlimited, 0))
    memcg(base, "roomy", v1(MIB, GIB, MIB))
    memcg(base, "unreadable", {})
    reader = Reader(str(tmp_path / "proc"), str(sys_root))
    assert _cgroups.memcgs_over_limit(reader) == [("/pod", 48 * MIB)]


def test_memcgs_over_limit_v2(tmp_path):
    sys_root = tmp_path / "sys"
    base = sys_root / "fs" / "cgroup"
    memcg(base, "", {"cgroup.controllers": "cpu io memory pids\n"})
    memcg(base, "a.slice", v2(GIB, "max", GIB))
    memcg(base, "a.slice/b.service", v2(90 * MIB, 100 * MIB, 30 * MIB))
    memcg(base, "c.scope", v2(99 * MIB, 100 * MIB, 3 * MIB))
    reader = Reader(str(tmp_path / "proc"), str(sys_root))
    assert _cgroups.memcgs_over_limit(reader) == [("/a.slice/b.service", 20 * MIB), ("/c.scope", 2 * MIB)]


def test_no_memory_controller(tmp_path):
    (tmp_path / "sys" / "fs" / "cgroup").mkdir(parents=True)
    assert _cgroups.memcgs_over_limit(Reader(str(tmp_path / "proc"), str(tmp_path / "sys"))) == []


# ---------------------------------------------------------------------------
# creating files


@pytest.fixture
def loose_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_create_is_0600_from_the_first_byte(data_dir, monkeypatch, loose_umask):
    real_open = os.open
    seen = []

    def spy(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        if flags & os.O_CREAT:
            seen.append((flags, mode, stat.S_IMODE(os.fstat(fd).st_mode), os.umask(0o077)))
            os.umask(seen[-1][3])
        return fd

    monkeypatch.setattr(os, "open", spy)
    method = HOST.create(str(data_dir / "swap"), 2 * MIB, "fallocate")
    assert method == "fallocate"
    flags, mode, mode_at_creation, umask_at_creation = seen[0]
    assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert (mode, mode_at_creation, umask_at_creation) == (0o600, 0o600, 0o077)
    assert stat.S_IMODE(os.stat(str(data_dir / "swap")).st_mode) == 0o600
    assert os.umask(0) == 0  # restored


def test_create_refuses_an_existing_path(data_dir):
    (data_dir / "swap").write_bytes(b"keep")
    with pytest.raises(_swap.Failed, match="cannot create .*File exists"):
        HOST.create(str(data_dir / "swap"), 2 * MIB, "fallocate")
    assert (data_dir / "swap").read_bytes() == b"keep"


def test_create_with_zeros(data_dir):
    path = str(data_dir / "swap")
    assert HOST.create(path, 3 * MIB + PAGE, "dd") == "dd"
    info = _swapdisk.inspect_file(path, PAGE)
    assert (info["size"], info["holes"], info["content"]) == (3 * MIB + PAGE, False, "zero")


def test_disk_full_while_writing_removes_the_partial_file(data_dir, monkeypatch):
    real_write = os.write
    budget = [MIB]

    def filling_write(fd, data):
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget[0] -= len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", filling_write)
    with pytest.raises(_swap.DiskFull) as caught:
        HOST.create(str(data_dir / "swap"), 4 * MIB, "dd")
    assert "filled up while the swap file was being allocated (1 MiB of 4 MiB written)" in str(caught.value)
    assert "partial file was removed and fstab was not touched" in str(caught.value)
    assert caught.value.reason == "disk_full"
    assert files_in(data_dir) == []


def test_disk_full_in_fallocate(data_dir, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(_swap.DiskFull):
        HOST.create(str(data_dir / "swap"), 4 * MIB, "fallocate", fallback=True)
    assert files_in(data_dir) == []


def test_fallocate_unsupported_falls_back_to_zeros(data_dir, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    assert HOST.create(str(data_dir / "a"), 2 * MIB, "fallocate", fallback=True) == "dd"
    with pytest.raises(_swap.Failed, match="fallocate .*not supported"):
        HOST.create(str(data_dir / "b"), 2 * MIB, "fallocate", fallback=False)
    assert files_in(data_dir) == ["a"]


def test_holes_after_fallocate(data_dir, monkeypatch):
    real_extents = _swapdisk.extents
    answers = [{"holes": True, "problems": []}]
    monkeypatch.setattr(_swapdisk, "extents", lambda fd, size: answers.pop() if answers else real_extents(fd, size))
    assert HOST.create(str(data_dir / "auto"), 2 * MIB, "fallocate", fallback=True) == "dd"
    answers.append({"holes": True, "problems": []})
    with pytest.raises(_swap.HasHoles, match="came out of fallocate with holes; it was removed and never handed "
                                             "to swapon: use allocation: dd"):
        HOST.create(str(data_dir / "strict"), 2 * MIB, "fallocate")
    answers.append({"holes": False, "problems": ["compressed"]})
    with pytest.raises(_swap.HasHoles, match="with compressed extents"):
        HOST.create(str(data_dir / "btrfs"), 2 * MIB, "fallocate")
    assert files_in(data_dir) == ["auto"]


def test_nocow_failure_is_clear_and_removes_the_file(data_dir, monkeypatch):
    def refuse(fd):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(_swapdisk, "set_nocow", refuse)
    with pytest.raises(_swap.Failed, match=r"cannot mark .* NOCOW \(chattr \+C\), which btrfs needs"):
        HOST.create(str(data_dir / "swap"), 2 * MIB, "fallocate", nocow=True)
    assert files_in(data_dir) == []


# ---------------------------------------------------------------------------
# whole runs against the fake kernel: lifecycle, failures, crash recovery


def test_lifecycle(kernel, data_dir):
    path = data_dir / "swap"
    req = request(path, priority=5)
    assert run(kernel, req)[0] == ["create", "mkswap", "swapon", "fstab"]
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert (data_dir / "fstab").read_text() == "%s none swap sw,pri=5 0 0\n" % path
    assert run(kernel, req)[0] == []
    grow = request(path, priority=5, size="12M")
    kernel.set_used(str(path), 2 * MIB)
    actions, state = run(kernel, grow)
    assert actions == ["create", "mkswap", "swapon", "swapoff", "unlink", "create", "mkswap", "swapon", "swapoff",
                       "unlink"]
    assert state["size_bytes"] == 12 * MIB and [a["path"] for a in kernel.areas] == [str(path)]
    assert files_in(data_dir) == ["swap"]
    assert run(kernel, request(path, priority=5, size="4M"))[0] == ["swapoff", "unlink", "create", "mkswap",
                                                                    "swapon"]
    actions, state = run(kernel, request(path, state="absent"))
    assert actions == ["swapoff", "fstab", "unlink"]
    assert not state["exists"] and kernel.areas == [] and (data_dir / "fstab").read_text() == ""
    assert run(kernel, request(path, state="absent"))[0] == []


def test_btrfs_run_marks_nocow(kernel, data_dir, monkeypatch):
    kernel.fs["type"] = "btrfs"
    marked = []
    monkeypatch.setattr(_swapdisk, "set_nocow", lambda fd: marked.append(os.fstat(fd).st_size))
    run(kernel, request(data_dir / "swap"))
    assert marked == [0]  # on the empty file, before any block is allocated


def test_swapon_invalid_after_fallocate_rebuilds_with_zeros(kernel, data_dir):
    kernel.fail["swapon"] = errno.EINVAL
    req = request(data_dir / "swap")
    host = FakeHost(kernel)
    done = host.apply(req, _swap.plan(req, observe(kernel, req)))
    assert done["allocation"] == "dd"
    assert [c[0] for c in kernel.calls] == ["mkswap", "swapon", "mkswap", "swapon"]
    assert len(kernel.areas) == 1 and files_in(data_dir) == ["swap"]


def test_swapon_invalid_on_explicit_fallocate_fails_and_cleans_up(kernel, data_dir):
    kernel.fail["swapon"] = errno.EINVAL
    req = request(data_dir / "swap", allocation="fallocate")
    with pytest.raises(_swap.Failed) as caught:
        FakeHost(kernel).apply(req, _swap.plan(req, observe(kernel, req)))
    assert "the kernel refused the file (holes" in str(caught.value)
    assert "removed the unfinished %s" % (data_dir / "swap") in str(caught.value)
    assert files_in(data_dir) == [] and not (data_dir / "fstab").exists()


def test_swapon_not_permitted_at_run_time(kernel, data_dir):
    kernel.fail["swapon"] = errno.EPERM
    req = request(data_dir / "swap")
    with pytest.raises(_swap.NotPermitted, match="operation not permitted"):
        FakeHost(kernel).apply(req, _swap.plan(req, observe(kernel, req)))
    assert files_in(data_dir) == []


def test_failing_mkswap_leaves_nothing(kernel, data_dir, monkeypatch):
    def broken(path, page_size):
        raise _swap.Failed("mkswap %s failed (rc 1): boom" % path)

    monkeypatch.setattr(FakeHost, "mkswap", lambda self, path, page_size: broken(path, page_size))
    req = request(data_dir / "swap")
    with pytest.raises(_swap.Failed, match="boom; removed the unfinished"):
        FakeHost(kernel).apply(req, _swap.plan(req, observe(kernel, req)))
    assert files_in(data_dir) == [] and kernel.areas == []


def test_mkswap_is_checked_by_reading_the_header(data_dir, kernel):
    path = allocated(data_dir / "swap", 2 * MIB)
    calls = []

    def fake_run(argv):
        calls.append(argv)
        kernel.mkswap(argv[-1], PAGE)
        return 0, "Setting up swapspace version 1", ""

    _swaphost.Host(run=fake_run).mkswap(path, PAGE)
    assert calls[0][0].endswith("mkswap") and calls[0][-1] == path
    with pytest.raises(_swap.Failed, match="mkswap .* reported success but left no swap signature this kernel"):
        _swaphost.Host(run=lambda argv: (0, "Setting up swapspace", "")).mkswap(
            allocated(data_dir / "other", 2 * MIB), PAGE)
    failing = _swaphost.Host(run=lambda argv: (1, "", "mkswap: error: swap area needs to be at least 40 KiB\n"))
    with pytest.raises(_swap.Failed, match="failed \\(rc 1\\): mkswap: error: swap area needs to be at least"):
        failing.mkswap(path, PAGE)  # a usable header from before does not hide a failure


@pytest.mark.skipif(not _swaphost.shutil.which("mkswap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"),
                    reason="mkswap (util-linux) is not installed")
def test_real_mkswap(data_dir):
    path = allocated(data_dir / "swap", 2 * MIB)
    HOST.mkswap(path, os.sysconf("SC_PAGE_SIZE"))
    assert _swapdisk.inspect_file(path, os.sysconf("SC_PAGE_SIZE"))["header"]["usable"]


def test_real_mkswap_missing(data_dir, monkeypatch):
    monkeypatch.setenv("PATH", str(data_dir))
    monkeypatch.setattr(_swaphost.shutil, "which", lambda name, path=None: None)
    with pytest.raises(_swap.Failed, match="mkswap was not found"):
        HOST.mkswap(str(data_dir / "x"), PAGE)


def test_swapoff_enomem_keeps_everything_and_the_next_run_finishes(kernel, data_dir):
    path = data_dir / "swap"
    run(kernel, request(path))
    kernel.set_used(str(path), MIB)
    kernel.fail["swapoff"] = errno.ENOMEM
    grow = request(path, size="12M")
    with pytest.raises(_swap.Failed) as caught:
        FakeHost(kernel).apply(grow, _swap.plan(grow, observe(kernel, grow)))
    assert "the kernel refused (ENOMEM)" in str(caught.value)
    assert "it stays active and nothing was lost" in str(caught.value)
    assert "temporary swap file %s is still there" % grow.bridge in str(caught.value)
    assert caught.value.completed == ["create %s (17 MiB, fallocate)" % grow.bridge, "mkswap " + grow.bridge,
                                      "swapon %s" % grow.bridge]
    assert sorted(a["path"] for a in kernel.areas) == sorted([str(path), grow.bridge])
    actions, state = run(kernel, grow)
    assert actions == ["swapoff", "unlink", "create", "mkswap", "swapon", "swapoff", "unlink"]
    assert state["size_bytes"] == 12 * MIB and files_in(data_dir) == ["swap"]


@pytest.mark.parametrize("leftover", ["zero file", "not active", "no fstab entry", "inactive bridge",
                                      "active bridge"])
def test_crash_recovery_converges_without_a_second_file(kernel, data_dir, leftover):
    path = data_dir / "swap"
    req = request(path, priority=3)
    run(kernel, req)
    if leftover == "zero file":
        kernel.swapoff(str(path))
        os.unlink(str(path))
        allocated(path, 8 * MIB)
    elif leftover == "not active":
        kernel.swapoff(str(path))
    elif leftover == "no fstab entry":
        (data_dir / "fstab").write_text("")
    else:
        allocated(req.bridge, 4 * MIB)
        kernel.mkswap(req.bridge, PAGE)
        if leftover == "active bridge":
            kernel.swapon(req.bridge, 3)
    actions, state = run(kernel, req)
    assert actions
    assert state["active"] and state["fstab_line"] and state["size_bytes"] == 8 * MIB
    assert files_in(data_dir) == ["swap"] and [a["path"] for a in kernel.areas] == [str(path)]
    assert run(kernel, req)[0] == []


def test_capabilities_are_asked_only_when_a_plan_needs_them():
    asked = []
    observation = obs(swap_file(active=active(priority=5)), fstab=LINE)
    observation["capabilities"] = lambda: asked.append(1) or dict(CAPS)
    assert _swap.plan(REQ, observation) == [] and asked == []
    observation = obs()
    observation["capabilities"] = lambda: asked.append(1) or dict(CAPS)
    assert _swap.plan(REQ, observation) and asked == [1]
