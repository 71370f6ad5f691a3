# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/diagnose.yml delivering its report: job slicing into a shared copy directory, and mail.

AWX job slicing runs one job per slice of the inventory, at the same time, each in a directory of its own
that is deleted afterwards, each given the same awx_workflow_job_id. Here: three ansible-playbook runs at
once, each over an inventory holding only its slice (this machine under several names, connection local),
each started in a directory of its own, sharing a copy directory, mailing to a real SMTP server.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import (
    COLLECTIONS_ROOT, ansible_playbook, artifact_env, mode_of,
)
from ansible_collections.memops.linux.tests.unit.playbooks.test_diagnose_limit import LOCAL, NO_RECENT_OOM, PLAYBOOK

smtp = pytest.importorskip("ansible_collections.memops.linux.tests.unit.smtp_server",
                           reason="aiosmtpd is not installed (tests/requirements.txt)")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

INVENTORY = ["web1", "web2", "web3", "db1", "db2", "app1"]
SLICES = [INVENTORY[index::3] for index in range(3)]


def start(workdir, hosts, extra_vars, check=False):
    """ansible-playbook over an inventory of ``hosts`` only, in ``workdir`` (its report directory is there)."""
    workdir.mkdir(parents=True)
    inventory = {"all": {"vars": dict(LOCAL, diagnose_thresholds=NO_RECENT_OOM),
                         "hosts": {name: {} for name in hosts}}}
    (workdir / "inventory.json").write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1",
               **artifact_env(workdir / "artifact.json"))
    command = [ansible_playbook(), "-i", "inventory.json", PLAYBOOK, "-e", json.dumps(extra_vars)]
    return subprocess.Popen(command + (["--check"] if check else []), cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc):
    output = proc.communicate(timeout=400)[0]
    print(output[-10000:])
    return proc.returncode, output


def report_names(directory):
    return {host["name"] for host in json.loads((directory / "report.json").read_text())["hosts"]}


def test_three_slices_at_once_give_one_report_and_mail(tmp_path):
    share = tmp_path / "share" / "memops"
    with smtp.smtp_server() as (mailbox, port, _cert):
        extra = {"awx_workflow_job_id": 4711, "diagnose_report_copy_dir": str(share),
                 # as an AWX survey hands over a dict: JSON text
                 "diagnose_report_mail": json.dumps({"to": ["ops@example.com"], "host": smtp.HOST, "port": port,
                                                     "security": "never", "subject": "Nightly"})}
        running = [start(tmp_path / ("slice%d" % index), hosts, extra) for index, hosts in enumerate(SLICES)]
        finished = [finish(proc) for proc in running]
        mails = list(mailbox.mails)
    assert [code for code, _output in finished] == [0, 0, 0]

    # each slice's own report, in its own directory, names its hosts only
    for index, hosts in enumerate(SLICES):
        assert report_names(tmp_path / ("slice%d" % index) / "memops-report") == set(hosts)
    # the shared one names every host, each with its JSON, of run 4711
    assert report_names(share) == set(INVENTORY)
    assert sorted(os.listdir(share / "hosts")) == sorted(name + ".json" for name in INVENTORY)
    for name in INVENTORY:
        document = json.loads((share / "hosts" / (name + ".json")).read_text())
        assert document["run_id"] == "4711" and document["memops"]["health"]["status"] in ("ok", "monitor", "critical")
        assert mode_of(share / "hosts" / (name + ".json")) == 0o600
    assert all(mode_of(share / name) == 0o600 for name in ("report.json", "report.md", "report.html"))
    assert mode_of(share) == 0o700 and mode_of(share / "hosts") == 0o700

    # one mail per slice, the report as merged so far; the last one covers every host
    assert len(mails) == 3 and all(mail["to"] == ["ops@example.com"] for mail in mails)
    subjects = [mail["message"]["Subject"] for mail in mails]
    assert all(subject.startswith("Nightly: ") for subject in subjects), subjects
    full = [mail for mail in mails if ", %d hosts: " % len(INVENTORY) in mail["message"]["Subject"]]
    assert full, subjects
    attachment = next(full[-1]["message"].iter_attachments())
    assert attachment.get_filename() == "report.html"
    html = attachment.get_payload(decode=True).decode("utf-8")
    assert all(name in html for name in INVENTORY)
    body = full[-1]["message"].get_body(("plain",)).get_content()
    assert all("| %s |" % name in body for name in INVENTORY)
    # the slices said where the copy is and how much of it came from the others
    assert all("Copy: %s/report.html" % share in output for _code, output in finished)


def test_without_a_run_id_the_copy_holds_this_job_and_check_mode_mails_nothing(tmp_path):
    share = tmp_path / "share"
    with smtp.smtp_server() as (mailbox, port, _cert):
        extra = {"diagnose_report_copy_dir": str(share),
                 "diagnose_report_mail": {"to": ["ops@example.com"], "host": smtp.HOST, "port": port,
                                          "security": "never"}}
        first = finish(start(tmp_path / "first", SLICES[0], extra))
        second = finish(start(tmp_path / "second", SLICES[1], extra, check=True))
        mails = list(mailbox.mails)
    assert first[0] == 0 and second[0] == 0
    # no run id, nothing merged: the copy holds the second job's hosts; the first's files stay, unreported
    assert report_names(share) == set(SLICES[1])
    assert sorted(os.listdir(share / "hosts")) == sorted(name + ".json" for name in SLICES[0] + SLICES[1])
    assert all("run_id" not in json.loads((share / "hosts" / (name + ".json")).read_text()) for name in SLICES[1])
    assert len(mails) == 1  # the second run was in check mode
    mail_task = second[1].split("TASK [Mail the fleet report]")[1].split("TASK [")[0]
    assert "ok: [" in mail_task and "skipping" not in mail_task, mail_task


def test_a_mail_without_recipient_is_refused_before_any_host_is_diagnosed(tmp_path):
    code, output = finish(start(tmp_path / "run", SLICES[0], {"diagnose_report_mail": {"host": "smtp.example.com"}}))
    assert code != 0
    assert "diagnose_report_mail names no recipient; give to (or cc, bcc), for example to: [ops@example.com]" in output
    assert not (tmp_path / "run" / "memops-report").exists()
