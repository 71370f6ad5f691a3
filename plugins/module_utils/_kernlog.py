# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel log: reading it, and the OOM kills it records.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). :func:`parse_kernel_log` is the pure parser
of _oomlog, kept here under its old name; :func:`read_log` takes the log from
``/dev/kmsg``, or through ``dmesg`` or ``journalctl`` (run by a callable the caller passes) where the device cannot
be read; :func:`timestamp` dates the events of a log that has only uptimes.
"""

from __future__ import annotations

import datetime
import errno
import gzip
import os
import stat
import zlib
from typing import Callable

from ansible_collections.memops.linux.plugins.module_utils import _oomlog
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

# What runs when /dev/kmsg cannot be read: (log_source name, argv), in order.
LOG_COMMANDS = (("dmesg", ["dmesg"]),
                ("journal", ["journalctl", "-k", "-b", "-o", "short-monotonic", "--no-pager", "-q"]))

# The kernel log of a captured tree: a file beside its proc directory holding what dmesg, journalctl -k or
# /dev/kmsg gave on the host (any format parse_kernel_log reads), at most TREE_LOG_LIMIT bytes of it.
TREE_LOG = "dmesg"
TREE_LOG_LIMIT = 32 << 20

parse_kernel_log = _oomlog.parse_kernel_log


def read_kmsg(path: str = "/dev/kmsg", max_bytes: int = 32 << 20) -> str | None:
    """All records currently in the kernel ring buffer, as /dev/kmsg lines.

    Raises AccessDenied (dmesg_restrict, missing CAP_SYSLOG) or returns None
    when the device does not exist (typical in containers)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise procfs.AccessDenied("%s: permission denied" % path)
        return None
    records = []
    size = 0
    try:
        while size < max_bytes:
            try:
                record = os.read(fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # record overwritten while reading: skip it
                    continue
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                if exc.errno in (errno.EACCES, errno.EPERM):
                    raise procfs.AccessDenied("%s: permission denied" % path)
                raise procfs.ProcfsError("%s: %s" % (path, exc.strerror or exc))
            if not record:
                break
            size += len(record)
            records.append(record)
    finally:
        os.close(fd)
    return b"".join(records).decode("utf-8", "replace")


def tree_log_path(reader: procfs.Reader) -> str | None:
    """Where the kernel log of a tree other than the live /proc is kept: the file
    TREE_LOG beside its proc directory. None for the live /proc, or a procfs of
    this kernel in this boot (the same boot_id: a host's /proc mounted into a
    container), whose log is this kernel's. The log's kills are dated and judged
    against proc's uptime and counter, so the log must come from where proc does."""
    if reader.proc_root == "/proc" or _same_boot(reader):
        return None
    return os.path.join(os.path.dirname(reader.proc_root), TREE_LOG)


def _same_boot(reader):
    try:
        ours = procfs.Reader().proc("sys", "kernel", "random", "boot_id")
        theirs = reader.proc("sys", "kernel", "random", "boot_id")
    except procfs.ProcfsError:
        return False
    return bool(ours and ours.strip()) and ours == theirs


def _read_tree_log(reader, path, notes):
    try:
        data = reader.read_bytes(path, limit=TREE_LOG_LIMIT)
    except procfs.ProcfsError as exc:
        notes.append(str(exc))
        data = None
    if data is None:
        notes.append("kernel log: proc_root %s is not the live /proc and %s is no readable file: the live kernel "
                     "log (another machine's, or another boot's) is not read" % (reader.proc_root, path))
        return None, "none"
    return data.decode("utf-8", "replace"), "tree"


def read_log(kmsg_path: str, log_commands: Callable | None, notes: list, reader: procfs.Reader | None = None) -> tuple:
    """(text, source) of the kernel log: ``/dev/kmsg`` first, then each of
    LOG_COMMANDS through ``log_commands(argv) -> text or None``; source is kmsg,
    dmesg, journal or none. With a ``reader`` of a tree other than the live
    /proc, only the tree's own log file (tree_log_path) is read: source tree,
    or none. What could not be read is said in ``notes``."""
    path = tree_log_path(reader) if reader is not None else None
    if path is not None:
        return _read_tree_log(reader, path, notes)
    text = None
    source = "none"
    try:
        text = read_kmsg(kmsg_path)
        source = "kmsg" if text is not None else "none"
    except procfs.AccessDenied:
        notes.append("%s: permission denied (kernel.dmesg_restrict?)" % kmsg_path)
    except procfs.ProcfsError as exc:
        notes.append(str(exc))
    if text is None and log_commands:
        for name, argv in LOG_COMMANDS:
            text = log_commands(argv)
            if text is not None:
                source = name
                break
    return text, source


def timestamp(events: list, boot_time: int | None) -> list:
    """Give each event that has an uptime but no wall-clock time its ``logged_at``
    (UTC, from the boot time); a garbled uptime past year 9999 is left undated."""
    if boot_time is None:
        return events
    for event in events:
        if event["uptime_seconds"] is not None and event["logged_at"] is None:
            try:
                moment = datetime.datetime.fromtimestamp(boot_time + event["uptime_seconds"], tz=datetime.timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
            event["logged_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return events


def command_runner(module) -> Callable[[list[str]], str | None]:
    """Runs dmesg or journalctl for the kernel-log fallback through an
    AnsibleModule; the runner returns None when the command is missing, fails
    or prints nothing."""
    def run(argv):
        path = module.get_bin_path(argv[0])
        if path is None:
            return None
        rc, out, dummy = module.run_command([path] + argv[1:])
        return out if rc == 0 and out else None
    return run


# A saved kernel log (kernel_log_path): at most this many bytes, after decompression.
LOG_FILE_LIMIT = TREE_LOG_LIMIT
_GZIP_MAGIC = b"\x1f\x8b"


def read_log_file(path: str, limit: int = LOG_FILE_LIMIT) -> str:
    """The text of a saved kernel log: the output of dmesg (any of its formats), journalctl -k,
    /var/log/messages or kern.log, plain or gzip (told by its magic bytes, not its name). Only a
    regular file is read (a FIFO or device is refused without waiting for it); at most ``limit``
    bytes, after decompression. Raises LogFileError naming the path and the fix."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise LogFileError("kernel_log_path %s: permission denied; run as a user who may read it (become)" % path)
        raise LogFileError("kernel_log_path %s: %s; give the path of a saved kernel log file"
                           % (path, exc.strerror or exc))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LogFileError("kernel_log_path %s: not a regular file (a directory, FIFO, socket or device); give the "
                               "path of a saved kernel log file (dmesg, journalctl -k, messages, kern.log)" % path)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = _read_capped(handle, path, limit)
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


def _read_capped(handle, path, limit):
    head = handle.read(2)
    handle.seek(0)
    if head != _GZIP_MAGIC:  # a plain log longer than limit: its last part, from a line's start
        size = os.fstat(handle.fileno()).st_size
        if size <= limit:
            return handle.read(limit)
        handle.seek(size - limit)
        return handle.read(limit).split(b"\n", 1)[-1]
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
            data = unzipped.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise LogFileError("kernel_log_path %s: a corrupt or truncated gzip file (%s); give the log uncompressed or "
                           "compress it again with gzip" % (path, exc))
    if len(data) > limit:
        raise LogFileError("kernel_log_path %s: more than %d MiB once decompressed; give only the part of the log "
                           "around the events (for example the last days of it)" % (path, limit >> 20))
    return data


class LogFileError(procfs.ProcfsError):
    """A saved kernel log (kernel_log_path) cannot be read."""
