# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Let SIGTERM (a CI timeout) unwind like Ctrl-C, so that the guest fixture stops qemu."""

from __future__ import annotations

import signal


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt("SIGTERM")


def pytest_configure(config):  # pylint: disable=unused-argument
    signal.signal(signal.SIGTERM, _interrupt)
