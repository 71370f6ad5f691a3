#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_cgroup
short_description: Cap the memory of running processes that are not services, in a memory cgroup of ours
version_added: 0.1.0
description:
  - Creates the memory cgroup C(memops-<name>), sets its limit and moves the chosen processes into it - the guide's
    cgroup example for processes that systemd does not manage. When they use more than the limit together, the
    kernel reclaims and then OOM-kills inside the group, not elsewhere on the host.
  - On cgroup v1 and hybrid hosts the group is C(/sys/fs/cgroup/memory/memops-<name>) with
    C(memory.limit_in_bytes); on cgroup2 it is C(/sys/fs/cgroup/memops-<name>) with C(memory.max).
  - A O(max) below what the processes hold now (their resident memory, or the group's usage) is refused unless
    O(force).
  - Processes are chosen by O(pids) and O(process_name) (matched as M(memops.linux.oom_protect) matches names,
    also beyond the 15 characters the kernel keeps). A process that exits on the way is reported in RV(vanished).
  - Each process's start time (field 22 of C(/proc/<pid>/stat)) is read when it is chosen and again just before its
    pid is written to C(cgroup.procs); a pid that has been reused by another process is not moved and is reported in
    RV(vanished).
  - PID 1 (the init process) is refused unless O(allow_pid1) is set.
  - The group lasts until reboot; processes started later are not moved in. For services use
    M(memops.linux.memory_limit).
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
      - Reports what would be created and moved; changes nothing.
  diff_mode:
    support: full
    details:
      - The limit and the members before and after.
options:
  name:
    description:
      - The group's name without the C(memops-) prefix; lower-case letters, digits, C(-) and C(_).
    type: str
    required: true
  max:
    description:
      - The limit, a size such as V(512M), V(2G), V(1.5GiB), bytes, or V(infinity). Required with V(present).
    type: str
  pids:
    description:
      - Processes to move into the group.
    type: list
    elements: int
    default: []
  process_name:
    description:
      - Move every process with this name into the group.
    type: str
  force:
    description:
      - Apply a O(max) below the processes' current use; the kernel may OOM-kill one of them at once (cgroup2) or
        refuse the limit (cgroup v1).
    type: bool
    default: false
  allow_pid1:
    description:
      - Allow moving PID 1 (the init process, chosen by O(pids) or by O(process_name)) into the group. In a capped
        group the kernel can OOM-kill it, and every process it starts afterwards is capped with it.
    type: bool
    default: false
  state:
    description:
      - V(absent) moves the members back to the parent group and removes the group.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: memops.linux.memory_limit
  - name: Memory Resource Controller (cgroup v1)
    description: memory.limit_in_bytes and the memory cgroup's OOM handling.
    link: https://docs.kernel.org/admin-guide/cgroup-v1/memory.html
"""

EXAMPLES = r"""
- name: Keep the ad-hoc report jobs within 2 GiB together
  memops.linux.memory_cgroup:
    name: reports
    max: 2G
    process_name: report-runner

- name: Release them again
  memops.linux.memory_cgroup:
    name: reports
    state: absent
"""

RETURN = r"""
cgroup_path:
  description: The group's directory.
  returned: always
  type: str
  sample: /sys/fs/cgroup/memory/memops-reports
limit_bytes:
  description: The group's limit after the run (null for no limit, or when absent).
  returned: always
  type: int
  sample: 2147483648
members:
  description: The pids in the group after the run (predicted in check mode).
  returned: always
  type: list
  elements: int
  sample: [4121, 4188]
moved:
  description: The pids moved in by this run.
  returned: always
  type: list
  elements: int
  sample: [4188]
vanished:
  description: Chosen pids that exited (or whose pid now belongs to another process) before they could be moved.
  returned: always
  type: list
  elements: int
  sample: []
memory_controller:
  description: C(v1) or C(v2).
  returned: always
  type: str
  sample: v1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _memlimits
from ansible_collections.memops.linux.plugins.module_utils import _oom
from ansible_collections.memops.linux.plugins.module_utils import _procfs


def main():
    module = AnsibleModule(
        argument_spec=dict({
            "name": {"type": "str", "required": True},
            "max": {"type": "str"},
            "pids": {"type": "list", "elements": "int", "default": []},
            "process_name": {"type": "str"},
            "force": {"type": "bool", "default": False},
            "allow_pid1": {"type": "bool", "default": False},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        }, **_procfs.ROOT_OPTIONS),
        required_if=[("state", "present", ["max"])],
        supports_check_mode=True,
    )
    p = module.params
    reader = _procfs.Reader(p["proc_root"], p["sys_root"])
    result = {"cgroup_path": None, "limit_bytes": None, "members": [], "moved": [], "vanished": [], "memory_controller": None}
    try:
        controller = _cgroups.layout(reader)["memory_controller"]
        result["memory_controller"] = controller
        result["cgroup_path"] = path = _memlimits.group_path(reader, controller, p["name"])
        before = _memlimits.group_state(path, controller) if controller else None
        if p["state"] == "absent":
            changed = before["exists"]
            if changed and not module.check_mode:
                _memlimits.remove_group(path, controller)
            if module._diff:
                result["diff"] = {"before": {"limit_bytes": before["limit"], "members": before["members"]}, "after": {}}
            module.exit_json(changed=changed, **result)
        limit = _memlimits.parse_limit(p["max"], "max")
        bad = sorted(pid for pid in p["pids"] if pid < 1)
        if bad:
            raise _memlimits.LimitError("pids %s: a process id is a positive number" % bad)
        snaps = _oom.find_by_pid(reader, sorted(set(p["pids"])))
        if p["process_name"]:
            snaps += _oom.find_by_name(reader, p["process_name"])
        started = {snap["pid"]: snap["starttime"] for snap in snaps}
        _memlimits.check_members(started, p["allow_pid1"])
        alive = sorted(pid for pid, start in started.items() if start is not None)
        result["vanished"] = sorted(set(started) - set(alive))
        to_move = [pid for pid in alive if pid not in before["members"]]
        in_use = max(before["usage"] or 0, _memlimits.resident_bytes(reader, sorted(set(alive) | set(before["members"]))))
        warning = _memlimits.check_usage(limit, in_use, p["force"], "max", holder="the group's processes")
        if warning:
            module.warn("memory_cgroup: memops-%s: %s" % (p["name"], warning))
        page = 4096
        wanted_limit = None if limit == _memlimits.INFINITY else limit - limit % page
        changed = not before["exists"] or before["limit"] != wanted_limit or bool(to_move)
        if changed and not module.check_mode:
            result["vanished"] += _memlimits.apply_group(path, controller, limit, to_move, reader, started)
        result["moved"] = [pid for pid in to_move if pid not in result["vanished"]]
        if module.check_mode:
            after = {"limit": wanted_limit, "members": sorted(set(before["members"]) | set(result["moved"]))}
        else:
            after = _memlimits.group_state(path, controller)
        result["limit_bytes"] = after["limit"]
        result["members"] = after["members"]
        if module._diff:
            result["diff"] = {"before": {"limit_bytes": before["limit"], "members": before["members"]},
                              "after": {"limit_bytes": after["limit"], "members": after["members"]}}
    except (_memlimits.LimitError, _oom.OomError, _procfs.ProcfsError) as exc:
        module.fail_json(msg="memory_cgroup: %s" % exc, **result)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
