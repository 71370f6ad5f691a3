#!/usr/bin/python
# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: swapfile
short_description: Create, resize and remove swap files without losing data
version_added: 0.1.0
description:
  - Does what C(fallocate), C(chmod 600), C(mkswap), C(swapon) and a line in C(/etc/fstab) do, and what
    C(swapoff) and removing them undo, so that a second run changes nothing and no step loses data.
  - The file is created with mode C(0600) from its first byte, fully allocated, and checked for holes
    before C(swapon) sees it; C(allocation=auto) falls back to writing zeros where C(fallocate) leaves holes.
  - On btrfs the empty file is marked NOCOW before it is allocated; compressed directories and
    filesystems on several devices are refused.
  - An active swap file is resized, or given a new priority, without losing swapped-out pages. A temporary
    swap file next to it (C(.NAME.memops-bridge)) is brought up before the old one is switched off, unless
    nothing is swapped out on it. The module refuses when RAM and the other swap areas cannot take in
    what must move, and while a memory cgroup holds swapped-out pages beyond its limit (moving them can
    make the kernel OOM-kill a process of that cgroup).
  - Refuses, with the reason and nothing changed, unsupported filesystems (tmpfs, overlay, NFS and other
    network filesystems, ZFS, ...), a path that is a directory, a symlink, a block device or a file holding
    data, too little free space after O(min_free), and hosts where C(swapon) is not permitted (containers).
  - Refuses a file owned by another user than root (its owner may hold it open and read what is swapped out
    to it), and a directory, or a directory above it, that is not owned by root or is writable by group or
    others without the sticky bit. Keep swap files in a directory only root writes to, never in C(/tmp) or
    C(/var/tmp).
  - A file at O(path) whose every byte is zero, or a temporary bridge file, is what an interrupted run
    leaves behind; the next run finishes the job from there.
  - The fstab entry is keyed on the file's path; every other line of the file stays byte-identical.
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
  diff_mode:
    support: full
    details:
      - Shows the swap file's state (size, active, priority, mode, fstab line) and the fstab text before and after.
options:
  path:
    description:
      - Absolute path of the swap file. Symlinks are not followed.
      - A path holding whitespace other than space, tab and newline (a carriage return, NBSP, U+2028, ...) is
        refused, since fstab and C(/proc/swaps) have no escape for it.
      - An entry of O(fstab) that names the path with another type than C(swap) (a bind mount, a loop
        mount) is refused with its line number; it is not changed.
    type: path
    required: true
  state:
    description:
      - V(present) makes the swap file exist with O(size), active, and (with O(persist)) in fstab.
      - V(absent) switches it off, removes its fstab entry (and tells systemd), then deletes the file.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Size of the swap file, required with O(state=present). Plain bytes or a number with a binary unit
        K, M, G or T (V(512M), V(4G), V(4GiB), V(1.5G)). Rounded up to whole memory pages; at least 1 MiB.
      - A different size than the existing file's resizes it.
    type: raw
  priority:
    description:
      - Swap priority, V(0) to V(32767); areas of higher priority are used first.
      - Omitted, the kernel picks one for a new swap file and an existing priority is left as it is.
    type: int
  persist:
    description:
      - V(true) keeps an fstab entry for the swap file so that it is activated at boot;
        V(false) removes one (the file is active until the next boot only).
    type: bool
    default: true
  allocation:
    description:
      - How the file's blocks are allocated. V(fallocate) is instant; V(dd) writes zeros.
      - V(auto) uses V(fallocate) and checks the result, and writes zeros where that leaves holes or
        C(swapon) refuses the file (XFS before kernel 4.18, some ext4 kernels, filesystems without fallocate).
    type: str
    choices: [auto, fallocate, dd]
    default: auto
  min_free:
    description:
      - Space that must stay free on the filesystem after the swap file (and a temporary bridge file while
        resizing) has been allocated. Same forms as O(size); V(0) allowed.
      - Counted against the space available to unprivileged users, so the filesystem's root reserve comes on top.
    type: raw
    default: 1G
  fstab:
    description:
      - The fstab file to edit. Only the line whose source is O(path) is changed.
    type: path
    default: /etc/fstab
  backup:
    description:
      - Keep a copy of the fstab file, with a timestamp in its name, before changing it.
    type: bool
    default: false
