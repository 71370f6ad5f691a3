# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Parsers for /proc and /sys memory files, and a race-safe reader.

Private to this collection: the API may change without notice.

Everything here is plain Python (no Ansible import) so that modules, filter
plugins and the on-host checker share one implementation. Parsers take text
and return plain dicts and lists; they skip what they cannot read and, where
a caller passes a ``notes`` list, say so there. The only exception they raise
is :class:`ParseError` (a :class:`ProcfsError`), for input that has none of
the expected shape at all (a process ``stat`` line without its name).
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from typing import Iterable, Sequence

KIB = 1024
# The most of a command line read and kept (a JVM's can run to tens of kilobytes).
CMDLINE_LIMIT = 4096
# No counter of the kernel is wider than 64 bits: a number this large or larger
# in one of its files is corruption, not a value (and overflows float arithmetic).
INT_LIMIT = 1 << 64
# The options of every module that reads a host (doc fragment memops.linux._roots).
ROOT_OPTIONS = {
    "proc_root": {"type": "path", "default": "/proc"},
    "sys_root": {"type": "path", "default": "/sys"},
}


class ProcfsError(Exception):
    """Base class of every error raised by this module."""


class ParseError(ProcfsError):
    """The text has none of the expected shape."""


class ProcessGone(ProcfsError):
    """The process exited (or its pid was reused) while being read."""


class FileMissing(ProcessGone):
    """ENOENT for a file of a process: the process is gone, or its directory lacks that file."""


class AccessDenied(ProcfsError):
    """The file exists but this process may not read it."""


class NotRegularFile(AccessDenied):
    """A FIFO, socket, device or directory where the kernel keeps a regular file:
    not read, since reading a FIFO with no writer waits forever."""


# ---------------------------------------------------------------------------
# small helpers


def to_int(text: str | None) -> int | None:
    """int(text), or None when it is not an integer or not below INT_LIMIT in size."""
    try:
        number = int(text)
    except (TypeError, ValueError):  # ValueError also for more digits than int() converts
        return None
    return number if -INT_LIMIT < number < INT_LIMIT else None


