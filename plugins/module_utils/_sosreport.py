# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A host diagnosed from a sosreport: its proc/, sys/ and sos_commands/ files.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). :func:`open_capture` takes a sosreport
directory or tarball and returns a :class:`Capture`: a procfs tree the
Gatherer reads (the sosreport's ``proc/`` with the sysctl values of
``sos_commands/kernel/sysctl_-a`` where ``proc/sys`` lacks them), its
``sys/``, its kernel log, the processes of its ``ps`` output and what it
lacks. A tarball is unpacked, member by member and only the parts read, into
a temporary directory that ``close()`` removes.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

# The kernel logs a sosreport may hold, the first that exists is read (globs below the sosreport's root).
LOG_CANDIDATES = ("sos_commands/kernel/dmesg", "sos_commands/kernel/dmesg_-T", "var/log/kern.log",
                  "var/log/messages", "var/log/syslog", "sos_commands/logs/journalctl_--no-pager_--catalog_--boot",
                  "sos_commands/logs/journalctl_--no-pager")
# the parts of a sosreport this reads: what a tarball's members are unpacked from
WANTED = ("proc/", "sys/", "sos_commands/kernel/", "sos_commands/memory/", "sos_commands/process/",
          "sos_commands/logs/journalctl_", "var/log/messages", "var/log/kern.log", "var/log/syslog",
          "etc/hostname", "sos_reports/manifest.json", "version.txt")
# what a tarball may unpack, in bytes and members
TARBALL_LIMIT = 1 << 30
TARBALL_MEMBERS = 200000
# the files whose absence the capture lists in ``missing``, with what they are
PARTS = (("proc/meminfo", "memory (proc/meminfo)"), ("proc/vmstat", "VM counters (proc/vmstat)"),
         ("proc/swaps", "swap areas (proc/swaps)"), ("proc/slabinfo", "slab caches (proc/slabinfo)"),
         ("proc/buddyinfo", "fragmentation (proc/buddyinfo)"), ("proc/pressure/memory", "pressure (proc/pressure/memory)"),
         ("proc/uptime", "uptime (proc/uptime)"), ("proc/stat", "boot time (proc/stat)"),
         ("sys/kernel/mm/transparent_hugepage/enabled", "transparent hugepages (sys/kernel/mm)"))
PS_FILE = "sos_commands/process/ps_auxwww"
PS_UIDS_FILE = "sos_commands/process/ps_alxwww"
SYSCTL_FILE = "sos_commands/kernel/sysctl_-a"
# the most read of any one file of the sosreport
FILE_LIMIT = 64 << 20
_SYSCTL_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_STATE = re.compile(r"^[A-Za-z]")


class CaptureError(procfs.ProcfsError):
    """The sosreport cannot be read: what is wrong and what to give instead."""


class Capture:
    """A sosreport opened for the Gatherer: ``proc_root``, ``sys_root``, ``log_file`` (None without one),
    ``info`` (the ``capture`` facts) and ``scan`` (the processes of its ps output, or None where its
    proc/ has per-process directories). ``close()`` removes what was unpacked or assembled."""

    def __init__(self, path: str, kind: str, root: str, workdir: str) -> None:
        self.path = path
        self.root = root
        self.workdir = workdir
        self.proc_root = os.path.join(workdir, "proc")
        self.sys_root = os.path.join(root, "sys")
        self.missing: list[str] = []
        self.log_file = None
        self.ps_rows: list[dict] | None = None
        self.kernel_threads = 0
        self.info = {"type": kind, "path": path, "hostname": None, "taken_at": None, "sos_version": None,
                     "log_file": None, "processes_from": None, "sysctl_from": None, "missing": self.missing}

    def scan(self) -> tuple:
        """The processes of the sosreport's ps output as the Gatherer's scan gives them."""
        return [dict(row) for row in self.ps_rows or []], 0, 0, self.kernel_threads

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def inputs(params: dict) -> tuple:
    """(capture, reader, gather options) for mem_facts' ``params``: without ``sosreport``, no capture and the
    reader of proc_root and sys_root; with it, the opened Capture (close it), its reader, and its log (none read
    when it holds none: this host's would be another's) and processes. Raises CaptureError."""
    if not params.get("sosreport"):
        return None, procfs.Reader(params["proc_root"], params["sys_root"]), {}
    given = [name for name, default in (("proc_root", "/proc"), ("sys_root", "/sys"), ("kernel_log_path", None))
             if params.get(name) not in (default, None)]
    if given:
        raise CaptureError("sosreport gives the host's proc, sys and kernel log; leave out %s (or leave out "
                           "sosreport and give them alone)" % " and ".join(given))
    capture = open_capture(params["sosreport"])
    options = {"log_file": capture.log_file}
    if capture.log_file is None:
        options["use_kernel_log"] = False
    if capture.ps_rows is not None:
        options["process_scan"] = capture.scan
    return capture, procfs.Reader(capture.proc_root, capture.sys_root), options


