# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A fleet of podman containers booting systemd, an inventory for it, and
ansible-playbook runs against it. Shared by tests/fleet and benchmarks/fleet.

The containers run the local test image (tests/containers/build-image) with the
project's containers.conf, carry a label naming this run, and are removed by
``Fleet.remove`` (call it from ``finally``; ``with Fleet(...)`` does).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTAINERS_CONF = os.path.join(CHECKOUT, "tests", "containers", "containers.conf")
DEFAULT_IMAGE = os.environ.get("MEMOPS_FLEET_IMAGE", "localhost/memops/debian:12")
# Debian 13: tests/fleet runs one container of the fleet on it
TRIXIE_IMAGE = os.environ.get("MEMOPS_FLEET_IMAGE_TRIXIE", "localhost/memops/debian:13")
LABEL = "memops.fleet"

_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)"
                    r"\s+ignored=(?P<ignored>\d+)", re.M)

# Lists every file and directory below the given roots with mode, size, mtime and
# the SHA-256 of regular files; runs inside a container with its python3.
SNAPSHOT_SCRIPT = r"""
import hashlib, os, sys
for top in sys.argv[1:]:
    for directory, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files + dirs):
            path = os.path.join(directory, name)
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            print(path, oct(st.st_mode), st.st_size, st.st_mtime_ns, digest)
"""


class FleetError(RuntimeError):
    """podman or the image is not usable, or a container did not come up."""


def podman_env():
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)
    return env


def podman(*args, check=True, timeout=120):
    result = subprocess.run(["podman"] + list(args), env=podman_env(), capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        why = result.stderr.strip() or result.stdout.strip()
        raise FleetError("podman %s failed (exit %d): %s" % (" ".join(args), result.returncode, why))
    return result


def podman_usable(image=DEFAULT_IMAGE):
    """None when podman runs and the image exists, else why not."""
    try:
        if podman("image", "exists", image, check=False, timeout=30).returncode != 0:
            return "image %s is missing; build it with tests/containers/build-image" % image
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "podman is not usable: %s" % exc
    return None


def collections_root():
    """A directory holding ansible_collections/memops/linux for this checkout."""
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) + sys.path:
        if entry and os.path.realpath(os.path.join(entry, "ansible_collections", "memops", "linux")) == \
                os.path.realpath(CHECKOUT):
            return entry
    parts = CHECKOUT.split(os.sep)
    if parts[-3:] == ["ansible_collections", "memops", "linux"]:
        return os.sep.join(parts[:-3]) or os.sep
    root = tempfile.mkdtemp(prefix="memops-collections-")
    os.makedirs(os.path.join(root, "ansible_collections", "memops"))
    os.symlink(CHECKOUT, os.path.join(root, "ansible_collections", "memops", "linux"))
    return root


class Fleet:
    """``count`` containers named ``<prefix>-<run>-<n>``, booted with systemd, from ``image``;
    ``images`` maps some of those names' numbers (1 for the first) to another image."""

    def __init__(self, count, prefix="memops-fleet", image=DEFAULT_IMAGE, images=None):
        self.count = count
        self.image = image
        self.run_id = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        self.names = ["%s-%d" % (self.run_id, index) for index in range(1, count + 1)]
        self.images = {name: (images or {}).get(index, image) for index, name in enumerate(self.names, 1)}
        self.started = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info):
        self.remove()

    def start(self, boot_timeout=180):
        for name in self.names:
            podman("run", "--detach", "--name", name, "--hostname", name, "--label", "%s=%s" % (LABEL, self.run_id),
                   self.images[name], "/lib/systemd/systemd")
            self.started.append(name)
        deadline = time.monotonic() + boot_timeout
        for name in self.names:
            while True:
                # --wait returns once boot is over: running, or degraded when a unit failed;
                # before systemd has its bus up it fails at once, so ask again
                result = podman("exec", name, "systemctl", "is-system-running", "--wait", check=False,
                                timeout=max(1, deadline - time.monotonic()))
                state = result.stdout.strip()
                if state in ("running", "degraded"):
                    break
                if time.monotonic() > deadline:
                    raise FleetError("container %s did not boot within %ds: systemctl is-system-running says %r %s"
                                     % (name, boot_timeout, state, result.stderr.strip()))
                time.sleep(0.2)

    def remove(self):
        """Remove every container of this run, also those a failed start left behind."""
        listed = podman("ps", "--all", "--quiet", "--filter", "label=%s=%s" % (LABEL, self.run_id), check=False)
        ids = listed.stdout.split() if listed.returncode == 0 else []
        targets = sorted(set(ids) | set(self.started))
        if targets:
            podman("rm", "--force", "--time", "0", *targets, check=False, timeout=300)
        self.started = []

    def write_inventory(self, path, localhost=True, host_vars=None, group_vars=None, all_vars=None, extra=()):
        """A YAML (JSON) inventory: the containers in group ``containers``, plus localhost.

        host_vars: {host: vars}; group_vars: vars of ``containers``; all_vars: vars of ``all``;
        extra: more names in ``containers``, for containers that do not exist."""
        host_vars = host_vars or {}
        containers = {
            "hosts": {name: dict(host_vars.get(name, {})) for name in list(self.names) + list(extra)},
            "vars": dict({"ansible_connection": "containers.podman.podman",
                          "ansible_python_interpreter": "/usr/bin/python3",
                          "ansible_pipelining": True}, **(group_vars or {})),
        }
        inventory = {"all": {"children": {"containers": containers}, "vars": dict(all_vars or {})}}
        if localhost:
            inventory["all"]["hosts"] = {"localhost": dict(
                {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                **host_vars.get("localhost", {}))}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle, indent=1)
        return path

    def snapshot(self, name, roots=("/etc", "/var", "/tmp", "/root")):
        """Every path below ``roots`` in container ``name`` with mode, size, mtime and content hash."""
        result = podman("exec", name, "python3", "-c", SNAPSHOT_SCRIPT, *roots, timeout=300)
        return result.stdout.splitlines()


def ansible_playbook_command():
    """The ansible-playbook next to this Python (its virtualenv), else the one on PATH."""
    executable = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return executable if os.access(executable, os.X_OK) else "ansible-playbook"


def ansible_playbook(playbook, inventory, *args, cwd=None, env=None, timeout=900):
    """Run ansible-playbook (see ansible_playbook_command); returns the CompletedProcess
    with ``recap`` added: {host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}."""
    executable = ansible_playbook_command()
    run_env = podman_env()
    run_env["ANSIBLE_COLLECTIONS_PATH"] = collections_root() + (
        os.pathsep + os.environ["ANSIBLE_COLLECTIONS_PATH"] if os.environ.get("ANSIBLE_COLLECTIONS_PATH") else "")
    run_env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    run_env.setdefault("ANSIBLE_NOCOLOR", "1")
    run_env.update(env or {})
    command = [executable, "-i", inventory, playbook] + list(args)
    result = subprocess.run(command, cwd=cwd, env=run_env, capture_output=True, text=True, timeout=timeout,
                            check=False)
    result.recap = {m.group("host"): {k: int(v) for k, v in m.groupdict().items() if k != "host"}
                    for m in _RECAP.finditer(result.stdout)}
    return result
