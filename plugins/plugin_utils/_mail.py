# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report as a mail: the Markdown summary in the body, report.html attached; and its sending over SMTP.

Controller code, standard library only (smtplib, ssl, email). Every failure is a MailError whose message says
what went wrong, whether anything was sent, and what to change.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage

# the hosts' table of the body keeps the most severe ones; report.html has every host
BODY_HOSTS = 50
DEFAULT_PORTS = {"never": 25, "starttls": 25, "ssl": 465}
REPORT_FILES = {"json": "report.json", "markdown": "report.md", "html": "report.html"}


class MailError(Exception):
    """Why the mail was not sent."""


def check_address(address: str, option: str) -> str:
    """A mail address as given (``ops@example.com``, ``Ops <ops@example.com>``); raises MailError."""
    text = str(address)
    if "\n" in text or "\r" in text:
        raise MailError("%s %r holds a line break; give one address per list item" % (option, text))
    _name, addr = email.utils.parseaddr(text)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise MailError("%s %r is not a mail address; expected name@domain, for example ops@example.com"
                        % (option, text))
    return text


def read_report(report_dir: str) -> dict:
    """{"json": the report's document, "markdown": report.md's text, "html": report.html's bytes}."""
    out = {}
    for key, name in REPORT_FILES.items():
        path = os.path.join(report_dir, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise MailError("cannot read %s: %s; report_dir must hold the fleet report that "
                            "memops.linux.fleet_report writes (report.json, report.md, report.html)"
                            % (path, exc.strerror or exc))
        out[key] = data
    try:
        out["json"] = json.loads(out["json"].decode("utf-8"))
        if not isinstance(out["json"]["summary"]["status_counts"], dict):
            raise TypeError("summary.status_counts is not a mapping")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise MailError("%s is not a fleet report (%s); write it with memops.linux.fleet_report"
                        % (os.path.join(report_dir, "report.json"), exc))
    out["markdown"] = out["markdown"].decode("utf-8", "replace")
    return out


def subject(report: dict, lead: str | None = None) -> str:
    """'Memory report: CRITICAL, 12 hosts: 1 critical, 0 unknown, 2 monitor, 9 ok'."""
    summary = report["summary"]
    counts = summary["status_counts"]
    text = "%s: %s, %d host%s: %d critical, %d unknown, %d monitor, %d ok" % (
        lead or report.get("title") or "Memory report", str(summary.get("status", "")).upper(), summary["hosts"],
        "" if summary["hosts"] == 1 else "s", counts.get("critical", 0), counts.get("unknown", 0),
        counts.get("monitor", 0), counts.get("ok", 0))
    return " ".join(text.split())  # no line break from a title


def body(markdown: str, report_dir: str, attached: list) -> str:
    """The summary of report.md (everything before the details of each host), its hosts' table cut at
    BODY_HOSTS rows, and where the rest is."""
    lines = markdown.split("\n")
    if "## Host details" in lines:
        lines = lines[:lines.index("## Host details")]
    out, rows, in_hosts = [], 0, False
    for line in lines:
        if line.startswith("## "):
            in_hosts = line == "## Hosts"
        elif in_hosts and line.startswith("| ") and not line.startswith("| Host |"):
            rows += 1
            if rows > BODY_HOSTS:
                continue
        elif in_hosts and not line and rows > BODY_HOSTS:
            out.append("| … and %d more host%s: see report.html | | | | | | | | | | |"
                       % (rows - BODY_HOSTS, "" if rows - BODY_HOSTS == 1 else "s"))
            rows = 0
        out.append(line)
    while out and not out[-1]:
        out.pop()
    out += ["", "---", "",
            "Every host in detail: the attached %s." % " and ".join(attached),
            "The report on the controller (%s): %s" % (socket.gethostname(), report_dir), ""]
    return "\n".join(out)


def build_message(report: dict, report_dir: str, sender: str, to: list, cc: list, lead: str | None,
                  attach_json: bool) -> EmailMessage:
    attached = ["report.html"] + (["report.json"] if attach_json else [])
    # a subject longer than 78 characters stays on its line: folded, Python's parser (and some clients) would
    # start it with a space
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["Subject"] = subject(report["json"], lead)
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message.set_content(body(report["markdown"], report_dir, attached), subtype="plain", charset="utf-8")
    message.add_attachment(report["html"], maintype="text", subtype="html", filename="report.html")
    if attach_json:
        message.add_attachment(json.dumps(report["json"], ensure_ascii=False).encode("utf-8"),
                               maintype="application", subtype="json", filename="report.json")
    return message


def _tls_context(ca_path, validate_certs):
    try:
        context = ssl.create_default_context(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise MailError("cannot read the CA certificates in ca_path %s: %s; give a PEM file of the CA that "
                        "signed the server's certificate" % (ca_path, getattr(exc, "strerror", None) or exc))
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send(message: EmailMessage, recipients: list, server: dict) -> dict:
    """Send over SMTP; server: host, port, security (never, starttls, ssl), username, password, timeout,
    ca_path, validate_certs. Returns {recipient: (code, reply)} of those refused (the others got it)."""
    host, port, security = server["host"], server["port"], server["security"]
    where = "%s:%d" % (host, port)
    context = _tls_context(server["ca_path"], server["validate_certs"]) if security != "never" else None
    connection = None
    try:
        try:
            if security == "ssl":
                connection = smtplib.SMTP_SSL(host, port, timeout=server["timeout"], context=context)
            else:
                connection = smtplib.SMTP(host, port, timeout=server["timeout"])
            connection.ehlo()
            if security == "starttls":
                if not connection.has_extn("starttls"):
                    raise MailError("the SMTP server %s does not offer STARTTLS; nothing was sent. Use security: ssl "
                                    "for a server that speaks TLS from the start (port 465), or security: never "
                                    "only on a network where the mail may travel in clear" % where)
                connection.starttls(context=context)
                connection.ehlo()
            if server["username"]:
                connection.login(server["username"], server["password"] or "")
        except ConnectionRefusedError:
            raise MailError("cannot connect to the SMTP server %s: connection refused; nothing was sent. Check host "
                            "and port (25 or 587 for security never or starttls, 465 for ssl)" % where)
        except socket.gaierror as exc:
            raise MailError("cannot find the SMTP server %s: %s; nothing was sent. Check host" % (host, exc.strerror))
        except (socket.timeout, TimeoutError):
            raise MailError("the SMTP server %s did not answer within %s s; nothing was sent. Check host, port "
                            "and the firewall, or raise timeout" % (where, server["timeout"]))
        except ssl.SSLCertVerificationError as exc:
            raise MailError("the certificate of the SMTP server %s is not trusted (%s); nothing was sent. Give "
                            "ca_path, the CA that signed it, or validate_certs: false for a test server only"
                            % (where, exc.verify_message or exc.reason))
        except ssl.SSLError as exc:
            raise MailError("TLS with the SMTP server %s failed (%s); nothing was sent. With security: ssl the "
                            "server must speak TLS from the start (port 465), with starttls plain SMTP first "
                            "(25, 587)" % (where, exc.reason or exc))
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError("the SMTP server %s refused the login of %s (%d %s); nothing was sent. Check username "
                            "and password" % (where, server["username"], exc.smtp_code, _text(exc.smtp_error)))
        except smtplib.SMTPNotSupportedError:
            raise MailError("the SMTP server %s offers no login (AUTH)%s; nothing was sent. Leave username out, or "
                            "use security: starttls or ssl" % (
                                where, " without TLS, as many servers do" if security == "never" else ""))
        except smtplib.SMTPException as exc:
            raise MailError("the SMTP server %s: %s; nothing was sent" % (where, _text(exc)))
        except OSError as exc:
            raise MailError("cannot connect to the SMTP server %s: %s; nothing was sent"
                            % (where, exc.strerror or exc))
        try:
            refused = connection.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError("the SMTP server %s refused every recipient (%s); nothing was sent" % (where, "; ".join(
                "%s: %d %s" % (addr, code, _text(reply)) for addr, (code, reply) in exc.recipients.items())))
        except smtplib.SMTPSenderRefused as exc:
            raise MailError("the SMTP server %s refused the sender %s (%d %s); nothing was sent. Give a sender the "
                            "server accepts" % (where, exc.sender, exc.smtp_code, _text(exc.smtp_error)))
        except smtplib.SMTPDataError as exc:
            raise MailError("the SMTP server %s refused the mail (%d %s); nothing was sent"
                            % (where, exc.smtp_code, _text(exc.smtp_error)))
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError("the connection to the SMTP server %s broke while sending (%s); the mail may not "
                            "have been sent" % (where, _text(exc)))
        return {addr: (code, _text(reply)) for addr, (code, reply) in refused.items()}
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
