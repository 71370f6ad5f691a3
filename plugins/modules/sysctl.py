#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sysctl
short_description: Set kernel settings at runtime, read them back, and persist only what the kernel accepted
version_added: 0.1.0
description:
  - Sets numeric kernel settings (C(/proc/sys)), such as C(vm.swappiness) and
    C(vm.overcommit_memory), and keeps them in a sysctl.d file of its own.
  - "The order of work keeps a host safe: every name and value is checked first;
    each setting is then written to the running kernel and read back; a value the
    kernel refuses (C(EINVAL)) or stores differently fails the task and puts back
    every setting this task had already written, so a failure changes nothing;
    only then are the settings written to O(sysctl_file)."
  - Only our own settings are applied; no other sysctl file is loaded (no C(sysctl -p)
    or C(sysctl --system)), so an unrelated broken line elsewhere cannot fail the task.
  - In O(sysctl_file) every line that does not set one of the names in O(values) stays
    byte for byte as it was (comments, blank lines, other names, CRLF line endings). The file
    is written to a temporary file in the same directory and renamed into place, mode C(0644).
  - After persisting, the files read at boot are checked in the order systemd-sysctl
    reads them; a later file that sets one of our names to another value is named in
    a warning and in RV(overridden_by).
  - Refuses C(vm.overcommit_memory=2) (strict overcommit) when the CommitLimit it would
    bring is below what is already committed (C(Committed_AS)), unless O(force=true).
  - Needs only the Python standard library on the managed node; does not run the
    C(sysctl) command.
author:
  - memops.linux maintainers (@memops)
extends_documentation_fragment:
  - memops.linux._attributes
  - memops.linux._roots
  - memops.linux._attributes.LINUX
attributes:
  check_mode:
    support: full
    details:
      - Validates everything and reports what would change; writes nothing, neither to
        C(/proc/sys) nor to any file. Whether the kernel accepts a value is only known
        by writing it, so check mode cannot predict a refusal.
  diff_mode:
    support: full
    details:
      - Two diffs, the runtime values (C(runtime (/proc/sys))) and O(sysctl_file).
options:
  values:
    description:
      - "The settings, a mapping of name to value, for example C({vm.swappiness: 10, vm.overcommit_memory: 1})."
      - Names are dotted (C(vm.swappiness)) or slashed (C(vm/swappiness)), as in sysctl.d(5).
        A name the running kernel does not have (no file under C(/proc/sys)) is an error.
      - Values are integers, or whitespace-separated integers for settings that hold
        several (C('256 256 32 0 0')), or a list of integers. They are compared with the
        kernel's token by token, whitespace ignored.
      - Booleans (C(true), C(yes), C(on) and their opposites) are an error, not turned into
        C(1) or C(0); write the number. String settings (C(kernel.core_pattern)) are out of
        scope; use M(ansible.posix.sysctl) for them.
      - Transparent huge pages and KSM live in sysfs, not sysctl; naming them is an error
        that points at M(memops.linux.thp).
      - With O(state=absent) only the names count; values are ignored.
    type: dict
    required: true
  state:
    description:
      - V(present) sets the values at runtime and, with O(persist=true), in O(sysctl_file).
      - V(absent) removes the names in O(values) from O(sysctl_file) and leaves the running
        kernel as it is (the values at next boot come from the other files, or the kernel's
        defaults). The file is deleted when nothing is left in it.
    type: str
    choices: [present, absent]
    default: present
  persist:
    description:
      - Write the values to O(sysctl_file) once the kernel has accepted them.
      - With V(false) only the running kernel is changed; a warning says when O(sysctl_file)
        still sets another value that boot would apply.
    type: bool
    default: true
  sysctl_file:
    description:
      - The file of ours the values are persisted in. Only lines that set the names in
        O(values) are added, changed or removed. A symlink is followed and its target is replaced.
      - Its directory is created (mode C(0755)) when missing.
    type: path
    default: /etc/sysctl.d/60-memops.conf
  sysctl_dirs:
    description:
      - The files read at boot, for the check that a later file does not override ours.
        Directories contribute their C(*.conf) files, a file name in an earlier directory hiding
        the same name in later ones, all taken in lexical order of their names (as
        systemd-sysctl does); plain files (C(/etc/sysctl.conf), which procps C(sysctl --system)
        reads) come after them, in the order given.
    type: list
    elements: path
    default:
      - /etc/sysctl.d
      - /run/sysctl.d
      - /usr/local/lib/sysctl.d
      - /usr/lib/sysctl.d
      - /lib/sysctl.d
      - /etc/sysctl.conf
  force:
    description:
      - Set C(vm.overcommit_memory=2) (or change C(vm.overcommit_ratio) or C(vm.overcommit_kbytes)
        under it) even when CommitLimit would fall below C(Committed_AS). Processes would then
        fail to fork or allocate with C(ENOMEM) across the host.
    type: bool
    default: false
  backup:
    description:
      - Copy O(sysctl_file) to a timestamped file next to it before changing it.
    type: bool
    default: false
