# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _memlimits: the directive for each systemd version and cgroup hierarchy (G3), the usage guard (G2)."""

from __future__ import annotations

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _memlimits

G = 1 << 30


@pytest.mark.parametrize("version, controller, chosen, skipped", [
    (252, "v2", [("MemoryMax", G), ("MemoryHigh", G // 2), ("MemorySwapMax", 0), ("Restart", "on-failure")], []),
    (252, "v1", [("MemoryMax", G), ("Restart", "on-failure")], ["MemoryHigh", "MemorySwapMax"]),
    (231, "v2", [("MemoryMax", G), ("MemoryHigh", G // 2), ("Restart", "on-failure")], ["MemorySwapMax"]),
    (219, "v1", [("MemoryLimit", G), ("Restart", "on-failure")], ["MemoryHigh", "MemorySwapMax"]),
])
def test_directives(version, controller, chosen, skipped):
    got, left_out = _memlimits.directives(version, controller, G, G // 2, 0, True)
    assert got == chosen
    assert [s["directive"] for s in left_out] == skipped


def test_skip_reasons():
    skipped = _memlimits.directives(219, "v2", None, None, 0)[1]
    assert skipped[0]["reason"] == "systemd 219 lacks it (needs 232 or newer)"
    skipped = _memlimits.directives(252, "v1", None, None, 0)[1]
    assert "cgroup2 (unified) memory controller" in skipped[0]["reason"] and "here is v1" in skipped[0]["reason"]


@pytest.mark.parametrize("value, parsed", [
    ("512M", 512 << 20), ("infinity", "infinity"), ("Infinity", "infinity"), (None, None), ("1073741824", G),
])
def test_parse_limit(value, parsed):
    assert _memlimits.parse_limit(value, "max") == parsed


@pytest.mark.parametrize("value", ["4GB", "lots", "-1G", "0"])
def test_parse_limit_refused(value):
    with pytest.raises(_memlimits.LimitError, match="max: .*or infinity"):
        _memlimits.parse_limit(value, "max")


def test_zero_only_for_swap():
    assert _memlimits.parse_limit("0", "swap_max") == 0
    assert _memlimits.parse_limit(0, "swap_max") == 0


def test_usage_guard():
    assert _memlimits.check_usage(G, G // 2, False) is None
    assert _memlimits.check_usage("infinity", G, False) is None
    assert _memlimits.check_usage(G, None, False) is None
    with pytest.raises(_memlimits.LimitError, match="MemoryMax=512 MiB is below the current use of the service, 1 GiB; .*force: true"):
        _memlimits.check_usage(G // 2, G, False)
    assert "applied because force is set" in _memlimits.check_usage(G // 2, G, True, "MemoryLimit")
