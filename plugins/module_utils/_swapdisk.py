# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What is on disk under a swap file: its content, allocation and extents, and the filesystem.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import): reads only, through ioctls (FIEMAP, file
flags, btrfs filesystem info) and plain reads; errors are the OSError the
system gives. Used by _swap (observing the host) and _swaphost (checking what
it made).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from typing import Iterable

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils._units import MIB

_SWAP_SIGNATURES = (b"SWAPSPACE2", b"SWAP-SPACE")
_SUSPEND_SIGNATURES = (b"S1SUSPEND", b"S2SUSPEND", b"ULSUSPEND", b"LINHIB0001")
_PAGE_SIZES = (4096, 8192, 16384, 65536)
CHUNK = MIB
ZEROS = bytes(CHUNK)

# ioctls (asm-generic numbers: x86, arm64, s390x, ppc64le, riscv)
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IOC_FIEMAP = 0xC020660B
_BTRFS_IOC_FS_INFO = 0x8400941F
_FS_COMPR_FL = 0x00000004
_FS_NOCOW_FL = 0x00800000
_FIEMAP_FLAG_SYNC = 0x1
_FIEMAP_EXTENT_LAST = 0x1
_FIEMAP_BAD_FLAGS = {0x2: "unknown location", 0x4: "delayed allocation", 0x8: "compressed",
                     0x80: "encrypted", 0x200: "inline data", 0x2000: "shared (reflink or snapshot)"}
_FIEMAP_BATCH = 256


def _ioctl_flags(fd):
    buf = bytearray(8)
    fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf)
    return struct.unpack_from("=i", buf)[0]


def set_nocow(fd: int) -> None:
    """Mark the (empty) file of ``fd`` NOCOW (chattr +C), which btrfs needs for swap files."""
    flags = _ioctl_flags(fd)
    buf = bytearray(struct.pack("=i", flags | _FS_NOCOW_FL) + bytes(4))
    fcntl.ioctl(fd, _FS_IOC_SETFLAGS, buf)


def extents(fd: int, size: int) -> dict:
    """{holes, problems} of the first ``size`` bytes. A swap file must be fully
    allocated: unwritten (fallocated) extents are fine, holes are not, nor are
    compressed, inline, delayed or shared extents.

    FIEMAP is exact. SEEK_HOLE is not usable here: ext4 reports unwritten
    extents as holes. Without FIEMAP the allocated block count is compared."""
    covered = 0
    problems: set[str] = set()
    start = 0
    try:
        while covered < size:
            request = struct.pack("=QQIIII", start, (1 << 64) - 1 - start, _FIEMAP_FLAG_SYNC, 0, _FIEMAP_BATCH, 0)
            buf = bytearray(request + bytes(56 * _FIEMAP_BATCH))
            fcntl.ioctl(fd, _FS_IOC_FIEMAP, buf)
            count = struct.unpack_from("=I", buf, 20)[0]
            if not count:
                break
            last = False
            for index in range(count):
                # struct fiemap_extent: logical, physical, length, 2 reserved, flags
                logical, length, flags = (struct.unpack_from("=QQQQQI", buf, 32 + 56 * index)[i] for i in (0, 2, 5))
                if logical > covered:
                    break  # a hole before this extent
                covered = max(covered, logical + length)
                problems.update(text for bit, text in _FIEMAP_BAD_FLAGS.items() if flags & bit)
                last = last or bool(flags & _FIEMAP_EXTENT_LAST)
            else:
                if not last:
                    start = covered
                    continue
            break
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS):
            raise
        return {"holes": os.fstat(fd).st_blocks * 512 < size, "problems": []}
    return {"holes": covered < size, "problems": sorted(problems)}