notes:
  - "Errors stop the task with nothing changed: a name the kernel lacks, a value that is not a number,
    a value the kernel refuses (not persisted, and earlier settings of the task put back), a read-only
    C(/proc/sys) (an unprivileged container; C(vm.*) settings are the host's, not namespaced), the
    strict-overcommit guard."
  - "Writing C(vm.overcommit_ratio) makes the kernel reset C(vm.overcommit_kbytes) to 0 and the
    reverse; giving both in one task is an error."
seealso:
  - module: ansible.posix.sysctl
    description: General sysctl editing, including string settings.
  - name: sysctl.d(5)
    description: The file format and the load order this module follows.
    link: https://man7.org/linux/man-pages/man5/sysctl.d.5.html
  - name: Documentation for /proc/sys/vm
    description: What each vm setting does.
    link: https://docs.kernel.org/admin-guide/sysctl/vm.html
"""

EXAMPLES = r"""
- name: Prefer dropping cache to swapping, and persist it
  memops.linux.sysctl:
    values:
      vm.swappiness: 10
      vm.vfs_cache_pressure: 50

- name: Redis wants overcommit always allowed
  memops.linux.sysctl:
    values:
      vm.overcommit_memory: 1

- name: Strict overcommit with room for what runs now (refused if CommitLimit < Committed_AS)
  memops.linux.sysctl:
    values:
      vm.overcommit_memory: 2
      vm.overcommit_ratio: 80

- name: A setting with several values, slashed name
  memops.linux.sysctl:
    values:
      vm/lowmem_reserve_ratio: "256 256 32 0 0"

- name: Change the running kernel only
  memops.linux.sysctl:
    values:
      vm.swappiness: 1
    persist: false

- name: Keep the settings in a file of the role's own, with a backup
  memops.linux.sysctl:
    values:
      vm.dirty_background_ratio: 5
      vm.dirty_ratio: 10
    sysctl_file: /etc/sysctl.d/70-database.conf
    backup: true

- name: Stop persisting swappiness (the running value stays)
  memops.linux.sysctl:
    values:
      vm.swappiness:
    state: absent

- name: Set swappiness and show what it was
  memops.linux.sysctl:
    values:
      vm.swappiness: 10
  register: swappiness

- name: Report the previous value
  ansible.builtin.debug:
    msg: "swappiness was {{ swappiness.settings['vm.swappiness'].before }}"
"""

RETURN = r"""
changed:
  description: Whether a runtime value or O(sysctl_file) changed (or would change, in check mode).
  returned: always
  type: bool
  sample: true
settings:
  description:
    - One entry per name of O(values), under its dotted name. (Not called C(values), which
      templates could not reach as C(result.values), the dictionary method.)
    - C(before) and C(after) are the running kernel's values (an integer, or the integers joined by
      single spaces for settings that hold several; V(null) with O(state=absent) for a name the
      kernel lacks). In check mode C(after) is the value that would be written.
    - C(persisted) is true when O(sysctl_file) holds the running value after the task.
  returned: always
  type: dict
  sample:
    vm.swappiness: {before: 60, after: 10, persisted: true}
    vm.lowmem_reserve_ratio: {before: "256 256 32 0 0", after: "256 256 32 0 0", persisted: true}