def to_float(text: str | None) -> float | None:
    """float(text), or None when it is not a finite number (NaN and infinity are no JSON)."""
    try:
        number = float(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _note(notes, message):
    if notes is not None:
        notes.append(message)


def _kv_size(value, unitless=True):
    """'1234 kB' -> bytes, '17' -> 17 (unitless counters, where ``unitless``), else None."""
    parts = value.split()
    if not parts:
        return None
    number = to_int(parts[0])
    if number is None:
        return None
    if len(parts) == 1:
        return number if unitless else None
    if len(parts) == 2 and parts[1] in ("kB", "KB", "kb"):
        return number * KIB
    return None


# ---------------------------------------------------------------------------
# system-wide files


def _meminfo_reason(value):
    """Why a meminfo value with a number in front is no size: ' (...)', else ''."""
    parts = value.split()
    if not parts or not parts[0].lstrip("-").isdigit():
        return ""
    if to_int(parts[0]) is None:
        return " (number out of range)"
    return " (no kB unit)" if len(parts) == 1 else ""


def parse_meminfo(text: str, notes: list | None = None) -> dict[str, int]:
    """/proc/meminfo -> {key: int}. ``kB`` values become bytes; the unitless
    values of HugePages_* stay counts (any other key without kB is no size).
    Lines that do not parse are skipped."""
    result = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        number = _kv_size(value, key.startswith("HugePages_")) if sep else None
        if not key or number is None or number < 0:
            _note(notes, "meminfo: skipped line %r%s" % (line[:80], _meminfo_reason(value) if sep else ""))
            continue
        result[key] = number
    return result


def _unescape_octal(text):
    # /proc/swaps and mountinfo escape space, tab, newline and backslash as \ooo.
    if "\\" not in text:
        return text
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_swaps(text: str, notes: list | None = None) -> list[dict]:
    """/proc/swaps -> list of {path, type, size_bytes, used_bytes, priority, deleted}."""
    devices = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("Filename"):
            continue
        fields = line.split()
        if len(fields) < 5:
            _note(notes, "swaps: skipped line %r" % line[:80])
            continue
        # The path itself may hold spaces only in escaped form, except for the
        # " (deleted)" suffix the kernel appends when the file was unlinked.
        deleted = False
        if len(fields) >= 6 and fields[-5] == "(deleted)":
            deleted = True
            fields = [" ".join(fields[:-5])] + fields[-4:]
        path_field = " ".join(fields[:-4])
        swap_type, size, used, priority = fields[-4:]
        size, used, priority = to_int(size), to_int(used), to_int(priority)
        if size is None or used is None or priority is None:
            _note(notes, "swaps: skipped line %r" % line[:80])
            continue
        devices.append({
            "path": _unescape_octal(path_field),
            "type": swap_type,
            "size_bytes": size * KIB,
            "used_bytes": used * KIB,
            "priority": priority,
            "deleted": deleted,
        })
    return devices


def parse_key_int_lines(text: str, notes: list | None = None, source: str = "vmstat") -> dict[str, int]:
    """'key value' per line (/proc/vmstat) -> {key: int}."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        value = to_int(fields[1]) if len(fields) == 2 else None
        if value is None:
            _note(notes, "%s: skipped line %r" % (source, line[:80]))
            continue
        result[fields[0]] = value
    return result


parse_vmstat = parse_key_int_lines


def parse_slabinfo(text: str, page_size: int = 4096, notes: list | None = None) -> list[dict]:
    """/proc/slabinfo (version 2.x) -> list of caches, largest first.

    ``size_bytes`` is what slabtop shows as cache size: slabs x pages per slab x page size."""
    caches = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("slabinfo", "#")):
            continue
        head, dummy, rest = line.partition(":")
        fields = head.split()
        slabdata = re.search(r"slabdata\s+(\d+)\s+(\d+)", rest)
        numbers = [to_int(f) for f in fields[1:6]]
        num_slabs = to_int(slabdata.group(2)) if slabdata else None
        if len(fields) < 6 or None in numbers or num_slabs is None:
            _note(notes, "slabinfo: skipped line %r" % line[:80])
            continue
        active_objs, num_objs, objsize, objperslab, pagesperslab = numbers
        caches.append({
            "name": fields[0],
            "active_objs": active_objs,
            "num_objs": num_objs,
            "objsize": objsize,
            "objperslab": objperslab,
            "pagesperslab": pagesperslab,
            "num_slabs": num_slabs,
            "size_bytes": num_slabs * pagesperslab * page_size,
            "active_bytes": active_objs * objsize,
        })
    caches.sort(key=lambda c: c["size_bytes"], reverse=True)
    return caches


def unusable_free_index(free_by_order: Sequence[int]) -> list[float | None]:
    """Unusable free space index per order (0 = every free page is usable for an
    allocation of that order, 1 = none is). None when the zone has nothing free."""
    total = sum(count << order for order, count in enumerate(free_by_order))
    if total == 0:
        return [None] * len(free_by_order)
    index: list[float | None] = []
    for order in range(len(free_by_order)):
        usable = sum(count << o for o, count in enumerate(free_by_order) if o >= order)
        index.append(round((total - usable) / total, 3))
    return index


def parse_buddyinfo(text: str, page_size: int = 4096, notes: list | None = None) -> list[dict]:
    """/proc/buddyinfo -> list of zones. The number of orders varies with the
    kernel's MAX_ORDER, so it is taken from each line."""
    zones = []
    pattern = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+)\s+(.*)$")
    for line in text.splitlines():
        if not line.strip():
            continue
        match = pattern.match(line.strip())
        counts = [to_int(f) for f in match.group(3).split()] if match else []
        node = to_int(match.group(1)) if match else None
        if node is None or not counts or None in counts or min(counts) < 0:
            _note(notes, "buddyinfo: skipped line %r" % line[:80])
            continue
        free_pages = sum(count << order for order, count in enumerate(counts))
        largest = max((o for o, c in enumerate(counts) if c > 0), default=None)
        zones.append({
            "node": node,
            "zone": match.group(2),
            "free_blocks_by_order": counts,
            "free_pages": free_pages,
            "free_bytes": free_pages * page_size,
            "largest_free_order": largest,
            "largest_free_block_bytes": (page_size << largest) if largest is not None else 0,
            "unusable_index": unusable_free_index(counts),
        })
    return zones


