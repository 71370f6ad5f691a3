# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""examples/awx run by ansible-runner from a private data directory laid out as AWX lays it out.

project/ is a copy of examples/awx; requirements_collections/ holds the collection as AWX installs
collections/requirements.yml there; inventory/hosts is an executable inventory script; env/extravars
holds the survey's answers as AWX sends them (the thresholds as the text of the textarea, numbers as
the survey's integer and float types give them) and the job's awx_* variables; env/envvars the
collections path. The hosts are this machine under several inventory names (connection local), plus
one that cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, ansible_playbook
from ansible_collections.memops.linux.tests.unit.playbooks.test_diagnose_limit import LOCAL, UNREACHABLE

ansible_runner = pytest.importorskip("ansible_runner")
smtp = pytest.importorskip("ansible_collections.memops.linux.tests.unit.smtp_server",
                           reason="aiosmtpd is not installed (tests/requirements.txt)")

pytestmark = pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")

PROJECT = os.path.join(COLLECTION, "examples", "awx")
SURVEY = os.path.join(PROJECT, "surveys", "diagnose.json")
EVENT_LIMIT = 8 * 1024
GATHER_TASK = "Gather the memory picture, save it on the controller and summarise it"
VERDICT_TASK = "Fail the host when its health is at or above diagnose_fail_on"
# what the operator types into the survey: OOM kills of other tests on this machine are not recent;
# unreclaimable slab >= 0% of RAM is a monitor finding on every host that gathers slab
ANSWERS = {"diagnose_fail_on": "monitor",
           "diagnose_thresholds": '{"oom_recent_seconds": 0, "slab_unreclaimable_pct_monitor": 0}',
           # one sample: leak suspects among this busy machine's processes would make the events vary
           "diagnose_samples": 1, "diagnose_sample_interval": 0.2}
# web1 and db1 gather everything (monitor or worse); web2 only reads its capabilities (ok); web0 is down
INVENTORY = {
    "_meta": {"hostvars": {
        "web0": UNREACHABLE,
        "web1": LOCAL,
        "web2": dict(LOCAL, diagnose_gather_subset=["capabilities"]),
        "db1": LOCAL,
    }},
    "all": {"children": ["web", "db"]},
    "web": {"hosts": ["web0", "web1", "web2"]},
    "db": {"hosts": ["db1"]},
}
FLAGGED = ["db1", "web1"]
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".cache",
                                     ".venv", "output", "*.tar.gz", "memops-report", "examples")


def survey_extravars(answers):
    """The extra variables of a launch: each survey question's answer, else its default, typed as AWX types it
    (integer and float answers are numbers, every other type text)."""
    with open(SURVEY, encoding="utf-8") as handle:
        spec = json.load(handle)["spec"]
    extravars = {}
    for question in spec:
        value = answers.get(question["variable"], question["default"])
        if question["type"] == "integer":
            value = int(value)
        elif question["type"] == "float":
            value = float(value)
        else:
            assert isinstance(value, str), question
            if question["type"] == "multiplechoice":
                assert value in question["choices"].split("\n"), question
        extravars[question["variable"]] = value
    return extravars


def private_data_dir(root, extravars, cmdline="", inventory=None):
    """A private data directory as AWX writes it for a job of the examples/awx project."""
    root.mkdir()
    shutil.copytree(PROJECT, str(root / "project"))
    collection = root / "requirements_collections" / "ansible_collections" / "memops" / "linux"
    shutil.copytree(COLLECTION, str(collection), ignore=COPY_IGNORE)
    (root / "inventory").mkdir()
    script = root / "inventory" / "hosts"
    script.write_text("#!%s\nimport json\nprint(json.dumps(%r))\n" % (sys.executable, inventory or INVENTORY))
    script.chmod(stat.S_IRWXU)
    (root / "env").mkdir()
    (root / "env" / "extravars").write_text(json.dumps(extravars))
    (root / "env" / "envvars").write_text(json.dumps({
        "ANSIBLE_COLLECTIONS_PATH": str(root / "requirements_collections"),
        "PATH": os.path.dirname(ansible_playbook()) + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"), "ANSIBLE_REMOTE_TEMP": str(root / "tmp"),
    }))
    if cmdline:
        (root / "env" / "cmdline").write_text(cmdline)
    return root


