# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find processes and set their oom_score_adj, safely.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). A process is matched by pid, by name (its
``comm``, which the kernel truncates to 15 characters: a longer name matches
the truncated comm only when argv[0] or the executable carries the full
name), by a regular expression over its command line, or by a list of pids
(a systemd unit's). Writing goes through a directory descriptor of
``/proc/<pid>``: the descriptor pins that process, so once its start time
(stat field 22) is confirmed unchanged, a pid reused by a new process can no
longer be written by mistake; the write fails with ESRCH instead.

Results per process: ``set`` (written and read back), ``unchanged`` (already
at the value), ``vanished`` (exited, or its pid now belongs to another
process), ``denied`` (EACCES/EPERM: lowering below the value the process was
last given by a holder of CAP_SYS_RESOURCE needs that capability).
"""

from __future__ import annotations

import errno
import os
import re
import select
import signal
import time
from typing import Callable, Iterable, Sequence

from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _procfs

MIN_SCORE_ADJ = -1000
MAX_SCORE_ADJ = 1000
NEVER_KILL = -1000
COMM_LEN = 15  # TASK_COMM_LEN - 1

SET, UNCHANGED, VANISHED, DENIED = "set", "unchanged", "vanished", "denied"


class OomError(Exception):
    """Base class of the errors raised here."""


class Refused(OomError):
    """The request is unsafe or invalid; nothing was changed."""


def check_request(score_adj: int, allow_never_kill: bool, pids: Sequence[int] = ()) -> None:
    """Refuse out-of-range values, -1000 and PID 1 without the explicit opt-in."""
    if isinstance(score_adj, bool) or not isinstance(score_adj, int):
        raise Refused("score_adj %r is not an integer; expected -1000..1000" % (score_adj,))
    if not MIN_SCORE_ADJ <= score_adj <= MAX_SCORE_ADJ:
        raise Refused("score_adj %d is out of range; expected -1000..1000 (the legacy oom_adj scale -17..15 "
                      "is not used)" % score_adj)
    if score_adj == NEVER_KILL and not allow_never_kill:
        raise Refused("score_adj -1000 makes a process unkillable by the OOM killer, which can leave the kernel "
                      "no victim but to panic or kill everything else; set allow_never_kill: true to mean it, "
                      "or use -999")
    if 1 in pids and not allow_never_kill:
        raise Refused("the request matches PID 1 (the init process); changing its oom_score_adj also changes what "
                      "every process it starts inherits; set allow_never_kill: true to mean it")


# ---------------------------------------------------------------------------
# matching


def _snapshot(reader, pid):
    """{pid, name, starttime, kernel_thread} from /proc/<pid>/stat. Raises ProcessGone."""
    stat = _procfs.parse_pid_stat(reader.read_pid_record(pid, "stat"))
    return {"pid": pid, "name": stat["comm"], "starttime": stat["starttime"],
            "kernel_thread": bool(stat["flags"] & _procfs.PF_KTHREAD)}


def _argv(reader, pid):
    try:
        return _procfs.parse_cmdline(reader.read_pid(pid, "cmdline", binary=True))
    except _procfs.ProcfsError:
        return []


def _exe_name(reader, pid):
    try:
        target = os.readlink(reader.proc_path(str(pid), "exe"))
    except OSError:
        return None
    if target.endswith(" (deleted)"):
        target = target[:-len(" (deleted)")]
    return os.path.basename(target)


def name_matches(reader: _procfs.Reader, pid: int, comm: str, name: str) -> bool:
    """Whether process ``pid`` with ``comm`` is called ``name``. Names longer
    than the kernel keeps in comm match the truncated comm AND argv[0] or the
    executable's basename (a symlink name shows in argv[0], not in exe)."""
    if len(name) <= COMM_LEN:
        return comm == name
    if comm != name[:COMM_LEN]:
        return False
    argv = _argv(reader, pid)
    if argv and os.path.basename(argv[0]) == name:
        return True
    return _exe_name(reader, pid) == name


def _candidates(reader, exclude):
    for pid in reader.pids():
        if pid in exclude:
            continue
        try:
            snap = _snapshot(reader, pid)
        except (_procfs.ProcessGone, _procfs.AccessDenied, _procfs.ParseError):
            continue  # exited while listed, or not ours to see
        if not snap["kernel_thread"]:
            yield snap


def _own_pids():
    # PID 1 is never ours to leave out, even when it is the parent (a module started by init or a container's
    # entry point): the PID 1 guard must still see it
    return {os.getpid(), os.getppid()} - {1}


def find_by_pid(reader: _procfs.Reader, pids: Iterable[int]) -> list[dict]:
    """Snapshots of ``pids``; a pid that does not exist gives a row-only entry
    with starttime None, reported as vanished."""
    found = []
    for pid in pids:
        try:
            found.append(_snapshot(reader, pid))
        except (_procfs.ProcessGone, _procfs.ParseError):
            found.append({"pid": pid, "name": None, "starttime": None, "kernel_thread": False})
        except _procfs.AccessDenied:
            found.append({"pid": pid, "name": None, "starttime": None, "kernel_thread": False, "denied": True})
    return found


def find_by_name(reader: _procfs.Reader, name: str, exclude: set[int] | None = None) -> list[dict]:
    exclude = _own_pids() if exclude is None else exclude
    return [snap for snap in _candidates(reader, exclude) if name_matches(reader, snap["pid"], snap["name"], name)]


# How long matching cmdline_regex against every command line may take, in all.
MATCH_SECONDS = 3.0
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")


def _parse_regex(pattern):
    try:
        from re import _parser as parser  # Python 3.11+
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse as parser  # pylint: disable=deprecated-module
    return parser.parse(pattern)


def _nested_repeat(items, inside=False):
    """Whether a parsed pattern repeats something that itself repeats
    (``(a+)+``, ``(\\w*\\s?)*``): the shape that backtracks exponentially."""
    for op, value in items:
        if str(op) in _REPEATS:
            low, high, body = value
            if inside and low != high:  # a fixed count ({2}) matches one way only
                return True
            if _nested_repeat(body, inside or high > 1):
                return True
            continue
        for part in value if isinstance(value, (list, tuple)) else (value,):
            for sub in part if isinstance(part, list) else (part,):
                if hasattr(sub, "data") and _nested_repeat(sub, inside):
                    return True
    return False


def compile_regex(pattern: str) -> re.Pattern[str]:
    """The compiled ``cmdline_regex``. Refuses a pattern that does not compile
    and one with a repetition inside a repetition, which can backtrack for hours."""
    try:
        regex = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise Refused("cmdline_regex %r is not a valid regular expression: %s" % (pattern, exc))
    if _nested_repeat(_parse_regex(pattern)):
        raise Refused("cmdline_regex %r repeats a group that itself repeats (as in (a+)+ or (\\w+\\s?)*), which can "
                      "take hours to fail on a long command line; write it without the nested repetition, e.g. "
                      "'celery .*worker' or '^/usr/bin/java .*-jar app[.]jar'" % pattern)
    return regex


def bounded_search(regex: re.Pattern[str], texts: Sequence[str], seconds: float = MATCH_SECONDS) -> list[bool]:
    """Whether ``regex`` is found in each of ``texts``, computed in a child
    process killed after ``seconds``: a search cannot be interrupted in the
    process that runs it. Raises Refused when the child runs out of time."""
    if not texts:
        return []
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read_end)
            answer = "".join("1" if regex.search(text) else "0" for text in texts).encode()
            while answer:
                answer = answer[os.write(write_end, answer):]
        finally:
            os._exit(0)
    os.close(write_end)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while len(received) < len(texts):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                raise Refused(
                    "cmdline_regex %r took more than %g seconds to match %d command lines and was stopped; it "
                    "backtracks too much (alternatives that overlap inside a repetition, as in (a|aa)+): "
                    "simplify it, or select the processes by name" % (regex.pattern, seconds, len(texts)))
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            received += chunk
    finally:
        os.close(read_end)
        if len(received) < len(texts):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    if len(received) != len(texts):
        raise OomError("matching cmdline_regex %r failed in its child process" % regex.pattern)
    return [flag == ord("1") for flag in received]


