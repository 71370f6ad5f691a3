#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: memory_limit
short_description: Cap a systemd service's memory with a drop-in that fits the systemd version and cgroup hierarchy
version_added: 0.1.0
description:
  - Writes C(/etc/systemd/system/<unit>.d/50-memops-memory.conf) with the memory directives for one service, and
    reloads systemd only when that file changed; systemd then applies the limits to the running service's cgroup.
  - O(max) becomes C(MemoryMax=) on systemd 231 and newer (on cgroup v1 systemd writes it to
    C(memory.limit_in_bytes)), C(MemoryLimit=) on older systemd.
  - O(high) (C(MemoryHigh=)) and O(swap_max) (C(MemorySwapMax=)) exist only with the cgroup2 memory controller;
    on a cgroup v1 or hybrid host they are left out with a warning, because systemd would accept and ignore them.
  - A O(max) below what the service uses now is refused unless O(force) - cgroup v1 refuses such a limit, cgroup2
    OOM-kills the service at once.
  - O(restart_on_oom) adds C(Restart=on-failure), so that systemd starts the service again after the OOM killer
    killed it.
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
      - Reports the drop-in that would be written and the guard's verdict; writes and reloads nothing.
  diff_mode:
    support: full
    details:
      - The drop-in before and after.
options:
  service:
    description:
      - The systemd unit (V(myapp) means V(myapp.service)).
    type: str
    required: true
  max:
    description:
      - The hard limit - a size such as V(512M), V(2G), V(1.5GiB), bytes, or V(infinity).
    type: str
  high:
    description:
      - The throttling limit (C(MemoryHigh=)), cgroup2 memory controller only; same forms as O(max).
    type: str
  swap_max:
    description:
      - The swap limit (C(MemorySwapMax=)), cgroup2 memory controller only; same forms as O(max).
    type: str
  restart_on_oom:
    description:
      - Add C(Restart=on-failure).
    type: bool
    default: false
  force:
    description:
      - Apply a O(max) below the service's current memory use.
    type: bool
    default: false
  state:
    description:
      - V(absent) removes the drop-in of ours.
    type: str
    choices: [present, absent]
    default: present
  unit_dir:
    description:
      - Where the drop-in directories live.
    type: path
    default: /etc/systemd/system
notes:
  - Needs systemd as PID 1.
seealso:
  - name: systemd.resource-control(5)
    description: MemoryMax=, MemoryHigh=, MemorySwapMax= and the deprecated MemoryLimit=.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.resource-control.html
  - module: memops.linux.oom_protect
"""

EXAMPLES = r"""
- name: Cap a leaky worker at 2 GiB and restart it when the OOM killer strikes
  memops.linux.memory_limit:
    service: worker
    max: 2G
    high: 1800M
    restart_on_oom: true

- name: Remove the cap
  memops.linux.memory_limit:
    service: worker
    state: absent
"""

RETURN = r"""
dropin:
  description: The drop-in file of ours.
  returned: always
  type: str
  sample: /etc/systemd/system/worker.service.d/50-memops-memory.conf
directives:
  description: The directives in the drop-in, in order (sizes in bytes).
  returned: always
  type: dict
  sample: {MemoryMax: 2147483648, Restart: on-failure}
left_out:
  description:
    - Directives left out, each with the reason (systemd too old, no cgroup2 memory controller).
    - Not named C(skipped), which Ansible reserves for a skipped task.
  returned: always
  type: list
  elements: dict
  sample: [{directive: MemorySwapMax, reason: "it needs the cgroup2 (unified) memory controller, and the memory
            controller here is v1"}]
daemon_reload:
  description: Whether systemd was (or in check mode would be) reloaded, which happens only when the drop-in changed.
  returned: always
  type: bool
  sample: true
memory_current:
  description: Bytes the service uses now, as systemd or its cgroup reports them; null when unknown.
  returned: always
  type: int
  sample: 73400320
systemd_version:
  description: The version of systemd.
  returned: always
  type: int
  sample: 252
cgroup:
  description: C(hierarchy) (unified, hybrid, legacy) and C(memory_controller) (v2, v1).
  returned: always
  type: dict
  sample: {hierarchy: hybrid, memory_controller: v1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils import _memlimits
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _systemd


def main():
    module = AnsibleModule(
        argument_spec=dict({
            "service": {"type": "str", "required": True},
            "max": {"type": "str"},
            "high": {"type": "str"},
            "swap_max": {"type": "str"},
            "restart_on_oom": {"type": "bool", "default": False},
            "force": {"type": "bool", "default": False},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "unit_dir": {"type": "path", "default": _systemd.UNIT_DIR},
        }, **_procfs.ROOT_OPTIONS),
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": ""})

    result = {"dropin": None, "directives": {}, "left_out": [], "daemon_reload": False, "memory_current": None,
              "systemd_version": None, "cgroup": {}}
    try:
        unit = _systemd.unit_name(p["service"])
        result["dropin"] = _systemd.dropin_path(unit, "memory", p["unit_dir"])
        limits = {key: _memlimits.parse_limit(p[key], key) for key in ("max", "high", "swap_max")}
        if p["state"] == "present" and not any(v is not None for v in limits.values()) and not p["restart_on_oom"]:
            module.fail_json(msg="memory_limit: %s: give max, high, swap_max or restart_on_oom, or state: absent"
                                 % unit, **result)
        reader = _procfs.Reader(p["proc_root"], p["sys_root"])
        _systemd.require_systemd(reader, unit, "cap processes that are not systemd services with "
                                               "memops.linux.memory_cgroup instead")
        result["systemd_version"] = _systemd.version(run)
        result["cgroup"] = _cgroups.layout(reader)
        state = _systemd.unit_state(run, unit)
        if state["load_state"] == "not-found":
            module.fail_json(msg="memory_limit: systemd knows no unit %s; check the name with systemctl list-units"
                                 % unit, **result)
        current = state["memory_current"]
        if current is None:
            current = _cgroups.unit_memory_usage(reader, state["control_group"])
        result["memory_current"] = current
        text = None
        if p["state"] == "present":
            chosen, result["left_out"] = _memlimits.directives(
                result["systemd_version"], result["cgroup"]["memory_controller"], limits["max"], limits["high"],
                limits["swap_max"], p["restart_on_oom"])
            result["directives"] = dict(chosen)
            warning = _memlimits.check_usage(limits["max"], current, p["force"], chosen[0][0] if chosen else "MemoryMax")
            if warning:
                module.warn("memory_limit: %s: %s" % (unit, warning))
            text = _systemd.render_dropin("memory", chosen)
        for left_out in result["left_out"]:
            module.warn("memory_limit: %s: %s left out: %s" % (unit, left_out["directive"], left_out["reason"]))
        plan = _systemd.plan_dropin(result["dropin"], text)
        if module._diff:
            result["diff"] = _systemd.dropin_diff(plan)
        result["daemon_reload"] = plan["changed"]
        if not module.check_mode and _systemd.apply_dropin(plan, replace=module.atomic_move):
            _systemd.daemon_reload(run)
    except (_memlimits.LimitError, _systemd.SystemdError) as exc:
        module.fail_json(msg="memory_limit: %s" % exc, **result)
    module.exit_json(changed=plan["changed"], **result)


if __name__ == "__main__":
    main()