def run_job(root, playbook, ident):
    runner = ansible_runner.run(private_data_dir=str(root), playbook=playbook, ident=ident, quiet=True)
    events = list(runner.events)
    return runner, events


def hosts_of(events, event_name, task):
    return {event["event_data"]["host"] for event in events
            if event["event"] == event_name and event["event_data"].get("task") == task}


def artifact_data(events):
    (stats,) = [event for event in events if event["event"] == "playbook_on_stats"]
    return stats["event_data"].get("artifact_data", {})


@pytest.fixture(scope="module")
def diagnose_job(tmp_path_factory):
    """The diagnose job template's run with the survey's answers: (private data dir, runner, events)."""
    base = tmp_path_factory.mktemp("awx")
    extravars = dict(survey_extravars(ANSWERS), awx_job_id=101, awx_job_template_name="memops diagnose", awx_workflow_job_id=100)
    root = private_data_dir(base / "job101", extravars)
    runner, events = run_job(root, "diagnose.yml", "101")
    print(runner.stdout.read()[-20000:])
    return root, runner, events


def test_survey_extravars_are_what_awx_sends(diagnose_job):
    root, _runner, _events = diagnose_job
    extravars = json.loads((root / "env" / "extravars").read_text())
    assert isinstance(extravars["diagnose_thresholds"], str)
    assert extravars["diagnose_fail_on"] == "monitor"
    assert extravars["memops_mail_to"] == ""  # no mail unless asked


def test_hosts_flagged_under_diagnose_fail_on_fail_after_the_report(diagnose_job):
    root, runner, events = diagnose_job
    assert runner.status == "failed" and runner.rc == 2
    fleet = artifact_data(events)["memops_fleet"]
    by_status = fleet["hosts_by_status"]
    assert sorted(by_status["monitor"] + by_status["critical"]) == FLAGGED
    assert by_status["ok"] == ["web2"] and by_status["unknown"] == ["web0"]
    # the verdict fails the flagged hosts and the one that could not be diagnosed, and no other
    assert hosts_of(events, "runner_on_failed", VERDICT_TASK) == set(FLAGGED) | {"web0"}
    report_dir = root / "project" / "memops-report"
    for name in ("report.json", "report.md", "report.html"):
        assert (report_dir / name).stat().st_size > 0, name
    report = json.loads((report_dir / "report.json").read_text())
    assert {host["name"] for host in report["hosts"]} == {"web0", "web1", "web2", "db1"}
    assert report["summary"] == fleet


def test_job_events_are_small_and_hold_no_command_line(diagnose_job):
    root, _runner, events = diagnose_job
    gathered = [event for event in events
                if event["event"] == "runner_on_ok" and event["event_data"].get("task") == GATHER_TASK]
    assert {event["event_data"]["host"] for event in gathered} == {"web1", "web2", "db1"}
    # the result and the printed text, as tests/unit/playbooks/test_job_events measures them; the event's
    # fixed fields (ids, counters, task path: about 1 KB) and the terminal's colour codes come on top
    sizes = {event["event_data"]["host"]: len(json.dumps(event["event_data"]["res"]))
             + len(re.sub(r"\x1b\[[0-9;]*m", "", event["stdout"])) for event in gathered}
    assert max(sizes.values()) <= EVENT_LIMIT, sizes
    # the command lines of the largest processes are in the hosts' JSON, in no job event
    document = json.loads((root / "project" / "memops-report" / "hosts" / "web1.json").read_text())
    commands = {row["cmdline"] for row in document["memops"]["processes"]["top_rss"]
                if len(row.get("cmdline") or "") >= 24}
    assert commands, "no command line long enough to look for"
    text = "\n".join(json.dumps(event) for event in events)
    assert [command for command in commands if command in text] == []


