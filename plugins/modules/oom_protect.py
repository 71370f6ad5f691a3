#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oom_protect
short_description: Protect processes and services from the OOM killer (oom_score_adj, OOMScoreAdjust=)
version_added: 0.1.0
description:
  - Sets C(/proc/<pid>/oom_score_adj) of the processes chosen by O(pid), O(name), O(cmdline_regex) or O(service).
    A negative value makes the OOM killer spare a process; a positive value makes it the preferred victim.
  - Each process is checked just before the write - its start time (field 22 of C(/proc/<pid>/stat)) must not have
    changed - and written through a descriptor that pins it, so a pid reused by another process is never written.
  - A process that exits on the way is reported V(vanished); one the kernel refuses (EACCES, EPERM) is reported
    V(denied). Neither fails the task while another process is set; when the kernel refused every process the task
    fails and says why (without CAP_SYS_RESOURCE a value below the one last set by a holder of it is refused;
    C(OOMScoreAdjust=) with O(persist) and O(restart) is how a service gets it there).
  - For O(service), the unit's MainPID and every process in its cgroup are set. With O(persist), a drop-in
    C(/etc/systemd/system/<unit>.d/50-memops-oom.conf) with C(OOMScoreAdjust=) makes the value survive restarts;
    systemd is reloaded only when the drop-in changed.
  - systemd applies C(OOMScoreAdjust=) when it starts the process. Without O(restart), the running processes get the
    value written directly and RV(pending_restart) says that the service has not been restarted since the drop-in
    changed. With O(restart), the service is restarted when that is the case, and the task fails unless
    C(/proc/<MainPID>/oom_score_adj) of the new process holds the value (a user manager, or a container without
    CAP_SYS_RESOURCE, may silently apply less).
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._roots
  - memops.linux._roots.sys_root
  - memops.linux._attributes.LINUX
attributes:
  check_mode:
    support: full
    details:
      - Reports the processes that would be set and the drop-in that would be written; writes and restarts nothing.
  diff_mode:
    support: full
    details:
      - "The oom_score_adj of each process set (or to be set), one line per process as C(PID NAME: VALUE)."
      - The drop-in before and after, with O(persist).
options:
  pid:
    description:
      - The process with this pid (1 or more).
    type: int
  name:
    description:
      - Every process with this name. The kernel keeps only the first 15 characters of a process name (C(comm));
        a longer name matches a process whose C(comm) is the truncated name and whose argv[0] or executable is
        called O(name).
    type: str
  cmdline_regex:
    description:
      - Every process whose command line, arguments joined by spaces, matches this Python regular expression
        (searched, not anchored). Kernel threads and this module's own process are never matched.
      - A pattern that repeats a group which itself repeats, such as C((a+\)+), is refused because it can
        backtrack for hours on a long command line. Matching all command lines is stopped after 3 seconds, and
        the task fails, when a pattern still backtracks too much (overlapping alternatives such as C((a|aa\)+)).
    type: str
  service:
    description:
      - A systemd unit (V(nginx) means V(nginx.service)); its MainPID and every process in its cgroup.
      - Needs systemd as PID 1.
    type: str
  score_adj:
    description:
      - The value, from V(-1000) (never kill) to V(1000) (kill first). The legacy C(oom_adj) scale is not used.
      - V(-1000) needs O(allow_never_kill).
      - Without CAP_SYS_RESOURCE, the kernel refuses to lower a process below the lowest value a holder of that
        capability gave it or its ancestors (0 unless set); such processes are reported V(denied).
    type: int
    required: true
  allow_never_kill:
    description:
      - Allow V(-1000), which exempts a process from the OOM killer entirely, and allow changing PID 1.
    type: bool
    default: false
  persist:
    description:
      - With O(service), write the C(OOMScoreAdjust=) drop-in so that the value survives restarts.
    type: bool
    default: false
  restart:
    description:
      - With O(service) and O(persist), restart the service when it has not run since the drop-in changed, then
        verify C(/proc/<MainPID>/oom_score_adj).
    type: bool
    default: false
  unit_dir:
    description:
      - Where the drop-in directories live.
    type: path
    default: /etc/systemd/system
notes:
  - A name or expression that matches no process is not an error; RV(processes) is then empty.
seealso:
  - name: proc(5), /proc/pid/oom_score_adj
    description: The kernel's documentation of oom_score_adj.
    link: https://man7.org/linux/man-pages/man5/proc_pid_oom_score_adj.5.html
  - name: systemd.exec(5), OOMScoreAdjust=
    description: How systemd applies the value when it starts a service.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#OOMScoreAdjust=
"""

EXAMPLES = r"""
- name: Protect PostgreSQL from the OOM killer, for good
  memops.linux.oom_protect:
    service: postgresql
    score_adj: -500
    persist: true
    restart: true

