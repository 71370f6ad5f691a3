# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A saved kernel log (kernel_log_path): read plain or gzip, the only log read, hostile files refused."""

from __future__ import annotations

import gzip
import os
import shutil

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _kernlog as kernlog
from ansible_collections.memops.linux.plugins.module_utils import _memfacts as memfacts
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.fixture_trees import fixture_path

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "fixtures", "oom_corpus")
# dmesg of an Ubuntu host: one memcg kill of uwsgi (pid 63214)
SAVED = os.path.join(CORPUS, "004-uwsgi-memcg-ubuntu-dmesg.log")
# what a live host's log would say if it were read: a fresh kill of a process named livevictim
LIVE_KMSG = "3,900,912345001,-;Out of memory: Killed process 4242 (livevictim) total-vm:31200kB, anon-rss:1024kB, " \
            "file-rss:0kB, shmem-rss:0kB\n"
LIVE_DMESG = "[  912.345001] Out of memory: Killed process 4242 (livevictim) total-vm:31200kB, anon-rss:1024kB, " \
             "file-rss:0kB, shmem-rss:0kB\n"


@pytest.fixture
def live_log(tmp_path):
    """A kmsg device and dmesg/journalctl runners that all give the live-looking kill, and what was asked of them."""
    kmsg = tmp_path / "kmsg"
    kmsg.write_text(LIVE_KMSG)
    asked = []

    def run(argv):
        asked.append(argv[0])
        return LIVE_DMESG
    return str(kmsg), run, asked


def captured(tmp_path, tree="low_memory"):
    """A copy of a fixture tree, a captured host (not the live /proc, not this boot)."""
    target = tmp_path / "capture"
    shutil.copytree(fixture_path(tree), str(target), symlinks=True)
    return procfs.Reader(str(target / "proc"), str(target / "sys")), target


def victims(gatherer):
    oom = gatherer.oom()
    return oom, [event["victim"]["name"] for event in oom["events"]]


def test_a_plain_saved_log_is_the_only_one_read(tmp_path, live_log):
    kmsg, run, asked = live_log
    reader, dummy = captured(tmp_path)
    oom, names = victims(memfacts.Gatherer(reader, kmsg_path=kmsg, log_commands=run, log_file=SAVED))
    assert names == ["uwsgi"] and oom["events"][0]["victim"]["pid"] == 63214
    assert (oom["log_source"], oom["log_path"], oom["log_readable"]) == ("file", SAVED, True)
    assert asked == []


def test_a_gzip_saved_log_is_told_by_its_magic_not_its_name(tmp_path, live_log):
    kmsg, run, asked = live_log
    path = tmp_path / "kern.log"  # no .gz in the name
    with open(SAVED, "rb") as source:
        path.write_bytes(gzip.compress(source.read()))
    gz_name = tmp_path / "plain.gz"  # and a plain file named .gz is read as plain
    shutil.copy(SAVED, str(gz_name))
    for log in (path, gz_name):
        oom, names = victims(memfacts.Gatherer(procfs.Reader(), kmsg_path=kmsg, log_commands=run, log_file=str(log)))
        assert names == ["uwsgi"] and oom["log_source"] == "file"
    assert asked == []


def test_the_saved_log_overrides_the_dmesg_beside_a_captured_tree(tmp_path):
    reader, target = captured(tmp_path)
    (target / "dmesg").write_text(LIVE_DMESG)
    assert victims(memfacts.Gatherer(reader, log_commands=False))[1] == ["livevictim"]
    assert victims(memfacts.Gatherer(reader, log_commands=False, log_file=SAVED))[1] == ["uwsgi"]


def test_a_captured_tree_never_reads_the_live_log(tmp_path, live_log):
    """With proc_root a captured tree and no log of its own, the live-looking kill is absent: no event,
    log_source none, and neither the kmsg device nor dmesg/journalctl was read."""
    kmsg, run, asked = live_log
    reader, target = captured(tmp_path)
    assert not (target / "dmesg").exists()
    live = memfacts.Gatherer(procfs.Reader(), kmsg_path=kmsg, log_commands=run)
    assert "livevictim" in victims(live)[1]  # the plant is seen where the live log is read
    gatherer = memfacts.Gatherer(reader, kmsg_path=kmsg, log_commands=run)
    oom, names = victims(gatherer)
    assert names == [] and oom["log_source"] == "none" and oom["log_path"] == str(target / "dmesg")
    assert asked == []
    # with the tree's own log: its kill, never the live one
    (target / "dmesg").write_text(open(SAVED).read())
    oom, names = victims(memfacts.Gatherer(reader, kmsg_path=kmsg, log_commands=run))
    assert names == ["uwsgi"] and oom["log_source"] == "tree" and asked == []


def test_capabilities_name_the_saved_log_when_it_was_not_read():
    gatherer = memfacts.Gatherer(procfs.Reader(fixture_path("low_memory", "proc"), fixture_path("low_memory", "sys")),
                                 log_file=SAVED, kmsg_path="/nonexistent/kmsg")
    assert gatherer.capabilities()["kernel_log_readable"] is True


def test_the_last_part_of_a_long_plain_log_is_read_from_a_line_start(tmp_path):
    path = tmp_path / "messages"
    path.write_text("x" * 100 + "\n" + LIVE_DMESG)
    text = kernlog.read_log_file(str(path), limit=len(LIVE_DMESG) + 10)
    assert text == LIVE_DMESG


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(str(path))
    return str(path)


@pytest.mark.parametrize("make, fragments", [
    (lambda tmp: str(tmp / "missing.log"), ["missing.log", "No such file", "give the path of a saved kernel log"]),
    (str, ["not a regular file", "give the path"]),
    (_fifo, ["fifo", "not a regular file"]),
    (lambda tmp: "/dev/null", ["/dev/null", "not a regular file"]),
])
def test_what_is_no_regular_file_is_refused_without_waiting(tmp_path, make, fragments):
    path = make(tmp_path)
    with pytest.raises(kernlog.LogFileError) as caught:
        kernlog.read_log_file(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_corrupt_gzip_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "dmesg.gz"
    path.write_bytes(gzip.compress(b"[ 1.0] Linux version\n" * 1000)[:60])
    with pytest.raises(kernlog.LogFileError, match="corrupt or truncated gzip.*compress it again"):
        kernlog.read_log_file(str(path))


def test_a_gzip_bomb_is_refused_past_the_limit(tmp_path):
    path = tmp_path / "bomb"
    path.write_bytes(gzip.compress(b"\0" * (4 << 20)))  # 4 MiB of zeros in a few KiB
    assert path.stat().st_size < 64 << 10
    with pytest.raises(kernlog.LogFileError, match="more than 1 MiB once decompressed"):
        kernlog.read_log_file(str(path), limit=1 << 20)
    assert len(kernlog.read_log_file(str(path), limit=8 << 20)) == 4 << 20


def test_an_unreadable_saved_log_fails_the_gather(tmp_path):
    gatherer = memfacts.Gatherer(procfs.Reader(), log_file=str(tmp_path / "gone"), log_commands=False)
    with pytest.raises(procfs.ProcfsError, match="kernel_log_path .*gone"):
        gatherer.oom()
