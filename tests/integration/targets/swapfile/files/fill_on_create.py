#!/usr/bin/env python
"""The other writer of the disk-full test: wait until WATCH appears, then
take every free block of its filesystem with FILLER, and say how much.

    fill_on_create.py WATCH FILLER
"""
import os
import sys
import time

watch, filler = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 60
while not os.path.exists(watch):
    if time.monotonic() > deadline:
        sys.exit("fill_on_create.py: %s never appeared" % watch)
fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
taken = 0
chunk = 64 << 20
while chunk >= 4096:
    try:
        os.posix_fallocate(fd, taken, chunk)
        taken += chunk
    except OSError:
        chunk //= 2
os.close(fd)
print("took %d bytes, %d left" % (taken, os.statvfs(filler).f_bavail * os.statvfs(filler).f_frsize))
