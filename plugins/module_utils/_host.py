# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a host allows: root, container, systemd as PID 1, writable kernel settings, swapon.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), part of the host layer. Every question of
the kind "may this process do X here" is answered here once, read through a
:class:`_procfs.Reader`; the facts (``capabilities``), the actors (swap files,
systemd drop-ins, THP at boot) and the roles' preflight all ask it.
"""

from __future__ import annotations

import os

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

CAP_SYS_ADMIN = 21
CAP_SYS_RESOURCE = 24
CAP_SYSLOG = 34
KMSG_PATH = "/dev/kmsg"
# cgroup path fragments that name the container engine of a process
_ENGINE_MARKERS = (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"), ("lxc", "lxc"))


def systemd_is_pid1(reader: procfs.Reader) -> bool:
    """Whether PID 1 of the pid namespace below proc_root is systemd (what
    ``systemctl`` and a unit of ours need). The one answer to that question."""
    return (reader.try_proc("1", "comm") or "").strip() == "systemd"


def container(reader: procfs.Reader, notes: list | None = None) -> tuple:
    """(in a container, its kind). A PID namespace of its own hides the kernel
    threads, so a missing kthreadd is the signal that holds for every engine;
    marker files (which may linger in images turned into VMs) only name the kind,
    and only on the live /proc: with proc_root at a host's procfs they describe
    the container doing the reading, not the host read."""
    live = reader.proc_root == "/proc"
    kind = None
    try:
        environ = reader.read_pid(1, "environ", binary=True)
        for item in environ.split(b"\0"):
            if item.startswith(b"container="):
                kind = item.split(b"=", 1)[1].decode("utf-8", "replace") or "unknown"
    except procfs.ProcfsError:
        pass
    if kind is None and live and os.path.exists("/run/.containerenv"):
        kind = "podman"
    own_pid_namespace = (reader.try_proc("2", "comm", notes=notes) or "").strip() != "kthreadd"
    if kind is None and own_pid_namespace:
        cgroup = reader.try_proc("1", "cgroup", notes=notes) or ""
        kind = next((k for marker, k in _ENGINE_MARKERS if marker in cgroup), None)
        if kind is None:
            kind = "docker" if live and os.path.exists("/.dockerenv") else "unknown"
    return kind is not None, kind


def kernel_log_readable(reader: procfs.Reader, cap_syslog: bool, kmsg_path: str = KMSG_PATH,
                        log_source: str | None = None, notes: list | None = None) -> bool:
    """Whether the kernel log can be read here; ``log_source`` is the answer
    when the log was already read (``none`` when it could not be)."""
    if log_source is not None:
        return log_source != "none"
    try:
        fd = os.open(kmsg_path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        restrict = procfs.to_int((reader.try_proc("sys", "kernel", "dmesg_restrict", notes=notes) or "").strip())
        return bool(cap_syslog) if restrict else os.path.exists(kmsg_path)
    os.close(fd)
    return True


def capabilities(reader: procfs.Reader, kmsg_path: str = KMSG_PATH, log_source: str | None = None,
                 notes: list | None = None) -> dict:
    """What this process may do on the host below proc_root and sys_root: the
    ``capabilities`` facts. Files it may not read are said in ``notes``."""
    status = procfs.parse_status(reader.try_proc("self", "status", notes=notes) or "")
    cap_eff = procfs.parse_cap_mask(status.get("CapEff", ""))

    def has(bit):
        return bool(cap_eff is not None and cap_eff >> bit & 1)

    in_container, kind = container(reader, notes)
    init_userns = (reader.try_proc("self", "uid_map", notes=notes) or "").split() in (["0", "0", "4294967295"], [])
    euid = os.geteuid()
    vm_dir = reader.proc_path("sys", "vm")
    return {
        "is_root": euid == 0,
        "container": in_container,
        "container_type": kind,
        "init_user_namespace": init_userns,
        "cap_eff": status.get("CapEff"),
        "cap_sys_admin": has(CAP_SYS_ADMIN),
        "cap_sys_resource": has(CAP_SYS_RESOURCE),
        "proc_sys_vm_writable": os.path.isdir(vm_dir) and os.access(os.path.join(vm_dir, "swappiness"), os.W_OK),
        "thp_writable": os.access(reader.sys_path("kernel", "mm", "transparent_hugepage", "enabled"), os.W_OK),
        "swapon_permitted": euid == 0 and has(CAP_SYS_ADMIN) and init_userns,
        "kernel_log_readable": kernel_log_readable(reader, has(CAP_SYSLOG), kmsg_path, log_source, notes),
        "systemd": systemd_is_pid1(reader),
    }