def find_by_cmdline(reader: _procfs.Reader, pattern: str, exclude: set[int] | None = None,
                    seconds: float = MATCH_SECONDS) -> list[dict]:
    """Processes whose command line (arguments joined by spaces) matches
    ``pattern`` (re.search), all matched within ``seconds`` (bounded_search)."""
    regex = compile_regex(pattern)
    exclude = _own_pids() if exclude is None else exclude
    candidates = []
    for snap in _candidates(reader, exclude):
        argv = _argv(reader, snap["pid"])
        if argv:
            candidates.append((snap, " ".join(argv)))
    matched = bounded_search(regex, [text for unused_snap, text in candidates], seconds)
    return [snap for (snap, unused_text), hit in zip(candidates, matched) if hit]


# ---------------------------------------------------------------------------
# reading and writing through a pinned /proc/<pid> directory


def _open_pid_dir(reader, pid):
    """/proc/<pid> opened without following a link there or out of proc_root
    (_kernel.check_within); oom_score_adj is then written through it, never through a link."""
    path = reader.proc_path(str(pid))
    _kernel.check_within(path, reader.proc_root)
    return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
                   | getattr(os, "O_CLOEXEC", 0))


def _read_at(dir_fd, name):
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=dir_fd)
    try:
        return os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)


def _row(snap, before=None, after=None, result=None, reason=None):
    row = {"pid": snap["pid"], "name": snap["name"], "before": before, "after": after, "result": result}
    if reason:
        row["reason"] = reason
    return row


