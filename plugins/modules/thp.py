#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: thp
short_description: Set transparent huge pages at runtime and at boot, with the values the kernel offers
version_added: 0.1.0
description:
  - Sets the transparent huge page (THP) settings C(enabled) and C(defrag) in sysfs
    (C(/sys/kernel/mm/transparent_hugepage), or C(/sys/kernel/mm/redhat_transparent_hugepage) on RHEL 6 kernels).
  - Values are checked against the ones the running kernel offers, read from the files themselves
    (for example C(always defer defer+madvise [madvise] never) for C(defrag)); a value the kernel does not
    offer fails the task, listing the ones it does.
  - "The order of work keeps a host safe: every value is checked first; each setting is then written to the
    running kernel and read back; a value the kernel refuses or does not select fails the task and puts back
    what this task had already written; only then is the boot-time unit written."
  - With O(persist=true) the values are kept in a systemd oneshot unit of ours, C(memops-thp.service) in
    C(/etc/systemd/system), that writes them at boot, ordered before C(basic.target) and the services that
    read THP once at start (Redis, MongoDB, PostgreSQL, MariaDB and others). systemd is reloaded and the unit
    enabled only when that changed.
  - The unit runs no shell - it hands C(systemd-tmpfiles --create -) one tmpfiles.d C(w) line per setting on
    its standard input (C(StandardInputText=), systemd 239 or newer). A unit of the earlier form
    (C(/bin/sh -c 'echo ...')) is read and rewritten.
  - Other places that set THP are reported as conflicts and warnings, since one of them may win at boot or
    later - C(transparent_hugepage=) on the kernel command line, an active tuned profile with a
    C([vm] transparent_hugepages) setting, another systemd unit, C(rc.local), a tmpfiles.d C(w) line.
  - On kernels with multi-size THP (6.8 and newer) each size has an C(enabled) of its own
    (C(hugepages-<size>kB/enabled)); only the sizes set to C(inherit) follow O(enabled). With
    O(enabled=never) a warning names the sizes that stay on.
  - Needs only the Python standard library on the managed node.
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
      - Validates everything and reports what would change; writes nothing, neither to sysfs nor to any file,
        and runs no C(systemctl) command that changes anything.
  diff_mode:
    support: full
    details:
      - Two diffs, the runtime values (C(runtime (sysfs))) and the unit file.
options:
  enabled:
    description:
      - When the kernel uses huge pages for anonymous memory - usually V(always), V(madvise) or V(never).
      - A value the running kernel lists in its C(enabled) file, among those the kernel defines (V(always),
        V(madvise), V(never)), is accepted; others fail the task.
      - Left out, the setting is not changed.
    type: str
  defrag:
    description:
      - How hard the kernel works to find huge pages - usually V(always), V(defer), V(defer+madvise),
        V(madvise) or V(never) (older kernels offer fewer).
      - A value the running kernel lists in its C(defrag) file, among those the kernel defines (V(always),
        V(defer), V(defer+madvise), V(madvise), V(never)), is accepted; others fail the task.
      - Left out, the setting is not changed.
    type: str
  persist:
    description:
      - Write the values to the boot-time unit C(/etc/systemd/system/memops-thp.service) once the kernel has
        accepted them, and enable it. A setting left out keeps the value the unit already writes, if any.
      - Needs systemd as PID 1; without it the task fails before changing anything (use the kernel command
        line C(transparent_hugepage=) there).
      - With V(false) only the running kernel is changed; a warning says when our unit still writes another value.
    type: bool
    default: false
