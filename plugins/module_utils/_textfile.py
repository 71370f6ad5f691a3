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
    """A file mode that is not octal, above 07777, keeps the owner from reading and writing, lets others
    write or sets special bits."""


_MODE_EXAMPLE = 'give it as a quoted octal string, for example mode: "0600" (or "0640" to share with the group)'


def parse_mode(value: int | str, option: str = "mode", directory: bool = False) -> int:
    """The mode bits of ``value``: an octal string ("0600", "600", "0o600") or an int, as an
    unquoted 0600 in YAML gives. The owner must be able to read and write (and, for a
    ``directory``, search): the files are rewritten on every run. Nobody else may write
    (another user could replace what the owner wrote, or plant a link), and a file gets no
    set-user-ID, set-group-ID or sticky bit (a directory may keep set-group-ID, to share its
    group). Raises ModeError naming ``option``."""
    if isinstance(value, str):
        value = str(value)  # a plain str, whatever subclass templating gave, for the messages
    if isinstance(value, str) and re.match(r"^(0o)?[0-7]+$", value, re.IGNORECASE):
        shown, mode = repr(value), int(value, 8)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        # an unquoted 644 in YAML is the decimal 644, octal 01204
        shown, mode = "%d (octal %04o)" % (value, value), value
    else:
        raise ModeError("%s %r is not an octal file mode; %s" % (option, value, _example(option, directory)))
    problem = None
    owner = 0o700 if directory else 0o600
    special = stat.S_ISUID | stat.S_ISVTX | (0 if directory else stat.S_ISGID)
    if mode > 0o7777:
        problem = "is above 07777"
    elif (mode & owner) != owner:
        problem = "does not let the owner read, write and search the directory" if directory \
            else "does not let the owner read and write the file"
    elif mode & 0o022:
        problem = "lets other users write (group or world write bit); they could replace or link what is written"
    elif mode & special:
        problem = "sets a set-user-ID, set-group-ID or sticky bit, which %s needs none of" \
            % ("a report directory" if directory else "a written file")
    if problem:
        raise ModeError("%s %s %s; %s" % (option, shown, problem, _example(option, directory)))
    return mode


def _example(option: str, directory: bool) -> str:
    if option == "mode" and not directory:
        return _MODE_EXAMPLE
    return 'give it as a quoted octal string, for example %s: "%s"' % (option, "0700" if directory else "0600")


def file_mode(path: str, follow: bool = True) -> int | None:
    """The mode bits of ``path`` (a symlink is followed, unless not ``follow``: then a link
    gives its own mode, 0777, never the mode asked for), or None when it does not exist.
    Raises TextFileError."""
    try:
        return (os.stat(path) if follow else os.lstat(path)).st_mode & 0o7777
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
    """The text of ``path``, or None when it does not exist. Links are followed (a sysctl.d entry may be one),
    but only a regular file is read: a FIFO put there would block the read for ever, a device need not end.
    A link to /dev/null (how systemd masks a configuration file) reads as empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode):
                return decode(handle.read())
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == os.stat(os.devnull).st_rdev:
                return ""
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise TextFileError("cannot read %s: %s" % (path, exc.strerror or exc))
    raise TextFileError("cannot read %s: not a regular file (a FIFO, socket, device or directory)" % path)


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
                 dir_mode: int = 0o755, follow: bool = True) -> str:
    """Replace ``path`` with ``text`` atomically.

    A symlink is followed and its target replaced; unless not ``follow``: then
    a link (or any file that is not a regular one) at ``path`` is itself
    replaced, nothing is ever written or chmod-ed through it (the O_NOFOLLOW
    semantics the files a controller writes into a shared directory need,
    where another user could plant a link). The directory and its missing
    parents are created with ``dir_mode`` (see make_directories). The temporary
    file gets ``mode``, or when None the old file's mode and owner (0644 for a
    new file), is synced, then ``replace(tmp, target)`` renames it into place (a
    module passes ``AnsibleModule.atomic_move``, which also keeps SELinux labels)
    and the directory is synced. The temporary file never outlives a failure.
    Raises TextFileError."""
    target = os.path.realpath(path) if follow else os.path.abspath(path)
    directory = os.path.dirname(target)
    temp = None
    try:
        try:
            current = os.stat(target) if follow else os.lstat(target)
        except FileNotFoundError:
            current = None
        if not follow and current is not None and not stat.S_ISREG(current.st_mode):
            current = None  # a link lends neither its mode nor its owner
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
            _chmod(target, mode, follow)  # atomic_move copies the old file's mode onto the new one
        _sync_directory(directory)
    except Exception as exc:  # atomic_move raises plain Exception on newer ansible-core
        raise TextFileError("cannot write %s: %s; the file was left as it was"
                            % (target, getattr(exc, "strerror", None) or exc))
    finally:
        if temp is not None and os.path.lexists(temp):
            os.unlink(temp)
    return target


def _chmod(path, mode, follow):
    if follow:
        os.chmod(path, mode)
        return
    # through a descriptor of the file itself: a link swapped in after the rename is refused (ELOOP)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "%s was replaced by something that is not a regular file" % path)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
