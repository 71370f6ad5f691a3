#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file only documents the module: memops.linux.fleet_report runs as an
# action plugin on the controller (plugins/action/fleet_report.py).

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the memory report of a fleet (JSON, Markdown, HTML) on the controller
version_added: 0.1.0
description:
  - Reads the memops facts (C(hostvars[name].ansible_facts.memops), gathered by
    M(memops.linux.mem_facts)) of every host in O(hosts) and writes the fleet report into the directory O(dest)
    on the controller.
  - C(report.json) follows a stable, versioned schema (C(schema_version) 1) documented field by field in
    C(docs/report.md) of this collection; hosts are sorted most severe first
    (V(critical), V(unknown), V(monitor), V(ok)).
  - C(report.md) is the same in Markdown. C(report.html) is one self-contained page (inline CSS and
    JavaScript, no external assets) with a sortable host table, per-host bars of used, cache, free and swap,
    and the findings grouped by severity with their evidence and fix.
  - A host without memops facts is reported as V(unknown), with the reason taken from O(errors), or from the
    registered result named by O(result_var) (failed or unreachable, with its message).
  - Files are written atomically (a temporary file in O(dest), then a rename), with mode O(mode). A file whose
    content would differ only in the time of generation, and whose mode is O(mode), is left as it is.
  - Host names, process names and command lines come from the managed hosts; the HTML escapes all of them.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._report_files
options:
  dest:
    description:
      - The directory on the controller the report files go into. Created when missing (see O(directory_mode)).
      - An existing path that is not a directory is an error.
      - An existing directory must belong to the controller user or root, and must not be writable by every
        user without the sticky bit; otherwise another user could read or replace the report, and the task fails.
    type: path
    required: true
  hosts:
    description:
      - Inventory names of the hosts to report on, usually C(ansible_play_hosts_all) of the play that ran
        M(memops.linux.mem_facts), or C(groups['all']).
    type: list
    elements: str
    required: true
  formats:
    description:
      - Which files to write. V(json) writes C(report.json), V(markdown) C(report.md), V(html) C(report.html).
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
  title:
    description:
      - The report's title, shown at the top of the Markdown and HTML.
    type: str
    default: Memory report
  errors:
    description:
      - Why hosts have no facts, by host name, for example collected in a C(rescue) block.
        Takes precedence over O(result_var). A host named here and not in O(hosts) is reported too.
    type: dict
    default: {}
  result_var:
    description:
      - Name of the variable each host registered the M(memops.linux.mem_facts) result in. For a host
        without facts, a failed, unreachable (with C(ignore_unreachable)) or skipped result there gives the
        reason shown in the report.
    type: str
  top:
    description:
      - How many top consumers and top swap users per host the report keeps, 0 or more; a negative number
        fails the task.
    type: int
    default: 5
  host_files:
    description:
      - Also write each host's JSON into C(<dest>/hosts/<inventory name>.json), as M(memops.linux.host_report)
        writes it (C(host), C(generated_at), C(memops), the host's facts, command lines redacted as O(redact) says),
        with C(run_id) when O(run_id) is given. A file whose content would differ only in C(generated_at), and
        whose mode is O(mode), is left as it is.
      - For a copy of the report, with the hosts' JSON, in a directory that outlives the job (a persistent volume
        or a mounted share). Always done with O(merge).
    type: bool
    default: false
  merge:
    description:
      - Merge the slices of one run (AWX job slicing, where each job of a sliced job template diagnoses a part
        of the inventory, in a container of its own, possibly at the same time) into one report in O(dest), a
        directory they share.
      - Each host of O(hosts) (and of O(errors)) gets its JSON in C(<dest>/hosts/), with C(run_id) set to
        O(run_id), replacing its older file. A host without facts gets one too, with C(memops) null and
        C(error), the reason, so that the other slices name it.
      - Then, holding an fcntl lock on C(<dest>/.memops-report.lock), the action reads every host's JSON there
        whose C(run_id) is O(run_id) and writes the report over those hosts and its own. Slices write one after
        the other, and the one that finishes last writes the report over every host of the run. A slice waits
        for the lock for at most 10 minutes. The lock file is kept; the share must carry fcntl locks (local
        file systems, NFS and CIFS do).
      - Host files of other runs, or of no run, are left out of the report and left as they are (RV(merged)
        counts them). A file there that is not a host's JSON is left out with a warning.
      - Requires O(run_id).
    type: bool
    default: false
  run_id:
    description:
      - The id of the run that O(merge) merges, the same for every slice of one run and new for every run.
        AWX gives every job of a sliced job the extra variable C(awx_workflow_job_id) (C(tower_workflow_job_id)
        in older versions), the id of the workflow job the slices belong to.
      - Recorded as C(run_id) in every host file this action writes.
      - Required with O(merge); an empty string counts as none.
    type: str
  mode:
    description:
      - Permissions of the report files, an octal string with its leading zero, quoted, such as V("0600"), like
        the mode of M(ansible.builtin.file). An unquoted V(0600) in YAML works too; an unquoted V(600) or
        V(644) is a decimal number, not the mode it looks like, and is refused.
      - The report holds the command lines of the hosts' largest processes, which often carry passwords or
        tokens passed as arguments. The default keeps it to the controller user; V("0640") shares it with the
        files' group (the controller user's primary group, or the group of O(dest) when that directory has the
        set-group-ID bit), V("0644") with every user of the controller.
      - A report file already there with another mode is written again with this one, and the task reports
        C(changed), even when its content is the same.
      - The owner must be able to read and write the files. A mode that is not octal, is above C(07777),
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
      - Writes nothing and returns C(changed) as it would be.
      - "The report lives on the controller; a playbook that wants it even in check mode sets C(check_mode: false) on the task."
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    details:
      - Runs on the controller only; the hosts it reports on are never contacted.
