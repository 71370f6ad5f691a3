# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kernel settings under /proc/sys: validate, apply, read back, persist.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), shared by ``memops.linux.sysctl`` and the
roles built on it. The order of work is what keeps a host safe:

1. every name and value is validated before anything is touched;
2. runtime values are written one by one and read back; a value the kernel
   refuses (or stores differently) undoes the ones already written;
3. only then are our own keys written to our own file, every other line
   kept byte for byte, through a temporary file and a rename;
4. files read later at boot that set our keys to something else are named.

Errors are typed (:class:`SysctlError` and its subclasses); their text says
what was wrong and what to do.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from typing import Callable, Iterable, Sequence

from ansible_collections.memops.linux.plugins.module_utils import _kernel as kernel
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _textfile as textfile
from ansible_collections.memops.linux.plugins.module_utils._overcommit import (
    OVERCOMMIT_KBYTES, OVERCOMMIT_KEYS, OVERCOMMIT_RATIO, overcommit_guard,
)

DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/60-memops.conf"
# systemd-sysctl reads *.conf from these directories, a file name found in an
# earlier directory hiding the same name in later ones, all names in lexical
# order; procps `sysctl --system` reads /etc/sysctl.conf after them.
DEFAULT_SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
    "/etc/sysctl.conf",
)
FILE_MODE = 0o644
# Settings that are two views of one limit: a successful write of either makes
# the kernel reset the other to 0 (mm/util.c, mm/page-writeback.c).
EXCLUSIVE_PAIRS = (
    (OVERCOMMIT_RATIO, OVERCOMMIT_KBYTES),
    ("vm.dirty_ratio", "vm.dirty_bytes"),
    ("vm.dirty_background_ratio", "vm.dirty_background_bytes"),
)

_BOOLEAN_WORDS = frozenset(("yes", "no", "true", "false", "on", "off", "y", "n", "t", "f"))
_INTEGER = re.compile(r"^[+-]?(0|[1-9][0-9]*)$")


class SysctlError(Exception):
    """Base class of every error raised by this module."""


class InvalidName(SysctlError):
    """A name that cannot be a kernel setting."""


class InvalidValue(SysctlError):
    """A value that is not an integer or a list of integers."""


class UnknownKey(SysctlError):
    """The running kernel has no such setting (no file under /proc/sys)."""


class NotSysctl(SysctlError):
    """The name belongs to sysfs (THP, KSM) or is an action, not a setting."""


class ReadOnly(SysctlError):
    """/proc/sys may not be written from here (read-only mount, no privilege)."""


class Rejected(SysctlError):
    """The kernel refused a value, or stored another one."""


class ConfigFileError(SysctlError):
    """Our sysctl file could not be read or written."""


# ---------------------------------------------------------------------------
# names and values


def split_name(name: str) -> list[str]:
    """'vm.swappiness' or 'vm/swappiness' -> ['vm', 'swappiness'].

    As sysctl.d(5) says: when the first separator is a slash, slashes separate
    and dots are part of a name (net/ipv4/conf/eth0.1/rp_filter); otherwise dots
    separate and a slash stands for a dot in a name (net.ipv4.conf.eth0/1.rp_filter)."""
    if not isinstance(name, str):
        raise InvalidName("%r: setting names are strings such as vm.swappiness" % (name,))
    text = name.strip().lstrip("-")  # '-' is sysctl.d's "ignore failure" prefix
    first = re.search(r"[./]", text)
    if first and first.group() == "/":
        parts = text.strip("/").split("/")
    else:
        parts = [part.replace("/", ".") for part in text.split(".")]
    if not text or any(part in ("", ".", "..") or re.search(r"[\s\0=]", part) for part in parts):
        raise InvalidName("%r is not a sysctl name; expected dotted or slashed names such as "
                          "vm.swappiness or vm/swappiness" % name)
    return parts


