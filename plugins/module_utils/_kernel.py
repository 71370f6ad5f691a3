# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Writing the kernel's files: one value at a time, and all-or-nothing sets of them.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), part of the host layer. Every write to
``/proc/sys``, sysfs, a cgroup or ``/proc/<pid>`` goes through
:func:`write_value`, which makes one ``write()`` (a kernel handler parses what
it gets from offset 0) and turns the errno into an error that says what it
means: not permitted here, no such file (or process), or refused by the kernel.
The callers phrase the advice of their own domain from that.

:func:`apply_all` is the transaction the sysctl and THP modules share: write
each value, read it back, and when the kernel refuses one or keeps another
value, put back what the call had written, most recent first.
"""

from __future__ import annotations

import errno
import os
from typing import Callable, Iterable, Sequence

# A kernel file is never a symbolic link: one found there is not followed.
_OPEN_FLAGS = os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class KernelWriteError(OSError):
    """A write the kernel did not take. ``path``, ``errno`` and ``strerror`` say which and why;
    an OSError still, so that code reading ``errno`` treats it as the one it stands for."""

    def __init__(self, path: str, code: int | None, strerror: str) -> None:
        super().__init__(code, strerror, path)
        self.path = path

    def __str__(self) -> str:
        return "%s: %s" % (self.path, self.strerror)


class NotPermitted(KernelWriteError):
    """EROFS, EACCES, EPERM: this process may not write there (read-only mount, no privilege)."""


class NotFound(KernelWriteError):
    """ENOENT, ENOTDIR, ENODEV, ESRCH: the file, or the process it belongs to, does not exist."""


class Rejected(KernelWriteError):
    """Any other errno (EINVAL, EBUSY, ERANGE, ...): the kernel refused the value."""


class OutsideRoot(KernelWriteError):
    """The path leads out of the tree it was named under (proc_root, sys_root) through a symbolic link."""


_CATEGORIES = (
    ((errno.EROFS, errno.EACCES, errno.EPERM), NotPermitted),
    ((errno.ENOENT, errno.ENOTDIR, errno.ENODEV, errno.ESRCH), NotFound),
)


def classify(exc: OSError, path: str) -> KernelWriteError:
    """The KernelWriteError for an OSError met writing ``path``."""
    kind = next((category for codes, category in _CATEGORIES if exc.errno in codes), Rejected)
    return kind(path, exc.errno, exc.strerror or str(exc))


def check_within(path: str, root: str) -> None:
    """Raises OutsideRoot when ``path``, its directories' links resolved, is
    not below ``root`` (its links resolved too), or is itself a link: a tree
    given as proc_root or sys_root is never written through a link out of it."""
    real_root = os.path.realpath(root)
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    if os.path.islink(real) or os.path.commonpath([real_root, real]) != real_root:
        target = os.path.realpath(real)
        raise OutsideRoot(path, errno.ELOOP, "leads out of %s (to %s) through a symbolic link; nothing was written "
                                             "through it: point the root option at a tree without links out of it"
                          % (root, target))


def _write(path: str, data: bytes, dir_fd: int | None = None) -> None:
    fd = os.open(path, _OPEN_FLAGS, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_value(path: str, value: object, dir_fd: int | None = None, root: str | None = None) -> None:
    """Write ``value`` (its text, ASCII) to a kernel file in one ``write()``;
    ``dir_fd`` makes ``path`` relative to an open directory (a pinned
    ``/proc/<pid>``). With ``root``, ``path`` must lie below it (check_within).
    A link as the file itself is never followed. Raises NotPermitted, NotFound,
    Rejected or OutsideRoot."""
    if root is not None:
        check_within(path, root)
    try:
        _write(path, str(value).encode("ascii"), dir_fd)
    except OSError as exc:
        raise classify(exc, path)


def change_diff(runtime_before: str, runtime_after: str, **files: tuple) -> dict:
    """The diff of a change to the kernel: the runtime values as text, and each file
    that persists them (``name=(text before, text after)``, None for no file)."""
    diff = {"runtime": {"before": runtime_before, "after": runtime_after}}
    diff.update((name, {"before": before or "", "after": after or ""}) for name, (before, after) in files.items())
    return diff


# ---------------------------------------------------------------------------
# all or nothing


class Undone(Exception):
    """A value of :func:`apply_all` did not take; what the call had written was put back.

    ``name`` and ``desired`` say which; ``cause`` is the error the write or the
    read raised, or None when the kernel took the write but holds ``current``;
    ``rollback`` is what :func:`rollback` did."""

    def __init__(self, name: str, desired: str, current: str | None, cause: Exception | None,
                 rollback: list[dict]) -> None:
        super().__init__(str(cause) if cause is not None else "%s: holds %s, not %s" % (name, current, desired))
        self.name = name
        self.desired = desired
        self.current = current
        self.cause = cause
        self.rollback = rollback


def apply_all(changes: Iterable[Sequence[str]], write: Callable[[str, str], None], read: Callable[[str], str],
              same: Callable[[str, str], bool], errors: tuple = (KernelWriteError,)) -> dict:
    """Write each ``(name, before, desired)`` of ``changes`` in order and read it back.

    ``write(name, value)`` and ``read(name)`` reach the kernel and raise one of
    ``errors``; ``same(a, b)`` compares two values as the kernel means them.
    Returns {name: value read back}. When a write fails or reads back as
    another value, that setting and every one written before it are put back
    (see :func:`rollback`) and :class:`Undone` is raised."""
    applied: list[tuple[str, str]] = []
    after = {}
    for name, before, desired in changes:
        try:
            write(name, desired)
            current = read(name)
        except errors as exc:
            # a multi-value write can store its first numbers before failing
            raise Undone(name, desired, None, exc, rollback([(name, before)] + applied, write, read, same, errors))
        if not same(current, desired):
            raise Undone(name, desired, current, None,
                         rollback([(name, before)] + applied, write, read, same, errors))
        applied.insert(0, (name, before))
        after[name] = current
    return after


def rollback(pairs: Iterable[Sequence[str]], write: Callable[[str, str], None], read: Callable[[str], str],
             same: Callable[[str, str], bool], errors: tuple = (KernelWriteError,)) -> list[dict]:
    """Put each ``(name, before)`` of ``pairs`` back, in the order given (most
    recent first), where the kernel holds something else now. Returns one
    {name, before, restored, holds, error} per setting written back or that
    could not be: ``restored`` is whether it reads back as ``before``."""
    done = []
    for name, before in pairs:
        try:
            if same(read(name), before):
                continue
            write(name, before)
            holds = read(name)
            done.append({"name": name, "before": before, "restored": same(holds, before), "holds": holds,
                         "error": None})
        except errors as exc:
            done.append({"name": name, "before": before, "restored": False, "holds": None, "error": exc})
    return done
