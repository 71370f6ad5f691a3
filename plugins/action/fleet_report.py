# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of memops.linux.fleet_report: read hosts' memops facts, write the report files."""

from __future__ import annotations

import contextlib
import functools
import json
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
from ansible_collections.memops.linux.plugins.plugin_utils import _report_merge

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
        "host_files": {"type": "bool", "default": False},
        "merge": {"type": "bool", "default": False},
        "run_id": {"type": "str"},
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
        run_id = args["run_id"] if args["run_id"] else None
        if args["merge"] and run_id is None:
            raise _action.ActionFailure(
                "merge needs run_id, the id every slice of one run shares (in AWX, awx_workflow_job_id), so that "
                "the hosts of earlier runs are left out; give run_id, or merge: false")
        _action.check_dest(dest)
        dest_created = not os.path.isdir(dest)
        check_mode = self._task.check_mode
        if not check_mode:
            try:
                _textfile.make_directories(dest, args["directory_mode"])
            except OSError as exc:
                raise _action.ActionFailure("cannot write the report into %s: %s" % (dest, to_native(exc)))

        hosts_facts, errors, written = self._hosts(args, mode, task_vars, dest, run_id)
        result = {}
        lock = _report_merge.locked(dest, mode) if args["merge"] and not check_mode else contextlib.nullcontext()
        try:
            with lock:
                if args["merge"]:
                    # the other slices of this run; this one's hosts, just written, win over their older files
                    other = _report_merge.read_run(dest, run_id, set(hosts_facts),
                                                   functools.partial(_report.report_input, top=args["top"]))
                    hosts_facts.update(other["facts"])
                    for name, reason in other["errors"].items():
                        errors.setdefault(name, reason)
                    result["merged"] = {"run_id": run_id, "other_hosts": len(other["facts"]),
                                        "other_runs": other["other_runs"], "unreadable": other["unreadable"]}
                    if other["unreadable"]:
                        result["warnings"] = ["%s: left out of the report: %s" % (os.path.join(dest, "hosts"), line)
                                              for line in other["unreadable"]]
                try:
                    fleet = _report.build_fleet(hosts_facts, errors, title=args["title"], top=args["top"])
                except _report.ReportError as exc:
                    raise _action.ActionFailure(exc)
                # the fleet is the report's own copy: the facts themselves keep their command lines
                _redact.redact_commands(fleet, args["redact"])
                files, pending = self._write_report(dest, fleet, formats, mode, args["directory_mode"])
        except _report_merge.MergeError as exc:
            raise _action.ActionFailure(exc)

        changed = dest_created or bool(pending) or bool(written)
        result.update({
            "changed": changed,
            "dest": dest,
            "files": files,
            "written": ([path for path, _text in pending] + written) if not check_mode else [],
            "summary": fleet["summary"],
            "schema_version": fleet["schema_version"],
        })
        if check_mode and changed:
            result["msg"] = "check mode: would write %s" % ", ".join(path for path, _c in pending) if pending \
                else "check mode: would create %s" % dest
        return result

    def _hosts(self, args, mode, task_vars, dest, run_id):
        """{host: the report's input of its facts, or None}, {host: why it has none} and, with host_files or
        merge, the host files written into dest/hosts (their paths)."""
        # not "or {}": with only the implicit localhost, HostVars is an empty mapping, falsy,
        # and still knows localhost
        hostvars = task_vars.get("hostvars")
        if hostvars is None:
            hostvars = {}
        hosts_facts = {}
        errors = {str(k): to_text(v) for k, v in (args["errors"] or {}).items()}
        written = []
        host_files = args["host_files"] or args["merge"]
        for name in args["hosts"]:
            name = to_text(name)
            facts = None
            if name not in hostvars:
                errors.setdefault(name, "not in the inventory")
            else:
                host = hostvars[name]
                try:
                    # a summary (host_report with gather) names the file holding the full facts
                    facts = _gather.full_facts((host.get("ansible_facts") or {}).get("memops")) or None
                except _gather.GatherError as exc:
                    errors.setdefault(name, to_text(exc))
                if not facts and args["result_var"] and name not in errors:
                    reason = _reason_from_result(host.get(args["result_var"]))
                    if reason:
                        errors[name] = reason
            if host_files and (facts or args["merge"]):
                # the other slices of a run read the hosts without facts too, to name them in the report
                written += self._write_host(dest, name, facts, run_id, errors.get(name), mode, args)
            # the report copies what it keeps, so the facts themselves are never changed
            hosts_facts[name] = _report.report_input(facts, args["top"]) if facts else None
        if args["merge"]:
            for name, reason in errors.items():
                if name not in hosts_facts:
                    written += self._write_host(dest, name, None, run_id, reason, mode, args)
        return hosts_facts, errors, written

    def _write_host(self, dest, name, facts, run_id, reason, mode, args):
        """Write dest/hosts/<name>.json unless it holds the same (but for generated_at) with the same mode:
        [its path] when written (or to be written, in check mode), else []."""
        if facts is not None:
            # a json round trip leaves plain dicts, lists and scalars of the facts
            facts = _redact.redact_commands(json.loads(json.dumps(facts, default=to_text)), args["redact"])
        text = _report_merge.render_document(_report_merge.host_document(
            name, facts, run_id, reason or _report.NO_FACTS_REASON))
        path = os.path.join(dest, _report_merge.HOSTS_DIR, _report_merge.file_name(name))
        try:
            if _textfile.file_mode(path, follow=False) == mode and not _content_changed(path, text):
                return []
            if not self._task.check_mode:
                _textfile.atomic_write(path, text, mode=mode, dir_mode=args["directory_mode"], follow=False)
        except _textfile.TextFileError as exc:
            raise _action.ActionFailure("cannot write the host's report into %s: %s" % (dest, exc))
        return [path]

    def _write_report(self, dest, fleet, formats, mode, directory_mode):
        """The report's files {format: path}, and [(path, text)] of those that change (written unless in
        check mode)."""
        files = {}
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
        if not self._task.check_mode:
            try:
                for path, text in pending:
                    _textfile.atomic_write(path, text, mode=mode, dir_mode=directory_mode, follow=False)
            except (OSError, _textfile.TextFileError) as exc:
                raise _action.ActionFailure("cannot write the report into %s: %s" % (dest, to_native(exc)))
        return files, pending