def _errno_result(exc):
    if exc.errno in (errno.ENOENT, errno.ESRCH, errno.ENOTDIR):
        return VANISHED, "the process exited"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DENIED, ("permission denied (%s): lowering oom_score_adj below the value a holder of "
                        "CAP_SYS_RESOURCE last set needs that capability" % errno.errorcode.get(exc.errno, exc.errno))
    return None, None


def set_score(reader: _procfs.Reader, snap: dict, score_adj: int, check_mode: bool = False) -> dict:
    """Set one process's oom_score_adj; returns its row. Never raises for a
    process that exits, is replaced or refuses: that is the row's result."""
    if snap.get("starttime") is None:
        if snap.get("denied"):
            return _row(snap, result=DENIED, reason="/proc/%s is not readable" % snap["pid"])
        return _row(snap, result=VANISHED, reason="no such process")
    dir_fd = None
    before = None
    try:
        dir_fd = _open_pid_dir(reader, snap["pid"])
        stat = _procfs.parse_pid_stat(_read_at(dir_fd, "stat"))
        if stat["starttime"] != snap["starttime"]:
            return _row(snap, result=VANISHED,
                        reason="pid %s now belongs to another process (start time changed); not written" % snap["pid"])
        before = int(_read_at(dir_fd, "oom_score_adj").strip())
        if before == score_adj:
            return _row(snap, before, before, UNCHANGED)
        if check_mode:
            return _row(snap, before, score_adj, SET)
        _kernel.write_value("oom_score_adj", "%d" % score_adj, dir_fd=dir_fd)
        after = int(_read_at(dir_fd, "oom_score_adj").strip())
        if after != score_adj:
            return _row(snap, before, after, DENIED, reason="the kernel kept %d after writing %d" % (after, score_adj))
        return _row(snap, before, after, SET)
    except OSError as exc:
        result, reason = _errno_result(exc)
        if result is None:
            raise OomError("/proc/%s/oom_score_adj: %s" % (snap["pid"], exc.strerror or exc))
        return _row(snap, before, None, result, reason)
    except (ValueError, _procfs.ParseError) as exc:
        raise OomError("/proc/%s: unexpected content: %s" % (snap["pid"], exc))
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def set_scores(reader: _procfs.Reader, snaps: Iterable[dict], score_adj: int, check_mode: bool = False) -> list[dict]:
    return [set_score(reader, snap, score_adj, check_mode) for snap in snaps]


def read_score(reader: _procfs.Reader, pid: int) -> int | None:
    """The current oom_score_adj of ``pid``, or None when it is gone."""
    try:
        return int(reader.read_pid_record(pid, "oom_score_adj").strip())
    except (_procfs.ProcfsError, ValueError):
        return None


# How long to wait for a just-restarted service's process to show its
# OOMScoreAdjust= (see await_score).
SETTLE_SECONDS = 5.0


def await_score(reader: _procfs.Reader, pid: int, expected: int, timeout: float | None = None,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> int | None:
    """The oom_score_adj of ``pid`` once it equals ``expected``, or what it
    holds when ``timeout`` runs out (None when the process is gone).

    systemd counts a Type=simple service as started right after fork(), before
    the child has applied OOMScoreAdjust= and called exec: read at once, the new
    MainPID can still hold its parent's value."""
    deadline = clock() + (SETTLE_SECONDS if timeout is None else timeout)
    while True:
        actual = read_score(reader, pid)
        if actual == expected or actual is None or clock() >= deadline:
            return actual
        sleep(0.05)


def started_at(reader: _procfs.Reader, pid: int, clock_ticks: int | None = None,
               now: float | None = None) -> float | None:
    """Wall-clock start time (seconds since the epoch) of ``pid``, or None.

    From /proc/uptime rather than btime, which /proc/stat rounds down to the
    second: a process started just after a file was written must not look
    older than the file."""
    try:
        stat = _procfs.parse_pid_stat(reader.read_pid_record(pid, "stat"))
        uptime = _procfs.to_float((reader.proc("uptime") or "").split()[0])
    except (_procfs.ProcfsError, IndexError):
        return None
    if uptime is None or uptime < 0:
        return None
    ticks = clock_ticks or os.sysconf("SC_CLK_TCK")
    now = time.time() if now is None else now
    return now - uptime + stat["starttime"] / float(ticks)
