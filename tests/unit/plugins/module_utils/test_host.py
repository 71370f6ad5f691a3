# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _host: what a host allows, on temporary procfs trees (the captured trees
of test_memfacts cover the capabilities facts as a whole)."""

from __future__ import annotations

from ansible_collections.memops.linux.plugins.module_utils import _host
from ansible_collections.memops.linux.plugins.module_utils._procfs import Reader


def test_systemd_is_pid1(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "comm").write_text("systemd\n")
    assert _host.systemd_is_pid1(Reader(str(tmp_path)))
    (tmp_path / "1" / "comm").write_text("process_api\n")
    assert not _host.systemd_is_pid1(Reader(str(tmp_path)))
    assert not _host.systemd_is_pid1(Reader(str(tmp_path / "missing")))