notes:
  - Needs root with C(CAP_SYS_ADMIN) in the host's user namespace for C(swapon) and C(swapoff); swap is
    host-wide, so an unprivileged container is refused up front.
  - Needs C(mkswap) (util-linux) on the managed node; everything else is the Python standard library.
  - Where systemd runs and O(fstab) is C(/etc/fstab), C(systemctl daemon-reload) follows every fstab change,
    so that the swap unit systemd generated from the old entry does not switch the file back on.
  - Swapped-out pages of a process in a memory cgroup come back charged to that cgroup; removing the last
    swap area under a cgroup that holds more than its limit fails with C(ENOMEM) (nothing is lost).
seealso:
  - name: swapon(8)
    description: The manual of C(swapon), with the constraints on swap files.
    link: https://man7.org/linux/man-pages/man8/swapon.8.html
  - module: memops.linux.mem_facts
    description: Shows swap usage and what the host permits.
"""

EXAMPLES = r"""
- name: A 4 GiB swap file, active now and at boot
  memops.linux.swapfile:
    path: /swapfile
    size: 4G

- name: Grow it to 8 GiB while it is in use, used before other swap areas
  memops.linux.swapfile:
    path: /swapfile
    size: 8G
    priority: 10

- name: A swap file on a small disk, keeping 2 GiB free
  memops.linux.swapfile:
    path: /var/swap/swapfile
    size: 1.5G
    min_free: 2G
    backup: true

- name: Swap for this boot only
  memops.linux.swapfile:
    path: /var/swap/extra.swap
    size: 512M
    persist: false

- name: Remove the swap file, its fstab entry and its systemd unit
  memops.linux.swapfile:
    path: /swapfile
    state: absent
"""

RETURN = r"""
exists:
  description: Whether the file exists (after the run; predicted in check mode).
  returned: always
  type: bool
  sample: true
size_bytes:
  description: Size of the file in bytes, or V(null) when it does not exist.
  returned: always
  type: int
  sample: 4294967296
active:
  description: Whether the file is an active swap area (read back from C(/proc/swaps) after the run).
  returned: always
  type: bool
  sample: true
priority:
  description: Priority of the active swap area, V(null) when it is not active (or, in check mode, when the kernel will choose it).
  returned: always
  type: int
  sample: 10
used_bytes:
  description: Bytes swapped out to the file.
  returned: always
  type: int
  sample: 0
mode:
  description: Permissions of the file as an octal string, V(null) when it does not exist.
  returned: always
  type: str
  sample: "0600"
fstab_line:
  description: The file's entry in O(fstab), V(null) when there is none.
  returned: always
  type: str
  sample: /swapfile none swap sw,pri=10 0 0
fstab:
  description: The fstab file that was read (and edited when needed).
  returned: always
  type: str
  sample: /etc/fstab
filesystem:
  description: Type of the filesystem holding the file, V(null) when its directory does not exist.
  returned: always
  type: str
  sample: ext4
allocation:
  description: How the file was (or, in check mode, would be) allocated; V(null) when no file was created.
  returned: always
  type: str
  sample: fallocate
actions:
  description:
    - What was done (in check mode, what would be done), in order. Empty when nothing changed.
    - On a failure, the steps that were done and are still in effect (a file made and then removed is not listed).
  returned: always
  type: list
  elements: str
  sample:
    - create /.swapfile.memops-bridge (80 MiB, fallocate)
    - mkswap /.swapfile.memops-bridge
    - swapon /.swapfile.memops-bridge
    - swapoff /swapfile
    - unlink /swapfile
    - create /swapfile (8 GiB, fallocate)
    - mkswap /swapfile
    - swapon /swapfile (priority 10)
    - swapoff /.swapfile.memops-bridge
    - unlink /.swapfile.memops-bridge
    - "fstab /etc/fstab: /swapfile none swap sw,pri=10 0 0"