def open_capture(path: str, limit: int = TARBALL_LIMIT) -> Capture:
    """The sosreport at ``path`` (a directory, or a tarball unpacked here), ready to be gathered. Raises CaptureError."""
    path = os.path.abspath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise CaptureError("sosreport %s: %s; give the directory or tarball sos report wrote" % (path, exc.strerror or exc))
    workdir = tempfile.mkdtemp(prefix="memops-sosreport-")
    try:
        if stat.S_ISDIR(mode):
            capture = Capture(path, "sosreport directory", _report_root(path), workdir)
        elif stat.S_ISREG(mode):
            capture = Capture(path, "sosreport tarball", _unpack(path, os.path.join(workdir, "report"), limit), workdir)
        else:
            raise CaptureError("sosreport %s: neither a directory nor a regular file (a FIFO, socket or device); give "
                               "the directory or tarball sos report wrote" % path)
        _assemble(capture)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return capture


def _report_root(path):
    """The sosreport's own directory: ``path``, or its one subdirectory holding it (an unpacked tarball's)."""
    if _looks_like_report(path):
        return path
    try:
        entries = [os.path.join(path, name) for name in os.listdir(path)]
    except OSError as exc:
        raise CaptureError("sosreport %s: %s" % (path, exc.strerror or exc))
    inner = [entry for entry in entries if os.path.isdir(entry) and not os.path.islink(entry)]
    if len(inner) == 1 and _looks_like_report(inner[0]):
        return inner[0]
    raise CaptureError("sosreport %s: no proc/ nor sos_commands/ directory: not a sosreport; give the directory or "
                       "tarball sos report wrote (made with the memory, kernel, process and logs plugins)" % path)


def _looks_like_report(path):
    return any(os.path.isdir(os.path.join(path, name)) for name in ("proc", "sos_commands"))


