# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Transparent huge pages: validate, apply, read back, persist at boot.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), used by ``memops.linux.thp``. The order of
work keeps a host safe:

1. the THP directory is found (upstream or RHEL 6 path) and every value is
   checked against the tokens the running kernel offers in the file itself;
2. runtime values are written and read back; a value the kernel refuses (or
   does not select) puts back what this call had already written;
3. only then is our boot-time unit written, through a temporary file and a
   rename, and systemd reloaded and the unit enabled when that changed;
4. other places that set THP at boot (kernel command line, tuned, other
   units, rc.local, tmpfiles.d) are reported as conflicts.

Errors are typed (:class:`ThpError` and its subclasses); their text says what
was wrong and what to do.
"""

from __future__ import annotations

import errno
import operator
import os
import re
from typing import Callable, Iterable, Sequence

from ansible_collections.memops.linux.plugins.module_utils import _host as host
from ansible_collections.memops.linux.plugins.module_utils import _kernel as kernel
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _textfile as textfile

# Upstream first; RHEL 6 kernels use the second name.
THP_DIRS = ("kernel/mm/transparent_hugepage", "kernel/mm/redhat_transparent_hugepage")
SETTINGS = ("enabled", "defrag")
UNIT_NAME = "memops-thp.service"
UNIT_DIR = "etc/systemd/system"
UNIT_MODE = 0o644
# Services that read THP once at start, so the unit must run before them.
WORKLOADS = (
    "redis-server.service", "redis.service", "redis-sentinel.service", "valkey-server.service",
    "mongod.service", "mongodb.service", "postgresql.service", "mariadb.service", "mysql.service",
    "mysqld.service", "cassandra.service", "elasticsearch.service", "opensearch.service",
    "couchbase-server.service", "aerospike.service", "oracle-ohasd.service", "splunk.service",
    "tokumx.service", "hadoop-hdfs-datanode.service", "docker.service", "containerd.service",
    "kubelet.service",
)
_SYSTEMD_UNIT_DIRS = ("etc/systemd/system", "run/systemd/system", "usr/local/lib/systemd/system",
                      "usr/lib/systemd/system", "lib/systemd/system")
_RC_LOCAL = ("etc/rc.local", "etc/rc.d/rc.local")
_TMPFILES_DIRS = ("etc/tmpfiles.d", "run/tmpfiles.d", "usr/local/lib/tmpfiles.d", "usr/lib/tmpfiles.d",
                  "lib/tmpfiles.d")
_TUNED_PROFILE_DIRS = ("etc/tuned", "etc/tuned/profiles", "usr/lib/tuned", "usr/lib/tuned/profiles")
_CMDLINE = re.compile(r"(?:^|\s)transparent_hugepage=(\S+)")
# What each setting can hold, as the kernel defines it (mm/huge_memory.c): a
# value is also checked against the tokens the running kernel offers.
KERNEL_VALUES = {"enabled": ("always", "madvise", "never"),
                 "defrag": ("always", "defer", "defer+madvise", "madvise", "never")}
# Our unit hands systemd-tmpfiles one "w" line per setting on its standard
# input: no shell runs at boot.
_OUR_LINE = re.compile(r"^StandardInputText=w /sys/kernel/mm/[a-z_]+/(enabled|defrag) - - - - (\S+)\s*$", re.M)
# What earlier versions wrote (ExecStart=/bin/sh -c 'echo ...'), read so that the unit is rewritten.
_LEGACY_EXEC = re.compile(r"^ExecStart=/bin/sh -c 'echo (\S+) > /sys/kernel/mm/[a-z_]+/(enabled|defrag)'\s*$", re.M)


class ThpError(Exception):
    """Base class of every error raised by this module."""


class NotSupported(ThpError):
    """The kernel has no transparent huge pages (or sys_root is not sysfs)."""


class InvalidValue(ThpError):
    """A value the running kernel does not offer."""


class ReadOnly(ThpError):
    """The THP files may not be written from here."""


class Rejected(ThpError):
    """The kernel refused a value, or selected another one."""


class OutsideRoot(ThpError):
    """A setting's file leads out of sys_root through a symbolic link."""


class PersistError(ThpError):
    """The boot-time unit could not be written or enabled, or there is no systemd."""


