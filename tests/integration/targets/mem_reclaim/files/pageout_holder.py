# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Holds 100 MiB of its own pages and asks the kernel to page them out to swap
(madvise MADV_PAGEOUT, Linux 5.4+), then sleeps until killed."""

import mmap
import time

SIZE = 100 << 20
MADV_PAGEOUT = getattr(mmap, "MADV_PAGEOUT", 21)

pages = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
pages.write(b"x" * SIZE)
pages.madvise(MADV_PAGEOUT)
time.sleep(600)
