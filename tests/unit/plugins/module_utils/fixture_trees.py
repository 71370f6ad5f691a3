# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths and readers for the captured and hand-written /proc and /sys trees in fixtures/."""

from __future__ import annotations

import os

from ansible_collections.memops.linux.plugins.module_utils import _breakdown as breakdown
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


def read_as_live(monkeypatch, tree, root=FIXTURES):
    """Let _breakdown read ``tree`` (under ``root``) as the live system: its proc is taken for the live
    /proc, and statvfs(2) answers from the tree's ``statvfs`` file (mount point,
    f_frsize, f_blocks, f_bfree per line, as the host returned them)."""
    answers = {}
    with open(os.path.join(root, tree, "statvfs"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        point, frsize, blocks, bfree = line.rsplit(None, 3)
        answers[point] = os.statvfs_result((int(frsize), int(frsize), int(blocks), int(bfree), int(bfree),
                                            0, 0, 0, 0, 255))

    def statvfs(path):
        if path not in answers:
            raise FileNotFoundError(2, "No such file or directory", path)
        return answers[path]

    monkeypatch.setattr(breakdown, "LIVE_PROC_ROOT", os.path.join(root, tree, "proc"))
    monkeypatch.setattr(os, "statvfs", statvfs)
