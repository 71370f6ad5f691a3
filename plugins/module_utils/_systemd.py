# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""systemd unit drop-ins of ours, and what systemd says about a unit.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Commands run through a ``run(argv)``
callable returning ``(rc, stdout, stderr)`` (a module passes
``AnsibleModule.run_command``), so tests replace systemctl with a table.

Drop-ins live at ``<unit_dir>/<unit>.d/50-memops-<topic>.conf``: one file per
unit and topic (``oom``, ``memory``), rendered whole, compared with what is on
disk and replaced atomically only when it differs, which is also the only
case in which systemd needs a ``daemon-reload``.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Iterable

from ansible_collections.memops.linux.plugins.module_utils import _host
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _textfile

UNIT_DIR = "/etc/systemd/system"
UNIT_SUFFIXES = (".service", ".socket", ".scope", ".slice", ".mount", ".swap", ".timer", ".target", ".path",
                 ".device", ".automount")
# systemd's unit_name_is_valid(): a prefix of ASCII letters, digits and ":-_.\",
# an optional "@instance" (the same characters and "@"), a type suffix; at most
# 255 characters. A leading "-" (which systemctl would read as an option) and a
# leading "." are refused here although systemd has "-.mount" and "-.slice".
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_\\][A-Za-z0-9:_.\\-]*(@[A-Za-z0-9:_.\\@-]*)?$")
UNIT_NAME_MAX = 255
_TOPIC = re.compile(r"^[a-z][a-z0-9-]*$")


class SystemdError(Exception):
    """systemctl failed, is missing, or a unit name is unusable."""


def unit_name(name: str) -> str:
    """'nginx' -> 'nginx.service'; a name with a unit suffix is kept. Raises
    SystemdError for names systemd would refuse (slashes, spaces, empty, too
    long, non-ASCII) and for a leading '-' or '.'."""
    name = name.strip() if isinstance(name, str) else ""
    unit = name if name.endswith(UNIT_SUFFIXES) else name + ".service"
    if not _UNIT_NAME.fullmatch(name) or len(unit) > UNIT_NAME_MAX:
        raise SystemdError("%r is not a systemd unit name; give a name such as nginx or nginx.service (ASCII letters, "
                           "digits and :-_.\\@, not starting with - or ., at most %d characters)"
                           % (name, UNIT_NAME_MAX))
    return unit


def dropin_path(unit: str, topic: str, unit_dir: str = UNIT_DIR) -> str:
    """The drop-in of ours for ``unit`` and ``topic``."""
    if not _TOPIC.match(topic):
        raise SystemdError("drop-in topic %r: expected lower-case letters, digits and dashes" % topic)
    return os.path.join(unit_dir, unit_name(unit) + ".d", "50-memops-%s.conf" % topic)


def render_dropin(topic: str, directives: Iterable[tuple[str, object]], section: str = "Service") -> str:
    """Drop-in text for ``directives`` (a list of (key, value) pairs, in order)."""
    lines = ["# Managed by memops.linux (%s); changes made here are overwritten." % topic, "[%s]" % section]
    lines.extend("%s=%s" % (key, value) for key, value in directives)
    return "\n".join(lines) + "\n"


def plan_dropin(path: str, text: str | None) -> dict:
    """{path, before, after, changed}: ``before`` is the file's text or None
    when it does not exist; ``text`` None means the drop-in should not exist."""
    before = _textfile.read_text(path)
    return {"path": path, "before": before, "after": text, "changed": before != text}


def apply_dropin(plan: dict, replace: Callable[[str, str], None] = os.replace) -> bool:
    """Write (or remove) the drop-in of a plan when it changed. Returns whether
    systemd needs a daemon-reload, which is exactly when the file changed."""
    if not plan["changed"]:
        return False
    if plan["after"] is None:
        try:
            os.unlink(plan["path"])
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SystemdError("cannot remove %s: %s" % (plan["path"], exc.strerror or exc))
        _remove_empty_dir(os.path.dirname(plan["path"]))
        return True
    try:
        _textfile.atomic_write(plan["path"], plan["after"], mode=0o644, replace=replace)
    except _textfile.TextFileError as exc:
        raise SystemdError(str(exc))
    return True


