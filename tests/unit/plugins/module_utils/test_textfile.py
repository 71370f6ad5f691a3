# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""File modes of the report files: parsed from the option, given to the directories the writers create."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _textfile

VALID_EXAMPLE = 'for example mode: "0600"'


@pytest.mark.parametrize("value, mode", [
    ("0600", 0o600),
    ("600", 0o600),
    ("0o640", 0o640),
    ("0644", 0o644),
    ("0660", 0o660),
    ("02640", 0o2640),
    ("7777", 0o7777),
    (0o600, 0o600),  # an unquoted 0600 in YAML
    (0o644, 0o644),
])
def test_parse_mode_accepts_octal(value, mode):
    assert _textfile.parse_mode(value) == mode


@pytest.mark.parametrize("value, why", [
    ("rw-r--r--", "mode 'rw-r--r--' is not an octal file mode"),
    ("u=rw,g=r", "mode 'u=rw,g=r' is not an octal file mode"),
    ("0999", "mode '0999' is not an octal file mode"),
    ("", "mode '' is not an octal file mode"),
    (" 0600", "mode ' 0600' is not an octal file mode"),
    ("0x180", "mode '0x180' is not an octal file mode"),
    (True, "mode True is not an octal file mode"),
    (None, "mode None is not an octal file mode"),
    (6.0, "mode 6.0 is not an octal file mode"),
    (-1, "mode -1 is not an octal file mode"),
    ("17777", "mode '17777' is above 07777"),
    (0o10600, "mode 4480 (octal 10600) is above 07777"),
    ("0400", "mode '0400' does not let the owner read and write the file"),
    ("0200", "mode '0200' does not let the owner read and write the file"),
    ("0066", "mode '0066' does not let the owner read and write the file"),
    ("0", "mode '0' does not let the owner read and write the file"),
    (644, "mode 644 (octal 1204) does not let the owner read and write the file"),  # unquoted 644 in YAML
])
def test_parse_mode_refuses_with_a_valid_example(value, why):
    with pytest.raises(_textfile.ModeError) as raised:
        _textfile.parse_mode(value)
    assert str(raised.value).startswith(why + "; ")
    assert VALID_EXAMPLE in str(raised.value)


@pytest.mark.parametrize("mode, expected", [
    (0o600, 0o700),
    (0o640, 0o750),
    (0o644, 0o755),
    (0o660, 0o770),
    (0o604, 0o705),
    (0o2640, 0o2750),
    (0o700, 0o700),
])
def test_directory_mode_adds_search_where_read_is_given(mode, expected):
    assert _textfile.directory_mode(mode) == expected


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_make_directories_gives_every_new_one_the_exact_mode(tmp_path):
    old_umask = os.umask(0o077)  # the mode is set whatever the umask lets through
    try:
        _textfile.make_directories(str(tmp_path / "a" / "b" / "c"), 0o750)
    finally:
        os.umask(old_umask)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert _mode(path) == 0o750, path


def test_make_directories_leaves_existing_ones_alone(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    os.chmod(existing, 0o755)
    _textfile.make_directories(str(existing / "new"), 0o700)
    _textfile.make_directories(str(existing), 0o700)
    assert _mode(existing) == 0o755
    assert _mode(existing / "new") == 0o700


def test_make_directories_keeps_the_group_of_a_shared_parent(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2750)
    _textfile.make_directories(str(shared / "hosts" / "db"), 0o750)
    assert _mode(shared / "hosts") == 0o2750
    assert _mode(shared / "hosts" / "db") == 0o2750


def test_make_directories_refuses_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        _textfile.make_directories(str(blocker), 0o700)
    with pytest.raises(OSError):
        _textfile.make_directories(str(blocker / "below"), 0o700)


def test_file_mode(tmp_path):
    path = tmp_path / "file"
    assert _textfile.file_mode(str(path)) is None
    assert _textfile.file_mode(str(tmp_path / "missing" / "file")) is None
    path.write_text("x")
    os.chmod(path, 0o640)
    assert _textfile.file_mode(str(path)) == 0o640
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    assert _textfile.file_mode(str(blocker / "file")) is None


def test_atomic_write_creates_the_directories_with_dir_mode(tmp_path):
    path = tmp_path / "report" / "hosts" / "db1.json"
    _textfile.atomic_write(str(path), "{}\n", mode=0o600, dir_mode=0o700)
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "report") == 0o700
    assert _mode(tmp_path / "report" / "hosts") == 0o700
    assert path.read_text() == "{}\n"


def test_atomic_write_sets_the_mode_of_a_file_already_there(tmp_path):
    path = tmp_path / "db1.json"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    os.chmod(tmp_path, 0o755)
    _textfile.atomic_write(str(path), "new\n", mode=0o600, dir_mode=0o700)
    assert _mode(path) == 0o600
    assert _mode(tmp_path) == 0o755  # an existing directory keeps its mode
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["db1.json"]
