# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Settings that survive a real reboot, on a real booting kernel.

A Debian guest (tests/reboot/build-guest) boots under qemu with
``transparent_hugepage=never`` on its kernel command line, on a fresh qcow2
overlay over the cached disk. playbooks/apply.yml applies vm_tuning (sysctl.d
and THP with its boot unit), swap (a swap file in fstab), memory_limits and
oom_protect (drop-ins for a test service); the guest reboots once
(ansible.builtin.reboot); the tests read what the new boot shows, and a second
run of apply.yml must change nothing.

Needs root (to build the guest), qemu-system-x86_64, qemu-img and ssh. The
serial console of each run is kept in tests/output/reboot/ for diagnosis.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
OUTPUT = os.path.join(CHECKOUT, "tests", "output", "reboot")
PLAYBOOKS = os.path.join(HERE, "playbooks")
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 transparent_hugepage=never"
BOOT_TIMEOUT = 420  # software emulation on a shared 2-core machine
HOST = "guest"
# Every boot has a new overlay, hence no known host key to keep. A connection
# open while the guest reboots sees no reset through qemu's user network: the
# keepalives end it, or ansible.builtin.reboot would wait on it for ever.
SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]

SERVICE = "memops-reboot-sleeper"
SWAP_FILE = "/memops.swap"
SWAP_PRIORITY = 7
MEMORY_MAX = 64 << 20
OOM_SCORE_ADJ = -250
SWAPPINESS = 13
VFS_CACHE_PRESSURE = 123

# The extra variables of playbooks/apply.yml: one place for what is applied and checked.
APPLY_VARS = {
    "reboot_service": SERVICE,
    "vm_tuning_swappiness": SWAPPINESS,
    "vm_tuning_vfs_cache_pressure": VFS_CACHE_PRESSURE,
    "vm_tuning_thp_enabled": "madvise",
    "swap_files": [{"path": SWAP_FILE, "size": "64M", "priority": SWAP_PRIORITY, "min_free": "100M"}],
    "memory_limits_services": [{"name": SERVICE, "max": "64M"}],
    "oom_protect_services": [{"name": SERVICE, "score_adj": OOM_SCORE_ADJ}],
}

pytestmark = pytest.mark.timeout(1800)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    """Run in the child before exec: the kernel kills qemu when pytest dies, however it dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _ansible_playbook_command():
    executable = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return executable if os.access(executable, os.X_OK) else "ansible-playbook"


def _collections_root():
    parts = CHECKOUT.split(os.sep)
    if parts[-3:] == ["ansible_collections", "memops", "linux"]:
        return os.sep.join(parts[:-3]) or os.sep
    return None


class Guest:
    """A qemu guest booted from an overlay over the cached disk, reached over SSH on a loopback port."""

    def __init__(self, image_dir, workdir):
        self.image_dir = image_dir
        self.workdir = workdir
        self.key = os.path.join(image_dir, "id_ed25519")
        self.port = _free_port()
        self.process = None
        os.makedirs(OUTPUT, exist_ok=True)
        self.serial_log = os.path.join(OUTPUT, "serial-%s.log" % time.strftime("%Y%m%d-%H%M%S"))
        self.inventory = os.path.join(workdir, "inventory.json")

    def ssh_command(self, command):
        return ["ssh", "-i", self.key, "-p", str(self.port), "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10"] + SSH_OPTIONS + ["root@127.0.0.1", command]

    def run(self, command, check=True, timeout=120):
        """Run a shell command on the guest; its stdout, stripped."""
        result = subprocess.run(self.ssh_command(command), capture_output=True, text=True, timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            raise AssertionError("on the guest, %r exited %d: %s" % (command, result.returncode,
                                                                     result.stderr.strip()))
        return result.stdout.strip()

    def start(self):
        overlay = os.path.join(self.workdir, "overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.join(self.image_dir, "disk.img"), overlay], check=True, timeout=60)
        command = [
            "qemu-system-x86_64", "-m", "1024", "-smp", "2", "-nographic",
            "-kernel", os.path.join(self.image_dir, "vmlinuz"),
            "-initrd", os.path.join(self.image_dir, "initrd.img"),
            "-append", KERNEL_ARGS,
            "-drive", "file=%s,if=virtio,format=qcow2" % overlay,
            "-netdev", "user,id=n,hostfwd=tcp:127.0.0.1:%d-:22" % self.port,
            "-device", "virtio-net-pci,netdev=n",
        ]
        with open(self.serial_log, "wb") as log:
            log.write(("$ %s\n" % shlex.join(command)).encode())
            log.flush()
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in stop()
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)  # pylint: disable=subprocess-popen-preexec-fn
        self.wait_for_ssh()
        self.write_inventory()

    def wait_for_ssh(self):
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise AssertionError("qemu exited with %d before the guest answered SSH; serial console in %s"
                                     % (self.process.returncode, self.serial_log))
            result = subprocess.run(self.ssh_command("true"), capture_output=True, text=True, timeout=60,
                                    check=False)
            if result.returncode == 0:
                return
            if time.monotonic() - started > BOOT_TIMEOUT:
                raise AssertionError("the guest did not answer SSH on port %d within %d s (%s); serial console in %s"
                                     % (self.port, BOOT_TIMEOUT, result.stderr.strip(), self.serial_log))
            time.sleep(3)

    def write_inventory(self):
        inventory = {"all": {"hosts": {HOST: {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.key,
            "ansible_ssh_common_args": " ".join(SSH_OPTIONS),
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_pipelining": True,
        }}}}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle, indent=1)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)

    def playbook(self, name, extra_vars=None):
        """Run playbooks/NAME with the json callback; its parsed output, with rc and stderr added."""
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_TIMEOUT="60", ANSIBLE_RETRY_FILES_ENABLED="False")
        root = _collections_root()
        if root:
            env["ANSIBLE_COLLECTIONS_PATH"] = root + (os.pathsep + env["ANSIBLE_COLLECTIONS_PATH"]
                                                      if env.get("ANSIBLE_COLLECTIONS_PATH") else "")
        command = [_ansible_playbook_command(), "-i", self.inventory, os.path.join(PLAYBOOKS, name)]
        if extra_vars:
            vars_file = os.path.join(self.workdir, "vars-%s.json" % name)
            with open(vars_file, "w", encoding="utf-8") as handle:
                json.dump(extra_vars, handle)
            command += ["-e", "@" + vars_file]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=env, check=False)
        log_name = os.path.join(OUTPUT, "%s-%s.json" % (os.path.splitext(name)[0], time.strftime("%H%M%S")))
        with open(log_name, "w", encoding="utf-8") as handle:
            handle.write(result.stdout)
        try:
            output = json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError("ansible-playbook %s (exit %d) printed no JSON: %s\n%s"
                                 % (name, result.returncode, exc, result.stderr[-5000:])) from exc
        output["rc"] = result.returncode
        output["stderr"] = result.stderr
        return output


def task_result(output, suffix):
    """The guest's result of the one task whose name ends with ``suffix``."""
    found = [task["hosts"][HOST] for play in output["plays"] for task in play["tasks"]
             if task["task"]["name"].endswith(suffix) and HOST in task["hosts"]]
    assert len(found) == 1, "expected one task named ...%s, found %d" % (suffix, len(found))
    return found[0]


