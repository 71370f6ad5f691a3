# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fstab editor: one line is ours, every other byte stays as it was."""

from __future__ import annotations

import errno
import os
import stat

import sys

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _fstab
from ansible_collections.memops.linux.plugins.module_utils._textfile import decode, encode

# Everything an fstab in the wild holds: comments, UUID= and LABEL= sources,
# tabs, a CRLF line, another swap file and a swap partition, a line without
# a final newline is tested separately; non-UTF-8 bytes in a comment.
MIXED = (
    b"# /etc/fstab: static file system information.\n"
    b"#\n"
    b"# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
    b"UUID=0a1b2c3d-aaaa-bbbb-cccc-0123456789ab /               ext4    errors=remount-ro 0       1\n"
    b"LABEL=data\t/data\txfs\tdefaults,noatime\t0\t2\r\n"
    b"/other.swap\tnone\tswap\tsw,pri=3\t0\t0\n"
    b"/dev/sdb2 none swap sw 0 0\n"
    b"\n"
    b"# caf\xe9 \xff not utf-8\n"
    b"#/swapfile none swap sw 0 0\n"
    b"tmpfs /tmp tmpfs defaults 0 0\n"
)


def lines(data):
    return data.split(b"\n")


def other_lines_unchanged(before, after, ours=b"/swapfile"):
    """Every line of ``before`` that is not our entry is in ``after``, in order, byte for byte."""
    kept = [line for line in lines(before) if not line.startswith(ours)]
    remaining = [line for line in lines(after) if not line.startswith(ours)]
    return kept == remaining


def edit(data, function, *args, **kwargs):
    return encode(function(decode(data), *args, **kwargs))


# ---------------------------------------------------------------------------
# set_swap


def test_appends_our_line_and_keeps_every_other_byte():
    after = edit(MIXED, _fstab.set_swap, "/swapfile", 10)
    assert after.startswith(MIXED)
    assert after[len(MIXED):] == b"/swapfile none swap sw,pri=10 0 0\n"
    assert b"/other.swap\tnone\tswap\tsw,pri=3\t0\t0\n" in after
    assert b"/dev/sdb2 none swap sw 0 0\n" in after


def test_commented_entry_is_not_ours():
    after = edit(MIXED, _fstab.set_swap, "/swapfile", None)
    assert b"#/swapfile none swap sw 0 0\n" in after
    assert after.count(b"\n/swapfile none swap") == 1


def test_mostly_lf_file_gets_an_lf_line():
    before = b"UUID=1 / ext4 defaults 0 1\r\n/a none swap sw 0 0\n/b none swap sw 0 0\n"
    assert edit(before, _fstab.set_swap, "/swapfile", None).endswith(b"/b none swap sw 0 0\n/swapfile none swap sw 0 0\n")


def test_crlf_file_gets_a_crlf_line():
    before = b"UUID=1 / ext4 defaults 0 1\r\n/other.swap none swap sw 0 0\r\n"
    after = edit(before, _fstab.set_swap, "/swapfile", 5)
    assert after == before + b"/swapfile none swap sw,pri=5 0 0\r\n"


def test_missing_final_newline_is_added_before_our_line():
    before = b"UUID=1 / ext4 defaults 0 1"
    after = edit(before, _fstab.set_swap, "/swapfile", None)
    assert after == b"UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"


def test_empty_or_missing_file():
    assert edit(b"", _fstab.set_swap, "/swapfile", 1) == b"/swapfile none swap sw,pri=1 0 0\n"


def test_existing_entry_that_says_the_same_is_left_byte_identical():
    before = MIXED + b"/swapfile\tswap\tswap\tdefaults,pri=7,discard\t0 0\r\n"
    assert edit(before, _fstab.set_swap, "/swapfile", 7) == before
    # no priority asked: an existing one is left alone
    assert edit(before, _fstab.set_swap, "/swapfile", None, manage_priority=False) == before