def _all_zero(fd, size):
    """True when no byte of the file is other than zero. Holes and unwritten
    extents are skipped with SEEK_DATA, so a fallocated file costs nothing."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only holes after offset
                return True
            if exc.errno != errno.EINVAL:
                raise
            start, end = offset, size
        position = start
        while position < min(end, size):
            chunk = os.pread(fd, min(CHUNK, end - position), position)
            if not chunk:
                break
            if chunk != ZEROS[:len(chunk)]:
                return False
            position += len(chunk)
        offset = max(end, offset + 1)
    return True


def classify(fd: int, size: int, page_size: int) -> tuple[str, dict | None]:
    """-> (content, header): content is swap | zero | data; header is
    {page_size, pages, usable} of a swap signature, else None."""
    head = os.pread(fd, max(_PAGE_SIZES), 0)
    for candidate in sorted(set(_PAGE_SIZES + (page_size,))):
        if len(head) < candidate:
            break
        signature = head[candidate - 10:candidate]
        if signature in _SWAP_SIGNATURES or signature.startswith(_SUSPEND_SIGNATURES):
            version, last_page = struct.unpack_from("=II", head, 1024)
            usable = (candidate == page_size and signature == b"SWAPSPACE2" and version == 1
                      and last_page + 1 == size // page_size)
            return "swap", {"page_size": candidate, "pages": last_page + 1, "usable": usable}
    return ("zero" if _all_zero(fd, size) else "data"), None


def inspect_file(path: str, page_size: int) -> dict:
    """What is at ``path``, without following a symlink there. Raises OSError."""
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return {"kind": "missing"}
    mode = lst.st_mode
    kinds = ((stat.S_ISLNK, "symlink"), (stat.S_ISDIR, "directory"), (stat.S_ISBLK, "block device"),
             (stat.S_ISREG, "file"))
    kind = next((name for test, name in kinds if test(mode)), "special file")
    info = {"kind": kind, "mode": stat.S_IMODE(mode), "uid": lst.st_uid, "size": lst.st_size,
            "allocated": lst.st_blocks * 512, "dev": lst.st_dev, "ino": lst.st_ino}
    if kind != "file":
        return info
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        info["content"], info["header"] = classify(fd, lst.st_size, page_size)
        info.update(extents(fd, lst.st_size))
        try:
            flags = _ioctl_flags(fd)
        except OSError:
            flags = 0
        info["nocow"] = bool(flags & _FS_NOCOW_FL)
    finally:
        os.close(fd)
    return info


def unsafe_directory(directory: str, trusted_uids: Iterable[int]) -> str | None:
    """Why ``directory`` (or a directory above it) lets a user other than
    ``trusted_uids`` put, swap or rename a file there, or None when none does:
    owned by another user, or writable by group or others without the sticky bit."""
    path = os.path.realpath(directory)
    while True:
        try:
            st = os.stat(path)
        except OSError as exc:
            return "%s cannot be checked: %s" % (path, exc.strerror or exc)
        if st.st_uid not in trusted_uids:
            return "%s is owned by uid %d, not root" % (path, st.st_uid)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return "%s is writable by %s (mode %04o) without the sticky bit" % (
                path, "others" if st.st_mode & stat.S_IWOTH else "its group", stat.S_IMODE(st.st_mode))
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def mount_of(mounts: Iterable[dict], directory: str) -> dict | None:
    """The mount that holds ``directory`` (a resolved path): longest mount
    point that contains it, the later of equal ones (it is mounted over)."""
    best = None
    for mount in mounts:
        point = mount["mount_point"]
        if directory == point or directory.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best["mount_point"]):
                best = mount
    return best


def _btrfs_devices(directory):
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        buf = bytearray(1024)
        fcntl.ioctl(fd, _BTRFS_IOC_FS_INFO, buf)
        return struct.unpack_from("=QQ", buf)[1]
    except OSError:
        return None
    finally:
        os.close(fd)


def _directory_compressed(directory):
    """A btrfs directory whose new files are compressed (chattr +c, or the
    compression property)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if _ioctl_flags(fd) & _FS_COMPR_FL:
            return True
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        return bool(os.getxattr(directory, "btrfs.compression"))
    except (OSError, AttributeError):
        return False


def filesystem(directory: str, mountinfo_text: str) -> dict:
    """The filesystem holding ``directory`` -> {type, mount_point, source,
    options, free_bytes, total_bytes[, devices, compressed_directory]}."""
    mount = mount_of(procfs.parse_mountinfo(mountinfo_text), os.path.realpath(directory)) or {
        "type": "unknown", "mount_point": None, "source": None, "options": ""}
    result = dict(mount)
    vfs = os.statvfs(directory)
    result["free_bytes"] = vfs.f_bavail * vfs.f_frsize
    result["total_bytes"] = vfs.f_blocks * vfs.f_frsize
    if mount["type"] == "btrfs":
        result["devices"] = _btrfs_devices(directory)
        result["compressed_directory"] = _directory_compressed(directory)
    return result
