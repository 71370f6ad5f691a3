#!/usr/bin/env python
"""Hold SIZE MiB of random data; on SIGUSR1 write "intact" or "corrupt" to OUT
after checking it against the digest taken at the start.

    hog.py SIZE OUT
"""
import hashlib
import os
import signal
import sys
import time

size = int(sys.argv[1]) << 20
out = sys.argv[2]
data = bytearray(size)
for offset in range(0, size, 1 << 20):
    data[offset:offset + (1 << 20)] = os.urandom(1 << 20)
digest = hashlib.sha256(data).hexdigest()


def check(*_):
    verdict = "intact" if hashlib.sha256(data).hexdigest() == digest else "corrupt"
    with open(out + ".tmp", "w") as handle:
        handle.write(verdict)
    os.rename(out + ".tmp", out)


signal.signal(signal.SIGUSR1, check)
with open(out + ".ready", "w") as handle:
    handle.write(str(os.getpid()))
while True:
    time.sleep(1)