def test_priority_change_rewrites_only_our_line_keeping_options_and_ending():
    before = MIXED + b"/swapfile\tswap\tswap\tdefaults,pri=7,discard\t0 0\r\n" + b"# tail\n"
    after = edit(before, _fstab.set_swap, "/swapfile", 20)
    assert b"/swapfile none swap defaults,discard,pri=20 0 0\r\n# tail\n" in after
    assert other_lines_unchanged(before, after)


def test_priority_dropped_when_asked_for_none():
    before = b"/swapfile none swap sw,pri=7 0 0\n"
    assert edit(before, _fstab.set_swap, "/swapfile", None) == b"/swapfile none swap sw 0 0\n"


def test_keyed_on_the_source_not_on_the_mount_point():
    # every swap line has "none" (or "swap") as mount point: keying on it would
    # make our line replace another swap entry (ansible#26036)
    before = b"/other.swap none swap sw 0 0\n/dev/sdb2 swap swap sw 0 0\n"
    after = edit(before, _fstab.set_swap, "/swapfile", 2)
    assert after == before + b"/swapfile none swap sw,pri=2 0 0\n"
    assert edit(after, _fstab.remove, "/swapfile") == before


def test_duplicates_of_our_entry_are_merged():
    before = b"/swapfile none swap sw 0 0\nUUID=1 / ext4 defaults 0 1\n/swapfile none swap sw,pri=4 0 0\n"
    after = edit(before, _fstab.set_swap, "/swapfile", None, manage_priority=False)
    assert after == b"/swapfile none swap sw 0 0\nUUID=1 / ext4 defaults 0 1\n"


def test_equivalent_spellings_of_the_path_are_the_same_entry():
    before = b"/var//swap/./file none swap sw 0 0\n"
    assert edit(before, _fstab.set_swap, "/var/swap/file", None, manage_priority=False) == before


def test_paths_with_spaces_are_escaped_and_found_again():
    after = edit(b"", _fstab.set_swap, "/srv/my swap", 3)
    assert after == b"/srv/my\\040swap none swap sw,pri=3 0 0\n"
    assert _fstab.swap_entry(decode(after), "/srv/my swap")["priority"] == 3
    assert edit(after, _fstab.remove, "/srv/my swap") == b""


SPLIT_ON = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]


@pytest.mark.parametrize("char", SPLIT_ON, ids=lambda c: "U+%04X" % ord(c))
def test_every_whitespace_the_splitter_splits_on_is_escaped_or_refused(char):
    path = "/srv/my%sswap" % char
    if char in " \t\n":
        once = _fstab.set_swap("", path, 3)
        assert len(once.splitlines()[0].split()) == 6
        assert _fstab.set_swap(once, path, 3) == once  # idempotent: found again, not appended
        assert _fstab.swap_entry(once, path)["priority"] == 3
    else:
        assert char in _fstab.UNSAFE_WHITESPACE
        with pytest.raises(_fstab.FstabError, match=r"U\+%04X.*choose a path without it" % ord(char)):
            _fstab.set_swap("", path, 3)


def test_form_feed_and_other_line_breaks_stay_inside_their_line():
    before = b"# odd \x0c comment \x1c\n/swapfile none swap sw 0 0\n"
    assert edit(before, _fstab.remove, "/swapfile") == b"# odd \x0c comment \x1c\n"


def test_entry_of_another_type_is_refused():
    before = b"/swapfile /mnt/x ext4 loop 0 0\n"
    with pytest.raises(_fstab.FstabError, match=r"line 1 names /swapfile with type ext4, not swap"):
        _fstab.set_swap(decode(before), "/swapfile", 1)
    with pytest.raises(_fstab.FstabError):
        _fstab.remove(decode(before), "/swapfile")


# ---------------------------------------------------------------------------
# remove and swap_entry


def test_remove_takes_out_only_our_lines():
    before = MIXED.replace(b"/dev/sdb2", b"/swapfile\tnone\tswap\tsw\t0 0\r\n/dev/sdb2")
    after = edit(before, _fstab.remove, "/swapfile")
    assert after == MIXED


def test_remove_without_an_entry_changes_nothing():
    assert edit(MIXED, _fstab.remove, "/swapfile") == MIXED


