# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A leak to be found: RSS grows by 1 MiB every 0.1 s for two minutes, then holds."""

import time

chunks = []
for _ in range(1200):
    chunks.append(b"x" * (1 << 20))  # written bytes, so resident: bytearray(n) would stay untouched
    time.sleep(0.1)
time.sleep(600)
