# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _heap: the JVM's and Node.js's heap limits in bytes, from the words of their options."""

from __future__ import annotations

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _heap

GIB = 1 << 30
MIB = 1 << 20


@pytest.mark.parametrize("words, ram, expected", [
    (["java", "-Xmx512m", "-jar", "app.jar"], 16 * GIB, {"bytes": 512 * MIB, "source": "flag", "flag": "512m"}),
    (["-Xmx2G"], None, {"bytes": 2 * GIB, "source": "flag", "flag": "2G"}),
    (["-Xmx1073741824"], None, {"bytes": GIB, "source": "flag", "flag": "1073741824"}),
    (["-Xmx1g", "-XX:MaxHeapSize=3g"], None, {"bytes": 3 * GIB, "source": "flag", "flag": "3g"}),  # the last wins
    (["-Xmx4t"], None, {"bytes": 4 << 40, "source": "flag", "flag": "4t"}),
    (["-Xmxlots"], 16 * GIB, {"bytes": None, "source": None, "flag": "lots"}),  # not a size: not guessed
    (["-XX:MaxRAMPercentage=75.0"], 8 * GIB, {"bytes": 6 * GIB, "source": "percentage", "flag": None}),
    (["-XX:MaxRAMFraction=2"], 8 * GIB, {"bytes": 4 * GIB, "source": "percentage", "flag": None}),
    (["-XX:MaxRAM=4g", "-XX:MaxRAMPercentage=50"], 16 * GIB, {"bytes": 2 * GIB, "source": "percentage", "flag": None}),
    (["-XX:MaxRAM=64g"], 16 * GIB, {"bytes": 4 * GIB, "source": "default", "flag": None}),  # MaxRAM above RAM
    (["java", "-jar", "app.jar"], 16 * GIB, {"bytes": 4 * GIB, "source": "default", "flag": None}),
    (["java", "-jar", "app.jar"], None, {"bytes": None, "source": None, "flag": None}),
    (["-XX:MaxRAMPercentage=abc"], 16 * GIB, {"bytes": 4 * GIB, "source": "default", "flag": None}),
    (["-XX:MaxRAMFraction=0"], 16 * GIB, {"bytes": 4 * GIB, "source": "default", "flag": None}),
    (["-XX:MaxRAMPercentage=150"], 16 * GIB, {"bytes": None, "source": None, "flag": None}),
])
def test_jvm_heap(words, ram, expected):
    assert _heap.jvm_heap(words, ram) == expected


@pytest.mark.parametrize("words, expected", [
    (["node", "--max-old-space-size=4096", "server.js"], 4096 * MIB),
    (["--max_old_space_size=512"], 512 * MIB),
    (["--max-old-space-size=512", "--max-old-space-size=1024"], 1024 * MIB),
    (["node", "server.js"], None),
    (["--max-old-space-size=lots"], None),
])
def test_node_heap(words, expected):
    assert _heap.node_heap(words)["bytes"] == expected