# ---------------------------------------------------------------------------
# the running kernel


def find_thp_dir(reader: procfs.Reader) -> tuple[str, str]:
    """(absolute path under the reader's sys_root, path relative to sysfs) of the THP directory.

    Raises NotSupported when neither the upstream nor the RHEL 6 directory exists."""
    sys_root = reader.sys_root
    for relative in THP_DIRS:
        path = os.path.join(sys_root, relative)
        if os.path.isfile(os.path.join(path, "enabled")):
            return path, relative
    if not os.path.isdir(os.path.join(sys_root, "kernel")):
        raise NotSupported("%s does not look like sysfs (no kernel directory); sys_root must point at a mounted "
                           "sysfs" % sys_root)
    raise NotSupported(
        "this kernel has no transparent huge pages (neither %s nor %s exists): it was built without "
        "CONFIG_TRANSPARENT_HUGEPAGE, so there is nothing to set or disable"
        % tuple(os.path.join(sys_root, relative) for relative in THP_DIRS))


def read_setting(thp_dir: str, name: str) -> dict:
    """{selected, allowed} of one setting, from the file itself. Raises ThpError."""
    path = os.path.join(thp_dir, name)
    try:
        text = procfs.Reader().read(path)
    except procfs.ProcfsError as exc:
        raise ThpError("cannot read %s: %s" % (path, exc))
    if text is None:
        raise NotSupported("%s does not exist: this kernel does not offer the %s setting" % (path, name))
    parsed = procfs.parse_selector(text)
    if parsed["selected"] is None or not parsed["allowed"]:
        raise ThpError("%s holds %r, not a list of choices with the selected one in brackets"
                       % (path, text.strip()))
    return parsed


def validate(name: str, value: str, current: dict) -> None:
    """Raise InvalidValue unless ``value`` is one the kernel offers for ``name``."""
    if isinstance(value, bool):
        raise InvalidValue("%s: got the boolean %s; write one of the words this kernel offers: %s"
                           % (name, value, ", ".join(current["allowed"])))
    if value not in current["allowed"]:
        raise InvalidValue("%s: %r is not offered by this kernel; it offers %s"
                           % (name, value, ", ".join(current["allowed"])))
    if value not in KERNEL_VALUES.get(name, ()):
        raise InvalidValue("%s: %r is not a value the kernel defines for this setting (%s), although %s offers it; "
                           "the tree given as sys_root is not a kernel's" % (name, value, ", ".join(
                               KERNEL_VALUES.get(name, ())), name))


def write_setting(thp_dir: str, name: str, value: str) -> None:
    """One write() of ``value`` to the setting. Raises ReadOnly, Rejected."""
    path = os.path.join(thp_dir, name)
    try:
        kernel.write_value(path, value)
    except kernel.NotPermitted as exc:
        if exc.errno == errno.EROFS:
            raise ReadOnly("%s: /sys is mounted read-only here, as in an unprivileged container; transparent "
                           "huge pages are the host's setting, so set them on the host itself or from a "
                           "privileged container" % path)
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            raise ReadOnly("%s: permission denied; setting transparent huge pages needs root (become: true)"
                           % path)
        raise ReadOnly("%s: writing is not permitted even as root, as in an unprivileged container; set "
                       "transparent huge pages on the host itself" % path)
    except kernel.KernelWriteError as exc:
        raise Rejected("%s: the kernel rejected %r (%s)" % (path, value, exc.strerror))


def _selected(thp_dir, name):
    return read_setting(thp_dir, name)["selected"]


def apply_settings(thp_dir: str, changes: Iterable[Sequence[str]]) -> dict[str, str]:
    """Write each (name, before, desired) and read it back; all or nothing
    (_kernel.apply_all).

    Returns {name: selected value read back}. On failure the settings already
    written are put back and the error raised names them."""
    try:
        return kernel.apply_all(changes, lambda name, value: write_setting(thp_dir, name, value),
                                lambda name: _selected(thp_dir, name), operator.eq, errors=(ThpError,))
    except kernel.Undone as undone:
        exc = undone.cause or Rejected("%s: wrote %r but the kernel selected %r"
                                       % (undone.name, undone.desired, undone.current))
        restored = _restored(undone.rollback)
        raise type(exc)("%s%s" % (exc, "; put back: " + ", ".join(restored) if restored else ""))


