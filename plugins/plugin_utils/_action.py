# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the report actions share (host_report, fleet_report): they run on the controller only, check their
arguments, read the mode of the files they write and fail with their own name first.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import os
import stat

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


def check_dest(dest: str) -> None:
    """Refuse a report directory that would let another user read or replace the report: one that is a file,
    sits under a file, cannot be written, belongs to a user other than this one or root (a directory planted
    in /tmp, or a link to one), or that every user may write to without the sticky bit. A missing dest is
    fine: it is created owner-only (directory_mode). Raises ActionFailure."""
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ActionFailure("dest %s exists and is not a directory; "
                            "dest names the directory the report files go into" % dest)
    parent = dest
    while not os.path.exists(parent):
        parent = os.path.dirname(parent) or "."
    if not os.path.isdir(parent):
        raise ActionFailure("cannot create %s: %s is not a directory" % (dest, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ActionFailure("cannot write into %s: permission denied; pick a dest the "
                            "controller user may write to" % parent)
    if parent != dest:
        return
    info = os.stat(dest)  # a link to a directory is judged by that directory
    if info.st_uid not in (0, os.geteuid()):
        raise ActionFailure("dest %s belongs to user id %d, not to the controller user (%d) or root: that user "
                            "could read or replace the report; pick a directory the controller user owns"
                            % (dest, info.st_uid, os.geteuid()))
    if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        raise ActionFailure("dest %s may be written by every user (mode %04o, no sticky bit): another user could "
                            "replace the report; pick a directory only its owner (or group) may write to"
                            % (dest, info.st_mode & 0o7777))


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