def parse_pressure(text: str, notes: list | None = None) -> dict:
    """/proc/pressure/memory -> {some: {avg10, avg60, avg300, total_us}, full: {...}}."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] not in ("some", "full"):
            if line.strip():
                _note(notes, "pressure: skipped line %r" % line[:80])
            continue
        entry = {}
        for item in fields[1:]:
            key, dummy, value = item.partition("=")
            number = to_float(value) if key.startswith("avg") else to_int(value)
            if number is None:
                continue
            entry["total_us" if key == "total" else key] = number
        result[fields[0]] = entry
    return result


def parse_inode_nr(text: str) -> dict:
    """/proc/sys/fs/inode-nr -> {nr_inodes, nr_free_inodes} (empty if unreadable)."""
    values = [to_int(f) for f in text.split()]
    if len(values) < 2 or None in values[:2]:
        return {}
    return {"nr_inodes": values[0], "nr_free_inodes": values[1]}


def parse_dentry_state(text: str) -> dict[str, int]:
    """/proc/sys/fs/dentry-state -> {nr_dentry, nr_unused, age_limit, want_pages[, nr_negative]}."""
    names = ("nr_dentry", "nr_unused", "age_limit", "want_pages", "nr_negative")
    values = [to_int(f) for f in text.split()]
    return {name: value for name, value in zip(names, values) if value is not None}


def parse_selector(text: str) -> dict:
    """'always [madvise] never' -> {selected: 'madvise', allowed: [...]}.

    Used for transparent_hugepage files; values the kernel offers are read from
    the file itself since they differ by kernel version."""
    tokens = text.split()
    selected = None
    allowed = []
    for token in tokens:
        if token.startswith("[") and token.endswith("]") and len(token) > 2:
            token = token[1:-1]
            selected = token
        allowed.append(token)
    if selected is None and len(allowed) == 1:
        selected = allowed[0]  # plain value files such as khugepaged/defrag (0/1)
        allowed = []
    return {"selected": selected, "allowed": allowed}


# ---------------------------------------------------------------------------
# per-process files


def parse_pid_stat(text: str) -> dict:
    """/proc/PID/stat -> {pid, comm, state, ppid, flags, starttime, vsize_bytes, rss_pages}.

    The name sits between the first '(' and the LAST ')' and may itself hold
    spaces, parentheses or newlines."""
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        raise ParseError("stat line without a (name): %r" % text[:80])
    pid = to_int(text[:open_paren].strip())
    rest = text[close_paren + 1:].split()
    # rest[0] is field 3 (state); field N sits at rest[N - 3].
    if pid is None or len(rest) < 22:
        raise ParseError("stat line too short: %r" % text[:80])
    numbers = [to_int(f) for f in (rest[1], rest[6], rest[19], rest[20], rest[21])]
    if None in numbers:
        raise ParseError("stat line with non-numeric fields: %r" % text[:80])
    ppid, flags, starttime, vsize, rss = numbers
    return {
        "pid": pid,
        "comm": text[open_paren + 1:close_paren],
        "state": rest[0],
        "ppid": ppid,
        "flags": flags,
        "starttime": starttime,
        "vsize_bytes": vsize,
        "rss_pages": rss,
    }


PF_KTHREAD = 0x00200000


def _status_value(value, key):
    value = value.strip()
    # a process may be named "12 kB": the name is text whatever it looks like
    if value.endswith(" kB") and key != "Name":
        size = to_int(value[:-3])
        if size is not None:
            return size * KIB
    return value


def parse_status(text: str) -> dict:
    """/proc/PID/status -> {key: value}. Tolerant: '... kB' values become bytes,
    other values stay strings; kernel threads simply lack the Vm* keys."""
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key:
            continue
        result[key] = _status_value(value, key)
    return result


# Line breaks str.splitlines() honours besides "\n". Only a process name can
# bring them into status (the kernel escapes just "\n" and "\\" there).
_OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def parse_status_fields(text: str, keys: Iterable[str]) -> dict:
    """The ``keys`` (names without ':') of ``parse_status(text)``, the same values,
    found without splitting the other lines of the file: the per-process scan needs
    four of its ~55 lines. Keys the text lacks are left out."""
    if _OTHER_LINE_BREAKS.search(text):
        full = parse_status(text)
        return {key: full[key] for key in keys if key in full}
    result = {}
    for key in keys:
        tag = "\n" + key + ":"
        start = text.rfind(tag)  # the last line of a key wins, as in parse_status
        if start >= 0:
            start += len(tag)
        elif text.startswith(tag[1:]):
            start = len(tag) - 1
        else:
            continue
        end = text.find("\n", start)
        result[key] = _status_value(text[start:end] if end >= 0 else text[start:], key)
    return result


def parse_statm(text: str) -> dict[str, int]:
    """/proc/PID/statm -> {size, resident, shared, text, lib, data, dt} in pages."""
    names = ("size", "resident", "shared", "text", "lib", "data", "dt")
    values = [to_int(f) for f in text.split()]
    if len(values) < 3 or None in values:
        raise ParseError("statm line not numeric: %r" % text[:80])
    return dict(zip(names, values))


def parse_smaps(text: str) -> dict[str, int]:
    """smaps_rollup or smaps -> sums of every 'Key: N kB' line, in bytes.

    The same parser serves both: smaps_rollup is one block, smaps one block
    per mapping (mapping header lines hold no ':' + kB value and are skipped)."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or " " in key or not value.endswith("kB"):
            continue
        size = to_int(value[:-2].strip())
        if size is None:
            continue
        totals[key] = totals.get(key, 0) + size * KIB
    return totals


