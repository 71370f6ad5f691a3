# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The job events of memops.linux.diagnose, measured: what test_job_events and benchmarks/job_events share.

Runs the diagnose role and the fleet report (the tasks of playbooks/diagnose.yml) on local hosts that each
read a captured /proc and /sys tree (module_defaults of mem_facts), plus this machine ("live"), with the
test callback tests/callback_plugins/job_event_size recording every task result as AWX stores it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir))
FIXTURES = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils", "fixtures")
CALLBACKS = os.path.join(COLLECTION, "tests", "callback_plugins")
LIVE = "live"

PLAYBOOK = """
- name: Diagnose each host
  hosts: all
  gather_facts: false
  module_defaults:
    memops.linux.mem_facts:
      proc_root: "{{ '/proc' if tree == 'live' else fixtures ~ '/' ~ tree ~ '/proc' }}"
      sys_root: "{{ '/sys' if tree == 'live' else fixtures ~ '/' ~ tree ~ '/sys' }}"
  roles:
    - role: memops.linux.diagnose

- name: Write the fleet report
  hosts: all
  gather_facts: false
  tasks:
    - name: Write report.json, report.md and report.html
      memops.linux.fleet_report:
        dest: "{{ hostvars['localhost']._diagnose_fleet.report_dir }}"
        hosts: "{{ hostvars['localhost']._diagnose_fleet.hosts }}"
        result_var: _diagnose_gathered
      delegate_to: localhost
      run_once: true
"""


def fixture_trees():
    """The captured trees: the fixture directories that hold a proc directory."""
    return sorted(name for name in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, name, "proc")))


def run(workdir, ansible_playbook, collections_root, extra_vars=None, trees=None):
    """Run the playbook in workdir (its report in workdir/memops-report); the process and the events, each
    {event, host, task, action, bytes, res}."""
    trees = fixture_trees() if trees is None else trees
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                         "hosts": {name: {"tree": name} for name in list(trees) + [LIVE]}}}
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "inventory.json"), "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    with open(os.path.join(workdir, "playbook.yml"), "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK)
    events_file = os.path.join(workdir, "events.jsonl")
    if os.path.exists(events_file):
        os.remove(events_file)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="job_event_size",
               MEMOPS_EVENTS_FILE=events_file, ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"), ANSIBLE_REMOTE_TEMP=os.path.join(workdir, "tmp"))
    # no kernel log: it is this machine's, whichever tree a host reads
    variables = dict({"fixtures": FIXTURES, "diagnose_kernel_log": "none"}, **(extra_vars or {}))
    proc = subprocess.run([ansible_playbook, "-i", "inventory.json", "playbook.yml", "-e", json.dumps(variables)],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False)
    events = []
    if os.path.exists(events_file):
        with open(events_file, encoding="utf-8") as handle:
            events = [json.loads(line) for line in handle]
    return proc, events


def role_events(events):
    """The events of the diagnose role's tasks (its argument check, preflight, gather and hand-over)."""
    return [event for event in events if event["task"].startswith("memops.linux.diagnose : ")]


def bytes_per_host(events):
    """{host: bytes of all its events}."""
    totals = {}
    for event in events:
        totals[event["host"]] = totals.get(event["host"], 0) + event["bytes"]
    return totals


def largest_per_host(events):
    """{host: bytes of its largest event}."""
    largest = {}
    for event in events:
        largest[event["host"]] = max(largest.get(event["host"], 0), event["bytes"])
    return largest