- name: Make every batch worker the first victim
  memops.linux.oom_protect:
    cmdline_regex: 'celery .*worker'
    score_adj: 800

- name: Protect a process by name (also a name longer than 15 characters)
  memops.linux.oom_protect:
    name: replication-agent
    score_adj: -300
  register: protected

- name: Show the processes the kernel refused
  ansible.builtin.debug:
    msg: "{{ protected.processes | selectattr('result', 'equalto', 'denied') | map(attribute='pid') | list }}"
"""

RETURN = r"""
processes:
  description:
    - One row per matched process - C(pid), C(name), C(before) and C(after) (oom_score_adj; C(after) is the value
      that would be set in check mode, null when not written), C(result) (V(set), V(unchanged), V(vanished),
      V(denied)) and, for V(vanished) and V(denied), a C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{pid: 812, name: postgres, before: 0, after: -500, result: set},
           {pid: 9140, name: sleep, before: null, after: null, result: vanished, reason: the process exited}]
dropin:
  description: The drop-in file, with O(persist); null otherwise.
  returned: always
  type: str
  sample: /etc/systemd/system/postgresql.service.d/50-memops-oom.conf
daemon_reload:
  description: Whether systemd was (or in check mode would be) reloaded, which happens only when the drop-in changed.
  returned: always
  type: bool
  sample: true
restarted:
  description: Whether the service was (or in check mode would be) restarted.
  returned: always
  type: bool
  sample: false
pending_restart:
  description:
    - With O(service) and O(persist), true when the running service started before the drop-in was last changed
      and was not restarted - its processes got the value directly, and systemd applies it from the next start.
  returned: always
  type: bool
  sample: true
msg:
  description: What happened, in a sentence.
  returned: always
  type: str
  sample: "2 processes set to -500, 0 unchanged, 0 vanished, 0 denied."
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _oom
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _systemd

SELECTORS = ["pid", "name", "cmdline_regex", "service"]


def _run(module):
    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": ""})
    return run


def _dropin_newer_than(reader, path, pid):
    """Whether the drop-in was changed after process ``pid`` started."""
    started = _oom.started_at(reader, pid)
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    return started is not None and modified > started


def _service(module, reader, result):
    p = module.params
    run = _run(module)
    unit = _systemd.unit_name(p["service"])
    _systemd.require_systemd(reader, "service %s" % unit, "select the processes by name or cmdline_regex instead")
    state = _systemd.unit_state(run, unit)
    if state["load_state"] == "not-found":
        module.fail_json(msg="oom_protect: systemd knows no unit %s; check the name with systemctl list-units"
                             % unit, **result)
    main_pid = state["main_pid"]
    pids = ([main_pid] if main_pid else []) + _cgroups.unit_pids(reader, state["control_group"])
    snaps = _oom.find_by_pid(reader, sorted(set(pids)))
    _oom.check_request(p["score_adj"], p["allow_never_kill"], [s["pid"] for s in snaps])
    if not p["persist"]:
        return snaps
    plan = _systemd.plan_dropin(_systemd.dropin_path(unit, "oom", p["unit_dir"]),
                                _systemd.render_dropin("oom", [("OOMScoreAdjust", p["score_adj"])]))
    result["dropin"] = plan["path"]
    if module._diff:
        result["diff"].append(_systemd.dropin_diff(plan))
    stale = bool(main_pid) and (plan["changed"] or _dropin_newer_than(reader, plan["path"], main_pid))
    result["daemon_reload"] = plan["changed"]
    if not module.check_mode and _systemd.apply_dropin(plan, replace=module.atomic_move):
        _systemd.daemon_reload(run)
    if stale and p["restart"]:
        result["restarted"] = True
        if module.check_mode:
            return snaps
        _systemd.restart(run, unit)
        state = _systemd.unit_state(run, unit)
        main_pid = state["main_pid"]
        actual = _oom.await_score(reader, main_pid, p["score_adj"]) if main_pid else None
        if actual != p["score_adj"]:
            module.fail_json(
                msg="oom_protect: %s was restarted with OOMScoreAdjust=%d but /proc/%s/oom_score_adj holds %s; "
                    "systemd could not apply it (a user manager cannot go below its own value, and without "
                    "CAP_SYS_RESOURCE - as in many containers - nothing can be lowered below 0)"
                    % (unit, p["score_adj"], main_pid, actual), **result)
        pids = [main_pid] + _cgroups.unit_pids(reader, state["control_group"])
        return _oom.find_by_pid(reader, sorted(set(pids)))
    result["pending_restart"] = stale
    return snaps


def _scores_diff(rows):
    """A diff entry with each changed process's oom_score_adj before and after."""
    def lines(key):
        return "".join("%d %s: %d\n" % (row["pid"], row["name"], row[key]) for row in rows)
    header = "/proc/PID/oom_score_adj"
    return {"before": lines("before"), "after": lines("after"), "before_header": header, "after_header": header}