backup_file:
  description: The copy of the fstab file made before it was changed.
  returned: when O(backup=true) and fstab was changed
  type: str
  sample: /etc/fstab.2406.2026-11-26@14:02:11~
systemd_reloaded:
  description: Whether C(systemctl daemon-reload) was run after the fstab change.
  returned: always
  type: bool
  sample: false
reason:
  description:
    - Why the module failed, for a task to branch on. One of V(invalid_request), V(unsupported_filesystem),
      V(not_a_swap_file), V(not_enough_space), V(cannot_absorb), V(not_permitted), V(refused) (all
      with nothing changed), V(disk_full), V(holes), V(failed).
  returned: failed
  type: str
  sample: unsupported_filesystem
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.module_utils import _swap
from ansible_collections.memops.linux.plugins.module_utils import _swaphost


def _render(state):
    return "".join("%s: %s\n" % (key, state[key]) for key in sorted(state))


def main():
    module = AnsibleModule(
        argument_spec=dict({
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "size": {"type": "raw"},
            "priority": {"type": "int"},
            "persist": {"type": "bool", "default": True},
            "allocation": {"type": "str", "choices": list(_swap.ALLOCATIONS), "default": "auto"},
            "min_free": {"type": "raw", "default": "1G"},
            "fstab": {"type": "path", "default": _swap.SYSTEM_FSTAB},
            "backup": {"type": "bool", "default": False},
        }, **_procfs.ROOT_OPTIONS),
        required_if=[("state", "present", ["size"])],
        supports_check_mode=True,
    )
    params = module.params
    reader = _procfs.Reader(params["proc_root"], params["sys_root"])
    # No "path" key in the result: exit_json would add the file's stat fields and overwrite "state".
    result = {"changed": False, "fstab": params["fstab"], "systemd_reloaded": False, "allocation": None}
    try:
        request = _swap.Request(params["path"], params["state"], params["size"], params["priority"],
                                params["persist"], params["allocation"], params["min_free"], params["fstab"],
                                params["backup"])
        observed = _swap.observe(request, reader)
        before = _swap.state_of(request, observed)
        steps = _swap.plan(request, observed)
    except _swap.SwapError as exc:
        module.fail_json(msg="swapfile: %s" % exc, reason=exc.reason, **result)

    result["actions"] = [_swap.describe_step(step) for step in steps]
    result["changed"] = bool(steps)
    result["filesystem"] = observed["fs"]["type"] if observed["fs"] else None
    fstab_before = observed["fstab_text"]
    if steps and not module.check_mode:
        host = _swaphost.Host(run=module.run_command, replace=module.atomic_move, reader=reader,
                              backup=module.backup_local)
        try:
            done = host.apply(request, steps)
        except _swap.SwapError as exc:
            result.update(changed=bool(exc.completed), actions=list(exc.completed))
            module.fail_json(msg="swapfile: %s" % exc, reason=exc.reason, **result)
        try:
            observed = _swap.read_back(request, reader)
            after = _swap.state_of(request, observed)
            _swap.verify(request, after)  # no false success: what the host says now
        except _swap.SwapError as exc:
            module.fail_json(msg="swapfile: %s" % exc, reason=exc.reason, **result)
        result.update(allocation=done["allocation"], systemd_reloaded=done["systemd_reloaded"])
        if done["backup_file"]:
            result["backup_file"] = done["backup_file"]
        fstab_after = observed["fstab_text"]
    else:
        after = _swap.predict(request, before, steps)
        created = [s for s in steps if s["action"] == "create" and s["path"] == request.path]
        result["allocation"] = created[0]["method"] if created else None
        fstab_after = next((s["text"] for s in steps if s["action"] == "fstab"), fstab_before)
    result.update(after)
    if module._diff:
        header = "%s (swap file)" % request.path
        result["diff"] = [{"before_header": header, "after_header": header,
                           "before": _render(before), "after": _render(after)}]
        if fstab_after != fstab_before:
            result["diff"].append({"before_header": request.fstab, "after_header": request.fstab,
                                   "before": fstab_before, "after": fstab_after})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
