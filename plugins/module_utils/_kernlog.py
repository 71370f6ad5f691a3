# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel log: reading it, and the OOM kills it records.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). :func:`parse_kernel_log` is a pure parser;
:func:`read_log` takes the log from ``/dev/kmsg``, or through ``dmesg`` or
``journalctl`` (run by a callable the caller passes) where the device cannot
be read; :func:`timestamp` dates the events of a log that has only uptimes.
"""

from __future__ import annotations

import datetime
import errno
import gzip
import math
import os
import re
import stat
import zlib
from typing import Callable

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

# What runs when /dev/kmsg cannot be read: (log_source name, argv), in order.
LOG_COMMANDS = (("dmesg", ["dmesg"]),
                ("journal", ["journalctl", "-k", "-b", "-o", "short-monotonic", "--no-pager", "-q"]))

# The kernel log of a captured tree: a file beside its proc directory holding what dmesg, journalctl -k or
# /dev/kmsg gave on the host (any format parse_kernel_log reads), at most TREE_LOG_LIMIT bytes of it.
TREE_LOG = "dmesg"
TREE_LOG_LIMIT = 32 << 20

_LOG_KMSG = re.compile(r"^\d+,\d+,(\d+),[^;]*;(.*)$")
_LOG_BRACKET = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
# journalctl -k -o short-monotonic: "[ 7312.005190] web01 kernel: message"
_LOG_JOURNAL_HOST = re.compile(r"^\S+ kernel: ?(.*)$")
_LOG_SYSLOG = re.compile(
    r"^(\w{3}\s+\d+\s+\d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+)\s+\S+\s+kernel:\s?(.*)$")
_INVOKED = re.compile(r"^(.*) invoked oom-killer: (.*)$")
_KILLED = re.compile(
    r"^(Out of memory|Memory cgroup out of memory)(?: \([^)]*\))?: "
    r"Killed process (\d+) \((.*)\) (total-vm:.*)$")
_LEGACY_SELECTED = re.compile(
    r"^(Out of memory|Memory cgroup out of memory)(?: \([^)]*\))?: "
    r"Kill process (\d+) \((.*)\) score (\d+) or sacrifice child")
_LEGACY_KILLED = re.compile(r"^Killed process (\d+) \((.*)\) (total-vm:.*)$")
_CONSTRAINT = re.compile(r"^oom-kill:(.*)$")
_MEMCG_USAGE = re.compile(r"^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)")
_TASK_IN = re.compile(r"^Task in (\S+) killed as a result of limit of (\S+)")
_COUNTERS = re.compile(r"([A-Za-z_-]+):(-?\d+)(kB)?")
_LOG_KEYWORDS = ("oom", "out of memory", "Killed process", "Kill process", "memory: usage", "Task in ")


def _seconds(text, divisor=1):
    """A log timestamp -> seconds, or None when it is no finite number."""
    try:
        value = float(text) / divisor
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _split_log_line(line):
    """-> (uptime seconds or None, wall-clock text or None, message)."""
    match = _LOG_KMSG.match(line)
    if match:
        return _seconds(match.group(1), 1e6), None, match.group(2)
    wallclock = None
    match = _LOG_SYSLOG.match(line)
    if match:
        wallclock, line = match.group(1), match.group(2)
    match = _LOG_BRACKET.match(line)
    if match:
        message = match.group(2)
        if wallclock is None:
            journal = _LOG_JOURNAL_HOST.match(message)
            if journal:
                message = journal.group(1)
        return _seconds(match.group(1)), wallclock, message
    return None, wallclock, line


def _victim(pid, name, counters):
    """The victim of a "Killed process" line, or None without a readable pid."""
    pid = procfs.to_int(pid)
    if pid is None:
        return None
    values = {}
    for key, number, unit in _COUNTERS.findall(counters):
        number = procfs.to_int(number)
        if number is not None:
            values[key] = number * (procfs.KIB if unit else 1)
    victim = {
        "pid": pid,
        "name": name,
        "uid": values.get("UID"),
        "total_vm_bytes": values.get("total-vm"),
        "anon_rss_bytes": values.get("anon-rss"),
        "file_rss_bytes": values.get("file-rss"),
        "shmem_rss_bytes": values.get("shmem-rss"),
        "pgtables_bytes": values.get("pgtables"),
        "oom_score_adj": values.get("oom_score_adj"),
    }
    parts = [victim[k] for k in ("anon_rss_bytes", "file_rss_bytes", "shmem_rss_bytes")]
    victim["rss_bytes"] = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    return victim


def parse_kernel_log(text: str) -> list[dict]:
    """Kernel log text (``/dev/kmsg`` records, ``dmesg``, ``journalctl -k`` or
    syslog lines) -> list of OOM kill events, oldest first.

    Handles the pre-5.0 pair ("Kill process N (x) score S or sacrifice child"
    then "Killed process ..."), the 5.x single line ("Killed process ...
    oom_score_adj:") and memcg kills with their ``oom-kill:constraint=`` line.
    A bare "Killed process" line with no OOM context is not taken as a kill."""
    events = []
    context = {}
    legacy = None
    for raw in text.splitlines():
        if not any(k in raw for k in _LOG_KEYWORDS) and "Out of memory" not in raw:
            continue
        uptime, wallclock, message = _split_log_line(raw)
        message = message.strip()
        match = _INVOKED.match(message)
        if match:
            details = dict(re.findall(r"(gfp_mask|order|oom_score_adj)=([^,\s]+)", match.group(2)))
            context = {
                "invoker": match.group(1),
                "gfp_mask": details.get("gfp_mask"),
                "order": procfs.to_int(details.get("order")),
                "invoker_oom_score_adj": procfs.to_int(details.get("oom_score_adj")),
            }
            legacy = None
            continue
        match = _CONSTRAINT.match(message)
        if match:
            fields = dict(item.partition("=")[::2] for item in re.split(r",(?=\w+=)", match.group(1)))
            context["constraint"] = fields.get("constraint")
            context["memcg"] = fields.get("oom_memcg")
            context["task_memcg"] = fields.get("task_memcg")
            continue
        match = _MEMCG_USAGE.match(message)
        if match:
            usage, limit = procfs.to_int(match.group(1)), procfs.to_int(match.group(2))
            context["memcg_usage_bytes"] = usage * procfs.KIB if usage is not None else None
            context["memcg_limit_bytes"] = limit * procfs.KIB if limit is not None else None
            continue
        match = _TASK_IN.match(message)
        if match:
            context.setdefault("task_memcg", match.group(1))
            context.setdefault("memcg", match.group(2))
            continue
        match = _LEGACY_SELECTED.match(message)
        if match:
            legacy = {"scope_text": match.group(1), "score": procfs.to_int(match.group(4))}
            continue
        match = _KILLED.match(message)
        scope_text = None
        victim = None
        style = "modern"
        if match:
            scope_text = match.group(1)
            victim = _victim(match.group(2), match.group(3), match.group(4))
        else:
            match = _LEGACY_KILLED.match(message)
            if match and legacy is not None:
                scope_text = legacy["scope_text"]
                victim = _victim(match.group(1), match.group(2), match.group(3))
                if victim is not None:
                    victim["score"] = legacy["score"]
                style = "legacy"
        if victim is None:
            continue
        constraint = context.get("constraint")
        memcg_scope = scope_text.startswith("Memory cgroup") or constraint == "CONSTRAINT_MEMCG"
        events.append({
            "uptime_seconds": uptime,
            "logged_at": wallclock,
            "format": style,
            "scope": "memcg" if memcg_scope else "system",
            "constraint": constraint or ("CONSTRAINT_MEMCG" if memcg_scope else None),
            "memcg": context.get("memcg"),
            "task_memcg": context.get("task_memcg"),
            "memcg_usage_bytes": context.get("memcg_usage_bytes"),
            "memcg_limit_bytes": context.get("memcg_limit_bytes"),
            "invoker": context.get("invoker"),
            "gfp_mask": context.get("gfp_mask"),
            "order": context.get("order"),
            "victim": victim,
        })
        context = {}
        legacy = None
    return events


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