def _unpack(tarball, target, limit):
    """Unpack the members of ``tarball`` that WANTED names into ``target``: regular files and directories only,
    none outside target (absolute names, ``..``), at most ``limit`` bytes. Returns the sosreport's root."""
    try:
        archive = tarfile.open(tarball, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CaptureError("sosreport %s: not a readable tarball (%s); give the .tar.xz, .tar.gz or .tar sos report "
                           "wrote, or the directory unpacked from it" % (tarball, exc))
    os.mkdir(target, 0o700)
    size = count = 0
    try:
        for member in archive:
            count += 1
            if count > TARBALL_MEMBERS:
                raise CaptureError("sosreport %s: more than %d members; unpack it and give the directory"
                                   % (tarball, TARBALL_MEMBERS))
            relative = _member_path(tarball, member.name)
            if relative is None or not (member.isreg() or member.isdir()):
                continue  # links, devices and FIFOs are never made
            parts = relative.split("/", 1)
            if len(parts) < 2 or not parts[1].startswith(WANTED):
                continue
            size += member.size
            if size > limit:
                raise CaptureError("sosreport %s: its memory, kernel, process and log files hold more than %d MiB "
                                   "unpacked; unpack it and give the directory" % (tarball, limit >> 20))
            destination = os.path.join(target, relative)
            if member.isdir():
                os.makedirs(destination, 0o700, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(destination), 0o700, exist_ok=True)
            source = archive.extractfile(member)
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(source, handle)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CaptureError("sosreport %s: a corrupt or truncated tarball (%s); give it again, or the directory "
                           "unpacked from it" % (tarball, exc))
    finally:
        archive.close()
    return _report_root(target)


def _member_path(tarball, name):
    """A member's name below the tarball's root, or None for one that would land outside it (refused)."""
    name = name.replace("\\", "/")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise CaptureError("sosreport %s: member %r points outside the tarball; not unpacked - make the sosreport "
                           "again" % (tarball, name))
    return "/".join(parts) or None


def _assemble(capture):
    """The procfs tree the Gatherer reads: the sosreport's proc/ entries (links to them), with proc/sys made
    of its own files over the values of sysctl_-a; then the log, the processes, what is known of the host."""
    root = capture.root
    proc = os.path.join(root, "proc")
    os.mkdir(capture.proc_root, 0o700)
    meminfo = os.path.join(proc, "meminfo")
    if not _is_regular(meminfo) or not _inside(root, meminfo):
        raise CaptureError("sosreport %s: no proc/meminfo; without the size of RAM nothing can be judged - make the "
                           "sosreport with the memory plugin (sos report -o memory,kernel,process,logs)" % capture.path)
    for name in sorted(os.listdir(proc)):
        entry = os.path.join(proc, name)
        if name != "sys" and _inside(root, entry):
            os.symlink(entry, os.path.join(capture.proc_root, name))
    _sysctl_tree(capture)
    for relative, what in PARTS:
        if not _is_regular(os.path.join(root, relative)):
            capture.missing.append(what)
    _kernel_log(capture)
    _processes(capture)
    _host(capture)


def _inside(root, entry):
    """Whether entry is, links resolved, below root: a link out of the sosreport (to this host's /proc) is not followed."""
    real_root = os.path.realpath(root)
    return os.path.realpath(entry).startswith(real_root + os.sep)


def _is_regular(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _read(path, limit=FILE_LIMIT):
    try:
        data = procfs.Reader().read_bytes(path, limit=limit)
    except procfs.ProcfsError:
        return None
    return None if data is None else data.decode("utf-8", "replace")


def _sysctl_tree(capture):
    target = os.path.join(capture.proc_root, "sys")
    written = 0
    text = _read(os.path.join(capture.root, SYSCTL_FILE))
    for line in (text or "").splitlines():
        name, sep, value = line.partition(" = ")
        if not sep or not _SYSCTL_NAME.match(name) or ".." in name:
            continue
        written += _write(os.path.join(target, *name.split(".")), value.strip() + "\n")
    own = os.path.join(capture.root, "proc", "sys")
    for directory, dummy, names in os.walk(own):
        for name in names:
            source = os.path.join(directory, name)
            value = _read(source) if _inside(capture.root, source) else None
            if value is not None:
                written += _write(os.path.join(target, os.path.relpath(source, own)), value)
    vm = os.path.isdir(os.path.join(target, "vm"))
    capture.info["sysctl_from"] = SYSCTL_FILE if text else ("proc/sys" if vm else None)
    if not vm:
        capture.missing.append("sysctl values (proc/sys/vm, %s)" % SYSCTL_FILE)


def _write(path, value):
    try:
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(value)
    except OSError:  # a name that is both a value and a directory: the first kept
        return 0
    return 1


def _kernel_log(capture):
    for relative in LOG_CANDIDATES:
        path = os.path.join(capture.root, relative)
        if _is_regular(path) and os.path.getsize(path) > 0 and _inside(capture.root, path):
            capture.log_file = path
            capture.info["log_file"] = relative
            return
    capture.missing.append("kernel log (%s)" % ", ".join(LOG_CANDIDATES[:4]))


def _processes(capture):
    proc = os.path.join(capture.root, "proc")
    if any(name.isdigit() for name in os.listdir(proc)):
        capture.info["processes_from"] = "proc"
        return
    text = _read(os.path.join(capture.root, PS_FILE))
    if not text:
        capture.missing.append("processes (proc/<pid>, %s)" % PS_FILE)
        capture.ps_rows = []
        return
    capture.info["processes_from"] = PS_FILE
    uids = parse_ps_alx(_read(os.path.join(capture.root, PS_UIDS_FILE)) or "")
    capture.ps_rows, capture.kernel_threads = parse_ps_aux(text, uids)


def parse_ps_aux(text: str, extra: dict | None = None) -> tuple[list[dict], int]:
    """(rows, kernel threads) of ``ps auxwww`` output: a row per user-space process with pid, name, user, uid and
    ppid (from ``extra``, parse_ps_alx, where known), state, rss_bytes, vsz_bytes and cmdline; what ps does not
    say (swap, OOM score, start time in ticks) is None or 0."""
    extra = extra or {}
    rows = []
    kthreads = 0
    for line in text.splitlines()[1:]:
        fields = line.split(None, 10)
        if len(fields) < 11 or not fields[1].isdigit():
            continue
        pid, vsz, rss = int(fields[1]), procfs.to_int(fields[4]), procfs.to_int(fields[5])
        command = fields[10].strip()
        if vsz == 0 and command.startswith("["):
            kthreads += 1
            continue
        first = command.split()[0] if command.split() else ""
        uid, ppid = extra.get(pid, (None, None))
        rows.append({
            "pid": pid, "name": os.path.basename(first).lstrip("-").rstrip(":")[:15] or command[:15],
            "uid": uid, "user": fields[0], "state": fields[7][:1] if _STATE.match(fields[7]) else None,
            "ppid": ppid, "starttime": None, "rss_bytes": (rss or 0) * 1024, "vsz_bytes": (vsz or 0) * 1024,
            "swap_bytes": 0, "oom_score": None, "oom_score_adj": None, "cmdline": command[:procfs.CMDLINE_LIMIT],
        })
    return rows, kthreads


def parse_ps_alx(text: str) -> dict:
    """{pid: (uid, ppid)} from ``ps alxwww`` output."""
    result = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1].isdigit() and fields[2].isdigit() and fields[3].isdigit():
            result[int(fields[2])] = (int(fields[1]), int(fields[3]))
    return result


def _host(capture):
    root = capture.root
    hostname = (_read(os.path.join(root, "etc", "hostname")) or "").strip()
    if not hostname:
        uname = (_read(os.path.join(root, "sos_commands", "kernel", "uname_-a")) or "").split()
        hostname = uname[1] if len(uname) > 1 else ""
    if not hostname:
        match = re.match(r"^sosreport-(.+?)-\d{4}-\d{2}-\d{2}-", os.path.basename(root))
        hostname = match.group(1) if match else ""
    capture.info["hostname"] = hostname or None
    try:
        manifest = json.loads(_read(os.path.join(root, "sos_reports", "manifest.json")) or "{}")
    except ValueError:
        manifest = {}
    started = manifest.get("start_time") if isinstance(manifest, dict) else None
    if isinstance(started, str):
        try:
            capture.info["taken_at"] = datetime.datetime.strptime(started[:19], "%Y-%m-%d %H:%M:%S").strftime(
                "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            capture.info["taken_at"] = None
    version = (_read(os.path.join(root, "version.txt")) or "").splitlines()
    if version and version[0].startswith("sosreport:"):
        capture.info["sos_version"] = version[0].split(":", 1)[1].strip()