def failures(output):
    """Names and messages of the tasks that failed, for assertion messages."""
    return [(task["task"]["name"], result.get("msg")) for play in output["plays"] for task in play["tasks"]
            for result in task["hosts"].values() if result.get("failed") or result.get("unreachable")]


@pytest.fixture(scope="module")
def guest():
    if os.geteuid() != 0:
        pytest.fail("the reboot tests build their guest with debootstrap, which needs root")
    build = subprocess.run([os.path.join(HERE, "build-guest")], capture_output=True, text=True, timeout=1200,
                           check=False)
    if build.returncode != 0:
        pytest.fail("tests/reboot/build-guest failed (exit %d):\n%s" % (build.returncode, build.stderr[-5000:]))
    image_dir = build.stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="memops-reboot-") as workdir:
        running = Guest(image_dir, workdir)
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def runs(guest):  # pylint: disable=redefined-outer-name
    """Apply, reboot, apply again: {first, second, boot_ids, cmdline}."""
    boot_before = guest.run("cat /proc/sys/kernel/random/boot_id")
    first = guest.playbook("apply.yml", APPLY_VARS)
    assert first["rc"] == 0, failures(first) or first["stderr"][-5000:]
    rebooted = guest.playbook("reboot.yml")
    assert rebooted["rc"] == 0, failures(rebooted) or rebooted["stderr"][-5000:]
    boot_after = guest.run("cat /proc/sys/kernel/random/boot_id")
    second = guest.playbook("apply.yml", APPLY_VARS)
    assert second["rc"] == 0, failures(second) or second["stderr"][-5000:]
    return {"first": first, "second": second, "boot_ids": (boot_before, boot_after),
            "cmdline": guest.run("cat /proc/cmdline")}


def test_guest_really_rebooted(runs):  # pylint: disable=redefined-outer-name
    """A new boot (new boot_id), booted with the same command line."""
    before, after = runs["boot_ids"]
    assert before != after
    assert "transparent_hugepage=never" in runs["cmdline"].split()


def _cmdline_conflicts(result):
    return [conflict for conflict in result.get("conflicts", []) if conflict.get("source") == "kernel_cmdline"]


