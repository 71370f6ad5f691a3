# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel-style failures for the module_utils tests."""

from __future__ import annotations

import errno
import os

import pytest


@pytest.fixture
def fail_open(monkeypatch):
    """Make os.open fail with an errno for chosen paths, as the kernel would.

    Root can read every fixture file and fixture processes never exit, so
    EACCES (hidepid, dmesg_restrict, root-only files) and ENOENT/ESRCH (a
    process exiting mid-scan) are simulated at the system call every reader
    in _procfs goes through. ``fail_open(predicate, code)`` makes the paths
    for which ``predicate(path)`` holds fail with ``code``; it returns the
    list of every path opened so far, for tests that check what was read."""
    real_open = os.open
    rules = []
    opened = []

    def fake_open(path, flags, *args, **kwargs):
        text = os.fsdecode(path)
        opened.append(text)
        for predicate, code in rules:
            if predicate(text):
                raise OSError(code, os.strerror(code), text)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)

    def add(predicate=lambda path: False, code=errno.EACCES):
        rules.append((predicate, code))
        return opened

    return add