def parse_cmdline(data: bytes | str) -> list[str]:
    """/proc/PID/cmdline bytes -> argv list (NUL separated, undecodable bytes replaced)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    args = data.split("\0")
    while args and args[-1] == "":
        args.pop()
    return args


def parse_cap_mask(hex_text: str | None) -> int | None:
    """'000001ffffffffff' -> int; None when not hex."""
    try:
        return int(hex_text.strip(), 16)
    except (AttributeError, ValueError):
        return None


def parse_mountinfo(text: str) -> list[dict]:
    """/proc/PID/mountinfo -> list of {mount_point, type, source, options, device}, in
    mount order; ``options`` joins the per-mount and super-block options, ``device``
    is the file system's major:minor (the same for every bind mount of it)."""
    mounts = []
    for line in text.splitlines():
        pre, sep, post = line.partition(" - ")
        fields, post_fields = pre.split(), post.split()
        if not sep or len(fields) < 6 or len(post_fields) < 2:
            continue
        mounts.append({
            "device": fields[2],
            "mount_point": _unescape_octal(fields[4]),
            "type": post_fields[0],
            "source": _unescape_octal(post_fields[1]),
            "options": fields[5] + ("," + post_fields[2] if len(post_fields) > 2 else ""),
        })
    return mounts


def parse_mount_options(mountinfo_text: str, mount_point: str) -> dict | None:
    """Options of the filesystem mounted at ``mount_point`` (last mount wins)
    -> {option: value or True}, or None when not mounted."""
    found = None
    for mount in parse_mountinfo(mountinfo_text):
        if mount["mount_point"] == mount_point:
            found = mount
    if found is None:
        return None
    options = {}
    for item in found["options"].split(","):
        key, eq, value = item.partition("=")
        options[key] = value if eq else True
    return options


def parse_kstat(text: str) -> dict[str, int]:
    """A kstat file of the SPL (``/proc/spl/kstat/zfs/arcstats``: a header line,
    then ``name type data`` lines) -> {name: int}; other lines are skipped."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        value = to_int(fields[2]) if len(fields) == 3 else None
        if value is not None:
            result[fields[0]] = value
    return result


def parse_proc_modules(text: str) -> list[str]:
    """/proc/modules -> the names of the loaded modules, in the file's order."""
    names = []
    for line in text.splitlines():
        fields = line.split(None, 2)
        if len(fields) >= 2 and to_int(fields[1]) is not None:
            names.append(fields[0])
    return names


def parse_zram_mm_stat(text: str) -> dict[str, int]:
    """/sys/block/zramN/mm_stat -> {orig_data_size, compr_data_size, mem_used_total,
    ...}: the fields the line holds, in bytes (counts for the last ones)."""
    names = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
             "same_pages", "pages_compacted", "huge_pages", "huge_pages_since")
    result = {}
    for name, field in zip(names, text.split()):
        value = to_int(field)
        if value is None:
            break
        result[name] = value
    return result


# ---------------------------------------------------------------------------
# the reader


# O_NONBLOCK: opening a FIFO for reading waits for a writer; a regular file ignores the flag
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_RECORD_SIZE = 65536