notes:
  - "Run it once, on the controller, after the hosts gathered their facts, for example in a last play on
    C(localhost), or with C(run_once: true) and C(delegate_to: localhost)."
  - RV(summary) fits M(ansible.builtin.set_stats), for AWX workflows.
seealso:
  - module: memops.linux.mem_facts
  - name: The report schema
    description: Every field of C(report.json), and jmespath queries over it.
    link: https://github.com/memops/linux/blob/main/docs/report.md
"""

EXAMPLES = r"""
- name: Gather memory facts everywhere
  hosts: all
  gather_facts: false
  tasks:
    - name: Gather memory facts
      memops.linux.mem_facts:
      register: memops_result
      ignore_unreachable: true
      ignore_errors: true

- name: Write the fleet report on the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write JSON, Markdown and HTML into ./memory-report
      memops.linux.fleet_report:
        dest: "{{ playbook_dir }}/memory-report"
        hosts: "{{ groups['all'] }}"
        result_var: memops_result
        title: Memory report, production
      check_mode: false
      register: report

    - name: Hand the summary to the AWX workflow
      ansible.builtin.set_stats:
        data:
          memops_fleet: "{{ report.summary }}"

    - name: Name the critical hosts
      ansible.builtin.debug:
        msg: "Critical: {{ report.summary.hosts_by_status.critical | join(', ') }}; see {{ report.files.html }}"

- name: Merge the slices of a sliced AWX job into one report on a persistent volume
  hosts: all
  gather_facts: false
  tasks:
    - name: Add this slice's hosts to the report of the run in /runner/reports
      memops.linux.fleet_report:
        dest: /runner/reports/memops
        hosts: "{{ ansible_play_hosts_all }}"
        result_var: memops_result
        merge: true
        run_id: "{{ awx_workflow_job_id }}"
      check_mode: false
      delegate_to: localhost
      run_once: true

- name: Only the JSON, for a dashboard
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write report.json, readable by the dashboard's group
      memops.linux.fleet_report:
        dest: /var/lib/memops/report
        hosts: "{{ groups['databases'] }}"
        formats: [json]
        mode: "0640"
        directory_mode: "0750"
"""

RETURN = r"""
dest:
  description: The report directory, absolute.
  returned: always
  type: str
  sample: /home/ops/memory-report
files:
  description: The path of each report file asked for by O(formats), whether it changed or not.
  returned: always
  type: dict
  contains:
    json:
      description: Path of the JSON report.
      returned: when V(json) is in O(formats)
      type: str
      sample: /home/ops/memory-report/report.json
    markdown:
      description: Path of the Markdown report.
      returned: when V(markdown) is in O(formats)
      type: str
      sample: /home/ops/memory-report/report.md
    html:
      description: Path of the HTML page.
      returned: when V(html) is in O(formats)
      type: str
      sample: /home/ops/memory-report/report.html
written:
  description: The files written by this run (empty in check mode and when nothing changed), the hosts'
    JSON (O(host_files), O(merge)) after the report's.
  returned: always
  type: list
  elements: str
  sample: [/home/ops/memory-report/report.json]
merged:
  description: With O(merge), what was merged.
  returned: when O(merge) is true
  type: dict
  contains:
    run_id:
      description: The run merged.
      type: str
      returned: always
      sample: "4711"
    other_hosts:
      description: Hosts of the other slices of the run in the report (besides those of O(hosts)).
      type: int
      returned: always
      sample: 3400
    other_runs:
      description: Host files of other runs (or of no run) in C(<dest>/hosts), left out of the report.
      type: int
      returned: always
      sample: 12
    unreadable:
      description: Files in C(<dest>/hosts) that are not a host's JSON, each with why; left out of the report.
      type: list
      elements: str
      returned: always
      sample: ["notes.json: not JSON (Expecting value: line 1 column 1 (char 0))"]
schema_version:
  description: The schema version of C(report.json).
  returned: always
  type: int
  sample: 1
summary:
  description:
    - The C(summary) of the report, as in C(report.json); see C(docs/report.md).
  returned: always
  type: dict
  contains:
    hosts:
      description: Number of hosts in the report.
      type: int
      returned: always
      sample: 6
    status:
      description: The worst status in the fleet (V(critical), V(unknown), V(monitor), V(ok), in that order).
      type: str
      returned: always
      sample: critical
    status_counts:
      description: Number of hosts per status.
      type: dict
      returned: always
      sample: {ok: 3, monitor: 1, critical: 1, unknown: 1}
    hosts_by_status:
      description: Host names per status, most severe hosts first.
      type: dict
      returned: always
      sample: {critical: [db1], unknown: [web3], monitor: [web2], ok: [web1, web4, localhost]}
    findings:
      description:
        - One entry per finding id across the fleet, most severe first, with its worst C(severity), a C(title),
          C(count) (findings; a host may have several of one id), the C(hosts) that have it and the C(remedy)
          of its first host.
      type: dict
      returned: always
      sample:
        swap.exhausted:
          severity: critical
          title: Swap is nearly exhausted
          count: 1
          hosts: [db1]
          remedy: {summary: Restart the top swap users when RAM can hold them, or add swap.,
                   role: memops.linux.swap, variable: swap_files, value: null, module: null}
    totals:
      description: Sums over the hosts with facts; C(findings) counts findings per severity.
      type: dict
      returned: always
      sample:
        memory_total_bytes: 68719476736
        memory_used_bytes: 40802189312
        memory_available_bytes: 27917287424
        swap_total_bytes: 8589934592
        swap_used_bytes: 4294967296
        oom_kills: 3
        findings: {critical: 2, monitor: 4, info: 6}
"""