sysctl_file:
  description: The file the values are persisted in, as given.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-memops.conf
overridden_by:
  description:
    - Our names that a file read later at boot sets to another value, with the last such file and its
      value; boot ends with that value, not ours. Each one is also a warning.
    - Empty with O(state=absent) or O(persist=false).
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The dotted name.
      type: str
      returned: always
      sample: vm.swappiness
    file:
      description: The file whose setting wins at boot.
      type: str
      returned: always
      sample: /etc/sysctl.conf
    value:
      description: The value that file sets.
      type: raw
      returned: always
      sample: 60
  sample:
    - {key: vm.swappiness, file: /etc/sysctl.conf, value: 60}
overcommit_guard:
  description:
    - The strict-overcommit check, made when the task changes C(vm.overcommit_memory),
      C(vm.overcommit_ratio) or C(vm.overcommit_kbytes) and the result is C(vm.overcommit_memory=2).
    - C(commit_limit_bytes) is what CommitLimit would be (swap + (RAM - huge pages) x ratio / 100, or
      swap + overcommit_kbytes); C(passed) is whether it is at least C(committed_as_bytes);
      C(forced) whether O(force) let a failed check through. C(committed_as_bytes) is V(null) when
      C(/proc/meminfo) lacks it (then only O(force=true) goes ahead).
  returned: when the check was made
  type: dict
  sample:
    commit_limit_bytes: 20216545280
    committed_as_bytes: 4105191424
    ratio: 80
    kbytes: 0
    passed: true
    forced: false
backup_file:
  description: The copy of O(sysctl_file) made before it was changed.
  returned: when O(backup=true) and the file existed and changed
  type: str
  sample: /etc/sysctl.d/60-memops.conf.12345.2026-11-26@13:40:02~
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _overcommit
from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _sysctl


ARGUMENT_SPEC = {
    "values": {"type": "dict", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "persist": {"type": "bool", "default": True},
    "sysctl_file": {"type": "path", "default": _sysctl.DEFAULT_SYSCTL_FILE},
    "sysctl_dirs": {"type": "list", "elements": "path", "default": list(_sysctl.DEFAULT_SYSCTL_DIRS)},
    "proc_root": _procfs.ROOT_OPTIONS["proc_root"],
    "force": {"type": "bool", "default": False},
    "backup": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = module.params
    try:
        settings = _sysctl.parse_settings(params["values"], params["state"])
        result = _sysctl.run(
            settings,
            state=params["state"],
            persist=params["persist"],
            sysctl_file=params["sysctl_file"],
            sysctl_dirs=params["sysctl_dirs"],
            reader=_procfs.Reader(params["proc_root"]),
            force=params["force"],
            check_mode=module.check_mode,
            replace=module.atomic_move,
            backup=module.backup_local if params["backup"] else None,
        )
    except (_sysctl.SysctlError, _overcommit.OvercommitRefused) as exc:
        module.fail_json(msg="sysctl: %s" % exc)

    for warning in result.pop("warnings"):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = [
            dict(diff["runtime"], before_header="runtime (/proc/sys)", after_header="runtime (/proc/sys)"),
            dict(diff["file"], before_header=params["sysctl_file"], after_header=params["sysctl_file"]),
        ]
    if result["overcommit_guard"] is None:
        del result["overcommit_guard"]
    if result["backup_file"] is None:
        del result["backup_file"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