def _rollback(thp_dir, items):
    """Put back each (name, before) of ``items``; returns 'name=value' of those put back."""
    return _restored(kernel.rollback(items, lambda name, value: write_setting(thp_dir, name, value),
                                     lambda name: _selected(thp_dir, name), operator.eq, errors=(ThpError,)))


def _restored(done):
    return ["%s=%s" % (item["name"], item["before"]) for item in done if item["error"] is None]


def per_size_overrides(thp_dir: str) -> dict[str, str]:
    """Multi-size THP (kernel 6.8+): the sizes whose own ``enabled`` does not follow
    the top-level setting ({'hugepages-64kB': 'always'}); 'inherit' follows it."""
    found = {}
    for name in _listdir(thp_dir):
        if not re.match(r"^hugepages-[0-9]+kB$", name):
            continue
        try:
            selected = read_setting(os.path.join(thp_dir, name), "enabled")["selected"]
        except ThpError:
            continue
        if selected != "inherit":
            found[name] = selected
    return found


# ---------------------------------------------------------------------------
# the boot-time unit


def unit_path(root: str = "/") -> str:
    return os.path.join(root, UNIT_DIR, UNIT_NAME)


def parse_unit(text: str | None) -> dict[str, str]:
    """The values our unit writes: {setting: value} (also from a unit of the earlier, shell form)."""
    found = {name: value for value, name in _LEGACY_EXEC.findall(text or "")}
    found.update(_OUR_LINE.findall(text or ""))
    return found


def render_unit(values: dict[str, str], relative_dir: str) -> str:
    """The unit text that writes ``values`` ({setting: value}) at boot, with
    systemd-tmpfiles (no shell). Raises InvalidValue for a value outside KERNEL_VALUES."""
    for name, value in values.items():
        if value not in KERNEL_VALUES.get(name, ()):
            raise InvalidValue("%s: %r is not a value the kernel defines (%s)"
                               % (name, value, ", ".join(KERNEL_VALUES.get(name, ()))))
    sysfs_dir = "/sys/" + relative_dir
    summary = " ".join("%s=%s" % (name, values[name]) for name in SETTINGS if name in values)
    lines = [
        "# Managed by memops.linux.thp: changes here are overwritten.",
        "# Sets transparent huge pages at boot, before the services that read them once at start.",
        "[Unit]",
        "Description=Transparent huge pages %s (memops.linux)" % summary,
        "DefaultDependencies=no",
        "After=sysinit.target local-fs.target",
        "Before=basic.target %s" % " ".join(WORKLOADS),
        "ConditionPathIsReadWrite=%s/enabled" % sysfs_dir,
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "StandardInput=data",
    ]
    lines.extend("StandardInputText=w %s/%s - - - - %s" % (sysfs_dir, name, values[name])
                 for name in SETTINGS if name in values)
    lines.append("ExecStart=systemd-tmpfiles --create -")
    lines.extend(["", "[Install]", "WantedBy=basic.target", ""])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# conflicts: other places that set THP


def _read(path):
    try:
        return textfile.read_text(path)
    except textfile.TextFileError:
        return None


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _ini_value(text, section, keys):
    """The last value of any of ``keys`` in [section] of an INI text, or None."""
    current = None
    found = None
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep and current == section and key.strip() in keys:
            found = value.strip()
    return found


def _tuned_conflicts(root, reader):
    active = _read(os.path.join(root, "etc/tuned/active_profile"))
    if not active or not active.strip():
        return []
    running = _tuned_running(reader)
    conflicts = []
    seen = set()
    pending = active.split()
    while pending:
        profile = pending.pop(0)
        if profile in seen:
            continue
        seen.add(profile)
        for directory in _TUNED_PROFILE_DIRS:
            path = os.path.join(root, directory, profile, "tuned.conf")
            text = _read(path)
            if text is None:
                continue
            value = _ini_value(text, "vm", ("transparent_hugepages", "transparent_hugepage"))
            if value is not None:
                conflicts.append({
                    "source": "tuned", "path": "/" + os.path.relpath(path, root), "setting": "enabled",
                    "value": value,
                    "detail": "tuned profile %s (active%s) sets [vm] transparent_hugepages=%s and applies it "
                              "whenever tuned starts or the profile is switched"
                              % (profile, ", tuned running" if running else ", tuned not running", value)})
            include = _ini_value(text, "main", ("include",))
            if include:
                pending.extend(item.strip() for item in re.split(r"[,\s]+", include) if item.strip())
            break  # the first directory holding the profile wins
    return conflicts


