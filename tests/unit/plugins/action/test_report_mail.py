# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""report_mail run for real: one ansible-playbook whose tasks mail a fleet report to real SMTP servers on
loopback ports (aiosmtpd: plain, STARTTLS with a login, TLS from the start), and to a port where none
listens; each mail the servers received is read back and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.memops.linux.plugins.plugin_utils import _mail
from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_html
from ansible_collections.memops.linux.plugins.plugin_utils import _report_markdown
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fleet_synthetic import fleet_facts

smtp = pytest.importorskip("ansible_collections.memops.linux.tests.unit.smtp_server",
                           reason="aiosmtpd is not installed (tests/requirements.txt)")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

HOSTS = 60  # more than the body's table holds
OPS = ["ops@example.com", "Dev Team <dev@example.com>"]


def write_report(directory, count=HOSTS, title="Fleet of tests"):
    fleet = _report.build_fleet(fleet_facts(count), title=title)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(_report.render_json(fleet))
    (directory / "report.md").write_text(_report_markdown.render_markdown(fleet))
    (directory / "report.html").write_text(_report_html.render_html(fleet))
    return fleet


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    """Run every case's task in one playbook against the servers; {case: (its result, the mails received
    whose subject starts with its name)}, the playbook's output and the report."""
    tmp_path = tmp_path_factory.mktemp("mail")
    report_dir = tmp_path / "report"
    fleet = write_report(report_dir)
    with smtp.smtp_server() as (plain, plain_port, _c), \
            smtp.smtp_server(tmp_path / "starttls", "starttls", login=True) as (tls, tls_port, tls_cert), \
            smtp.smtp_server(tmp_path / "ssl", "ssl") as (smtps, ssl_port, ssl_cert):
        closed_port = smtp.free_port()
        plain_server = {"host": smtp.HOST, "port": plain_port, "security": "never"}
        tls_server = {"host": smtp.HOST, "port": tls_port, "security": "starttls", "ca_path": str(tls_cert),
                      "username": smtp.USER, "password": smtp.PASSWORD}
        cases = {
            "plain": dict(plain_server, to=OPS, cc=["cc@example.com"], bcc=["hidden@example.com"],
                          sender="memops@example.org"),
            "starttls": dict(tls_server, to=OPS[:1], attach_json=True),
            "ssl": dict(host="localhost", port=ssl_port, security="ssl", ca_path=str(ssl_cert), to=OPS[:1]),
            "check": dict(plain_server, to=OPS),
            "refused": dict(plain_server, port=closed_port, to=OPS),
            "badlogin": dict(tls_server, password="wr0ng-pa55", to=OPS),
            "norecipient": dict(plain_server),
            "nostarttls": dict(plain_server, security="starttls", to=OPS),
            "untrusted": dict(tls_server, ca_path=None, to=OPS),
            "someunknown": dict(plain_server, to=OPS[:1] + ["gone" + smtp.UNKNOWN_DOMAIN]),
            "allunknown": dict(plain_server, to=["gone" + smtp.UNKNOWN_DOMAIN]),
            "badaddress": dict(plain_server, to=["ops at example.com"]),
            "noreport": dict(plain_server, to=OPS, report_dir=str(tmp_path / "absent")),
        }
        tasks = []
        for name, args in cases.items():
            args = dict({"report_dir": str(report_dir), "subject": "case " + name, "timeout": 10},
                        **{key: value for key, value in args.items() if value is not None})
            tasks.append({"name": "Mail case " + name, "memops.linux.report_mail": args, "register": "r_" + name,
                          "ignore_errors": True, "check_mode": name == "check"})
        results_file = tmp_path / "results.json"
        tasks.append({"name": "Keep the results", "ansible.builtin.copy": {
            "content": "{{ {%s} | to_json }}" % ", ".join("'%s': r_%s" % (name, name) for name in cases),
            "dest": str(results_file), "mode": "0600"}})
        (tmp_path / "playbook.yml").write_text(json.dumps([{"name": "Mail", "hosts": "localhost",
                                                            "gather_facts": False, "tasks": tasks}]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        proc = subprocess.run([ansible_playbook(), "-v", "-e", "ansible_python_interpreter=" + sys.executable,
                               str(tmp_path / "playbook.yml")], env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        mails = plain.mails + tls.mails + smtps.mails
    assert results_file.exists(), proc.stdout + proc.stderr
    results = json.loads(results_file.read_text())
    by_case = {name: (results[name], [mail for mail in mails if mail["message"]["Subject"].startswith(
        "case %s:" % name)]) for name in cases}
    return by_case, proc.stdout + proc.stderr + results_file.read_text(), report_dir, fleet


def parts(message):
    """(the body's text, {attachment file name: (content type, bytes)})."""
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as sent over SMTP
    attachments = {part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
                   for part in message.iter_attachments()}
    return body, attachments


def test_the_mail_carries_the_summary_and_the_page(mailed):
    by_case, _output, report_dir, fleet = mailed
    result, mails = by_case["plain"]
    assert not result.get("failed"), result
    assert len(mails) == 1
    mail = mails[0]
    assert mail["from"] == "memops@example.org" and not mail["tls"]
    assert sorted(mail["to"]) == ["cc@example.com", "dev@example.com", "hidden@example.com", "ops@example.com"]
    message = mail["message"]
    counts = fleet["summary"]["status_counts"]
    assert message["Subject"] == "case plain: %s, %d hosts: %d critical, %d unknown, %d monitor, %d ok" % (
        fleet["summary"]["status"].upper(), HOSTS, counts["critical"], counts["unknown"], counts["monitor"],
        counts["ok"])
    assert message["To"] == "ops@example.com, Dev Team <dev@example.com>" and message["Cc"] == "cc@example.com"
    assert message["Bcc"] is None
    body, attachments = parts(message)
    markdown = (report_dir / "report.md").read_text()
    summary_part = markdown.split("## Hosts")[0]
    assert body.startswith(summary_part.rstrip("\n"))
    assert "## Findings across the fleet" in body and "## Host details" not in body
    host_rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| Host |")
                 and line.split("|")[1].strip() in {host["name"] for host in fleet["hosts"]}]
    assert [row.split("|")[1].strip() for row in host_rows] == [host["name"] for host in fleet["hosts"][:50]]
    assert "… and 10 more hosts: see report.html" in body
    assert "Every host in detail: the attached report.html." in body
    assert attachments == {"report.html": ("text/html", (report_dir / "report.html").read_bytes())}
    assert result["recipients"] == OPS + ["cc@example.com", "hidden@example.com"]
    assert result["attachments"] == ["report.html"] and result["refused"] == {} and result["changed"]


def test_starttls_with_a_login_and_the_json_attached(mailed):
    by_case, _output, report_dir, _fleet = mailed
    result, mails = by_case["starttls"]
    assert not result.get("failed"), result
    assert len(mails) == 1 and mails[0]["tls"] and mails[0]["authenticated"]
    _body, attachments = parts(mails[0]["message"])
    assert attachments["report.html"][1] == (report_dir / "report.html").read_bytes()
    assert attachments["report.json"][0] == "application/json"
    assert json.loads(attachments["report.json"][1]) == json.loads((report_dir / "report.json").read_text())


def test_tls_from_the_start(mailed):
    result, mails = mailed[0]["ssl"]
    assert not result.get("failed"), result
    assert len(mails) == 1 and mails[0]["tls"] and mails[0]["to"] == ["ops@example.com"]


def test_check_mode_sends_nothing(mailed):
    result, mails = mailed[0]["check"]
    assert mails == []
    assert result["changed"] and result["msg"].startswith("check mode: would send case check: ")


@pytest.mark.parametrize("case, message", [
    ("refused", "report_mail: cannot connect to the SMTP server 127.0.0.1:%d: connection refused; nothing was "
                "sent. Check host and port (25 or 587 for security never or starttls, 465 for ssl)"),
    ("badlogin", "report_mail: the SMTP server 127.0.0.1:%d refused the login of memops (535 5.7.8 "
                 "Authentication credentials invalid); nothing was sent. Check username and password"),
    ("norecipient", "report_mail: no recipients: to, cc and bcc are empty; name at least one, for example "
                    "to: [ops@example.com]"),
    ("nostarttls", "report_mail: the SMTP server 127.0.0.1:%d does not offer STARTTLS; nothing was sent."),
    ("untrusted", "report_mail: the certificate of the SMTP server 127.0.0.1:%d is not trusted ("),
    ("allunknown", "report_mail: the SMTP server 127.0.0.1:%d refused every recipient (gone@nowhere.invalid: "
                   "550 5.1.1 no such user); nothing was sent"),
    ("badaddress", "report_mail: to 'ops at example.com' is not a mail address; expected name@domain"),
    ("noreport", "report_mail: cannot read "),
])
def test_failures_say_why_and_send_nothing(mailed, case, message):
    result, mails = mailed[0][case]
    assert mails == []
    assert result["failed"]
    port = result["msg"].split("127.0.0.1:")[1].split(" ")[0].rstrip(":") if "127.0.0.1:" in result["msg"] else ""
    assert result["msg"].startswith(message % int(port) if "%d" in message else message), result["msg"]
    assert "Traceback" not in result["msg"]


def test_some_recipients_refused_the_others_get_it(mailed):
    result, mails = mailed[0]["someunknown"]
    assert not result.get("failed"), result
    assert len(mails) == 1 and mails[0]["to"] == ["ops@example.com"]
    assert result["refused"] == {"gone@nowhere.invalid": "550 5.1.1 no such user"}
    assert result["warnings"] == ["report_mail: the SMTP server refused gone@nowhere.invalid: 550 5.1.1 no such "
                                  "user; the others got the mail"]


def test_the_password_is_never_shown(mailed):
    output = mailed[1]
    assert smtp.PASSWORD not in output and "wr0ng-pa55" not in output


def test_body_of_a_small_fleet_has_every_host_and_a_singular_subject(tmp_path):
    fleet = write_report(tmp_path, count=1, title="One")
    report = _mail.read_report(str(tmp_path))
    assert _mail.subject(report["json"]) == "One: %s, 1 host: %s" % (
        fleet["summary"]["status"].upper(), ", ".join("%d %s" % (fleet["summary"]["status_counts"][s], s)
                                                      for s in ("critical", "unknown", "monitor", "ok")))
    body = _mail.body(report["markdown"], str(tmp_path), ["report.html"])
    assert "more host" not in body and "| host" in body.lower()
