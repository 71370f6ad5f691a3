# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The hosts' JSON files of a report directory, and the merge of the slices of one run there.

AWX job slicing runs one job per slice of the inventory, possibly at the same time, each in a container of
its own whose temporary directory is deleted; what they share is a directory on a persistent volume or a
mounted share. Each slice writes its hosts' JSON into ``hosts/`` there, recording the run id (the same for
every slice of a run), then, holding a lock on a file of that directory, reads every host file of the run
and writes the report: the slice that finishes last writes the report over every host.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import re
import stat
import time
from contextlib import contextmanager

HOSTS_DIR = "hosts"
# never removed: a slice waiting for the lock could hold a file that another one has unlinked
LOCK_FILE = ".memops-report.lock"
# building the report of 5,000 hosts takes a few seconds; a slice waits this long for the others
LOCK_TIMEOUT = 600.0

# inventory names may hold characters a file name should not
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


class MergeError(Exception):
    """The merge cannot go on: the lock cannot be taken."""


def file_name(host: str) -> str:
    """The JSON file name of an inventory host name."""
    name = _UNSAFE.sub("_", host)
    return (name if name not in (".", "..") else name.replace(".", "_")) + ".json"


def host_document(host: str, facts: dict | None, run_id: str | None = None, error: str | None = None) -> dict:
    """The JSON of one host: host, generated_at, run_id (with one), memops (its facts; None when it has none)
    and, for a host without facts, error (why)."""
    document = {"host": host,
                "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if run_id is not None:
        document["run_id"] = run_id
    document["memops"] = facts
    if facts is None:
        document["error"] = error
    return document


def render_document(document: dict) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n"


@contextmanager
def locked(directory: str, mode: int, timeout: float = LOCK_TIMEOUT):
    """Hold an exclusive fcntl lock (POSIX record lock, which NFS and CIFS shares carry between machines)
    on the directory's lock file. Raises MergeError."""
    path = os.path.join(directory, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise MergeError("cannot open the lock file %s: %s" % (path, exc.strerror or exc))
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise MergeError("cannot lock %s: %s; the file system of the directory must carry fcntl "
                                     "locks (NFS, CIFS and local file systems do)" % (path, exc.strerror or exc))
                if time.monotonic() >= deadline:
                    raise MergeError("another run has held the lock file %s for over %d s; if no run of the "
                                     "report is going on, the share does not release its locks"
                                     % (path, timeout))
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_document(path):
    """The JSON object of a regular file (never through a link, never a FIFO), or raise ValueError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        try:
            document = json.loads(handle.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError("not JSON (%s)" % exc)
    if not isinstance(document, dict) or not isinstance(document.get("host"), str) or not document["host"]:
        raise ValueError("not a host's report (no host name)")
    return document


def read_run(directory: str, run_id: str, skip: set, shrink) -> dict:
    """The hosts of run ``run_id`` in ``<directory>/hosts``, but those named in ``skip`` (this slice's own).

    Returns {"facts": {host: shrink(facts) or None}, "errors": {host: reason}, "other_runs": count of files of
    other runs (or of no run) left out, "unreadable": ["<file>: <reason>", ...] (files that are not a host's
    JSON, left out too)}. ``shrink`` keeps of a host's facts what the report reads, so that thousands of hosts
    fit in memory.
    """
    out = {"facts": {}, "errors": {}, "other_runs": 0, "unreadable": []}
    hosts_dir = os.path.join(directory, HOSTS_DIR)
    try:
        names = sorted(os.listdir(hosts_dir))
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise MergeError("cannot list %s: %s" % (hosts_dir, exc.strerror or exc))
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue  # a temporary file of a write going on, or not ours
        try:
            document = _read_document(os.path.join(hosts_dir, name))
        except ValueError as exc:
            out["unreadable"].append("%s: %s" % (name, exc))
            continue
        host = document["host"]
        if document.get("run_id") != run_id:
            out["other_runs"] += 1
            continue
        if host in skip:
            continue
        facts = document.get("memops")
        if isinstance(facts, dict) and facts:
            out["facts"][host] = shrink(facts)
        else:
            out["facts"][host] = None
            out["errors"][host] = str(document.get("error") or "no memops facts in %s" % name)
    return out