def test_remediate_in_the_workflow_runs_on_the_flagged_hosts_only(diagnose_job, tmp_path):
    """The workflow hands the diagnosis's artifacts to the remediate job as extra variables."""
    _root, _runner, events = diagnose_job
    extravars = dict(artifact_data(events), memops_remediate_flagged_only=True, awx_job_id=102)
    root = private_data_dir(tmp_path / "job102", extravars, cmdline="--check")
    runner, remediate_events = run_job(root, "remediate.yml", "102")
    assert runner.status == "successful", runner.stdout.read()[-5000:]
    touched = {event["event_data"]["host"] for event in remediate_events if event["event"].startswith("runner_on_")}
    assert touched == set(FLAGGED)


@pytest.mark.parametrize("extravars, touched", [
    ({"memops_remediate_flagged_only": True}, set()),  # the diagnosis wrote no summary: nothing
    ({"memops_fleet": {"hosts_by_status": {"critical": [], "monitor": []}}}, set()),
    ({}, {"web1", "web2", "db1"}),  # launched on its own: the inventory (web0 cannot be reached)
])
def test_remediate_without_flagged_hosts(tmp_path, extravars, touched):
    root = private_data_dir(tmp_path / "job", dict(extravars, awx_job_id=103), cmdline="--check --limit web1,web2,db1")
    runner, events = run_job(root, "remediate.yml", "103")
    assert runner.status == "successful", runner.stdout.read()[-5000:]
    assert {event["event_data"]["host"] for event in events if event["event"].startswith("runner_on_")} == touched


# A sliced job: AWX runs one job per slice, each with its share of the inventory's hosts and the same
# awx_workflow_job_id; they merge their hosts into the report in diagnose_report_copy_dir.
FLEET = ["app1", "app2", "app3", "app4", "app5", "app6"]
SLICE_HOSTS = [FLEET[index::3] for index in range(3)]


def slice_inventory(hosts):
    """What AWX's inventory script gives one slice: its hosts only, each only reading its capabilities (fast)."""
    return {"_meta": {"hostvars": {name: dict(LOCAL, diagnose_gather_subset=["capabilities"]) for name in hosts}},
            "all": {"children": ["app"]}, "app": {"hosts": list(hosts)}}


# ansible-runner starts ansible-playbook on a pseudo-terminal (pexpect), as AWX does: its forked child execs at
# once and needs no lock of the SMTP server's thread
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of forkpty:DeprecationWarning")
def test_three_slices_merge_into_one_report_and_mail_it(tmp_path):
    share = tmp_path / "share"
    answers = dict(ANSWERS, diagnose_fail_on="none", diagnose_report_copy_dir=str(share),
                   memops_mail_to="ops@example.com, oncall@example.com", memops_mail_host=smtp.HOST,
                   memops_mail_security="never")
    with smtp.smtp_server() as (mailbox, port, _cert):
        jobs = []
        for number, hosts in enumerate(SLICE_HOSTS, start=1):
            extravars = dict(survey_extravars(dict(answers, memops_mail_port=port)), awx_job_id=200 + number,
                             awx_workflow_job_id=200)
            root = private_data_dir(tmp_path / ("slice%d" % number), extravars, inventory=slice_inventory(hosts))
            jobs.append(run_job(root, "diagnose.yml", str(200 + number)))
        mails = list(mailbox.mails)
    for runner, _events in jobs:
        assert runner.status == "successful", runner.stdout.read()[-5000:]
    # each slice's artifact covers its own hosts; the copy, every host of the run
    for (_runner, events), hosts in zip(jobs, SLICE_HOSTS):
        assert artifact_data(events)["memops_fleet"]["hosts"] == len(hosts)
    report = json.loads((share / "report.json").read_text())
    assert sorted(host["name"] for host in report["hosts"]) == sorted(FLEET)
    assert sorted(os.listdir(share / "hosts")) == sorted(name + ".json" for name in FLEET)
    # a mail per slice, to both recipients of the survey's text field; the last one has every host
    assert len(mails) == 3
    assert all(mail["to"] == ["ops@example.com", "oncall@example.com"] for mail in mails)
    attachment = next(mails[-1]["message"].iter_attachments())
    assert attachment.get_filename() == "report.html"
    html = attachment.get_payload(decode=True).decode("utf-8")
    assert all(name in html for name in FLEET)
    body = mails[-1]["message"].get_body(("plain",)).get_content()
    assert all("| %s |" % name in body for name in FLEET)
