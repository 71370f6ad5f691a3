# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback: records each task result as AWX would store it as a job event.

AWX (through ansible-runner's awx_display callback) stores, for every host and task, the result the
callbacks receive (``result._result``: the clean copy, ansible_facts, msg and invocation included) as
the ``res`` of a job event, next to the event's ``stdout``, the text the default callback prints for it.
This callback writes one JSON line per result to the file named by MEMOPS_EVENTS_FILE: the event, host,
task, the bytes of the result's JSON and of the printed text (``ok: [host]``, followed by the result as the
default callback shows it when the result asks to be shown without -v), their sum, and the JSON itself.
Enable it with ANSIBLE_CALLBACK_PLUGINS=<this directory> and ANSIBLE_CALLBACKS_ENABLED=job_event_size.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: job_event_size
type: aggregate
short_description: record the size and text of every task result, as AWX stores them as job events (tests only)
description:
  - Appends one JSON line per task result to the file named by the environment variable E(MEMOPS_EVENTS_FILE).
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "job_event_size"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, event, result):
        path = os.environ.get("MEMOPS_EVENTS_FILE")
        if not path:
            return
        text = json.dumps(result._result, cls=AnsibleJSONEncoder, sort_keys=True)
        stdout = "%s: [%s]" % (event.split("_")[-1], result._host.get_name())
        if result._result.get("_ansible_verbose_always"):
            stdout += " => " + self._dump_results(result._result)
        res_bytes, stdout_bytes = len(text.encode("utf-8")), len(stdout.encode("utf-8"))
        line = {"event": event, "host": result._host.get_name(), "task": result._task.get_name(),
                "action": result._task.action, "res_bytes": res_bytes, "stdout_bytes": stdout_bytes,
                "bytes": res_bytes + stdout_bytes, "res": text, "stdout": stdout}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record("runner_on_ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("runner_on_failed", result)

    def v2_runner_on_unreachable(self, result):
        self._record("runner_on_unreachable", result)

    def v2_runner_on_skipped(self, result):
        self._record("runner_on_skipped", result)
