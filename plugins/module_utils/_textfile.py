# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Configuration files edited a line at a time, written atomically.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Text is decoded with ``surrogateescape``,
so bytes that are not UTF-8 survive a read, edit and write unchanged; lines
keep their own endings (LF or CRLF); files are replaced through a temporary
file in the same directory and a rename, so a reader sees the old file or the
new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from typing import Callable

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class TextFileError(Exception):
    """A file could not be read or written."""


class ModeError(ValueError):
    """A file mode that is not octal, above 07777 or keeps the owner from reading and writing."""


_MODE_EXAMPLE = 'give it as a quoted octal string, for example mode: "0600" (or "0640" to share with the group)'


def parse_mode(value: int | str) -> int:
    """The mode bits of ``value``: an octal string ("0600", "600", "0o600") or an int, as an
    unquoted 0600 in YAML gives. The owner must be able to read and write: the files are
    rewritten on every run. Raises ModeError naming the option ``mode``."""
    if isinstance(value, str):
        value = str(value)  # a plain str, whatever subclass templating gave, for the messages
    if isinstance(value, str) and re.match(r"^(0o)?[0-7]+$", value, re.IGNORECASE):
        shown, mode = repr(value), int(value, 8)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        # an unquoted 644 in YAML is the decimal 644, octal 01204
        shown, mode = "%d (octal %04o)" % (value, value), value
    else:
        raise ModeError("mode %r is not an octal file mode; %s" % (value, _MODE_EXAMPLE))
    if mode > 0o7777:
        raise ModeError("mode %s is above 07777; %s" % (shown, _MODE_EXAMPLE))
    if (mode & 0o600) != 0o600:
        raise ModeError("mode %s does not let the owner read and write the file; %s" % (shown, _MODE_EXAMPLE))
    return mode


def directory_mode(mode: int) -> int:
    """The mode of a directory that holds files of ``mode``: search (x) wherever read is set,
    so 0600 gives 0700, 0640 gives 0750, 0644 gives 0755."""
    return mode | ((mode & 0o444) >> 2)


def file_mode(path: str) -> int | None:
    """The mode bits of ``path`` (a symlink is followed), or None when it does not exist.
    Raises TextFileError."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TextFileError("cannot read the mode of %s: %s" % (path, exc.strerror or exc))


def make_directories(path: str, mode: int) -> None:
    """Create ``path`` and its missing parents, each with exactly ``mode`` (the umask does not
    apply), keeping the set-group-ID bit a new directory inherits, as mkdir -m does, so that
    the files below keep the group of a shared parent. Directories that exist are left as
    they are. Raises OSError."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_directories(parent, mode)
    try:
        # owner-only until the chmod: the directory is never wider than asked, not even briefly
        os.mkdir(path, 0o700)
    except FileExistsError:
        if os.path.isdir(path):
            return  # created meanwhile by someone else
        raise
    os.chmod(path, mode | (os.stat(path).st_mode & stat.S_ISGID))


def decode(data: bytes) -> str:
    return data.decode(_ENCODING, _ERRORS)


def encode(text: str) -> bytes:
    return text.encode(_ENCODING, _ERRORS)


def read_text(path: str) -> str | None:
    """The text of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return decode(handle.read())
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TextFileError("cannot read %s: %s" % (path, exc.strerror or exc))


def split_lines(text: str) -> list[str]:
    """Lines with their endings; joining them gives the text back byte for byte.
    Splits on '\\n' only: a lone '\\r' or form feed stays inside its line."""
    lines = re.split(r"(?<=\n)", text) if text else []
    if lines and not lines[-1]:
        lines.pop()  # the empty remainder after a final newline
    return lines


def line_ending(text: str) -> str:
    """The ending new lines should get: CRLF when most lines of ``text`` have it."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def atomic_write(path: str, text: str, mode: int | None = None, replace: Callable[[str, str], None] = os.replace,
                 dir_mode: int = 0o755) -> str:
    """Replace ``path`` with ``text`` atomically.

    A symlink is followed and its target replaced. The directory and its missing
    parents are created with ``dir_mode`` (see make_directories). The temporary
    file gets ``mode``, or when None the old file's mode and owner (0644 for a
    new file), is synced, then ``replace(tmp, target)`` renames it into place (a
    module passes ``AnsibleModule.atomic_move``, which also keeps SELinux labels)
    and the directory is synced. The temporary file never outlives a failure.
    Raises TextFileError."""
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    temp = None
    try:
        try:
            current = os.stat(target)
        except FileNotFoundError:
            current = None
        make_directories(directory, dir_mode)
        fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".tmp", dir=directory)
        try:
            if mode is not None or current is None:
                os.fchmod(fd, 0o644 if mode is None else mode)
            else:
                os.fchmod(fd, current.st_mode & 0o7777)
                os.fchown(fd, current.st_uid, current.st_gid)
            data = encode(text)
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        replace(temp, target)
        temp = None
        if mode is not None:
            os.chmod(target, mode)  # atomic_move copies the old file's mode onto the new one
        _sync_directory(directory)
    except Exception as exc:  # atomic_move raises plain Exception on newer ansible-core
        raise TextFileError("cannot write %s: %s; the file was left as it was"
                            % (target, getattr(exc, "strerror", None) or exc))
    finally:
        if temp is not None and os.path.lexists(temp):
            os.unlink(temp)
    return target


def _sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
