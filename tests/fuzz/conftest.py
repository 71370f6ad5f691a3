# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings of the module fuzz tests (see test_modules.py).

MEMOPS_FUZZ_CASES      cases per module (default 10000, the CI run)
MEMOPS_FUZZ_CASE_SECONDS  the CPU time one case may take (default 5; 6 times it in all): past it, a hang
MEMOPS_FUZZ_SHARD=I/N  run only the I-th of N shares of the tests (scripts/test runs N in parallel)
MEMOPS_FUZZ_NO_SHRINK=1  report the first failing case as found, without shrinking it (faster)
"""

from __future__ import annotations

import os

import pytest

from hypothesis import HealthCheck, Phase, settings

from ansible_collections.memops.linux.tests.fuzz.trees import Layout

CASES = int(os.environ.get("MEMOPS_FUZZ_CASES", "10000"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if os.environ.get("MEMOPS_FUZZ_NO_SHRINK") else [Phase.shrink])
FUZZ = settings(max_examples=CASES, deadline=None, database=None, phases=PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture
def layout(tmp_path):
    """The directories of one module's cases, reused by each of them."""
    return Layout(str(tmp_path))


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    """Keep only this shard's tests (MEMOPS_FUZZ_SHARD=I/N): every N-th, from the I-th."""
    shard = os.environ.get("MEMOPS_FUZZ_SHARD")
    if not shard:
        return
    index, count = (int(n) for n in shard.split("/"))
    fuzz_items = [item for item in items if os.sep + "fuzz" + os.sep in str(item.fspath)]
    drop = {id(item) for position, item in enumerate(fuzz_items) if position % count != index - 1}
    items[:] = [item for item in items if id(item) not in drop]