def _tuned_running(reader):
    try:
        pids = reader.pids()
    except procfs.ProcfsError:
        return False
    for pid in pids:
        try:
            if reader.read_pid(pid, "comm").strip() == "tuned":
                return True
        except procfs.ProcfsError:
            continue
    return False


def _writers(text, relative_dir_names):
    """The settings a script or unit text writes to a THP file."""
    found = []
    for name in SETTINGS:
        if any(re.search(r"%s/%s\b" % (re.escape(directory), name), text or "") for directory in relative_dir_names):
            found.append(name)
    return found


def find_conflicts(reader: procfs.Reader, root: str = "/", own_unit: str | None = None) -> list[dict]:
    """Other places that set THP at boot or at will. A list of
    {source, path, setting, value, detail}; value is None when not simply known."""
    conflicts = []
    cmdline = reader.proc("cmdline") or ""
    for value in _CMDLINE.findall(cmdline):
        conflicts.append({
            "source": "kernel_cmdline", "path": "/proc/cmdline", "setting": "enabled", "value": value,
            "detail": "the kernel command line has transparent_hugepage=%s, which sets the value at every boot; "
                      "it is applied before our unit, which then overrides it" % value})
    conflicts.extend(_tuned_conflicts(root, reader))
    names = [os.path.basename(relative) for relative in THP_DIRS]
    own = os.path.realpath(own_unit) if own_unit else None
    seen_units = set()
    for directory in _SYSTEMD_UNIT_DIRS:
        for name in _listdir(os.path.join(root, directory)):
            path = os.path.join(root, directory, name)
            if name in seen_units or not os.path.isfile(path) or (own and os.path.realpath(path) == own):
                continue
            if not name.endswith(".service"):
                continue
            seen_units.add(name)
            for setting in _writers(_read(path), names):
                conflicts.append({
                    "source": "systemd_unit", "path": "/" + os.path.relpath(path, root), "setting": setting,
                    "value": None,
                    "detail": "systemd unit %s also writes transparent_hugepage/%s; the later one wins at boot"
                              % (name, setting)})
    for relative in _RC_LOCAL:
        path = os.path.join(root, relative)
        for setting in _writers(_read(path), names):
            conflicts.append({
                "source": "rc_local", "path": "/" + relative, "setting": setting, "value": None,
                "detail": "/%s writes transparent_hugepage/%s at boot" % (relative, setting)})
    for directory in _TMPFILES_DIRS:
        for name in _listdir(os.path.join(root, directory)):
            if not name.endswith(".conf"):
                continue
            path = os.path.join(root, directory, name)
            for line in (_read(path) or "").splitlines():
                fields = line.split(None, 6)
                if len(fields) >= 7 and fields[0].startswith("w"):
                    for setting in _writers(fields[1], names):
                        conflicts.append({
                            "source": "tmpfiles", "path": "/" + os.path.relpath(path, root), "setting": setting,
                            "value": fields[6].strip(),
                            "detail": "tmpfiles.d %s writes %s to transparent_hugepage/%s at boot"
                                      % (name, fields[6].strip(), setting)})
    return conflicts


# ---------------------------------------------------------------------------
# one call: what the module does


def _runtime_text(values):
    return "".join("%s = %s\n" % (name, values[name]) for name in SETTINGS if name in values)


