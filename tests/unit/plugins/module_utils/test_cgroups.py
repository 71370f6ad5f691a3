# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _cgroups: the hierarchy's layout and a systemd unit's group, on temporary sysfs trees."""

from __future__ import annotations

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _cgroups
from ansible_collections.memops.linux.plugins.module_utils._procfs import Reader


def make_tree(root, files):
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)


@pytest.mark.parametrize("files, layout", [
    ({"fs/cgroup/cgroup.controllers": "cpu io memory pids\n"}, {"hierarchy": "unified", "memory_controller": "v2"}),
    ({"fs/cgroup/cgroup.controllers": "cpu io\n"}, {"hierarchy": "unified", "memory_controller": None}),
    ({"fs/cgroup/unified/cgroup.controllers": "", "fs/cgroup/memory/memory.limit_in_bytes": "1\n"},
     {"hierarchy": "hybrid", "memory_controller": "v1"}),
    ({"fs/cgroup/memory/memory.limit_in_bytes": "1\n"}, {"hierarchy": "legacy", "memory_controller": "v1"}),
    ({}, {"hierarchy": "none", "memory_controller": None}),
])
def test_cgroup_layout(tmp_path, files, layout):
    make_tree(tmp_path, files)
    (tmp_path / "fs" / "cgroup").mkdir(parents=True, exist_ok=True)
    assert _cgroups.layout(Reader(sys_root=str(tmp_path))) == layout


def test_cgroup_pids_and_usage(tmp_path):
    make_tree(tmp_path, {
        "fs/cgroup/unified/system.slice/pg.service/cgroup.procs": "812\n813\n",
        "fs/cgroup/memory/system.slice/pg.service/memory.usage_in_bytes": "73400320\n",
        "fs/cgroup/systemd/system.slice/old.service/cgroup.procs": "77\n",
        "fs/cgroup/system.slice/v2.service/memory.current": "4096\n",
    })
    assert _cgroups.unit_pids(Reader(sys_root=str(tmp_path)), "/system.slice/pg.service") == [812, 813]
    assert _cgroups.unit_pids(Reader(sys_root=str(tmp_path)), "/system.slice/old.service") == [77]
    assert _cgroups.unit_pids(Reader(sys_root=str(tmp_path)), "/system.slice/none.service") == []
    assert _cgroups.unit_pids(Reader(sys_root=str(tmp_path)), None) == []
    assert _cgroups.unit_memory_usage(Reader(sys_root=str(tmp_path)), "/system.slice/pg.service") == 73400320
    assert _cgroups.unit_memory_usage(Reader(sys_root=str(tmp_path)), "/system.slice/v2.service") == 4096
    assert _cgroups.unit_memory_usage(Reader(sys_root=str(tmp_path)), "/system.slice/none.service") is None


@pytest.mark.parametrize("text, unit", [
    ("0::/system.slice/nginx.service\n", "nginx.service"),
    ("12:memory:/system.slice/mariadb.service\n1:name=systemd:/system.slice/mariadb.service\n0::/system.slice/mariadb.service\n",
     "mariadb.service"),
    ("0::/system.slice/system-postgresql.slice/postgresql@15-main.service\n", "postgresql@15-main.service"),
    ("0::/system.slice/docker-0123abcd.scope\n", None),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", None),
    ("0::/\n", None),
    ("", None),
])
def test_service_unit(text, unit):
    assert _cgroups.service_unit(text) == unit


def test_memory_limit_of_a_process(tmp_path):
    make_tree(tmp_path, {"fs/cgroup/memory/jobs/memory.limit_in_bytes": "67108864\n",
                         "fs/cgroup/memory/jobs/worker/memory.limit_in_bytes": "9223372036854771712\n",
                         "fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"})
    reader = Reader(sys_root=str(tmp_path))
    assert _cgroups.memory_limit(reader, _cgroups.parse_proc_cgroup("4:memory:/jobs\n")) == 64 << 20
    # a sub-group without a limit of its own lives under its parent's
    assert _cgroups.memory_limit(reader, _cgroups.parse_proc_cgroup("4:memory:/jobs/worker\n")) == 64 << 20
    assert _cgroups.memory_limit(reader, _cgroups.parse_proc_cgroup("4:memory:/\n")) is None
    assert _cgroups.memory_limit(reader, _cgroups.parse_proc_cgroup("")) is None


def test_garbage_in_pid_and_usage_files_is_skipped(tmp_path):
    # "\u00b2".isdigit() is true but int() refuses it; 5000 digits are past int()'s limit
    make_tree(tmp_path, {
        "fs/cgroup/system.slice/odd.service/cgroup.procs": "\u00b2\n12\n%s\n-4\n0\n" % ("9" * 5000),
        "fs/cgroup/system.slice/odd.service/memory.current": "\u00b2\u00b3\n",
        "fs/cgroup/system.slice/huge.service/memory.current": "9" * 5000 + "\n",
    })
    reader = Reader(sys_root=str(tmp_path))
    assert _cgroups.unit_pids(reader, "/system.slice/odd.service") == [12]
    assert _cgroups.unit_memory_usage(reader, "/system.slice/odd.service") is None
    assert _cgroups.unit_memory_usage(reader, "/system.slice/huge.service") is None