def test_swap_entry():
    text = decode(MIXED + b"/swapfile none swap sw,pri=9 0 0\r\n")
    assert _fstab.swap_entry(text, "/swapfile") == {
        "line": "/swapfile none swap sw,pri=9 0 0", "priority": 9, "options": "sw,pri=9"}
    assert _fstab.swap_entry(text, "/nothing") is None
    assert _fstab.swap_entry("/swapfile none swap\n", "/swapfile")["options"] == "defaults"
    assert _fstab.swap_entry("/swapfile none swap pri=x 0 0\n", "/swapfile")["priority"] is None


def test_render():
    assert _fstab.render("/swapfile") == "/swapfile none swap sw 0 0"
    assert _fstab.render("/swapfile", 0) == "/swapfile none swap sw,pri=0 0 0"
    assert _fstab.render("/a\\b", 1, "defaults,pri=3") == "/a\\134b none swap defaults,pri=1 0 0"


# ---------------------------------------------------------------------------
# files


def test_read_missing_file_is_empty(tmp_path):
    assert _fstab.read(str(tmp_path / "nope")) == ""


def test_read_error_is_typed(tmp_path):
    with pytest.raises(_fstab.FstabError, match="cannot read"):
        _fstab.read(str(tmp_path))  # a directory


def test_write_round_trips_bytes_and_keeps_mode(tmp_path):
    path = tmp_path / "fstab"
    path.write_bytes(MIXED)
    os.chmod(path, 0o640)
    text = _fstab.set_swap(_fstab.read(str(path)), "/swapfile", 4)
    assert _fstab.write(str(path), text) is None
    assert path.read_bytes() == MIXED + b"/swapfile none swap sw,pri=4 0 0\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fstab"]  # no temporary file left


def test_write_new_file_gets_0644(tmp_path):
    path = tmp_path / "fstab"
    _fstab.write(str(path), "/swapfile none swap sw 0 0\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_is_a_rename_of_a_temporary_file_in_the_same_directory(tmp_path):
    path = tmp_path / "fstab"
    path.write_bytes(MIXED)
    inode = path.stat().st_ino
    seen = []

    def replace(src, dest):
        seen.append((os.path.dirname(src), os.path.basename(src), dest))
        assert open(src, "rb").read().endswith(b"pri=1 0 0\n")
        assert path.read_bytes() == MIXED  # the old file is whole until the rename
        os.replace(src, dest)

    _fstab.write(str(path), _fstab.set_swap(decode(MIXED), "/swapfile", 1), replace=replace)
    assert seen[0][0] == str(tmp_path) and seen[0][1].startswith(".fstab.") and seen[0][2] == str(path)
    assert path.stat().st_ino != inode


def test_backup(tmp_path):
    path = tmp_path / "fstab"
    path.write_bytes(MIXED)
    backup = _fstab.write(str(path), "new\n", backup=_fstab.backup_copy)
    assert backup.startswith(str(path) + ".") and backup.endswith("~")
    assert open(backup, "rb").read() == MIXED
    assert path.read_bytes() == b"new\n"


def test_no_backup_of_a_file_that_did_not_exist(tmp_path):
    assert _fstab.write(str(tmp_path / "fstab"), "x\n", backup=_fstab.backup_copy) is None


def test_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "fstab"
    path.write_bytes(MIXED)

    def replace(src, dest):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    with pytest.raises(_fstab.FstabError, match="cannot write .*cross-device"):
        _fstab.write(str(path), "new\n", replace=replace)
    assert path.read_bytes() == MIXED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fstab"]


def test_unwritable_place_is_a_typed_error(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(_fstab.FstabError, match="cannot write"):
        _fstab.write(str(tmp_path / "file" / "fstab"), "x\n")


def test_failed_backup_writes_nothing(tmp_path):
    path = tmp_path / "fstab"
    path.write_bytes(MIXED)

    def broken(name):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(_fstab.FstabError, match="cannot back up .*No space left"):
        _fstab.write(str(path), "new\n", backup=broken)
    assert path.read_bytes() == MIXED
