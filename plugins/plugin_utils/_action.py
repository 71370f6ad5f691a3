# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the report actions share (host_report, fleet_report): they run on the controller only, check their
arguments, read the mode of the files they write and fail with their own name first.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.memops.linux.plugins.module_utils import _redact
from ansible_collections.memops.linux.plugins.module_utils import _textfile

# The mode option of every report action: the files hold command lines, which may hold secrets.
MODE_OPTION = {"type": "raw", "default": "0600"}
# The mode of the directories they create: owner-only unless asked.
DIRECTORY_MODE_OPTION = {"type": "raw", "default": "0700"}
# What is hidden in the command lines they write (None: _redact's defaults).
REDACT_OPTION = {"type": "list", "elements": "str"}


class ActionFailure(Exception):
    """Why the action fails, without the plugin's name: ReportAction.run puts the name first."""


class ReportAction(ActionBase):
    """An action that runs on the controller and writes files there.

    A subclass names itself (NAME, the prefix of its failure messages), lists its options (ARGUMENT_SPEC; the
    mode, directory_mode and redact options are added here, directory_mode parsed to its bits, redact compiled)
    and returns its result from act(); an ActionFailure raised there fails the task.
    """

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    NAME = ""
    ARGUMENT_SPEC: dict = {}

    def run(self, tmp=None, task_vars=None) -> dict:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        _validation, args = self.validate_argument_spec(
            argument_spec=dict(self.ARGUMENT_SPEC, mode=MODE_OPTION, directory_mode=DIRECTORY_MODE_OPTION,
                               redact=REDACT_OPTION))
        try:
            mode = _textfile.parse_mode(args["mode"])
            args["directory_mode"] = _textfile.parse_mode(args["directory_mode"], "directory_mode", directory=True)
            args["redact"] = _redact.compile_patterns(args["redact"])
            result.update(self.act(args, mode, task_vars))
        except (_textfile.ModeError, _redact.RedactError, ActionFailure) as exc:
            raise AnsibleActionFail("%s: %s" % (self.NAME, exc))
        return result

    def act(self, args: dict, mode: int, task_vars: dict) -> dict:
        """The task's result from its checked arguments and the mode of the files it writes."""
        raise NotImplementedError
