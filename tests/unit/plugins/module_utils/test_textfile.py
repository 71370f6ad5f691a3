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
    ("0700", 0o700),
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
    ("0666", "mode '0666' lets other users write"),
    ("0660", "mode '0660' lets other users write"),
    ("0602", "mode '0602' lets other users write"),
    ("06777", "mode '06777' lets other users write"),
    ("7777", "mode '7777' lets other users write"),
    ("04600", "mode '04600' sets a set-user-ID, set-group-ID or sticky bit"),
    ("02640", "mode '02640' sets a set-user-ID, set-group-ID or sticky bit"),
    ("01600", "mode '01600' sets a set-user-ID, set-group-ID or sticky bit"),
])
def test_parse_mode_refuses_with_a_valid_example(value, why):
    with pytest.raises(_textfile.ModeError) as raised:
        _textfile.parse_mode(value)
    assert str(raised.value).startswith(why)
    assert VALID_EXAMPLE in str(raised.value)


@pytest.mark.parametrize("value, mode", [("0700", 0o700), ("0750", 0o750), ("02750", 0o2750), ("0755", 0o755)])
def test_parse_mode_of_a_directory_accepts(value, mode):
    assert _textfile.parse_mode(value, "directory_mode", directory=True) == mode


@pytest.mark.parametrize("value, why", [
    ("0600", "directory_mode '0600' does not let the owner read, write and search the directory"),
    ("0777", "directory_mode '0777' lets other users write"),
    ("01777", "directory_mode '01777' lets other users write"),
    ("0770", "directory_mode '0770' lets other users write"),
    ("01700", "directory_mode '01700' sets a set-user-ID, set-group-ID or sticky bit"),
    ("04700", "directory_mode '04700' sets a set-user-ID, set-group-ID or sticky bit"),
])
def test_parse_mode_of_a_directory_refuses(value, why):
    with pytest.raises(_textfile.ModeError) as raised:
        _textfile.parse_mode(value, "directory_mode", directory=True)
    assert str(raised.value).startswith(why)
    assert 'for example directory_mode: "0700"' in str(raised.value)


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


def test_file_mode_without_follow_gives_a_link_its_own_mode(tmp_path):
    target = tmp_path / "target"
    target.write_text("x")
    os.chmod(target, 0o600)
    os.symlink(str(target), str(tmp_path / "link"))
    assert _textfile.file_mode(str(tmp_path / "link")) == 0o600
    assert _textfile.file_mode(str(tmp_path / "link"), follow=False) == 0o777


@pytest.mark.parametrize("replace", ["os.replace", "copying move"])
def test_atomic_write_without_follow_replaces_a_planted_link(tmp_path, replace):
    """A link planted where a report goes (to a file the writer may write, as root may any) is replaced by
    the report: the file it names keeps its content and its mode."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    reports = tmp_path / "reports"
    reports.mkdir()
    link = reports / "report.json"
    os.symlink(str(victim), str(link))

    def copying_move(src, dst):  # like atomic_move: renames, then the caller sets the mode again
        os.chmod(src, 0o644)
        os.replace(src, dst)

    _textfile.atomic_write(str(link), "{}\n", mode=0o600, dir_mode=0o700, follow=False,
                           replace=os.replace if replace == "os.replace" else copying_move)
    assert victim.read_text() == "precious\n"
    assert _mode(victim) == 0o644
    assert not os.path.islink(str(link))
    assert link.read_text() == "{}\n"
    assert _mode(link) == 0o600
    assert sorted(os.listdir(reports)) == ["report.json"]


def test_atomic_write_without_follow_replaces_a_dangling_link_and_a_fifo(tmp_path):
    os.symlink(str(tmp_path / "elsewhere" / "new"), str(tmp_path / "dangling"))
    os.mkfifo(str(tmp_path / "fifo"), 0o600)
    for name in ("dangling", "fifo"):
        _textfile.atomic_write(str(tmp_path / name), "x\n", mode=0o600, follow=False)
        assert stat.S_ISREG(os.lstat(str(tmp_path / name)).st_mode)
        assert (tmp_path / name).read_text() == "x\n"
    assert not (tmp_path / "elsewhere").exists()


def test_atomic_write_without_follow_refuses_a_link_swapped_in_before_the_chmod(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    path = tmp_path / "report.json"

    def racing_move(src, dst):  # another user swaps a link in right after the rename
        os.replace(src, dst)
        os.unlink(dst)
        os.symlink(str(victim), dst)

    with pytest.raises(_textfile.TextFileError):
        _textfile.atomic_write(str(path), "{}\n", mode=0o600, follow=False, replace=racing_move)
    assert _mode(victim) == 0o644
    assert victim.read_text() == "precious\n"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["fifo", "directory", "zero"])
def test_read_text_refuses_what_is_not_a_regular_file_without_blocking(tmp_path, kind):
    """A FIFO at a configuration path (sysctl_file, fstab, a unit drop-in) used to block the read for ever
    (found by tests/fuzz); a directory or a device that never ends is refused as well."""
    path = tmp_path / "conf"
    if kind == "fifo":
        os.mkfifo(str(path))
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(_textfile.TextFileError, match="cannot read %s: " % path):
        _textfile.read_text(str(path))


def test_read_text_follows_links_and_reads_a_masked_file_as_empty(tmp_path):
    (tmp_path / "real.conf").write_bytes(b"vm.swappiness = 10\n\xff\n")
    (tmp_path / "link.conf").symlink_to(tmp_path / "real.conf")
    (tmp_path / "masked.conf").symlink_to(os.devnull)
    assert _textfile.read_text(str(tmp_path / "link.conf")) == "vm.swappiness = 10\n\udcff\n"
    assert _textfile.read_text(str(tmp_path / "masked.conf")) == ""
    assert _textfile.read_text(str(tmp_path / "absent.conf")) is None
