# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of memops.linux.fleet_report: read hosts' memops facts, write the report files."""

from __future__ import annotations

import os
import stat

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.memops.linux.plugins.module_utils import _redact
from ansible_collections.memops.linux.plugins.module_utils import _textfile
from ansible_collections.memops.linux.plugins.plugin_utils import _action
from ansible_collections.memops.linux.plugins.plugin_utils import _gather
from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown

FORMATS = {"json": ("report.json", _report.render_json),
           "markdown": ("report.md", _report_markdown.render_markdown),
           "html": ("report.html", _report_html.render_html)}


def _reason_from_result(result):
    """Why a registered mem_facts result has no facts: unreachable, failed or skipped, with its msg."""
    if not isinstance(result, dict):
        return None
    msg = to_text(result.get("msg") or "").strip()
    if msg.startswith("Task failed: "):  # ansible-core 2.19+ says so before every message
        msg = msg[len("Task failed: "):]
    if result.get("unreachable"):
        return "unreachable: %s" % msg if msg else "unreachable"
    if result.get("failed"):
        return "failed: %s" % msg if msg else "failed"
    if result.get("skipped"):
        return "skipped: %s" % msg if msg else "skipped"
    return None


def _content_changed(path, text):
    """Whether path would change; a report that differs only in generated_at does not. Only a regular file is
    read (not through a link, and never a FIFO someone put there): anything else is replaced."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return True
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        old = handle.read()
    return not _report.same_report(old.decode("utf-8", "replace"), text)


class ActionModule(_action.ReportAction):

    NAME = "fleet_report"
    ARGUMENT_SPEC = {
        "dest": {"type": "path", "required": True},
        "hosts": {"type": "list", "elements": "str", "required": True},
        "formats": {"type": "list", "elements": "str", "choices": list(FORMATS), "default": list(FORMATS)},
        "title": {"type": "str", "default": _report.DEFAULT_TITLE},
        "errors": {"type": "dict", "default": {}},
        "result_var": {"type": "str"},
        "top": {"type": "int", "default": 5},
    }

    def act(self, args, mode, task_vars):
        dest = os.path.abspath(args["dest"])
        formats = list(dict.fromkeys(args["formats"]))
        if not formats:
            raise _action.ActionFailure("formats is empty; name one or more of json, markdown, html")
        try:
            _report.check_top(args["top"])
        except _report.ReportError as exc:
            raise _action.ActionFailure(exc)

        # not "or {}": with only the implicit localhost, HostVars is an empty mapping, falsy,
        # and still knows localhost
        hostvars = task_vars.get("hostvars")
        if hostvars is None:
            hostvars = {}
        hosts_facts = {}
        errors = {str(k): to_text(v) for k, v in (args["errors"] or {}).items()}
        for name in args["hosts"]:
            name = to_text(name)
            if name not in hostvars:
                hosts_facts[name] = None
                errors.setdefault(name, "not in the inventory")
                continue
            host = hostvars[name]
            facts = (host.get("ansible_facts") or {}).get("memops")
            try:
                # a summary (host_report with gather) names the file holding the full facts
                facts = _gather.full_facts(facts)
            except _gather.GatherError as exc:
                hosts_facts[name] = None
                errors.setdefault(name, to_text(exc))
                continue
            if facts:
                # the report copies what it keeps, so the facts themselves are never changed
                hosts_facts[name] = _report.report_input(facts, args["top"])
                continue
            hosts_facts[name] = None
            if args["result_var"] and name not in errors:
                reason = _reason_from_result(host.get(args["result_var"]))
                if reason:
                    errors[name] = reason

        try:
            fleet = _report.build_fleet(hosts_facts, errors, title=args["title"], top=args["top"])
        except _report.ReportError as exc:
            raise _action.ActionFailure(exc)
        # the fleet is the report's own copy: the facts themselves keep their command lines
        _redact.redact_commands(fleet, args["redact"])

        _action.check_dest(dest)
        files = {}
        changed = False
        dest_created = not os.path.isdir(dest)
        pending = []
        for fmt in formats:
            filename, render = FORMATS[fmt]
            path = os.path.join(dest, filename)
            files[fmt] = path
            text = render(fleet)
            try:
                # a file of another mode is written again, which also replaces one the controller
                # user does not own and so could not chmod
                # a link planted there gives its own mode (0777): it is replaced, never written through
                wrong_mode = _textfile.file_mode(path, follow=False) != mode
            except _textfile.TextFileError as exc:
                raise _action.ActionFailure(exc)
            if wrong_mode or _content_changed(path, text):
                pending.append((path, text))
        changed = dest_created or bool(pending)

        if not self._task.check_mode:
            try:
                _textfile.make_directories(dest, args["directory_mode"])
                for path, text in pending:
                    _textfile.atomic_write(path, text, mode=mode, dir_mode=args["directory_mode"], follow=False)
            except (OSError, _textfile.TextFileError) as exc:
                raise _action.ActionFailure("cannot write the report into %s: %s" % (dest, to_native(exc)))

        result = {
            "changed": changed,
            "dest": dest,
            "files": files,
            "written": [path for path, _text in pending] if not self._task.check_mode else [],
            "summary": fleet["summary"],
            "schema_version": fleet["schema_version"],
        }
        if self._task.check_mode and changed:
            result["msg"] = "check mode: would write %s" % ", ".join(path for path, _c in pending) if pending \
                else "check mode: would create %s" % dest
        return result