def run(desired: dict[str, str], reader: procfs.Reader, persist: bool = False, root: str = "/",
        check_mode: bool = False, replace: Callable[[str, str], None] = os.replace,
        systemctl: Callable[..., tuple[int, str, str]] | None = None) -> dict:
    """Bring THP to ``desired`` ({setting: value}, settings left out untouched).

    ``systemctl(*args)`` runs systemctl and returns (rc, stdout, stderr); it is
    needed only with ``persist``. Returns a dict with changed, settings,
    thp_path, persistence, conflicts, warnings and diff."""
    unknown = sorted(set(desired) - set(SETTINGS))
    if unknown:
        raise InvalidValue("unknown THP settings %s; this module sets %s" % (", ".join(unknown), ", ".join(SETTINGS)))
    thp_dir, relative = find_thp_dir(reader)
    current = {}
    for name in SETTINGS:
        try:
            current[name] = read_setting(thp_dir, name)
        except NotSupported:
            if name in desired:
                raise
    for name, value in desired.items():
        validate(name, value, current[name])
        try:
            kernel.check_within(os.path.join(thp_dir, name), reader.sys_root)
        except kernel.OutsideRoot as exc:
            raise OutsideRoot(str(exc))
    if persist and not host.systemd_is_pid1(reader):
        raise PersistError(
            "persist needs systemd, and systemd is not running here (PID 1 is not systemd); set persist: false, "
            "or persist through the kernel command line (transparent_hugepage=%s)" % desired.get("enabled", "never"))

    before = {name: current[name]["selected"] for name in current}
    changes = [(name, before[name], value) for name, value in desired.items() if before[name] != value]
    warnings = []
    path = unit_path(root)
    unit_before = _read(path)
    on_unit = parse_unit(unit_before)
    unit_after = unit_before
    if persist and desired:
        merged = dict(on_unit)
        merged.update(desired)
        unit_after = render_unit(merged, relative)
    unit_changed = (unit_after or "") != (unit_before or "")
    enable_needed = False
    if persist and desired:
        if unit_before is None:
            enable_needed = True
        else:
            rc, out, _err = systemctl("is-enabled", UNIT_NAME)
            enable_needed = out.strip() != "enabled"

    after = dict(before)
    if not check_mode:
        after.update(apply_settings(thp_dir, changes))
        if unit_changed:
            try:
                textfile.atomic_write(path, unit_after, mode=UNIT_MODE, replace=replace)
            except textfile.TextFileError as exc:
                restored = _rollback(thp_dir, [change[:2] for change in reversed(changes)])
                raise PersistError("%s%s" % (exc, "; runtime settings put back: " + ", ".join(restored)
                                             if restored else ""))
            _systemctl_or_fail(systemctl, "daemon-reload")
        if enable_needed:
            _systemctl_or_fail(systemctl, "enable", UNIT_NAME)
    else:
        after.update({change[0]: change[2] for change in changes})

    if not persist and unit_before is not None:
        for name, value in desired.items():
            if name in on_unit and on_unit[name] != value:
                warnings.append("%s: persist is false but %s still sets %s at boot"
                                % (name, "/" + os.path.relpath(path, root), on_unit[name]))

    wanted = desired.get("enabled")
    if wanted == "never":
        still_on = {name: value for name, value in per_size_overrides(thp_dir).items() if value != "never"}
        if still_on:
            warnings.append(
                "enabled=never applies to the sizes set to 'inherit' only: %s keep their own setting; write never "
                "to %s/<size>/enabled to turn them off too"
                % (", ".join("%s (%s)" % item for item in sorted(still_on.items())), "/sys/" + relative))
    conflicts = find_conflicts(reader, root, own_unit=path)
    for item in conflicts:
        if item["setting"] in desired:
            warnings.append("transparent_hugepage/%s: %s (%s)" % (item["setting"], item["detail"], item["path"]))

    persisted_values = parse_unit(unit_after)
    settings = {}
    for name in current:
        settings[name] = {
            "before": before[name],
            "after": after[name],
            "allowed": current[name]["allowed"],
            "persisted": persisted_values.get(name) == after[name],
        }
    return {
        "changed": bool(changes) or unit_changed or enable_needed,
        "settings": settings,
        "thp_path": "/sys/" + relative,
        "persistence": {
            "method": "systemd_unit" if persisted_values else "none",
            "unit": UNIT_NAME if persisted_values else None,
            "unit_path": "/" + os.path.relpath(path, root) if persisted_values else None,
            "values": persisted_values,
        },
        "conflicts": conflicts,
        "warnings": warnings,
        "diff": kernel.change_diff(_runtime_text(before), _runtime_text(after), unit=(unit_before, unit_after)),
    }


def _systemctl_or_fail(systemctl, *args):
    rc, out, err = systemctl(*args)
    if rc != 0:
        raise PersistError("systemctl %s failed (exit %s): %s" % (" ".join(args), rc, (err or out).strip()))
