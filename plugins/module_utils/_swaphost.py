# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Acting on swap: make a swap file, swapon and swapoff, run the steps of a plan.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). :class:`Host` runs the steps
:func:`_swap.plan` made: a file it made and could not finish is removed; a
swap area it brought up is never taken down before another one holds its
pages. swapon and swapoff are the system calls (libc), not the commands, so
that an error is an errno; mem_reclaim's swap_cycle uses them too.
"""

from __future__ import annotations

import errno
import os
import shutil
from typing import Callable

from ansible_collections.memops.linux.plugins.module_utils import _fstab
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _swap as swap
from ansible_collections.memops.linux.plugins.module_utils import _swapdisk as swapdisk
from ansible_collections.memops.linux.plugins.module_utils._units import format_size

_SWAP_FLAG_PREFER = 0x8000
_LIBC = []  # the C library, loaded on first use


def _call(name, path, *args):
    if not _LIBC:
        import ctypes  # only where swap is switched: the import costs a module run some milliseconds

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
        _LIBC.append(ctypes.get_errno)
    libc, get_errno = _LIBC
    if getattr(libc, name)(os.fsencode(path), *args) != 0:
        code = get_errno()
        raise OSError(code, os.strerror(code), path)


def swapon(path: str, priority: int | None = None) -> None:
    """swapon(2) ``path``, with ``priority`` (0 to 32767) or the kernel's. Raises OSError."""
    _call("swapon", path, 0 if priority is None else _SWAP_FLAG_PREFER | priority)


def swapoff(path: str) -> None:
    """swapoff(2) ``path``. Raises OSError (ENOMEM: its pages do not fit back)."""
    _call("swapoff", path)


