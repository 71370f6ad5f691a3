# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The facts a gathering host_report leaves in the play: a summary small enough for a job event.

AWX stores every task result as a job event, ansible_facts included: a host's full memops facts (some
25-50 KB, every command line) would be stored once per host and shown in the UI. host_report with
``gather`` writes the full facts into the host's JSON file on the controller and returns only this
summary, which names that file; the fleet report and the verdict read the full facts from it.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import json

# How gather_facts applies module_defaults to the module it runs; private to ansible-core, so each is
# imported on its own: the action still loads if a later ansible-core renames both.
try:  # ansible-core 2.19 and later
    from ansible.executor.module_common import _apply_action_arg_defaults
except ImportError:
    _apply_action_arg_defaults = None
try:  # ansible-core 2.16 to 2.18
    from ansible.executor.module_common import get_action_args_with_defaults
except ImportError:
    get_action_args_with_defaults = None

# ansible_facts.memops.detail of a summary; full facts have no detail key
SUMMARY = "summary"


class GatherError(Exception):
    """The full facts a summary names cannot be read."""


def is_summary(facts) -> bool:
    """Whether facts are a summary (whose full facts are in report_file) rather than the full facts."""
    return isinstance(facts, dict) and facts.get("detail") == SUMMARY


def summary(facts: dict, report_file: str, findings: int) -> dict:
    """The facts to keep in the play: health status, counts, partial, the id and severity of the first
    ``findings`` findings (their title, evidence and fix are in host_report's msg, evidence that quotes a
    command line left out), uptime, and the file with the rest."""
    health = facts.get("health") if isinstance(facts.get("health"), dict) else {}
    return {
        "detail": SUMMARY,
        "report_file": report_file,
        "health": {
            "status": health.get("status"),
            "counts": health.get("counts"),
            "partial": health.get("partial"),
            "findings": [{key: finding.get(key) for key in ("id", "severity")}
                         for finding in (health.get("findings") or [])[:findings] if isinstance(finding, dict)],
        },
        "uptime_seconds": facts.get("uptime_seconds"),
    }


def with_module_defaults(module: str, args: dict, task, templar) -> dict:
    """args with the play's module_defaults for module filled in, as gather_facts does for the module it runs."""
    if _apply_action_arg_defaults is not None:
        return _apply_action_arg_defaults(module, task, args, templar)
    if get_action_args_with_defaults is not None:
        action_groups = task._parent._play._action_groups if task._parent else None
        return get_action_args_with_defaults(module, args, task.module_defaults, templar, action_groups=action_groups)
    return args  # neither helper: the options given to gather, without module_defaults


def full_facts(facts):
    """The full facts of a summary, read from its report_file; other facts as they are. Raises GatherError."""
    if not is_summary(facts):
        return facts
    path = facts.get("report_file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, TypeError, ValueError) as exc:
        raise GatherError("its facts file %s cannot be read (%s); run memops.linux.diagnose on it again" % (path, exc))
    if not isinstance(document, dict) or not isinstance(document.get("memops"), dict):
        raise GatherError("its facts file %s holds no memops facts; run memops.linux.diagnose on it again" % path)
    return document["memops"]


def _command_lines(value, found):
    """Every command line with arguments in value (the cmdline keys of processes and workloads)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "cmdline" and isinstance(item, str) and " " in item.strip():
                found.add(item[:200])  # evidence quotes the first 200 characters
            else:
                _command_lines(item, found)
    elif isinstance(value, list):
        for item in value:
            _command_lines(item, found)
    return found


def without_command_lines(lines: list, facts: dict) -> list:
    """The summary lines of host_summary without the evidence lines that quote a command line of facts."""
    commands = _command_lines(facts, set())
    return [line for line in lines
            if not (line.startswith("    ") and any(command in line for command in commands))]