def _open_regular(path):
    """A descriptor of the regular file at ``path`` (every file of procfs and sysfs
    is one); raises NotRegularFile for anything else, OSError as os.open does."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        os.close(fd)
        raise
    if not regular:
        os.close(fd)
        raise NotRegularFile("%s: not a regular file (a FIFO, socket, device or directory), not read" % path)
    return fd


def _pid_error(pid, path, exc):
    """The ProcfsError for an OSError met reading a file of process ``pid``."""
    if exc.errno == errno.ENOENT:
        return FileMissing("process %s is gone (%s: no such file)" % (pid, path))
    if exc.errno in (errno.ESRCH, errno.ENOTDIR):
        return ProcessGone("process %s is gone" % pid)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return AccessDenied("%s: permission denied" % path)
    return ProcfsError("%s: %s" % (path, exc.strerror or exc))


class Reader:
    """Reads files below ``proc_root`` and ``sys_root``.

    ``read`` returns None for a file that does not exist and raises
    :class:`AccessDenied` for one it may not read; ``read_pid`` raises
    :class:`ProcessGone` when the process is gone (ENOENT, ESRCH) so that
    callers count vanished processes instead of failing."""

    def __init__(self, proc_root: str = "/proc", sys_root: str = "/sys") -> None:
        self.proc_root = proc_root.rstrip("/") or "/"
        self.sys_root = sys_root.rstrip("/") or "/"
        self._pid_prefix = os.path.join(self.proc_root, "")

    def proc_path(self, *parts: str) -> str:
        return os.path.join(self.proc_root, *parts)

    def sys_path(self, *parts: str) -> str:
        return os.path.join(self.sys_root, *parts)

    @staticmethod
    def _read_raw(path, limit=None):
        fd = _open_regular(path)
        try:
            chunks = []
            size = 0
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if limit is not None and size >= limit:
                    break
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_bytes(self, path: str, limit: int | None = None) -> bytes | None:
        try:
            return self._read_raw(path, limit)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ESRCH, errno.ENODEV):
                return None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise AccessDenied("%s: permission denied" % path)
            if exc.errno == errno.EINVAL:  # e.g. a write-only sysctl read by mistake
                return None
            raise ProcfsError("%s: %s" % (path, exc.strerror or exc))

    def read(self, path: str) -> str | None:
        data = self.read_bytes(path)
        return None if data is None else data.decode("utf-8", "replace")

    def proc(self, *parts: str) -> str | None:
        return self.read(self.proc_path(*parts))

    def sys(self, *parts: str) -> str | None:
        return self.read(self.sys_path(*parts))

    def try_proc(self, *parts: str, notes: list | None = None) -> str | None:
        """``proc(*parts)``, or None when it may not be read; ``notes`` gets a line saying so."""
        return self._try(self.proc, parts, notes)

    def try_sys(self, *parts: str, notes: list | None = None) -> str | None:
        """``sys(*parts)``, or None when it may not be read; ``notes`` gets a line saying so."""
        return self._try(self.sys, parts, notes)

    @staticmethod
    def _try(read, parts, notes):
        try:
            return read(*parts)
        except NotRegularFile:
            _note(notes, "%s: not a regular file (a FIFO, socket, device or directory), not read" % "/".join(parts))
            return None
        except AccessDenied:
            _note(notes, "%s: permission denied" % "/".join(parts))
            return None

    def pids(self) -> list[int]:
        """Numeric entries of proc_root, sorted."""
        try:
            names = os.listdir(self.proc_root)
        except OSError as exc:
            raise ProcfsError("%s: cannot list processes: %s" % (self.proc_root, exc.strerror or exc))
        # isdigit() alone admits digits int() refuses, such as '\u00b2'
        return sorted(int(name) for name in names if name.isascii() and name.isdigit())

    def read_pid(self, pid: int, name: str, binary: bool = False, limit: int | None = None) -> str | bytes:
        path = os.path.join(self.proc_root, str(pid), name)
        try:
            data = self._read_raw(path, limit)
        except OSError as exc:
            raise _pid_error(pid, path, exc)
        return data if binary else data.decode("utf-8", "replace")

    def read_pid_record(self, pid: int, name: str) -> str:
        """``read_pid(pid, name)`` for the small files the kernel writes whole
        at the first read() (stat, status, oom_score, oom_score_adj): a read
        shorter than asked is the whole file, which saves the second read()
        that would only find the end. The per-process scan calls this four
        times per process."""
        path = self._pid_prefix + str(pid) + "/" + name
        try:
            fd = _open_regular(path)
            try:
                data = os.read(fd, _RECORD_SIZE)
                if len(data) == _RECORD_SIZE:  # larger than one read: the rest as usual
                    chunks = [data]
                    chunk = data
                    while chunk:
                        chunk = os.read(fd, _RECORD_SIZE)
                        chunks.append(chunk)
                    data = b"".join(chunks)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _pid_error(pid, path, exc)
        return data.decode("utf-8", "replace")

    def pid_owner(self, pid: int) -> int:
        try:
            return os.stat(os.path.join(self.proc_root, str(pid))).st_uid
        except OSError:
            raise ProcessGone("process %s is gone" % pid)