notes:
  - "Errors stop the task with nothing changed: a kernel without THP (built without
    C(CONFIG_TRANSPARENT_HUGEPAGE)), a value the kernel does not offer, a read-only C(/sys) (an unprivileged
    container; THP is the host's setting), O(persist=true) without systemd."
  - "tuned applies its profile whenever it starts; a profile that sets C(transparent_hugepages) wins over
    this module after that. Change the profile, or remove the setting from it."
seealso:
  - module: memops.linux.sysctl
    description: Kernel settings under C(/proc/sys), such as C(vm.overcommit_memory).
  - name: Transparent Hugepage Support
    description: The kernel's documentation of the settings and their values.
    link: https://docs.kernel.org/admin-guide/mm/transhuge.html
"""

EXAMPLES = r"""
- name: Disable transparent huge pages for Redis or MongoDB, now and at every boot
  memops.linux.thp:
    enabled: never
    defrag: never
    persist: true

- name: Huge pages only where an application asks (madvise), runtime only
  memops.linux.thp:
    enabled: madvise
    defrag: defer+madvise

- name: Disable THP and show conflicting settings
  memops.linux.thp:
    enabled: never
    persist: true
  register: thp

- name: Report what else sets THP
  ansible.builtin.debug:
    msg: "{{ thp.conflicts | map(attribute='detail') | list }}"
"""

RETURN = r"""
changed:
  description: Whether a runtime value, the unit file or its enablement changed (or would change, in check mode).
  returned: always
  type: bool
  sample: true
settings:
  description:
    - One entry for each setting the kernel offers (C(enabled), C(defrag)), also for those not asked for.
    - C(before) and C(after) are the values the kernel selects; in check mode C(after) is the value that
      would be written. C(allowed) lists what the running kernel offers. C(persisted) is true when our unit
      writes the running value at boot.
  returned: always
  type: dict
  sample:
    enabled: {before: madvise, after: never, allowed: [always, madvise, never], persisted: true}
    defrag: {before: madvise, after: never, allowed: [always, defer, defer+madvise, madvise, never], persisted: true}
thp_path:
  description: The THP directory in sysfs (the RHEL 6 name on those kernels).
  returned: always
  type: str
  sample: /sys/kernel/mm/transparent_hugepage
persistence:
  description:
    - How the values are kept across reboots. C(method) is V(systemd_unit) when our unit exists (after the
      task), else V(none); C(values) are the settings the unit writes.
  returned: always
  type: dict
  sample:
    method: systemd_unit
    unit: memops-thp.service
    unit_path: /etc/systemd/system/memops-thp.service
    values: {enabled: never, defrag: never}
conflicts:
  description:
    - Other places that set THP. Those that set a setting of this task are also warnings.
    - C(source) is V(kernel_cmdline), V(tuned), V(systemd_unit), V(rc_local) or V(tmpfiles); C(value) is
      V(null) when a script's value is not simply known.
  returned: always
  type: list
  elements: dict
  sample:
    - source: kernel_cmdline
      path: /proc/cmdline
      setting: enabled
      value: never
      detail: the kernel command line has transparent_hugepage=never, which sets the value at every boot
    - source: tuned
      path: /usr/lib/tuned/throughput-performance/tuned.conf
      setting: enabled
      value: always
      detail: tuned profile throughput-performance (active, tuned running) sets [vm] transparent_hugepages=always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _thp


ARGUMENT_SPEC = dict({
    "enabled": {"type": "str"},
    "defrag": {"type": "str"},
    "persist": {"type": "bool", "default": False},
}, **_procfs.ROOT_OPTIONS)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = module.params
    desired = {name: params[name] for name in _thp.SETTINGS if params[name] is not None}

    def systemctl(*args):
        binary = module.get_bin_path("systemctl")
        if binary is None:
            return 127, "", "systemctl not found"
        return module.run_command([binary] + list(args))

    try:
        result = _thp.run(
            desired,
            _procfs.Reader(params["proc_root"], params["sys_root"]),
            persist=params["persist"],
            check_mode=module.check_mode,
            replace=module.atomic_move,
            systemctl=systemctl,
        )
    except (_thp.ThpError, _procfs.ProcfsError) as exc:
        module.fail_json(msg="thp: %s" % exc)

    for warning in result.pop("warnings"):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff:
        unit = result["persistence"]["unit_path"] or _thp.unit_path()
        result["diff"] = [
            dict(diff["runtime"], before_header="runtime (sysfs)", after_header="runtime (sysfs)"),
            dict(diff["unit"], before_header=unit, after_header=unit),
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
