# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make monitoring_stack importable by the tests next to it (pytest runs with --import-mode=importlib),
and let SIGTERM (a CI timeout) unwind like Ctrl-C, so that the fixtures stop their servers and remove
their cgroups."""

from __future__ import annotations

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):  # pylint: disable=unused-argument
    signal.signal(signal.SIGTERM, _interrupt)