def test_thp_boot_unit_wins_over_kernel_cmdline(guest, runs):  # pylint: disable=redefined-outer-name
    """thp reports transparent_hugepage=never as a conflict, before and after the reboot; the boot unit still
    leaves madvise at runtime."""
    for run in ("first", "second"):
        result = task_result(runs[run], "Set transparent huge pages")
        conflicts = _cmdline_conflicts(result)
        assert conflicts, "%s run: no kernel_cmdline conflict in %s" % (run, result.get("conflicts"))
        assert conflicts[0]["value"] == "never", conflicts
    assert task_result(runs["first"], "Set transparent huge pages")["changed"] is True
    assert guest.run("cat /sys/kernel/mm/transparent_hugepage/enabled").split() == ["always", "[madvise]", "never"]
    assert guest.run("systemctl is-enabled memops-thp.service") == "enabled"


def test_sysctl_values_survive_and_win_sysctl_system(guest, runs):  # pylint: disable=redefined-outer-name,unused-argument
    """vm_tuning's sysctl.d file sets the values at boot, and `sysctl --system` (every file, in order) keeps them."""
    expected = {"swappiness": str(SWAPPINESS), "vfs_cache_pressure": str(VFS_CACHE_PRESSURE)}

    def read():
        return {name: guest.run("cat /proc/sys/vm/%s" % name) for name in expected}

    assert read() == expected
    guest.run("sysctl --system")
    assert read() == expected


def test_swap_file_active_from_fstab(guest, runs):  # pylint: disable=redefined-outer-name,unused-argument
    """The swap role's file is active after the reboot, with its priority: systemd took it from fstab."""
    shown = guest.run("swapon --show=NAME,TYPE,SIZE,PRIO --bytes --noheadings").splitlines()
    entries = {fields[0]: fields[1:] for fields in (line.split() for line in shown)}
    assert SWAP_FILE in entries, shown
    swap_type, size, priority = entries[SWAP_FILE]
    assert swap_type == "file"
    assert int(size) > (60 << 20)
    assert int(priority) == SWAP_PRIORITY
    fstab = [line.split() for line in guest.run("cat /etc/fstab").splitlines() if line.strip()]
    assert any(fields[0] == SWAP_FILE and fields[2] == "swap" for fields in fstab), fstab
    unit = guest.run("systemd-escape --path --suffix=swap %s" % shlex.quote(SWAP_FILE))
    assert guest.run("systemctl is-active %s" % shlex.quote(unit)) == "active"


def test_service_limits_on_cgroup_v2(guest, runs):  # pylint: disable=redefined-outer-name,unused-argument
    """memory_limits' MemoryMax= lands in the service's cgroup2 memory.max, oom_protect's OOMScoreAdjust= in
    /proc/MAINPID/oom_score_adj, both applied by systemd at boot."""
    assert guest.run("stat -f -c %T /sys/fs/cgroup") == "cgroup2fs"
    properties = dict(line.split("=", 1) for line in guest.run(
        "systemctl show -p ControlGroup -p MainPID -p ActiveState %s.service" % SERVICE).splitlines())
    assert properties["ActiveState"] == "active", properties
    assert guest.run("cat /sys/fs/cgroup%s/memory.max" % properties["ControlGroup"]) == str(MEMORY_MAX)
    assert guest.run("cat /proc/%s/oom_score_adj" % properties["MainPID"]) == str(OOM_SCORE_ADJ)


def test_second_run_changes_nothing(runs):  # pylint: disable=redefined-outer-name
    """After the reboot the same playbook finds everything in place."""
    stats = runs["second"]["stats"][HOST]
    changed = [task["task"]["name"] for play in runs["second"]["plays"] for task in play["tasks"]
               if task["hosts"].get(HOST, {}).get("changed")]
    assert stats["changed"] == 0, changed
    assert stats["failures"] == 0 and stats["unreachable"] == 0, stats


def test_removed_swap_file_is_forgotten_by_systemd(guest, runs):  # pylint: disable=redefined-outer-name,unused-argument
    """Removal turns the area off, drops the fstab line and reloads systemd, so the .swap unit its fstab
    generator made is gone and swap.target does not bring the area back (runs last: it undoes the swap test)."""
    unit = guest.run("systemd-escape --path --suffix=swap %s" % shlex.quote(SWAP_FILE))
    assert guest.run("systemctl show -p LoadState --value %s" % shlex.quote(unit)) == "loaded"
    removed = guest.playbook("remove_swap.yml", {"reboot_swap_file": SWAP_FILE})
    assert removed["rc"] == 0, failures(removed) or removed["stderr"][-5000:]
    assert removed["stats"][HOST]["changed"] > 0
    assert guest.run("systemctl show -p LoadState --value %s" % shlex.quote(unit)) == "not-found"
    guest.run("systemctl start swap.target")
    assert SWAP_FILE not in guest.run("swapon --show=NAME --noheadings").split()
    assert guest.run("test -e %s && echo present || echo absent" % shlex.quote(SWAP_FILE)) == "absent"
    assert not [line for line in guest.run("cat /etc/fstab").splitlines() if line.split()[:1] == [SWAP_FILE]]
