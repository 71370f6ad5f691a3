# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A few cases of the module fuzz tests (tests/fuzz) in every unit run, on each ansible-core the unit step
uses: the harness keeps working between runs of the ``fuzz`` step, which draws 10000 cases per module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("hypothesis")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = 20


def test_every_entry_point_takes_a_few_fuzz_cases():
    env = dict(os.environ, MEMOPS_FUZZ_CASES=str(CASES))
    env.pop("MEMOPS_FUZZ_SHARD", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    # the 10 entry points, and 4 cases of a defect the fuzzing found, kept as examples
    assert "14 passed" in proc.stdout, proc.stdout[-2000:]