def dropin_diff(plan: dict) -> dict:
    """An Ansible diff entry for a drop-in plan."""
    return {"before": plan["before"] or "", "after": plan["after"] or "",
            "before_header": plan["path"], "after_header": plan["path"]}


def _remove_empty_dir(directory):
    try:
        os.rmdir(directory)
    except OSError:
        pass  # not empty: other drop-ins live there


# ---------------------------------------------------------------------------
# systemctl


def _systemctl(run, args):
    try:
        rc, out, err = run(["systemctl"] + list(args))
    except OSError as exc:
        raise SystemdError("systemctl cannot run: %s; this host does not seem to run systemd" % (exc.strerror or exc))
    if rc != 0:
        message = (err or out or "").strip().splitlines()
        raise SystemdError("systemctl %s failed (rc %s): %s" % (" ".join(a for a in args if a != "--"), rc,
                                                                message[-1] if message else "no output"))
    return out


def parse_version(text: str | None) -> int | None:
    """'systemd 252 (252.39-1~deb12u2)' -> 252; None when not found."""
    match = re.search(r"^systemd\s+(\d+)", text or "", re.MULTILINE)
    return int(match.group(1)) if match else None


def version(run: Callable[[list[str]], tuple[int, str, str]]) -> int:
    """systemd's version number from ``systemctl --version``."""
    found = parse_version(_systemctl(run, ["--version"]))
    if found is None:
        raise SystemdError("systemctl --version did not name a systemd version")
    return found


def parse_show(text: str | None) -> dict[str, str]:
    """``systemctl show`` output -> {Property: value}."""
    result = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key] = value
    return result


def show(run: Callable[[list[str]], tuple[int, str, str]], unit: str, properties: Iterable[str]) -> dict[str, str]:
    # "--" ends the options: nothing after it is read as one
    return parse_show(_systemctl(run, ["show"] + ["-p%s" % p for p in properties] + ["--", unit_name(unit)]))


def require_systemd(reader: _procfs.Reader, what: str, instead: str) -> None:
    """Raise SystemdError unless PID 1 (below the reader's proc_root) is systemd;
    ``what`` names the request in the message and ``instead`` the way to do without systemd."""
    if not _host.systemd_is_pid1(reader):
        raise SystemdError("%s needs systemd as PID 1, and PID 1 here is not systemd; %s" % (what, instead))


def unit_state(run: Callable[[list[str]], tuple[int, str, str]], unit: str) -> dict:
    """{load_state, active_state, main_pid, control_group, memory_current, restarts}."""
    props = show(run, unit, ["LoadState", "ActiveState", "MainPID", "ControlGroup", "MemoryCurrent", "NRestarts"])
    main_pid = _procfs.to_int(props.get("MainPID"))
    current = _procfs.to_int(props.get("MemoryCurrent"))
    return {
        "load_state": props.get("LoadState", ""),
        "active_state": props.get("ActiveState", ""),
        "main_pid": main_pid or None,
        "control_group": props.get("ControlGroup") or None,
        # systemd prints [not set] or UINT64_MAX when it does not account memory
        "memory_current": current if current is not None and current < (1 << 63) else None,
        "restarts": _procfs.to_int(props.get("NRestarts")),
    }


def main_pid(run: Callable[[list[str]], tuple[int, str, str]], unit: str) -> int | None:
    """The unit's MainPID, or None when it has none (not running)."""
    return unit_state(run, unit)["main_pid"]


def daemon_reload(run: Callable[[list[str]], tuple[int, str, str]]) -> None:
    _systemctl(run, ["daemon-reload"])


def restart(run: Callable[[list[str]], tuple[int, str, str]], unit: str) -> None:
    _systemctl(run, ["restart", "--", unit_name(unit)])