def key_name(parts: Iterable[str]) -> str:
    """['net', 'ipv4', 'conf', 'eth0.1', 'rp_filter'] -> 'net.ipv4.conf.eth0/1.rp_filter'."""
    return ".".join(part.replace(".", "/") for part in parts)


def canonical_name(name: str) -> str:
    """Any spelling of a name -> its dotted form."""
    return key_name(split_name(name))


def _refuse_sysfs_names(name, parts):
    lowered = [part.lower() for part in parts]
    if any("transparent_hugepage" in part or part in ("thp", "khugepaged") for part in lowered):
        raise NotSysctl(
            "%s: transparent huge pages are set in sysfs (/sys/kernel/mm/transparent_hugepage), "
            "not through sysctl; use the memops.linux.thp module (options enabled, defrag)" % name)
    if "ksm" in lowered:
        raise NotSysctl(
            "%s: KSM is set in sysfs (/sys/kernel/mm/ksm), not through sysctl; write "
            "/sys/kernel/mm/ksm/run (0, 1 or 2) instead" % name)


def normalize_value(name: str, value: int | str | list | tuple) -> str:
    """A value from the task -> the text written to the kernel ('10', '256 256 32').

    Integers, strings of whitespace-separated integers and lists of integers are
    accepted. Booleans and yes/no words are refused rather than guessed at: a
    sysctl is a number, and `yes` turning into 1 hides typos."""
    if isinstance(value, bool):
        raise InvalidValue(
            "%s: got the boolean %s; sysctl values are numbers, so write 1 or 0 "
            "instead of true/false or yes/no" % (name, value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidValue("%s: the list of values is empty" % name)
        return " ".join(normalize_value(name, item) for item in value)
    if isinstance(value, float):
        raise InvalidValue("%s: %r is not an integer; sysctl values are whole numbers" % (name, value))
    if not isinstance(value, str):
        raise InvalidValue("%s: %r is not an integer or a list of integers" % (name, value))
    tokens = value.split()
    if not tokens:
        raise InvalidValue("%s: the value is empty; give an integer (or use state=absent to drop the key "
                           "from the file)" % name)
    normalized = []
    for token in tokens:
        if token.lower() in _BOOLEAN_WORDS:
            raise InvalidValue(
                "%s: %r reads as a boolean; sysctl values are numbers, so write 1 or 0" % (name, token))
        if not _INTEGER.match(token):
            if re.match(r"^[+-]?0[0-9]+$", token):
                raise InvalidValue(
                    "%s: %r has a leading zero, which the kernel reads as octal; write the decimal "
                    "number without it" % (name, token))
            raise InvalidValue(
                "%s: %r is not an integer; this module sets numeric settings (one integer, or "
                "integers separated by spaces such as '256 256 32 0 0')" % (name, token))
        normalized.append(str(int(token)))
    return " ".join(normalized)


def _kernel_int(token):
    """A number as the kernel's sysctl parser reads it (base 0: 010 is 8, 0x10 is 16), or None."""
    match = re.match(r"^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$", token)
    if not match:
        return None
    sign, digits = match.groups()
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) if digits[0] == "0" else int(digits)
    return -value if sign == "-" else value


def _current_int(name, text):
    """The kernel's current integer for an overcommit setting; SysctlError when it reads as anything else."""
    value = _kernel_int((text or "").strip())
    if value is None:
        raise SysctlError("%s: the kernel reports %r, not a number: the overcommit check cannot run (is proc_root a live /proc?)" % (name, text))
    return value


def same_value(left: str | None, right: str | None) -> bool:
    """Kernel values compare token by token, whitespace ignored ('4096\t87380' == '4096 87380');
    numbers compare as the kernel reads them, so a file's '0x10' equals 16."""
    if left is None or right is None:
        return left is right
    a, b = str(left).split(), str(right).split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x != y and (_kernel_int(x) is None or _kernel_int(x) != _kernel_int(y)):
            return False
    return True


def display_value(text: str | None) -> int | str | None:
    """Kernel text -> int for a single integer, else the tokens joined by one space."""
    if text is None:
        return None
    tokens = text.split()
    if len(tokens) == 1 and _INTEGER.match(tokens[0]):
        return int(tokens[0])
    return " ".join(tokens)


def parse_settings(values: dict, state: str = "present") -> dict[str, str | None]:
    """The task's ``values`` -> {dotted name: kernel text} (text is None for state=absent).

    Every name and value is checked before anything is done; the first problem
    raises. Two spellings of one name (vm.swappiness and vm/swappiness) are refused."""
    if not isinstance(values, dict):
        raise InvalidValue("values must be a mapping of setting names to values, such as "
                           "{vm.swappiness: 10}")
    settings = {}
    for raw_name, raw_value in values.items():
        parts = split_name(raw_name)
        name = key_name(parts)
        _refuse_sysfs_names(name, parts)
        if name in settings:
            raise InvalidName("%s is given twice (as %r and another spelling); give it once" % (name, raw_name))
        settings[name] = normalize_value(name, raw_value) if state == "present" else None
    for first, second in EXCLUSIVE_PAIRS:
        if first in settings and second in settings and state == "present":
            raise InvalidValue(
                "%s and %s exclude each other: the kernel resets one to 0 whenever the other is "
                "written; set only the one you use" % (first, second))
    return settings


# ---------------------------------------------------------------------------
# the running kernel


class Runtime:
    """Reads and writes settings below the reader's ``proc_root``/sys."""

    def __init__(self, reader: procfs.Reader) -> None:
        self.reader = reader
        self.root = self.reader.proc_path("sys")

    def path(self, name: str) -> str:
        return os.path.join(self.root, *split_name(name))

    def read(self, name: str) -> str:
        """Current kernel text of a setting. Raises UnknownKey, NotSysctl, SysctlError."""
        path = self.path(name)
        if os.path.isdir(path):
            raise UnknownKey("%s is a group of settings (%s is a directory), not a setting" % (name, path))
        try:
            text = self.reader.read(path)
        except procfs.AccessDenied:
            if _write_only(path):
                raise NotSysctl(
                    "%s is an action the kernel runs when written (%s is write-only), not a setting "
                    "to keep; use memops.linux.mem_reclaim for drop_caches and compaction" % (name, path))
            raise SysctlError("%s: permission denied reading %s; run as root (become: true)" % (name, path))
        except procfs.ProcfsError as exc:
            raise SysctlError("%s: %s" % (name, exc))
        if text is None:
            if not os.path.isdir(self.root):
                raise UnknownKey("%s: %s does not exist; proc_root must point at a mounted procfs"
                                 % (name, self.root))
            raise UnknownKey("%s: the running kernel has no such setting (%s does not exist); check the "
                             "spelling, or the module that provides it is not loaded" % (name, path))
        return text.strip()

    def within(self, name: str, path: str) -> None:
        """Raise SysctlError when ``path`` leads out of proc_root through a link."""
        try:
            kernel.check_within(path, self.reader.proc_root)
        except kernel.OutsideRoot as exc:
            raise SysctlError("%s: %s" % (name, exc))

    def writable(self, name: str) -> None:
        """Raise ReadOnly when this process may not write the setting."""
        path = self.path(name)
        self.within(name, path)
        if not os.access(path, os.W_OK):
            raise _read_only_error(name, path, _access_errno(path))

    def write(self, name: str, text: str) -> None:
        """Write without reading back (see apply_settings). Raises ReadOnly, UnknownKey, Rejected."""
        path = self.path(name)
        self.within(name, path)
        try:
            kernel.write_value(path, text)
        except kernel.NotPermitted as exc:
            raise _read_only_error(name, path, exc.errno)
        except kernel.NotFound:
            raise UnknownKey("%s: %s does not exist" % (name, path))
        except kernel.Rejected as exc:
            raise Rejected("%s: the kernel rejected %s (%s)" % (name, text, exc.strerror))


def _write_only(path):
    try:
        return not os.stat(path).st_mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    except OSError:
        return False


def _access_errno(path):
    """Why os.access(W_OK) said no: EROFS for a read-only mount, else EACCES."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        return exc.errno
    os.close(fd)  # opening alone writes nothing
    return errno.EACCES


def _read_only_error(name, path, err):
    if err == errno.EROFS:
        why = "/proc/sys is mounted read-only here"
    elif hasattr(os, "geteuid") and os.geteuid() != 0:
        return ReadOnly("%s: permission denied writing %s; kernel settings need root (become: true)"
                        % (name, path))
    else:
        why = "writing %s is not permitted even as root" % path
    if name.startswith("net."):
        where = ("net.* settings belong to the container's network namespace, so let the container "
                 "runtime set them (podman/docker --sysctl)")
    else:
        where = ("%s settings are not namespaced (they are the host's), so set them on the host itself "
                 "or from a privileged container" % (name.split(".")[0] + ".*"))
    return ReadOnly("%s: this host does not allow changing kernel settings from here: %s, as in an "
                    "unprivileged container. %s" % (name, why, where))


def apply_settings(runtime: Runtime, changes: Iterable[Sequence[str]]) -> dict[str, str]:
    """Write each (name, before, desired) in order and read it back.

    All or nothing (_kernel.apply_all): when the kernel refuses a value (EINVAL,
    or it reads back as something else), that setting and every one written
    before it are put back to their ``before`` text and Rejected (or ReadOnly)
    is raised, its message saying what was restored. Returns {name: text read back}."""
    try:
        return kernel.apply_all(changes, runtime.write, runtime.read, same_value, errors=(SysctlError,))
    except kernel.Undone as undone:
        notes = _rollback_text(_rollback_notes(undone.rollback))
        if undone.cause is not None:
            raise type(undone.cause)("%s%s" % (undone.cause, notes))
        count = len(undone.current.split())
        hint = (" (this setting holds %d numbers; give all of them)" % count
                if count != len(undone.desired.split()) else "")
        raise Rejected("%s: wrote %s but the kernel holds %s, so the value was not accepted as given%s%s"
                       % (undone.name, undone.desired, undone.current, hint, notes))


def rollback(runtime: Runtime, pairs: Iterable[Sequence[str]]) -> list[str]:
    """Put settings back: ``pairs`` is [(name, before text)], most recent first.
    Returns one note per setting written back (or that could not be)."""
    return _rollback_notes(kernel.rollback(pairs, runtime.write, runtime.read, same_value, errors=(SysctlError,)))


def _rollback_notes(done):
    notes = []
    for item in done:
        if item["restored"]:
            notes.append("%s restored to %s" % (item["name"], item["before"]))
        elif item["error"] is not None:
            notes.append("%s could NOT be restored to %s: %s" % (item["name"], item["before"], item["error"]))
        else:
            notes.append("%s could NOT be restored to %s (holds %s)" % (item["name"], item["before"], item["holds"]))
    return notes


def _rollback_text(notes):
    if not notes:
        return "; nothing was changed and nothing persisted"
    return "; nothing persisted; settings this run had written: " + ", ".join(notes)


# ---------------------------------------------------------------------------
# sysctl.d files


def parse_line(line: str) -> tuple[str, str] | None:
    """One line of a sysctl.d file -> (dotted name, value text) or None for
    comments, blank lines and lines that are not assignments."""
    content = line.rstrip("\r\n").strip()
    if not content or content[0] in "#;" or "=" not in content:
        return None
    raw_name, value = content.split("=", 1)
    try:
        parts = split_name(raw_name)
    except InvalidName:
        return None
    if any(ch in raw_name for ch in "*?["):  # glob patterns: not ours to interpret
        return None
    return key_name(parts), value.strip()


def parse_conf(text: str | None) -> dict[str, str]:
    """A sysctl.d file -> {dotted name: value}; the last assignment wins, as at boot."""
    settings = {}
    for line in textfile.split_lines(text or ""):
        parsed = parse_line(line)
        if parsed:
            settings[parsed[0]] = parsed[1]
    return settings


def _format_line(name, value, eol):
    # a name whose parts hold dots is written slashed, which sysctl.d reads unambiguously
    parts = split_name(name)
    written = "/".join(parts) if any("." in part for part in parts) else name
    return "%s = %s%s" % (written, value, eol)


def edit_conf(text: str | None, settings: dict, state: str = "present") -> str:
    """Our file's text -> the text with ``settings`` set (present) or removed (absent).

    Lines that hold none of our names stay byte-identical, comments, blank lines,
    other names and CRLF endings included. An existing line of ours keeps its place
    and spelling, only its value changes; a repeated one is dropped; new names are
    appended in the order given. A missing final newline is added before appending."""
    text = text or ""
    lines = textfile.split_lines(text)
    eol = textfile.line_ending(text)
    seen = set()
    out = []
    for line in lines:
        parsed = parse_line(line)
        if not parsed or parsed[0] not in settings:
            out.append(line)
            continue
        name, value = parsed
        if state == "absent" or name in seen:
            continue
        seen.add(name)
        wanted = settings[name]
        if same_value(value, wanted):
            out.append(line)
            continue
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        head, tail = body.split("=", 1)
        gap = tail[:len(tail) - len(tail.lstrip())]
        out.append("%s=%s%s%s" % (head, gap, wanted, ending))
    if state == "present":
        missing = [name for name in settings if name not in seen]
        if missing and out and not out[-1].endswith("\n"):
            out[-1] += eol
        out.extend(_format_line(name, settings[name], eol) for name in missing)
    return "".join(out)


def read_conf(path: str) -> str | None:
    """Text of a sysctl file (bytes that are not UTF-8 kept), None if absent."""
    try:
        return textfile.read_text(path)
    except textfile.TextFileError as exc:
        raise ConfigFileError(str(exc))


def write_conf(path: str, text: str, replace: Callable[[str, str], None] = os.replace) -> None:
    """Replace ``path`` with ``text`` atomically, mode 0644 (see _textfile.atomic_write).
    An empty text removes the file; a symlink is kept and its target emptied.
    Raises ConfigFileError."""
    if not text and not os.path.islink(path):
        try:
            if os.path.lexists(path):
                os.unlink(path)
        except OSError as exc:
            raise ConfigFileError("cannot remove %s: %s" % (path, exc.strerror or exc))
        return
    try:
        textfile.atomic_write(path, text, mode=FILE_MODE, replace=replace)
    except textfile.TextFileError as exc:
        raise ConfigFileError(str(exc))


# ---------------------------------------------------------------------------
# boot-time load order


def load_order(entries: Iterable[str] = DEFAULT_SYSCTL_DIRS, expected: str | None = None) -> list[str]:
    """The files read at boot, in the order they are applied.

    Directories: their ``*.conf`` files, a name in an earlier directory hiding
    the same name in later ones (a link to /dev/null masks it), all sorted by
    name. Plain files in ``entries`` (/etc/sysctl.conf) follow, in the order given.
    ``expected`` is a file counted as if it existed (ours, before it is written).
    Returns a list of paths."""
    expected_dir = os.path.realpath(os.path.dirname(expected)) if expected else None
    by_name = {}
    trailing = []
    for entry in entries:
        holds_expected = expected is not None and os.path.realpath(entry) == expected_dir
        if os.path.isdir(entry) or holds_expected:
            try:
                names = os.listdir(entry) if os.path.isdir(entry) else []
            except OSError:
                names = []
            if holds_expected:
                names.append(os.path.basename(expected))
            for name in sorted(names):
                if name.endswith(".conf") and name not in by_name:
                    by_name[name] = os.path.join(entry, name)
        elif os.path.isfile(entry) or (expected and entry == expected):
            trailing.append(entry)
    ordered = [by_name[name] for name in sorted(by_name)] + trailing
    return [path for path in ordered if os.path.realpath(path) != os.devnull]


def find_overrides(sysctl_file: str, settings: dict,
                   entries: Sequence[str] = DEFAULT_SYSCTL_DIRS) -> tuple[list[dict], list[str]]:
    """Where boot would take another value than ours.

    ``settings`` are the values our file holds (dotted name -> text). Returns
    (overrides, notes): overrides is a list of {key, file, value} for each of our
    names whose last setting in load order is another file's, with another value;
    notes say when our file is not read at boot at all (outside these directories,
    or hidden by a file of the same name in an earlier directory)."""
    ours = os.path.realpath(sysctl_file)
    last = {}
    read_at_boot = False
    notes = []
    order = load_order(entries, expected=sysctl_file)
    for path in order:
        if os.path.realpath(path) == ours:
            read_at_boot = True
            for name in settings:
                last[name] = (path, settings[name], True)
            continue
        try:
            text = read_conf(path)
        except ConfigFileError as exc:
            notes.append("%s; it was not checked for settings that override ours" % exc)
            continue
        for name, value in parse_conf(text).items():
            if name in settings:
                last[name] = (path, value, False)
    if not read_at_boot:
        hidden = [path for path in order
                  if os.path.basename(path) == os.path.basename(sysctl_file)]
        if hidden:
            notes.append("%s is not read at boot: %s has the same name in a directory read first and hides it"
                         % (sysctl_file, hidden[0]))
        elif not sysctl_file.endswith(".conf"):
            notes.append("%s is not read at boot: systemd-sysctl reads only files whose names end in .conf"
                         % sysctl_file)
        else:
            notes.append("%s is not read at boot: it is in none of the sysctl directories (%s)"
                         % (sysctl_file, ", ".join(entries)))
    overrides = []
    for name in settings:
        if name not in last:
            continue
        path, value, is_ours = last[name]
        if not is_ours and not same_value(value, settings[name]):
            overrides.append({"key": name, "file": path, "value": display_value(value)})
    return overrides, notes


# ---------------------------------------------------------------------------
# one call: what the module does


def _runtime_text(values):
    return "".join("%s = %s\n" % (name, " ".join(text.split()) if text is not None else "(none)") for name, text in values.items())


def run(settings: dict, state: str = "present", persist: bool = True, sysctl_file: str = DEFAULT_SYSCTL_FILE,
        sysctl_dirs: Sequence[str] = DEFAULT_SYSCTL_DIRS, reader: procfs.Reader | None = None, force: bool = False,
        check_mode: bool = False, replace: Callable[[str, str], None] = os.replace,
        backup: Callable[[str], str] | None = None) -> dict:
    """Bring the host to ``settings`` (from parse_settings) and say what changed.

    Nothing is written in check mode. ``replace(src, dest)`` moves the finished
    temporary file into place; ``backup(path)`` copies our file before it is
    changed and returns the copy's path. Returns a dict with changed, settings,
    sysctl_file, overridden_by, overcommit_guard, backup_file, warnings and
    diff (runtime and file texts before and after)."""
    if not os.path.isabs(sysctl_file):
        raise ConfigFileError("sysctl_file must be an absolute path, got %r" % sysctl_file)
    runtime = Runtime(reader or procfs.Reader())
    present = state == "present"
    warnings = []
    before = {}
    for name in settings:
        try:
            before[name] = runtime.read(name)
        except UnknownKey:
            if present:
                raise
            before[name] = None  # state=absent may clean up a setting this kernel lacks
    changes = [(name, before[name], text) for name, text in settings.items()
               if present and not same_value(before[name], text)]
    changed_names = [change[0] for change in changes]
    guard = None
    if any(name in OVERCOMMIT_KEYS for name in changed_names):
        current = {name: _current_int(name, before[name] if name in before else runtime.read(name)) for name in OVERCOMMIT_KEYS}
        meminfo = procfs.parse_meminfo(runtime.reader.proc("meminfo") or "")
        guard = overcommit_guard(meminfo, current, settings, force=force)
        if guard and guard["forced"]:
            if guard["committed_as_bytes"] is None:
                warnings.append("vm.overcommit_memory=2 forced without a check: /proc/meminfo has no Committed_AS")
            else:
                warnings.append(
                    "vm.overcommit_memory=2 forced although CommitLimit (%d bytes) is below Committed_AS (%d bytes): "
                    "fork() and allocations may fail with ENOMEM"
                    % (guard["commit_limit_bytes"], guard["committed_as_bytes"]))
    for name in changed_names:  # after the guard, so its verdict shows even where nothing may be written
        runtime.writable(name)
    for pair in EXCLUSIVE_PAIRS:
        for name, other in (pair, pair[::-1]):
            if name in changed_names:
                try:
                    other_text = runtime.read(other)
                except SysctlError:
                    continue
                if not same_value(other_text, "0"):
                    warnings.append("writing %s makes the kernel reset %s (now %s) to 0"
                                    % (name, other, other_text))

    file_before = read_conf(sysctl_file)
    touch_file = persist or not present
    file_after = edit_conf(file_before, settings, state) if touch_file else file_before
    file_changed = False
    if touch_file:
        file_changed = (file_after or "") != (file_before or "")
        if not file_changed and file_before is not None and file_after:
            file_changed = _mode_differs(sysctl_file)

    after = dict(before)
    backup_file = None
    if not check_mode:
        after.update(apply_settings(runtime, changes))
        if file_changed:
            try:
                if backup and file_before is not None:
                    backup_file = backup(sysctl_file)
                write_conf(sysctl_file, file_after or "", replace=replace)
            except (ConfigFileError, OSError) as exc:
                restored = rollback(runtime, [change[:2] for change in reversed(changes)])
                raise ConfigFileError("%s%s" % (exc, "; runtime settings put back: " + ", ".join(restored)
                                                if restored else ""))
    else:
        after.update({change[0]: change[2] for change in changes})

    on_disk = parse_conf(file_after) if file_after else {}
    per_setting = {}
    for name in settings:
        per_setting[name] = {
            "before": display_value(before[name]),
            "after": display_value(after[name]),
            "persisted": name in on_disk and same_value(on_disk[name], after[name]),
        }
        if present and not persist and name in on_disk and not same_value(on_disk[name], settings[name]):
            warnings.append("%s: persist is false but %s still sets %s, which boot will apply"
                            % (name, sysctl_file, on_disk[name]))

    overrides: list[dict] = []
    if present and persist and settings:
        overrides, notes = find_overrides(sysctl_file, settings, sysctl_dirs)
        warnings.extend(notes)
        for item in overrides:
            fix = "remove the setting there"
            if item["file"].endswith(".conf") and item["file"] not in sysctl_dirs:
                fix += ", or give sysctl_file a name that sorts after %s" % os.path.basename(item["file"])
            warnings.append("%s = %s in %s is overridden at boot: %s is read later and sets %s; %s"
                            % (item["key"], settings[item["key"]], sysctl_file, item["file"], item["value"], fix))

    return {
        "changed": bool(changes) or file_changed,
        "settings": per_setting,
        "sysctl_file": sysctl_file,
        "overridden_by": overrides,
        "overcommit_guard": guard,
        "backup_file": backup_file,
        "warnings": warnings,
        "diff": kernel.change_diff(_runtime_text(before), _runtime_text(after), file=(file_before, file_after)),
    }


def _mode_differs(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode) != FILE_MODE
    except OSError:
        return False
