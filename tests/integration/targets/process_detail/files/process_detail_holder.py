# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A process with a known memory map, for the process_detail target (and the unit test fixtures):

- a heap of HEAP_MIB MiB, every page written (run with MALLOC_MMAP_MAX_=0 so that malloc takes it
  from the brk heap, which smaps names [heap]);
- a SysV shared memory segment of SYSV_MIB MiB (shmget, shmat, every page written, then IPC_RMID: the
  kernel frees it when this process exits; smaps shows /SYSV00000000 (deleted));
- a POSIX shared memory file of POSIX_MIB MiB in /dev/shm, every page written, unlinked once mapped;
- a file of FILE_MIB MiB mapped read-only and read in full.

Writes {"pid", "comm", "sysv_shmid", "shm_path", "file_path"} as JSON to argv[1] when ready, then sleeps until killed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import mmap
import os
import sys
import tempfile
import time

MIB = 1 << 20
HEAP_MIB, SYSV_MIB, POSIX_MIB, FILE_MIB = 64, 8, 4, 16
PAGE = mmap.PAGESIZE
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


def touch(view, size):
    for offset in range(0, size, PAGE):
        view[offset] = 1


def sysv_segment(size):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
    shmid = libc.shmget(IPC_PRIVATE, ctypes.c_size_t(size), IPC_CREAT | 0o600)
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    address = libc.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "shmat")
    ctypes.memset(address, 1, size)
    libc.shmctl(shmid, IPC_RMID, None)  # removed once detached: this process's exit frees it
    return shmid


def main():
    heap = bytearray(HEAP_MIB * MIB)
    touch(heap, len(heap))
    shmid = sysv_segment(SYSV_MIB * MIB)
    shm_path = "/dev/shm/memops-process-detail-%d" % os.getpid()
    fd = os.open(shm_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.ftruncate(fd, POSIX_MIB * MIB)
    posix = mmap.mmap(fd, POSIX_MIB * MIB)
    os.close(fd)
    os.unlink(shm_path)
    touch(posix, len(posix))
    handle, file_path = tempfile.mkstemp(prefix="memops-process-detail-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    with os.fdopen(handle, "wb") as out:
        out.write(b"\xab" * (FILE_MIB * MIB))
        out.flush()
        os.fsync(out.fileno())  # clean pages: Dirty stays 0 instead of falling when writeback comes
    with open(file_path, "rb") as source:
        mapped = mmap.mmap(source.fileno(), 0, prot=mmap.PROT_READ)
    total = sum(mapped[offset] for offset in range(0, len(mapped), PAGE))  # every page read
    with open("/proc/self/comm", encoding="utf-8") as comm:
        name = comm.read().strip()
    state = {"pid": os.getpid(), "comm": name, "sysv_shmid": shmid, "shm_path": shm_path, "file_path": file_path, "read": total}
    with open(sys.argv[1] + ".tmp", "w", encoding="utf-8") as out:
        json.dump(state, out)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(3600)
    return heap, posix, mapped  # kept mapped until killed


if __name__ == "__main__":
    main()
