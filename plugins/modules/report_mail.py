#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file only documents the module: memops.linux.report_mail runs as an
# action plugin on the controller (plugins/action/report_mail.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: report_mail
short_description: Send the fleet memory report by mail from the controller
version_added: 0.1.0
description:
  - Sends the fleet report that M(memops.linux.fleet_report) wrote into O(report_dir) by mail, over SMTP, from
    the controller; the managed hosts are never contacted.
  - "The mail is what a person reads first: the subject gives the fleet verdict and its counts (for example
    C(Memory report: CRITICAL, 12 hosts: 1 critical, 0 unknown, 2 monitor, 9 ok)); the body (plain text) is the
    summary of C(report.md): the fleet's totals, the table of hosts, most severe first (the first 50; the
    others are counted), and the findings across the fleet with their fixes; C(report.html), the page with
    every host in detail, is attached, and C(report.json) with O(attach_json)."
  - Nothing is sent when the options are wrong, the report cannot be read, or the server cannot be reached,
    refuses TLS, the login or every recipient; the task fails with a message naming the problem. When the server
    refuses some recipients only, the others get the mail, and the task warns and lists them in RV(refused).
  - The report holds the command lines of the hosts' largest processes (redacted, see
    M(memops.linux.fleet_report)); the mail carries them to its recipients. Use O(security=starttls) or
    O(security=ssl) (the default is V(starttls)) and recipients who may read them.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
options:
  report_dir:
    description:
      - The directory holding C(report.json), C(report.md) and C(report.html), as O(memops.linux.fleet_report#module:dest).
    type: path
    required: true
  to:
    description:
      - Recipients, each C(name@domain) or C(Name <name@domain>).
      - O(to), O(cc) and O(bcc) together must name at least one recipient.
    type: list
    elements: str
    default: []
  cc:
    description:
      - Copy recipients, shown in the mail's C(Cc) header.
    type: list
    elements: str
    default: []
  bcc:
    description:
      - Hidden recipients, in no header.
    type: list
    elements: str
    default: []
  sender:
    description:
      - The C(From) address. C(memops@<controller host name>) when left out.
    type: str
    aliases: [from]
  subject:
    description:
      - The start of the subject, which the fleet verdict and counts follow. The report's title when left out.
    type: str
  attach_json:
    description:
      - Attach C(report.json) as well, for a program on the receiving side.
    type: bool
    default: false
  host:
    description:
      - The SMTP server.
    type: str
    default: localhost
  port:
    description:
      - The server's port, 1 to 65535. V(465) with O(security=ssl), else V(25), when left out; submission
        servers usually take V(587) with O(security=starttls).
    type: int
  security:
    description:
      - V(starttls) connects in plain SMTP, then requires STARTTLS before anything else is sent; a server that
        does not offer it fails the task.
      - V(ssl) speaks TLS from the start (SMTPS, port 465).
      - V(never) sends in clear text, the login included; only on a network where that is acceptable, such as
        a relay on the controller itself.
      - The server's certificate is checked against the system's CAs, or O(ca_path), and its host name against
        O(host), unless O(validate_certs=false).
    type: str
    choices: [never, starttls, ssl]
    default: starttls
  username:
    description:
      - Log in as this user (SMTP AUTH, after TLS). No login when left out.
    type: str
  password:
    description:
      - The password of O(username). Never shown in the task's result; keep it in Ansible Vault or an AWX
        credential.
    type: str
  timeout:
    description:
      - Seconds to wait for the server at each step, 1 or more.
    type: int
    default: 30
  ca_path:
    description:
      - A PEM file of the CA certificates to check the server's certificate against, instead of the system's,
        for a server whose certificate an internal CA signed.
    type: path
  validate_certs:
    description:
      - Whether to check the server's certificate and host name. V(false) only for a test server; anyone on
        the way could read the mail and the password.
    type: bool
    default: true
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    support: full
    details:
      - Reads the report and builds the mail, connects to no server and sends nothing; returns C(changed) and
        what would be sent.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller only, which must reach the SMTP server.
notes:
  - "Run it once, on the controller, after M(memops.linux.fleet_report), with C(run_once: true) and
    C(delegate_to: localhost), or in a play on C(localhost)."
  - C(playbooks/diagnose.yml) runs it when the role variable C(diagnose_report_mail) is set.
seealso:
  - module: memops.linux.fleet_report
  - module: community.general.mail
    description: A general mail module, for mails other than the report.
"""

EXAMPLES = r"""
- name: Mail the fleet report to the operators
  memops.linux.report_mail:
    report_dir: "{{ playbook_dir }}/memops-report"
    to: [ops@example.com]
    cc: [Capacity team <capacity@example.com>]
    sender: memops@example.com
    host: smtp.example.com
    port: 587
    security: starttls
    username: memops
    password: "{{ vault_smtp_password }}"
  delegate_to: localhost
  run_once: true

- name: Through the relay on the controller, with the JSON for a ticketing robot
  memops.linux.report_mail:
    report_dir: /var/lib/memops/report
    to: [memops-robot@example.com]
    security: never
    attach_json: true
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
recipients:
  description: Every recipient (O(to), O(cc), O(bcc)), as given, each once.
  returned: always
  type: list
  elements: str
  sample: [ops@example.com, Capacity team <capacity@example.com>]
subject:
  description: The mail's subject.
  returned: always
  type: str
  sample: "Memory report: CRITICAL, 12 hosts: 1 critical, 0 unknown, 2 monitor, 9 ok"
attachments:
  description: The names of the files attached.
  returned: always
  type: list
  elements: str
  sample: [report.html]
refused:
  description: The recipients the server refused, with its reply; the others got the mail.
  returned: always
  type: dict
  sample: {old@example.com: "550 5.1.1 no such user"}
msg:
  description: What was sent (or, in check mode, would be), to whom and through which server.
  returned: always
  type: str
  sample: "sent Memory report: OK, 3 hosts: 0 critical, 0 unknown, 0 monitor, 3 ok to ops@example.com through smtp.example.com:587"
"""
