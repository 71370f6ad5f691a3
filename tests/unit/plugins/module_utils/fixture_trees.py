# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths and readers for the captured and hand-written /proc and /sys trees in fixtures/."""

from __future__ import annotations

import os

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
KIB = 1024


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def read_fixture(*parts):
    with open(fixture_path(*parts), encoding="utf-8") as handle:
        return handle.read()


def tree_reader(tree):
    return procfs.Reader(proc_root=fixture_path(tree, "proc"), sys_root=fixture_path(tree, "sys"))


def pid_files(proc_root, pids, names=None):
    """A path predicate for the ``fail_open`` fixture: the files of ``pids``
    below ``proc_root``, all of them or only those called ``names``."""
    prefixes = tuple(os.path.join(proc_root, str(pid)) + os.sep for pid in pids)

    def predicate(path):
        return path.startswith(prefixes) and (names is None or os.path.basename(path) in names)

    return predicate
