# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of memops.linux.report_mail: send the fleet report by mail."""

from __future__ import annotations

import os
import socket

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.memops.linux.plugins.plugin_utils import _mail


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = {
        "report_dir": {"type": "path", "required": True},
        "to": {"type": "list", "elements": "str", "default": []},
        "cc": {"type": "list", "elements": "str", "default": []},
        "bcc": {"type": "list", "elements": "str", "default": []},
        "sender": {"type": "str", "aliases": ["from"]},
        "subject": {"type": "str"},
        "attach_json": {"type": "bool", "default": False},
        "host": {"type": "str", "default": "localhost"},
        "port": {"type": "int"},
        "security": {"type": "str", "choices": ["never", "starttls", "ssl"], "default": "starttls"},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "timeout": {"type": "int", "default": 30},
        "ca_path": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
    }

    def run(self, tmp=None, task_vars=None) -> dict:
        result = super().run(tmp, task_vars or {})
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            result.update(self._mail(args))
        except _mail.MailError as exc:
            raise AnsibleActionFail("report_mail: %s" % exc)
        return result

    def _mail(self, args):
        to = [_mail.check_address(a, "to") for a in args["to"]]
        cc = [_mail.check_address(a, "cc") for a in args["cc"]]
        bcc = [_mail.check_address(a, "bcc") for a in args["bcc"]]
        recipients = list(dict.fromkeys(to + cc + bcc))
        if not recipients:
            raise _mail.MailError("no recipients: to, cc and bcc are empty; name at least one, for example "
                                  "to: [ops@example.com]")
        sender = _mail.check_address(args["sender"] or "memops@%s" % socket.gethostname(), "sender")
        if args["timeout"] <= 0:
            raise _mail.MailError("timeout is %d; give the seconds to wait for the server, 1 or more"
                                  % args["timeout"])
        port = args["port"] if args["port"] is not None else _mail.DEFAULT_PORTS[args["security"]]
        if not 0 < port < 65536:
            raise _mail.MailError("port %d is not a TCP port (1 to 65535)" % port)
        if args["password"] and not args["username"]:
            raise _mail.MailError("password is given without username; give both to log in, or neither")
        report_dir = os.path.abspath(args["report_dir"])
        report = _mail.read_report(report_dir)
        message = _mail.build_message(report, report_dir, sender, to, cc, args["subject"], args["attach_json"])
        result = {
            "changed": True,
            "recipients": recipients,
            "subject": str(message["Subject"]),
            "attachments": [part.get_filename() for part in message.iter_attachments()],
            "refused": {},
        }
        server = "%s:%d" % (args["host"], port)
        if self._task.check_mode:
            result["msg"] = "check mode: would send %s to %s through %s" % (
                result["subject"], ", ".join(recipients), server)
            return result
        refused = _mail.send(message, recipients, dict(args, port=port))
        result["refused"] = {addr: "%d %s" % (code, reply) for addr, (code, reply) in refused.items()}
        result["msg"] = "sent %s to %s through %s" % (
            result["subject"], ", ".join(r for r in recipients if r not in refused), server)
        if refused:
            result["warnings"] = ["report_mail: the SMTP server refused %s: %s; the others got the mail" % (
                addr, reason) for addr, reason in result["refused"].items()]
        return result