class Host:
    """Runs steps on the real host. ``run(argv) -> (rc, stdout, stderr)`` runs
    commands, ``replace(src, dest)`` renames fstab into place and ``backup(path)``
    copies it first (a module passes ``run_command``, ``atomic_move`` and
    ``backup_local``)."""

    def __init__(self, run: Callable[[list[str]], tuple[int, str, str]],
                 replace: Callable[[str, str], None] = os.replace, reader: procfs.Reader | None = None,
                 backup: Callable[[str], str] = _fstab.backup_copy) -> None:
        self.run = run
        self.replace = replace
        self.backup = backup
        self.reader = reader or procfs.Reader()

    # --- primitives ---------------------------------------------------------
    def create(self, path: str, size: int, method: str, nocow: bool = False, fallback: bool = False) -> str:
        """A new file of ``size`` bytes, mode 0600 from its first byte, fully
        allocated and checked for holes. Returns the method that made it."""
        previous = os.umask(0o077)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         0o600)
        except OSError as exc:
            raise swap.Failed("cannot create %s: %s" % (path, exc.strerror or exc))
        finally:
            os.umask(previous)
        try:
            if nocow:
                try:
                    swapdisk.set_nocow(fd)  # only takes effect on an empty file
                except OSError as exc:
                    raise swap.Failed("cannot mark %s NOCOW (chattr +C), which btrfs needs for swap files: %s"
                                      % (path, exc.strerror or exc))
            method = self._allocate(fd, path, size, method, fallback)
            found = swapdisk.extents(fd, size)
            if (found["holes"] or found["problems"]) and method == "fallocate" and fallback:
                os.ftruncate(fd, 0)
                method = self._allocate(fd, path, size, "dd", False)
                found = swapdisk.extents(fd, size)
            if found["holes"] or found["problems"]:
                raise swap.HasHoles("%s came out of %s %s; it was removed and never handed to swapon: use allocation: dd"
                                    % (path, method, "with holes" if found["holes"] else
                                       "with " + ", ".join(found["problems"]) + " extents"))
        except BaseException:
            os.close(fd)
            self._remove_quietly(path)
            raise
        os.close(fd)
        return method

    def _allocate(self, fd, path, size, method, fallback):
        if method == "fallocate":
            try:
                os.posix_fallocate(fd, 0, size)
                return "fallocate"
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise self._disk_full(path, size, None)
                if not (fallback and exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS)):
                    raise swap.Failed("fallocate %s: %s" % (path, exc.strerror or exc))
        written = 0
        try:
            while written < size:
                written += os.write(fd, swapdisk.ZEROS[:min(swapdisk.CHUNK, size - written)])
            os.fsync(fd)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._disk_full(path, size, written)
            raise swap.Failed("writing %s: %s" % (path, exc.strerror or exc))
        return "dd"

    @staticmethod
    def _disk_full(path, size, written):
        done = "" if written is None else " (%s of %s written)" % (format_size(written), format_size(size))
        return swap.DiskFull("the filesystem of %s filled up while the swap file was being allocated%s; the partial "
                             "file was removed and fstab was not touched: free space (or lower size) and run again"
                             % (path, done))

    @staticmethod
    def _remove_quietly(path):
        try:
            os.unlink(path)
        except OSError:
            pass

    def mkswap(self, path: str, page_size: int) -> None:
        command = shutil.which("mkswap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if not command:
            raise swap.Failed("mkswap was not found (it comes with util-linux); install it and run again")
        rc, out, err = self.run([command, path])
        if rc != 0:
            raise swap.Failed("mkswap %s failed (rc %d): %s" % (path, rc, (err or out).strip()))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        try:
            content, header = swapdisk.classify(fd, os.fstat(fd).st_size, page_size)
        finally:
            os.close(fd)
        if content != "swap" or not header["usable"]:
            raise swap.Failed("mkswap %s reported success but left no swap signature this kernel (page size %d) takes"
                              % (path, page_size))

    def swapon(self, path: str, priority: int | None) -> None:
        swapon(path, priority)

    def swapoff(self, path: str) -> None:
        swapoff(path)

    def daemon_reload(self) -> None:
        rc, out, err = self.run(["systemctl", "daemon-reload"])
        if rc != 0:
            raise swap.Failed("systemctl daemon-reload failed (rc %d): %s; run it by hand so that systemd drops "
                              "the swap unit of the old fstab entry" % (rc, (err or out).strip()))

    # --- running a plan -----------------------------------------------------
    def apply(self, request: swap.Request, steps: list[dict]) -> dict:
        """Runs ``steps``. Returns {allocation, backup_file, systemd_reloaded}."""
        done = {"allocation": None, "backup_file": None, "systemd_reloaded": False}
        made: dict[str, dict] = {}  # path -> create step, for files this run made and has not activated yet
        completed: list[dict] = []
        for step in steps:
            try:
                self._apply_one(request, step, made, done)
            except swap.SwapError as exc:
                raise self._failed(request, made, completed, exc)
            except OSError as exc:
                raise self._failed(request, made, completed, swap.Failed(
                    "%s %s: %s" % (step["action"], step["path"] or "", exc.strerror or exc)))
            completed.append(step)
        return done

    def _apply_one(self, request, step, made, done):
        action, path = step["action"], step["path"]
        if action == "create":
            made[path] = dict(step, method=self.create(path, step["size"], step["method"], step["nocow"],
                                                       step["fallback"]))
            if path == request.path:
                done["allocation"] = made[path]["method"]
        elif action == "mkswap":
            self.mkswap(path, request.page_size)
        elif action == "swapon":
            try:
                self.swapon(path, step["priority"])
            except OSError as exc:
                created = made.get(path)
                if not (exc.errno == errno.EINVAL and created and created["method"] == "fallocate"
                        and created["fallback"]):
                    raise self._swapon_error(path, exc)
                # the kernel found holes the extent map did not show: rebuild with zeros
                os.unlink(path)
                created["method"] = self.create(path, created["size"], "dd", created["nocow"])
                self.mkswap(path, request.page_size)
                self.swapon(path, step["priority"])
                if path == request.path:
                    done["allocation"] = "dd"
            made.pop(path, None)
        elif action == "swapoff":
            try:
                self.swapoff(path)
            except OSError as exc:
                if exc.errno == errno.ENOMEM:
                    raise swap.Failed("swapoff %s: the kernel refused (ENOMEM): its pages do not fit back in memory or "
                                      "under a memory cgroup's limit, or strict overcommit needs the room; it stays "
                                      "active and nothing was lost: free memory, then run again" % path)
                raise
        elif action == "unlink":
            os.unlink(path)
        elif action == "chmod":
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        elif action == "fstab":
            try:
                done["backup_file"] = _fstab.write(step["file"], step["text"],
                                                   self.backup if step["backup"] else None, self.replace)
            except _fstab.FstabError as exc:
                raise swap.Failed(str(exc))
        elif action == "daemon-reload":
            self.daemon_reload()
            done["systemd_reloaded"] = True

    @staticmethod
    def _swapon_error(path, exc):
        if exc.errno == errno.EPERM:
            return swap.NotPermitted("swapon %s: operation not permitted; swap is host-wide and needs CAP_SYS_ADMIN "
                                     "in the host's user namespace (a container cannot do it)" % path)
        if exc.errno == errno.EINVAL:
            return swap.Failed("swapon %s: invalid argument: the kernel refused the file (holes, copy-on-write or "
                               "compressed extents, or a filesystem without swap file support; see dmesg)" % path)
        return swap.Failed("swapon %s: %s" % (path, exc.strerror or exc))

    def _failed(self, request, made, completed, exc):
        """Removes files this run made but did not activate; says what is left."""
        removed = []
        for path in made:
            if os.path.lexists(path):
                self._remove_quietly(path)
                removed.append(path)
        left = []
        bridge = swap.inspect(request.bridge, request.page_size)
        if bridge["kind"] != "missing":
            left.append("the temporary swap file %s is still there (a later run finishes the job)" % request.bridge)
        message = str(exc)
        if removed and "was removed" not in message:
            message += "; removed the unfinished %s" % ", ".join(removed)
        if left:
            message += "; " + "; ".join(left)
        failure = type(exc)(message)
        failure.completed = [swap.describe_step(s) for s in completed if s["path"] not in removed]
        return failure
