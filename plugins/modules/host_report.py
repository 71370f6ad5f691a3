#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file only documents the module: memops.linux.host_report runs as an
# action plugin on the controller (plugins/action/host_report.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: host_report
short_description: Summarise one host's memory diagnosis and save it as JSON on the controller
version_added: 0.1.0
description:
  - Reads the host's memops facts (C(ansible_facts.memops), gathered by M(memops.linux.mem_facts) with their
    C(health)) and returns, as RV(msg), the summary a person reads at a glance; the default callback prints it
    like the output of M(ansible.builtin.debug).
  - The summary holds the verdict and the number of findings per severity, the three lines of C(free -h), the
    first O(findings) findings, most severe first, with their evidence and fix, and the O(consumers) largest
    processes by RSS. The filter P(memops.linux.host_summary#filter) returns the same lines.
  - With O(dest), writes the host's facts as JSON into C(<dest>/<inventory name>.json) on the controller, with
    C(host), C(generated_at) (UTC) and C(memops), the facts as M(memops.linux.mem_facts) returned them.
    Characters other than letters, digits, C(_), C(.), C(@) and C(-) in the name become C(_).
  - Without O(gather), runs on the controller only, in the process that handles the host's task; it never
    contacts the host. This makes it much cheaper per host than M(ansible.builtin.copy) delegated to localhost.
  - With O(gather), it first runs M(memops.linux.mem_facts) on the host itself (with those options, and the
    play's C(module_defaults) for it), so that the full facts reach the controller without passing through a
    task result. AWX stores every task result as a job event, and the full facts (some 25-50 KB per host,
    with every command line) would be stored for every host and shown in its UI. See O(return_facts).
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._report_files
options:
  dest:
    description:
      - Directory on the controller for the host's JSON file, created when missing (see O(directory_mode)).
        The file is replaced atomically, with mode O(mode).
      - A relative path is taken from the directory C(ansible-playbook) runs in.
      - Without it only the summary is returned.
      - An existing directory must belong to the controller user or root, and must not be writable by every
        user without the sticky bit; otherwise another user could read or replace the report, and the task fails.
    type: path
  findings:
    description: How many findings the summary shows; a last line counts the others.
    type: int
    default: 5
  consumers:
    description: How many of the largest processes the summary names.
    type: int
    default: 5
  gather:
    description:
      - Options of M(memops.linux.mem_facts) (for example C(gather_subset), C(top), C(thresholds), C(samples));
        given, even empty, host_report runs M(memops.linux.mem_facts) on the host with them and reports its facts
        instead of reading C(ansible_facts.memops).
      - When M(memops.linux.mem_facts) fails or the host is unreachable, the task returns that result.
    type: dict
  return_facts:
    description:
      - With O(gather), what the task returns as C(ansible_facts.memops), and so what the host keeps and what
        its job event holds.
      - V(summary) returns RV(ansible_facts.memops) with C(detail=summary) and the path of the JSON file
        (C(report_file)), which holds the full facts; it needs O(dest) and C(check_mode=false) on the task.
        RV(msg) then leaves out the evidence lines that quote a command line. M(memops.linux.fleet_report),
        this module and the verdict of the P(memops.linux.diagnose#role) role read the full facts from the file.
      - V(full) returns every fact, as M(memops.linux.mem_facts) does.
      - Without O(gather) only V(summary), the default, is accepted; the task then returns no facts. Given a
        summary in C(ansible_facts.memops), it reads the full facts from its C(report_file).
    type: str
    choices: [summary, full]
    default: summary
  mode:
    description:
      - Permissions of the JSON file, an octal string with its leading zero, quoted, such as V("0600"), like the
        mode of M(ansible.builtin.file). An unquoted V(0600) in YAML works too; an unquoted V(600) or V(644)
        is a decimal number, not the mode it looks like, and is refused.
      - The file holds the command lines of the host's largest processes, which often carry passwords or tokens
        passed as arguments. The default keeps it to the controller user; V("0640") shares it with the file's
        group (the controller user's primary group, or the group of O(dest) when that directory has the
        set-group-ID bit), V("0644") with every user of the controller.
      - A file already there with another mode gets this one, and the task reports C(changed).
      - The owner must be able to read and write the file. A mode that is not octal, is above C(07777),
        lacks read or write for the owner, lets the group or others write, or sets a set-user-ID, set-group-ID or
        sticky bit fails the task, and nothing is written.
      - A symbolic link (or anything but a regular file) in the place of a report file is replaced by the
        file, never written through, and the task reports C(changed).
    type: raw
    default: "0600"
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    support: full
    details:
      - Writes nothing; C(changed) says whether the mode of the file would be corrected.
      - "The file lives on the controller; to write it in check mode too, set C(check_mode: false) on the task."
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller only; with O(gather), M(memops.linux.mem_facts) runs on the host.
notes:
  - C(changed) is V(false) unless the mode of the file already in O(dest) differed from O(mode). The host is
    not changed, and the file on the controller is the output of the diagnosis, rewritten on every run.
seealso:
  - module: memops.linux.mem_facts
  - module: memops.linux.fleet_report
"""

EXAMPLES = r"""
- name: Diagnose
  memops.linux.mem_facts:
    samples: 3
    sample_interval: 5

- name: Print the summary and keep the diagnosis in ./memory-report/hosts, also in check mode
  memops.linux.host_report:
    dest: memory-report/hosts
  check_mode: false

- name: Gather on the host and save on the controller, keeping only a summary in the facts and the job event
  memops.linux.host_report:
    gather:
      samples: 3
      sample_interval: 5
    dest: memory-report/hosts
  check_mode: false

- name: Only print a short summary
  memops.linux.host_report:
    findings: 2
    consumers: 3

- name: Save the diagnosis where the ops group may read it
  memops.linux.host_report:
    dest: /srv/memops-report/hosts
    mode: "0640"
    directory_mode: "0750"
  check_mode: false
"""

RETURN = r"""
msg:
  description: The summary, one line per element.
  returned: always
  type: list
  elements: str
  sample:
    - "MONITOR: 0 critical, 1 monitor, 1 info finding(s)"
    - "              total       used       free     shared buff/cache  available"
    - "Mem:          23Gi      562Mi       21Gi      8.7Mi      1.3Gi       22Gi"
    - "Swap:           0B         0B         0B"
    - "[monitor] Transparent huge pages are always on with redis-server running (tuning.thp)"
    - "    transparent_hugepage/enabled = always"
    - "    fix: Disable THP (never) for Redis and MongoDB: latency spikes and memory bloat. \
      — role memops.linux.vm_tuning, variable vm_tuning_thp_enabled = \"never\" — module memops.linux.thp"
    - "Top consumers (RSS): redis-server[4242] 2.0Gi (8.5%)"
status:
  description: The host's health status, V(ok), V(monitor) or V(critical).
  returned: always
  type: str
  sample: monitor
ansible_facts:
  description: With O(gather), the host's memops facts.
  returned: when O(gather) is given and the host was diagnosed
  type: dict
  contains:
    memops:
      description:
        - With O(return_facts=full), the facts of M(memops.linux.mem_facts).
        - With O(return_facts=summary), C(detail) (V(summary)), C(report_file) (the JSON file holding the full
          facts), C(health) with C(status), C(counts), C(partial) and the C(id) and C(severity) of the first
          O(findings) findings (RV(msg) has their title, evidence and fix), and C(uptime_seconds).
      returned: when O(gather) is given and the host was diagnosed
      type: dict
      sample:
        detail: summary
        report_file: /home/ops/memops-report/hosts/db1.json
        health:
          status: monitor
          counts: {critical: 0, monitor: 1, info: 1}
          partial: []
          findings:
            - {id: tuning.thp, severity: monitor}
        uptime_seconds: 5133.2
path:
  description: The JSON file, absolute; V(null) without O(dest). In check mode, the file it would write.
  returned: always
  type: str
  sample: /home/ops/memops-report/hosts/db1.json
"""
