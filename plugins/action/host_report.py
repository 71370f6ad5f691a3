# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of memops.linux.host_report: one host's summary, and its JSON on the controller."""

from __future__ import annotations

import json
import os

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.memops.linux.plugins.module_utils import _redact
from ansible_collections.memops.linux.plugins.module_utils import _textfile
from ansible_collections.memops.linux.plugins.plugin_utils import _action
from ansible_collections.memops.linux.plugins.plugin_utils import _gather
from ansible_collections.memops.linux.plugins.plugin_utils import _report_merge
from ansible_collections.memops.linux.plugins.plugin_utils import _summary


class ActionModule(_action.ReportAction):

    NAME = "host_report"
    ARGUMENT_SPEC = {
        "dest": {"type": "path"},
        "findings": {"type": "int", "default": 5},
        "consumers": {"type": "int", "default": 5},
        "gather": {"type": "dict"},
        "return_facts": {"type": "str", "choices": ["summary", "full"], "default": "summary"},
    }
    # with gather, mem_facts runs on the host through the task's connection
    _requires_connection = True

    def _gather(self, options, task_vars):
        """Run mem_facts on the host with options (and the play's module_defaults for it): its facts, or
        its failed or unreachable result to return as it is."""
        module = "memops.linux.mem_facts"
        options = _gather.with_module_defaults(module, dict(options), self._task, self._templar)
        result = self._execute_module(module_name=module, module_args=options, task_vars=task_vars)
        result.pop("invocation", None)
        self._other_facts = dict(result.get("ansible_facts") or {})
        facts = self._other_facts.pop("memops", None)
        if result.get("failed") or result.get("unreachable") or not facts:
            result.setdefault("failed", not result.get("unreachable"))
            return None, result
        return facts, None

    def act(self, args, mode, task_vars):
        host = to_text(task_vars.get("inventory_hostname"))
        if args["gather"] is not None:
            if args["return_facts"] == "summary" and not args["dest"]:
                raise _action.ActionFailure("return_facts=summary keeps the full facts only in the host's JSON "
                                            "file: give dest, or return_facts=full")
            if args["return_facts"] == "summary" and self._task.check_mode:
                raise _action.ActionFailure("return_facts=summary keeps the full facts only in the host's JSON "
                                            "file, which check mode does not write: set check_mode: false on "
                                            "the task, or return_facts=full")
            facts, failure = self._gather(args["gather"], task_vars)
            if failure is not None:
                return failure
            result = self._report(args, mode, host, facts)
            # what the module found besides (the discovered interpreter, kept for the next tasks)
            result["ansible_facts"].update(self._other_facts)
            return result
        if args["return_facts"] != "summary":
            raise _action.ActionFailure("return_facts applies only with gather: without it host_report "
                                        "returns no facts")
        facts = (task_vars.get("ansible_facts") or {}).get("memops")
        try:
            facts = _gather.full_facts(facts)
        except _gather.GatherError as exc:
            raise _action.ActionFailure("%s: %s" % (host, exc))
        if not facts:
            raise _action.ActionFailure("%s has no memops facts (ansible_facts.memops); "
                                        "run memops.linux.mem_facts on it first" % host)
        return self._report(args, mode, host, facts)

    def _report(self, args, mode, host, facts):
        """Write the host's JSON (with dest) and return its summary; with gather, also its facts."""
        # a json round trip leaves plain dicts, lists and scalars of the facts
        facts = _redact.redact_commands(json.loads(json.dumps(facts, default=to_text)), args["redact"])
        try:
            lines = _summary.host_summary(facts, args["findings"], args["consumers"])
        except _summary.SummaryError as exc:
            raise _action.ActionFailure(exc)

        path = None
        changed = False
        if args["dest"]:
            _action.check_dest(os.path.abspath(args["dest"]))
            path = os.path.join(os.path.abspath(args["dest"]), _report_merge.file_name(host))
            try:
                # a link planted there gives its own mode (0777): it is replaced, never written through
                current_mode = _textfile.file_mode(path, follow=False)
                if not self._task.check_mode:
                    _textfile.atomic_write(path, _report_merge.render_document(_report_merge.host_document(host, facts)),
                                           mode=mode, dir_mode=args["directory_mode"], follow=False)
            except _textfile.TextFileError as exc:
                raise _action.ActionFailure("%s; dest must be a directory the controller user "
                                            "may write to" % exc)
            # rewriting the file is not a change; opening it to other users or closing it is
            changed = current_mode not in (None, mode)

        health = facts.get("health") if isinstance(facts.get("health"), dict) else {}  # facts of any shape
        result = {
            # the host is not changed; the file on the controller is the diagnosis' output
            "changed": changed,
            "path": path,
            "status": health.get("status", "unknown"),
            "msg": lines,
            # shown like the output of debug, without -v
            "_ansible_verbose_always": True,
        }
        if args["gather"] is not None:
            if args["return_facts"] == "full":
                result["ansible_facts"] = {"memops": facts}
            else:
                # the job event of this task stays small and holds no command line: the facts it
                # returns are a summary naming the file that holds the rest
                result["ansible_facts"] = {"memops": _gather.summary(facts, path, args["findings"])}
                result["msg"] = _gather.without_command_lines(lines, facts)
        return result
