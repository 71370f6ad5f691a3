# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The captured /proc and /sys trees of benchmarks/fleet_scale: one capture of this machine, one tree per host.

The capture holds the files mem_facts reads (tests/unit/plugins/module_utils/fixtures/capture.py), for every
process of this machine, command lines replaced by the process name, plus the kernel log (``dmesg`` beside
``proc``, which mem_facts reads for a captured tree). Each host's tree links to the capture, except what it
varies: its own meminfo (a share of free memory moved to anonymous memory, so that hosts range from
healthy to critical), uptime and boot id (another boot, so that its kernel log is the tree's own).
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
CAPTURE = os.path.join(CHECKOUT, "tests", "unit", "plugins", "module_utils", "fixtures", "capture.py")
# files mem_facts reads that capture.py leaves out
EXTRA_PROC_FILES = ("cmdline", "modules")
# per host, written rather than linked
OWN_PROC_ENTRIES = ("meminfo", "uptime", "sys")


def _capture_module():
    spec = importlib.util.spec_from_file_location("memops_capture", CAPTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def capture(dest, proc_root="/proc", sys_root="/sys"):
    """Capture this machine's /proc and /sys into dest/proc, dest/sys and dest/dmesg; the number of processes."""
    module = _capture_module()
    taken = module.Capture(dest, proc_root, sys_root, [])
    taken.system(slab_caches=40)
    pids = [int(name) for name in os.listdir(proc_root) if name.isdigit()]
    for pid in sorted(pids):
        taken.process(pid, keep_cmdline=False)  # no command line of another process: they may hold secrets
    taken.own_process()
    taken.sysfs()
    taken.cgroup()
    for name in EXTRA_PROC_FILES:
        taken.copy(proc_root, name, "proc")
    for directory, _dirs, files in os.walk(os.path.join(sys_root, "kernel", "mm", "hugepages")):
        for name in files:
            taken.copy(sys_root, os.path.relpath(os.path.join(directory, name), sys_root), "sys")
    log = subprocess.run(["dmesg"], capture_output=True, check=False)
    with open(os.path.join(dest, "dmesg"), "wb") as handle:
        handle.write(log.stdout if log.returncode == 0 else b"")
    return sum(1 for name in os.listdir(os.path.join(dest, "proc")) if name.isdigit())


def _meminfo(text, rng):
    """meminfo with part of MemFree moved to anonymous memory: MemAvailable from about 2% to 90% of MemTotal."""
    values, order = {}, []
    for line in text.splitlines():
        key, _sep, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key] = int(fields[0])
            order.append((key, fields[1] if len(fields) > 1 else ""))
    total, free = values.get("MemTotal", 0), values.get("MemFree", 0)
    available = values.get("MemAvailable", free)
    # most hosts are healthy, some short of memory, a few critical
    target = total * rng.choice([rng.uniform(0.3, 0.9)] * 7 + [rng.uniform(0.08, 0.2)] * 2 + [rng.uniform(0.02, 0.05)])
    moved = max(0, min(free - total // 100, int(available - target)))
    for key in ("MemFree", "MemAvailable"):
        values[key] = values.get(key, 0) - moved
    for key in ("AnonPages", "Active(anon)", "Committed_AS"):
        if key in values:
            values[key] += moved
    return "".join("%-15s %8d%s\n" % (key + ":", values[key], " " + unit if unit else "") for key, unit in order)


def _link_all(source, target, but=()):
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        if name not in but:
            os.symlink(os.path.join(source, name), os.path.join(target, name))


def host_tree(base, dest, index):
    """The tree of host number index in dest (dest/proc, dest/sys, dest/dmesg), linked to the capture in base."""
    rng = random.Random(index)
    proc = os.path.join(dest, "proc")
    _link_all(os.path.join(base, "proc"), proc, but=OWN_PROC_ENTRIES)
    with open(os.path.join(base, "proc", "meminfo"), encoding="utf-8") as handle:
        meminfo = _meminfo(handle.read(), rng)
    with open(os.path.join(proc, "meminfo"), "w", encoding="utf-8") as handle:
        handle.write(meminfo)
    with open(os.path.join(proc, "uptime"), "w", encoding="utf-8") as handle:
        up = rng.uniform(3600, 90 * 86400)
        handle.write("%.2f %.2f\n" % (up, up * 1.7))
    _link_all(os.path.join(base, "proc", "sys"), os.path.join(proc, "sys"), but=("kernel",))
    _link_all(os.path.join(base, "proc", "sys", "kernel"), os.path.join(proc, "sys", "kernel"), but=("random",))
    os.makedirs(os.path.join(proc, "sys", "kernel", "random"))
    with open(os.path.join(proc, "sys", "kernel", "random", "boot_id"), "w", encoding="utf-8") as handle:
        handle.write("%s\n" % uuid.UUID(int=rng.getrandbits(128), version=4))
    os.symlink(os.path.join(base, "sys"), os.path.join(dest, "sys"))
    os.symlink(os.path.join(base, "dmesg"), os.path.join(dest, "dmesg"))
    return {"diagnose_proc_root": proc, "diagnose_sys_root": os.path.join(dest, "sys")}
