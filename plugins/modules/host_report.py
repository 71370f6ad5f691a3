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
  - Runs on the controller only, in the process that handles the host's task; it never contacts the host.
    This makes it much cheaper per host than M(ansible.builtin.copy) delegated to localhost.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
options:
  dest:
    description:
      - Directory on the controller for the host's JSON file, created (mode C(0755)) when missing.
        The file is replaced atomically, with mode C(0644).
      - A relative path is taken from the directory C(ansible-playbook) runs in.
      - Without it only the summary is returned.
    type: path
  findings:
    description: How many findings the summary shows; a last line counts the others.
    type: int
    default: 5
  consumers:
    description: How many of the largest processes the summary names.
    type: int
    default: 5
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    support: full
    details:
      - Writes nothing.
      - "The file lives on the controller; to write it in check mode too, set C(check_mode: false) on the task."
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller only.
notes:
  - C(changed) is always V(false). The host is not changed, and the file on the controller is the output of
    the diagnosis, rewritten on every run.
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

- name: Only print a short summary
  memops.linux.host_report:
    findings: 2
    consumers: 3
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
path:
  description: The JSON file, absolute; V(null) without O(dest). In check mode, the file it would write.
  returned: always
  type: str
  sample: /home/ops/memops-report/hosts/db1.json
"""
