# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An fstab editor that owns one line and leaves every other byte alone.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Entries are keyed on their source path
(the first field, ``\\040``-style escapes undone), never on the mount point:
every swap line has ``none`` or ``swap`` there, so keying on it makes one swap
entry replace another. Comments, blank lines, ``UUID=``/``LABEL=`` lines, tabs,
CRLF endings and bytes that are not UTF-8 survive an edit unchanged. Files are
replaced atomically: a temporary file in the same directory, fsync, rename.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Callable

from ansible_collections.memops.linux.plugins.module_utils._procfs import _unescape_octal
from ansible_collections.memops.linux.plugins.module_utils._textfile import (
    TextFileError, atomic_write, line_ending, read_text, split_lines,
)

DEFAULT_OPTIONS = "sw"


class FstabError(Exception):
    """fstab cannot be read, edited or written as asked."""


def read(path: str) -> str:
    """The text of ``path`` ('' when it does not exist)."""
    try:
        return read_text(path) or ""
    except TextFileError as exc:
        raise FstabError(str(exc))


# Every character str.split() splits a line on, less the three the kernel and
# fstab escape as \ooo (space, tab, newline): a path holding one of these
# cannot be written as one field that reads back as itself (nor read back
# from /proc/swaps, where the kernel leaves them raw).
UNSAFE_WHITESPACE = frozenset(
    "\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def check_path(path: str) -> None:
    """Raises FstabError when ``path`` holds whitespace an fstab field cannot carry."""
    unsafe = sorted(set(path) & UNSAFE_WHITESPACE)
    if unsafe:
        raise FstabError(
            "path %r holds %s, whitespace that fstab and /proc/swaps cannot carry as part of one field (only "
            "space, tab and newline have escapes there); choose a path without it"
            % (path, ", ".join("U+%04X" % ord(c) for c in unsafe)))


def escape(path: str) -> str:
    """A path as an fstab field: space, tab, newline and backslash as octal escapes.
    Raises FstabError for the whitespace no escape carries (check_path)."""
    check_path(path)
    return "".join("\\%03o" % ord(c) if c in " \t\n\\" else c for c in path)


def _ending(line):
    if line.endswith("\r\n"):
        return "\r\n"
    return "\n" if line.endswith("\n") else ""


def _fields(line):
    """The fields of an entry line, or None for comments and blank lines."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    return fields


def _same_path(field, path):
    return os.path.normpath(_unescape_octal(field)) == os.path.normpath(path)


def _priority(options):
    for option in options.split(","):
        key, equals, value = option.partition("=")
        if key == "pri" and equals:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def find(text: str, path: str) -> list[tuple[int, list[str]]]:
    """Entries whose source is ``path`` -> list of (line index, fields)."""
    found = []
    for index, line in enumerate(split_lines(text)):
        fields = _fields(line)
        if fields and _same_path(fields[0], path):
            found.append((index, fields))
    return found


def swap_entry(text: str, path: str) -> dict | None:
    """The swap entry of ``path`` -> {line, priority, options}, or None.

    Raises FstabError when ``path`` is the source of an entry of another type:
    that line is not ours to change."""
    entries = find(text, path)
    for index, fields in entries:
        if len(fields) < 3 or fields[2] != "swap":
            raise FstabError(
                "line %d names %s with type %s, not swap; that entry is not a swap file's: fix or remove it by hand"
                % (index + 1, path, fields[2] if len(fields) > 2 else "(none)"))
    if not entries:
        return None
    index, fields = entries[0]
    options = fields[3] if len(fields) > 3 else "defaults"
    return {"line": split_lines(text)[index].rstrip("\r\n"), "priority": _priority(options), "options": options}


def _options_with_priority(options, priority):
    kept = [o for o in options.split(",") if o and not o.startswith("pri=")]
    if priority is not None:
        kept.append("pri=%d" % priority)
    return ",".join(kept) or DEFAULT_OPTIONS


def render(path: str, priority: int | None = None, options: str = DEFAULT_OPTIONS) -> str:
    """The line for a swap file: '/swapfile none swap sw,pri=5 0 0'."""
    return "%s none swap %s 0 0" % (escape(path), _options_with_priority(options, priority))


def set_swap(text: str, path: str, priority: int | None = None, manage_priority: bool = True) -> str:
    """``text`` with exactly one swap entry for ``path``.

    An existing entry that already says what is wanted is left byte-identical;
    one that differs is rewritten (keeping its options other than ``pri=`` and
    its line ending); later duplicates are dropped; a missing one is appended
    with the file's line ending. Every other line is left as it is."""
    swap_entry(text, path)  # refuses entries of other types
    lines = split_lines(text)
    entries = find(text, path)
    if entries:
        index, fields = entries[0]
        options = fields[3] if len(fields) > 3 else "defaults"
        if manage_priority and _priority(options) != priority:
            lines[index] = render(path, priority, options) + _ending(lines[index])
        for index, unused_fields in reversed(entries[1:]):
            del lines[index]
        return "".join(lines)
    ending = line_ending(text)
    if lines and not _ending(lines[-1]):
        lines[-1] += ending
    lines.append(render(path, priority if manage_priority else None) + ending)
    return "".join(lines)


def remove(text: str, path: str) -> str:
    """``text`` without the swap entries of ``path``."""
    swap_entry(text, path)
    lines = split_lines(text)
    for index, unused_fields in reversed(find(text, path)):
        del lines[index]
    return "".join(lines)


def backup_copy(path: str) -> str:
    """Copies ``path`` next to itself, named as Ansible's backup option names
    it; what runs without AnsibleModule.backup_local uses this."""
    backup = "%s.%s.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~"))
    shutil.copy2(path, backup)
    return backup


def write(path: str, text: str, backup: Callable[[str], str] | None = None,
          replace: Callable[[str, str], None] = os.replace) -> str | None:
    """Replace ``path`` atomically with ``text`` (the collection's text-file
    writer: temporary file in the same directory, old mode and owner, fsync,
    rename). ``backup(path)``, when given and the file exists, copies it first
    and returns the copy's name, which is returned."""
    backup_path = None
    try:
        if backup is not None and os.path.exists(path):
            backup_path = backup(path)
        atomic_write(path, text, replace=replace)
    except (OSError, TextFileError) as exc:
        raise FstabError(str(exc) if isinstance(exc, TextFileError) else "cannot back up %s: %s"
                         % (path, exc.strerror or exc))
    return backup_path
