# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The on-host checker on hostile /proc trees: a clear answer, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, COLLECTIONS_ROOT

CHECKER = os.path.join(COLLECTION, "roles", "monitoring", "files", "memops_check.py")
FIXTURES = os.path.join(COLLECTION, "tests", "unit", "plugins", "module_utils", "fixtures")


def run_checker_on(tmp_path, meminfo):
    root = tmp_path / "host"
    shutil.copytree(os.path.join(FIXTURES, "host"), str(root), symlinks=True)
    (root / "proc" / "meminfo").write_text(meminfo)
    settings = {"textfile_dir": str(tmp_path / "textfile"), "state_file": str(tmp_path / "state" / "state.json"),
                "kernel_log": False, "timeout": 5, "host": "test-host",
                "proc_root": str(root / "proc"), "sys_root": str(root / "sys")}
    (tmp_path / "config.json").write_text(json.dumps(settings))
    return subprocess.run([sys.executable, CHECKER, "--config", str(tmp_path / "config.json"),
                           "--lib", COLLECTIONS_ROOT], capture_output=True, text=True, timeout=120, check=False)


def test_checker_skips_absurd_meminfo_numbers(tmp_path):
    # a 400-digit value overflowed float arithmetic: a traceback, no metrics
    with open(os.path.join(FIXTURES, "host", "proc", "meminfo"), encoding="utf-8") as handle:
        meminfo = handle.read().replace("MemFree:        23868884 kB", "MemFree:        %s kB" % ("9" * 400))
    proc = run_checker_on(tmp_path, meminfo)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "health " in proc.stderr
    assert (tmp_path / "textfile").is_dir()


def test_checker_says_it_cannot_judge_a_meminfo_without_memtotal(tmp_path):
    # the checker reported health ok for a meminfo it could not read a size of RAM from
    proc = run_checker_on(tmp_path, "MemTotal:        8041216\nMemFree:         6123456\n")
    assert proc.returncode == 1
    assert "check failed:" in proc.stderr and "no MemTotal line in kB" in proc.stderr
    assert "Traceback" not in proc.stderr and "health ok" not in proc.stderr