def _all_denied(rows, score_adj):
    """The failure message when the kernel refused every process asked for."""
    denied = [row for row in rows if row["result"] == _oom.DENIED]
    shown = "; ".join("pid %s (%s): %s" % (row["pid"], row["name"], row.get("reason")) for row in denied[:3])
    return ("oom_protect: no process could be set to %d: the kernel refused %s (%s%s). Lowering oom_score_adj "
            "below the value a holder of CAP_SYS_RESOURCE last set needs that capability, which this host does "
            "not give here (a container, or a dropped capability). For a service let systemd apply the value "
            "when it starts the process: service with persist: true and restart: true (OOMScoreAdjust=)."
            % (score_adj, "all %d" % len(denied) if len(denied) > 1 else "it", shown,
               "; ..." if len(denied) > 3 else ""))


def main():
    module = AnsibleModule(
        argument_spec=dict({
            "pid": {"type": "int"},
            "name": {"type": "str"},
            "cmdline_regex": {"type": "str"},
            "service": {"type": "str"},
            "score_adj": {"type": "int", "required": True},
            "allow_never_kill": {"type": "bool", "default": False},
            "persist": {"type": "bool", "default": False},
            "restart": {"type": "bool", "default": False},
            "unit_dir": {"type": "path", "default": _systemd.UNIT_DIR},
        }, **_procfs.ROOT_OPTIONS),
        mutually_exclusive=[SELECTORS],
        required_one_of=[SELECTORS],
        supports_check_mode=True,
    )
    p = module.params
    result = {"processes": [], "dropin": None, "daemon_reload": False, "restarted": False, "pending_restart": False,
              "diff": []}
    if all(p[selector] in (None, "") for selector in SELECTORS):  # required_one_of counts null and "" as given
        module.fail_json(msg="oom_protect: choose the processes with one of %s; each was null or empty" % ", ".join(SELECTORS),
                         **result)
    for option in ("persist", "restart"):
        if p[option] and not p["service"]:
            module.fail_json(msg="oom_protect: %s applies to a systemd service; set service, or drop %s"
                                 % (option, option), **result)
    if p["restart"] and not p["persist"]:
        module.fail_json(msg="oom_protect: restart applies with persist: the running processes are set directly, "
                             "a restart without the drop-in would lose the value", **result)
    if p["pid"] is not None and p["pid"] < 1:
        module.fail_json(msg="oom_protect: pid %d is not a process id; give the pid of a running process (1 or "
                             "more), or choose processes by name, cmdline_regex or service" % p["pid"], **result)
    reader = _procfs.Reader(p["proc_root"], p["sys_root"])
    try:
        _oom.check_request(p["score_adj"], p["allow_never_kill"])
        if p["service"]:
            snaps = _service(module, reader, result)
        else:
            if p["pid"] is not None:
                snaps = _oom.find_by_pid(reader, [p["pid"]])
            elif p["name"] is not None:
                snaps = _oom.find_by_name(reader, p["name"])
            else:
                snaps = _oom.find_by_cmdline(reader, p["cmdline_regex"])
            _oom.check_request(p["score_adj"], p["allow_never_kill"], [s["pid"] for s in snaps])
        rows = _oom.set_scores(reader, snaps, p["score_adj"], module.check_mode)
    except (_oom.OomError, _systemd.SystemdError, _procfs.ProcfsError) as exc:
        module.fail_json(msg="oom_protect: %s" % exc, **result)
    result["processes"] = rows
    set_rows = [row for row in rows if row["result"] == _oom.SET]
    if module._diff and set_rows:
        result["diff"].append(_scores_diff(set_rows))
    if not result["diff"]:
        del result["diff"]
    counts = {outcome: sum(1 for row in rows if row["result"] == outcome)
              for outcome in (_oom.SET, _oom.UNCHANGED, _oom.VANISHED, _oom.DENIED)}
    for row in rows:
        if row["result"] == _oom.DENIED:
            module.warn("oom_protect: pid %s (%s): %s" % (row["pid"], row["name"], row.get("reason")))
    if counts[_oom.DENIED] and not counts[_oom.SET] and not counts[_oom.UNCHANGED]:
        module.fail_json(msg=_all_denied(rows, p["score_adj"]), changed=result["daemon_reload"], **result)
    changed = bool(counts[_oom.SET]) or result["daemon_reload"] or result["restarted"]
    msg = "%d processes %s to %d, %d unchanged, %d vanished, %d denied." % (
        counts[_oom.SET], "would be set" if module.check_mode else "set", p["score_adj"],
        counts[_oom.UNCHANGED], counts[_oom.VANISHED], counts[_oom.DENIED])
    if result["pending_restart"]:
        msg += " %s applies OOMScoreAdjust= from its next start (pending restart)." % p["service"]
    module.exit_json(changed=changed, msg=msg, **result)


if __name__ == "__main__":
    main()
