# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for _sysctl: names, values, file edits, load order, runtime apply and
rollback, and the strict-overcommit guard, on temporary /proc/sys trees."""

from __future__ import annotations

import errno
import os
import stat
import types

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _kernel
from ansible_collections.memops.linux.plugins.module_utils import _overcommit as overcommit
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs
from ansible_collections.memops.linux.plugins.module_utils import _sysctl as sysctl
from ansible_collections.memops.linux.plugins.module_utils import _textfile as textfile

GIB = 1 << 30
KIB = 1024

VM_DEFAULTS = {
    "swappiness": "60",
    "vfs_cache_pressure": "100",
    "overcommit_memory": "0",
    "overcommit_ratio": "50",
    "overcommit_kbytes": "0",
    "dirty_ratio": "20",
    "dirty_bytes": "0",
    "nr_hugepages": "0",
    "lowmem_reserve_ratio": "256\t256\t32\t0\t0",
    "drop_caches": None,  # write-only
}
MEMINFO = """MemTotal:       16777216 kB
MemFree:         8000000 kB
SwapTotal:             0 kB
CommitLimit:     8388608 kB
Committed_AS:    4194304 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
"""


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def make_proc(tmp_path):
    """A proc_root with sys/vm and meminfo, as files."""
    root = tmp_path / "proc"
    vm = root / "sys" / "vm"
    vm.mkdir(parents=True)
    (root / "sys" / "kernel").mkdir()
    for name, value in VM_DEFAULTS.items():
        _write(vm / name, (value or "") + "\n")
    os.chmod(vm / "drop_caches", 0o200)
    _write(root / "meminfo", MEMINFO)
    return root


@pytest.fixture
def proc(tmp_path):
    return make_proc(tmp_path)


def _vm(proc, name):
    return (proc / "sys" / "vm" / name).read_text().strip()


class FakeKernel:
    """Stands in for the sysctl handlers behind _kernel.write_value.

    Like the kernel: swappiness 0..200 and overcommit_memory 0..2, else EINVAL;
    a multi-value setting stores as many numbers as it is given, even when a
    later one is bad; ratio/kbytes and dirty_ratio/dirty_bytes reset each other;
    nr_hugepages stores at most 4 (not enough memory for more)."""

    RANGES = {"swappiness": (0, 200), "overcommit_memory": (0, 2)}
    PAIRS = {"overcommit_ratio": "overcommit_kbytes", "overcommit_kbytes": "overcommit_ratio",
             "dirty_ratio": "dirty_bytes", "dirty_bytes": "dirty_ratio"}

    def __init__(self):
        self.writes = []
        self.read_only = set()

    def __call__(self, path, data, dir_fd=None):
        name = os.path.basename(path)
        text = data.decode()
        self.writes.append((name, text))
        if name in self.read_only:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        tokens = text.split()
        if name == "lowmem_reserve_ratio":
            with open(path, encoding="utf-8") as handle:
                stored = handle.read().split()
            for index, token in enumerate(tokens):
                if not token.isdigit():
                    _write(path, "\t".join(stored) + "\n")
                    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
                stored[index] = token
            _write(path, "\t".join(stored) + "\n")
            return
        value = int(tokens[0])
        low, high = self.RANGES.get(name, (-(1 << 63), 1 << 63))
        if not low <= value <= high:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        if name == "nr_hugepages":
            value = min(value, 4)
        _write(path, "%d\n" % value)
        if name in self.PAIRS:
            _write(os.path.join(os.path.dirname(path), self.PAIRS[name]), "0\n")


def install_kernel(monkeypatch):
    """Put a FakeKernel behind every runtime write; returns it."""
    fake = FakeKernel()
    monkeypatch.setattr(_kernel, "_write", fake)
    return fake


@pytest.fixture
def kernel(monkeypatch):
    return install_kernel(monkeypatch)


def make_boot(tmp_path):
    """Load-order directories like the systemd ones, and an /etc/sysctl.conf:
    .dirs (etc, run, usr_local_lib, usr_lib), .conf, .entries (for sysctl_dirs)."""
    dirs = {}
    for name in ("etc", "run", "usr_local_lib", "usr_lib"):
        path = tmp_path / name / "sysctl.d"
        path.mkdir(parents=True)
        dirs[name] = path
    conf = tmp_path / "etc" / "sysctl.conf"
    _write(conf, "# nothing set here\n")
    entries = [str(dirs[n]) for n in ("etc", "run", "usr_local_lib", "usr_lib")] + [str(conf)]
    return types.SimpleNamespace(dirs=dirs, conf=conf, entries=entries)


@pytest.fixture
def boot(tmp_path):
    return make_boot(tmp_path)


# ---------------------------------------------------------------------------
# names


@pytest.mark.parametrize("given, parts, dotted", [
    ("vm.swappiness", ["vm", "swappiness"], "vm.swappiness"),
    ("vm/swappiness", ["vm", "swappiness"], "vm.swappiness"),
    ("  vm.swappiness ", ["vm", "swappiness"], "vm.swappiness"),
    ("-vm.swappiness", ["vm", "swappiness"], "vm.swappiness"),
    ("net.ipv4.conf.eth0/1.rp_filter", ["net", "ipv4", "conf", "eth0.1", "rp_filter"],
     "net.ipv4.conf.eth0/1.rp_filter"),
    ("net/ipv4/conf/eth0.1/rp_filter", ["net", "ipv4", "conf", "eth0.1", "rp_filter"],
     "net.ipv4.conf.eth0/1.rp_filter"),
])
def test_names_dotted_or_slashed(given, parts, dotted):
    assert sysctl.split_name(given) == parts
    assert sysctl.canonical_name(given) == dotted


@pytest.mark.parametrize("given", ["", "  ", "vm..swappiness", "vm/../../etc/passwd", "vm.swap piness",
                                   "vm.swappiness=10", ".", 5, None])
def test_bad_names(given):
    with pytest.raises(sysctl.InvalidName):
        sysctl.split_name(given)


# ---------------------------------------------------------------------------
# values (C8: booleans are errors)


@pytest.mark.parametrize("given, text", [
    (10, "10"),
    (0, "0"),
    (-1, "-1"),
    ("10", "10"),
    ("+5", "5"),
    (" 4096\t87380  6291456 ", "4096 87380 6291456"),
    ([256, 256, "32", 0, 0], "256 256 32 0 0"),
    (18446744073709551615, "18446744073709551615"),
])
def test_values_accepted(given, text):
    assert sysctl.normalize_value("vm.x", given) == text


@pytest.mark.parametrize("given, says", [
    (True, "boolean"),
    (False, "boolean"),
    ("yes", "boolean"),
    ("no", "boolean"),
    ("True", "boolean"),
    ("on", "boolean"),
    ("off", "boolean"),
    ([1, True], "boolean"),
    (1.5, "not an integer"),
    (10.0, "not an integer"),
    ("1.5", "not an integer"),
    ("0x10", "not an integer"),
    ("ten", "not an integer"),
    ("010", "leading zero"),
    ("", "empty"),
    ("   ", "empty"),
    ([], "empty"),
    (None, "not an integer"),
    ({"a": 1}, "not an integer"),
])
def test_values_refused(given, says):
    with pytest.raises(sysctl.InvalidValue) as err:
        sysctl.normalize_value("vm.swappiness", given)
    assert "vm.swappiness" in str(err.value)
    assert says in str(err.value)


@pytest.mark.parametrize("left, right, same", [
    ("10", "10", True),
    ("4096\t87380\t6291456", "4096 87380 6291456", True),
    ("256 256 32 0 0", "256 256 32 0", False),
    ("8", "010", True),  # file values compare as the kernel reads them: base 0
    ("16", "0x10", True),
    ("10", "010", False),
    ("10", "11", False),
    ("abc", "abc", True),
    (None, None, True),
    (None, "0", False),
])
def test_same_value(left, right, same):
    assert sysctl.same_value(left, right) is same


def test_display_value():
    assert sysctl.display_value("60\n") == 60
    assert sysctl.display_value("256\t256\t32\t0\t0") == "256 256 32 0 0"
    assert sysctl.display_value(None) is None


def test_parse_settings_canonical_names_and_order():
    settings = sysctl.parse_settings({"vm/swappiness": 10, "vm.overcommit_memory": "1"})
    assert list(settings.items()) == [("vm.swappiness", "10"), ("vm.overcommit_memory", "1")]


def test_parse_settings_two_spellings_of_one_name():
    with pytest.raises(sysctl.InvalidName, match="given twice"):
        sysctl.parse_settings({"vm.swappiness": 10, "vm/swappiness": 10})


@pytest.mark.parametrize("name", ["transparent_hugepage", "kernel.mm.transparent_hugepage.enabled",
                                  "vm.transparent_hugepage", "mm/transparent_hugepage/defrag",
                                  "kernel.mm.transparent_hugepage.khugepaged.defrag"])
def test_thp_points_at_thp_module(name):  # C10
    with pytest.raises(sysctl.NotSysctl) as err:
        sysctl.parse_settings({name: "never"})
    assert "memops.linux.thp" in str(err.value)
    assert "sysfs" in str(err.value)


@pytest.mark.parametrize("name", ["kernel.mm.ksm.run", "ksm.run", "mm/ksm/pages_to_scan"])
def test_ksm_is_sysfs(name):  # C10
    with pytest.raises(sysctl.NotSysctl, match="/sys/kernel/mm/ksm"):
        sysctl.parse_settings({name: 1})


def test_nr_hugepages_is_a_sysctl():
    assert sysctl.parse_settings({"vm.nr_hugepages": 4}) == {"vm.nr_hugepages": "4"}


@pytest.mark.parametrize("pair", sysctl.EXCLUSIVE_PAIRS)
def test_exclusive_pairs_refused_together(pair):
    with pytest.raises(sysctl.InvalidValue, match="exclude each other"):
        sysctl.parse_settings({pair[0]: 10, pair[1]: 0})


def test_absent_ignores_values():
    assert sysctl.parse_settings({"vm.swappiness": None, "vm.dirty_ratio": "yes"}, "absent") == {
        "vm.swappiness": None, "vm.dirty_ratio": None}


# ---------------------------------------------------------------------------
# file edits (C6)

FOREIGN = (
    "# tuned by hand, keep\r\n"
    "\n"
    "kernel.pid_max = 4194304\n"
    "; old style comment\n"
    "  net.core.somaxconn=1024   \n"
    "vm.swappiness=60\n"
    "not an assignment\n"
    "net.ipv4.conf.*.rp_filter = 2\n"
    "caf\udcc3 = bytes that are not utf-8\n"
    "vm.dirty_ratio = 15"
)


def _foreign_lines(text, ours):
    return [line for line in textfile.split_lines(text)
            if not (sysctl.parse_line(line) and sysctl.parse_line(line)[0] in ours)]


def test_edit_keeps_foreign_lines_byte_identical():
    settings = {"vm.swappiness": "10", "vm.vfs_cache_pressure": "50"}
    after = sysctl.edit_conf(FOREIGN, settings)
    # every line we do not own is there, in order, with its ending
    assert _foreign_lines(after, settings)[:-1] == _foreign_lines(FOREIGN, settings)[:-1]
    assert "vm.swappiness=10\n" in after  # changed in place, spelling kept
    assert after.index("vm.swappiness=10") < after.index("not an assignment")
    # the last line gained the newline it lacked, then our new name follows
    assert after.endswith("vm.dirty_ratio = 15\nvm.vfs_cache_pressure = 50\n")


def test_edit_crlf_file_gets_crlf_lines():
    text = "# ours\r\nvm.swappiness = 60\r\nkernel.pid_max = 65536\r\n"
    after = sysctl.edit_conf(text, {"vm.swappiness": "10", "vm.dirty_ratio": "5"})
    assert after == "# ours\r\nvm.swappiness = 10\r\nkernel.pid_max = 65536\r\nvm.dirty_ratio = 5\r\n"


def test_edit_same_value_other_whitespace_is_no_change():
    text = "vm.lowmem_reserve_ratio =  256\t256  32 0 0\n"
    assert sysctl.edit_conf(text, {"vm.lowmem_reserve_ratio": "256 256 32 0 0"}) == text


def test_edit_recognises_other_spellings_and_drops_repeats():
    text = "-vm/swappiness = 30\nkernel.x = 1\nvm.swappiness = 40\n"
    assert sysctl.edit_conf(text, {"vm.swappiness": "10"}) == "-vm/swappiness = 10\nkernel.x = 1\n"


def test_edit_absent_removes_only_ours():
    text = "# header\nvm.swappiness = 10\nvm.dirty_ratio = 5\n\nvm.swappiness=11\n"
    assert sysctl.edit_conf(text, {"vm.swappiness": None}, "absent") == "# header\nvm.dirty_ratio = 5\n\n"
    assert sysctl.edit_conf("vm.swappiness = 10\n", {"vm.swappiness": None}, "absent") == ""


def test_edit_new_file_and_dotted_names_in_parts():
    after = sysctl.edit_conf(None, {"vm.swappiness": "10", "net.ipv4.conf.eth0/1.rp_filter": "1"})
    assert after == "vm.swappiness = 10\nnet/ipv4/conf/eth0.1/rp_filter = 1\n"
    assert sysctl.parse_conf(after) == {"vm.swappiness": "10", "net.ipv4.conf.eth0/1.rp_filter": "1"}


def test_edit_is_idempotent():
    settings = {"vm.swappiness": "10", "vm.vfs_cache_pressure": "50"}
    once = sysctl.edit_conf(FOREIGN, settings)
    assert sysctl.edit_conf(once, settings) == once


try:
    from hypothesis import given, strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test requirements
    given = None

if given is not None:
    _line = st.one_of(
        st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=40),
        st.sampled_from(["# c", "", "; c", "kernel.pid_max = 1", "vm.dirty_ratio=5", "vm.swappiness = 60",
                         "vm/swappiness=1", "  -vm.swappiness = 3", "vm.swappiness"]),
    )
    _ending = st.sampled_from(["\n", "\r\n"])

    @given(st.lists(st.tuples(_line, _ending), max_size=12), st.booleans())
    def test_edit_never_touches_foreign_lines(lines, last_unterminated):
        text = "".join(line + end for line, end in lines)
        if last_unterminated and text:
            text = text.rstrip("\r\n")
        ours = {"vm.swappiness": "10"}
        for state in ("present", "absent"):
            after = sysctl.edit_conf(text, ours if state == "present" else {"vm.swappiness": None}, state)
            foreign_before = [line.rstrip("\r\n") for line in _foreign_lines(text, ours)]
            foreign_after = [line.rstrip("\r\n") for line in _foreign_lines(after, ours)]
            assert foreign_after == foreign_before
            assert after.count("\r\n") >= sum(1 for line in _foreign_lines(text, ours) if line.endswith("\r\n"))
            if state == "present":
                assert sysctl.parse_conf(after)["vm.swappiness"] == "10"
            else:
                assert "vm.swappiness" not in sysctl.parse_conf(after)


def test_write_conf_atomic_mode_and_bytes(tmp_path):
    path = tmp_path / "d" / "60-memops.conf"
    old_umask = os.umask(0o077)
    try:
        sysctl.write_conf(str(path), "caf\udcc3 = 1\r\nvm.swappiness = 10\n")
    finally:
        os.umask(old_umask)
    assert _read(path) == b"caf\xc3 = 1\r\nvm.swappiness = 10\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    os.chmod(path, 0o600)
    sysctl.write_conf(str(path), "vm.swappiness = 11\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(path.parent)) == ["60-memops.conf"]  # no temporary file left


def test_write_conf_failure_leaves_file_and_no_temp(tmp_path):
    path = tmp_path / "60-memops.conf"
    _write(path, "keep = 1\n")

    def broken_replace(src, dest):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(sysctl.ConfigFileError, match="left as it was"):
        sysctl.write_conf(str(path), "vm.swappiness = 10\n", replace=broken_replace)
    assert _read(path) == b"keep = 1\n"
    assert os.listdir(tmp_path) == ["60-memops.conf"]


def test_write_conf_follows_symlink_and_empty_removes(tmp_path):
    target = tmp_path / "real.conf"
    link = tmp_path / "60-memops.conf"
    _write(target, "a = 1\n")
    os.symlink(target, link)
    sysctl.write_conf(str(link), "vm.swappiness = 10\n")
    assert os.path.islink(link) and _read(target) == b"vm.swappiness = 10\n"
    sysctl.write_conf(str(target), "")
    assert not target.exists()


# ---------------------------------------------------------------------------
# load order and overrides (C5)


def test_load_order_lexical_first_dir_wins_sysctl_conf_last(boot, tmp_path):
    dirs, conf, entries = boot.dirs, boot.conf, boot.entries
    _write(dirs["usr_lib"] / "50-pid-max.conf", "")
    _write(dirs["usr_lib"] / "99-protect-links.conf", "")
    _write(dirs["etc"] / "99-protect-links.conf", "")   # hides the vendor one
    _write(dirs["run"] / "10-early.conf", "")
    _write(dirs["usr_local_lib"] / "70-local.conf", "")
    _write(dirs["etc"] / "README", "")                   # not a .conf
    os.symlink(os.devnull, dirs["etc"] / "50-pid-max.conf")  # masked
    order = sysctl.load_order(entries)
    assert order == [
        str(dirs["run"] / "10-early.conf"),
        str(dirs["usr_local_lib"] / "70-local.conf"),
        str(dirs["etc"] / "99-protect-links.conf"),
        str(conf),
    ]


def test_override_from_later_file(boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(dirs["usr_lib"] / "99-vendor.conf", "vm/swappiness = 60\nvm.dirty_ratio = 5\n")
    _write(dirs["usr_lib"] / "10-early.conf", "vm.swappiness = 1\n")  # earlier: ours wins
    overrides, notes = sysctl.find_overrides(str(ours), {"vm.swappiness": "10", "vm.dirty_ratio": "5"}, entries)
    assert overrides == [{"key": "vm.swappiness", "file": str(dirs["usr_lib"] / "99-vendor.conf"), "value": 60}]
    assert notes == []  # our file does not exist yet but counts where it will be


def test_override_by_sysctl_conf_and_last_one_wins(boot):
    dirs, conf, entries = boot.dirs, boot.conf, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "vm.swappiness = 10\n")
    _write(dirs["etc"] / "80-a.conf", "vm.swappiness = 70\n")
    _write(conf, "vm.swappiness = 80\n")
    overrides = sysctl.find_overrides(str(ours), {"vm.swappiness": "10"}, entries)[0]
    assert overrides == [{"key": "vm.swappiness", "file": str(conf), "value": 80}]
    _write(conf, "vm.swappiness = 10\n")  # the last setter agrees with us
    assert sysctl.find_overrides(str(ours), {"vm.swappiness": "10"}, entries)[0] == []


def test_our_file_hidden_or_outside(boot, tmp_path):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["usr_lib"] / "60-memops.conf"
    _write(dirs["etc"] / "60-memops.conf", "vm.swappiness = 33\n")
    overrides, notes = sysctl.find_overrides(str(ours), {"vm.swappiness": "10"}, entries)
    assert overrides == [{"key": "vm.swappiness", "file": str(dirs["etc"] / "60-memops.conf"), "value": 33}]
    assert "hides it" in notes[0]
    overrides, notes = sysctl.find_overrides(str(tmp_path / "elsewhere.conf"), {"vm.swappiness": "10"}, entries)
    assert "in none of the sysctl directories" in notes[0]
    overrides, notes = sysctl.find_overrides(str(dirs["etc"] / "60-memops"), {"vm.swappiness": "10"}, entries)
    assert "only files whose names end in .conf" in notes[0]


def test_relative_sysctl_file_refused(proc):
    with pytest.raises(sysctl.ConfigFileError, match="absolute path"):
        sysctl.run({"vm.swappiness": "10"}, reader=procfs.Reader(str(proc)), sysctl_file="60-memops.conf", sysctl_dirs=[])


# ---------------------------------------------------------------------------
# the running kernel (C1, C3, C4, C7)


def test_read_unknown_group_and_write_only(proc, monkeypatch):
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    assert runtime.read("vm.swappiness") == "60"
    assert runtime.read("vm/lowmem_reserve_ratio") == "256\t256\t32\t0\t0"
    with pytest.raises(sysctl.UnknownKey, match=r"vm\.swapiness: the running kernel has no such setting"):
        runtime.read("vm.swapiness")
    with pytest.raises(sysctl.UnknownKey, match="group of settings"):
        runtime.read("vm")
    # root reads even 0200 files; make the kernel's EACCES for a write-only one
    real_read = procfs.Reader.read

    def deny_drop_caches(self, path):
        if path.endswith("drop_caches"):
            raise procfs.AccessDenied(path)
        return real_read(self, path)

    monkeypatch.setattr(procfs.Reader, "read", deny_drop_caches)
    with pytest.raises(sysctl.NotSysctl, match="mem_reclaim"):
        runtime.read("vm.drop_caches")


def test_read_wrong_proc_root(tmp_path):
    with pytest.raises(sysctl.UnknownKey, match="proc_root"):
        sysctl.Runtime(procfs.Reader(str(tmp_path))).read("vm.swappiness")


def test_apply_reads_back(proc, kernel):
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    after = sysctl.apply_settings(runtime, [("vm.swappiness", "60", "10"),
                                            ("vm.lowmem_reserve_ratio", "256 256 32 0 0", "128 128 32 0 0")])
    assert after == {"vm.swappiness": "10", "vm.lowmem_reserve_ratio": "128\t128\t32\t0\t0"}


def test_rejected_value_rolls_back_earlier_ones(proc, kernel):  # C4
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    changes = [("vm.vfs_cache_pressure", "100", "50"), ("vm.overcommit_memory", "0", "1"),
               ("vm.swappiness", "60", "500")]
    with pytest.raises(sysctl.Rejected) as err:
        sysctl.apply_settings(runtime, changes)
    message = str(err.value)
    assert "vm.swappiness: the kernel rejected 500" in message
    assert "vm.overcommit_memory restored to 0" in message
    assert "vm.vfs_cache_pressure restored to 100" in message
    assert message.index("vm.overcommit_memory restored") < message.index("vm.vfs_cache_pressure restored")
    assert (_vm(proc, "vfs_cache_pressure"), _vm(proc, "overcommit_memory"), _vm(proc, "swappiness")) == (
        "100", "0", "60")


def test_value_stored_differently_is_rejected(proc, kernel):  # C3: read back, do not trust the write
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    with pytest.raises(sysctl.Rejected, match="wrote 8 but the kernel holds 4"):
        sysctl.apply_settings(runtime, [("vm.swappiness", "60", "10"), ("vm.nr_hugepages", "0", "8")])
    assert _vm(proc, "nr_hugepages") == "0"
    assert _vm(proc, "swappiness") == "60"


def test_multi_value_partial_write_is_undone(proc, kernel):  # C7
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    with pytest.raises(sysctl.Rejected, match="holds 5 numbers; give all of them"):
        sysctl.apply_settings(runtime, [("vm.lowmem_reserve_ratio", "256 256 32 0 0", "128")])
    assert _vm(proc, "lowmem_reserve_ratio").split() == ["256", "256", "32", "0", "0"]


def test_read_only_at_write_time(proc, kernel):  # C1
    kernel.read_only.add("swappiness")
    runtime = sysctl.Runtime(procfs.Reader(str(proc)))
    with pytest.raises(sysctl.ReadOnly) as err:
        sysctl.apply_settings(runtime, [("vm.vfs_cache_pressure", "100", "50"), ("vm.swappiness", "60", "10")])
    assert "does not allow changing kernel settings" in str(err.value)
    assert "vm.* settings are not namespaced" in str(err.value)
    assert _vm(proc, "vfs_cache_pressure") == "100"


@pytest.mark.parametrize("name, says", [
    ("vm.swappiness", "vm.* settings are not namespaced"),
    ("kernel.pid_max", "kernel.* settings are not namespaced"),
    ("net.core.somaxconn", "network namespace"),
])
def test_read_only_message_says_where_to_set_it(name, says):
    message = str(sysctl._read_only_error(name, "/proc/sys/x", errno.EROFS))
    assert "/proc/sys is mounted read-only here" in message and says in message


def test_read_only_proc_sys_found_before_writing(proc, kernel, monkeypatch):  # C1
    monkeypatch.setattr(sysctl.os, "access", lambda path, mode: False)
    monkeypatch.setattr(sysctl, "_access_errno", lambda path: errno.EROFS)
    with pytest.raises(sysctl.ReadOnly, match="/proc/sys is mounted read-only here"):
        sysctl.run({"vm.swappiness": "10"}, reader=procfs.Reader(str(proc)), sysctl_file=str(proc / "x.conf"),
                   sysctl_dirs=[])
    assert kernel.writes == []


# ---------------------------------------------------------------------------
# strict overcommit guard (C9)


def _meminfo(ram_gib, swap_gib=0, committed_gib=0.0, hugetlb_gib=0):
    return {"MemTotal": ram_gib * GIB, "SwapTotal": swap_gib * GIB, "Committed_AS": int(committed_gib * GIB),
            "Hugetlb": hugetlb_gib * GIB, "HugePages_Total": 0, "Hugepagesize": 2 << 20}


CURRENT = {"vm.overcommit_memory": 0, "vm.overcommit_ratio": 50, "vm.overcommit_kbytes": 0}


@pytest.mark.parametrize("meminfo, settings, limit_gib, passed", [
    (_meminfo(16, committed_gib=9), {"vm.overcommit_memory": "2"}, 8, False),
    (_meminfo(16, committed_gib=7), {"vm.overcommit_memory": "2"}, 8, True),
    (_meminfo(16, swap_gib=2, committed_gib=9), {"vm.overcommit_memory": "2"}, 10, True),
    (_meminfo(16, committed_gib=9), {"vm.overcommit_memory": "2", "vm.overcommit_ratio": "75"}, 12, True),
    (_meminfo(16, hugetlb_gib=4, committed_gib=5), {"vm.overcommit_memory": "2"}, 6, True),
    (_meminfo(16, hugetlb_gib=4, committed_gib=7), {"vm.overcommit_memory": "2"}, 6, False),
    (_meminfo(16, swap_gib=1, committed_gib=3),
     {"vm.overcommit_memory": "2", "vm.overcommit_kbytes": str(4 << 20)}, 5, True),
])
def test_guard_numbers(meminfo, settings, limit_gib, passed):
    if passed:
        result = overcommit.overcommit_guard(meminfo, CURRENT, settings, page_size=4096)
        assert result["commit_limit_bytes"] == limit_gib * GIB
        assert result["passed"] and not result["forced"]
    else:
        with pytest.raises(overcommit.OvercommitRefused) as err:
            overcommit.overcommit_guard(meminfo, CURRENT, settings, page_size=4096)
        assert "CommitLimit would be %d bytes" % (limit_gib * GIB) in str(err.value)
        forced = overcommit.overcommit_guard(meminfo, CURRENT, settings, force=True, page_size=4096)
        assert forced["forced"] and not forced["passed"]


def test_guard_names_the_ratio_that_would_do():
    meminfo = _meminfo(16, committed_gib=9)
    with pytest.raises(overcommit.OvercommitRefused) as err:
        overcommit.overcommit_guard(meminfo, CURRENT, {"vm.overcommit_memory": "2"}, page_size=4096)
    assert "raise vm.overcommit_ratio to at least 57" in str(err.value)  # 9/16 = 56.25 %
    assert overcommit.overcommit_guard(meminfo, CURRENT, {"vm.overcommit_memory": "2", "vm.overcommit_ratio": "57"},
                                       page_size=4096)["passed"]


def test_guard_writing_kbytes_zero_resets_ratio():
    # overcommit_kbytes 0 -> written (it was 1 GiB) -> the kernel sets ratio to 0: CommitLimit = swap only
    current = {"vm.overcommit_memory": 2, "vm.overcommit_ratio": 0, "vm.overcommit_kbytes": 1 << 20}
    with pytest.raises(overcommit.OvercommitRefused, match="CommitLimit would be %d bytes" % GIB):
        overcommit.overcommit_guard(_meminfo(16, swap_gib=1, committed_gib=2), current,
                                    {"vm.overcommit_kbytes": "0"}, page_size=4096)


def test_guard_without_committed_as_needs_force():
    meminfo = {"MemTotal": 16 * GIB, "SwapTotal": 0}
    with pytest.raises(overcommit.OvercommitRefused, match="no Committed_AS"):
        overcommit.overcommit_guard(meminfo, CURRENT, {"vm.overcommit_memory": "2"})
    assert overcommit.overcommit_guard(meminfo, CURRENT, {"vm.overcommit_memory": "2"}, force=True)["forced"]


def test_guard_only_for_strict_mode():
    assert overcommit.overcommit_guard(_meminfo(16, committed_gib=99), CURRENT, {"vm.overcommit_memory": "1"}) is None


def test_commit_limit_matches_the_kernel_in_pages():
    # a real host: MemTotal 24684084 kB, no swap, ratio 50 -> CommitLimit 12342040 kB (not 12342042)
    meminfo = {"MemTotal": 24684084 * KIB, "SwapTotal": 0, "Hugetlb": 0}
    assert overcommit.commit_limit(meminfo, 50, 0, page_size=4096) == 12342040 * KIB


def test_guard_falls_back_to_hugepage_counts():
    meminfo = {"MemTotal": 16 * GIB, "SwapTotal": 0, "Committed_AS": GIB,
               "HugePages_Total": 1024, "Hugepagesize": 2 << 20}
    assert overcommit.hugetlb_bytes(meminfo) == 2 * GIB
    assert overcommit.commit_limit(meminfo, 50, 0, page_size=4096) == 7 * GIB


# ---------------------------------------------------------------------------
# run(): the whole sequence


def _snapshot(proc, *files):
    tree = {}
    for base, _dirs, names in os.walk(proc):
        for name in names:
            path = os.path.join(base, name)
            tree[path] = _read(path)
    for path in files:
        tree[str(path)] = _read(path) if os.path.exists(path) else None
    return tree


def test_run_check_mode_writes_nothing(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "# mine\nvm.swappiness = 30\n")
    before = _snapshot(proc, ours)
    result = sysctl.run({"vm.swappiness": "10", "vm.overcommit_memory": "1"}, reader=procfs.Reader(str(proc)),
                        sysctl_file=str(ours), sysctl_dirs=entries, check_mode=True)
    assert _snapshot(proc, ours) == before
    assert kernel.writes == []
    assert result["changed"]
    assert result["settings"]["vm.swappiness"] == {"before": 60, "after": 10, "persisted": True}
    assert result["diff"]["file"] == {"before": "# mine\nvm.swappiness = 30\n",
                                      "after": "# mine\nvm.swappiness = 10\nvm.overcommit_memory = 1\n"}
    assert result["diff"]["runtime"]["after"] == "vm.swappiness = 10\nvm.overcommit_memory = 1\n"


def test_run_apply_then_idempotent(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    settings = {"vm.swappiness": "10", "vm.lowmem_reserve_ratio": "256 256 32 0 0"}
    first = sysctl.run(settings, reader=procfs.Reader(str(proc)), sysctl_file=str(ours), sysctl_dirs=entries)
    assert first["changed"] and _vm(proc, "swappiness") == "10"
    assert _read(ours) == b"vm.swappiness = 10\nvm.lowmem_reserve_ratio = 256 256 32 0 0\n"
    assert stat.S_IMODE(os.stat(ours).st_mode) == 0o644
    writes = len(kernel.writes)
    second = sysctl.run(settings, reader=procfs.Reader(str(proc)), sysctl_file=str(ours), sysctl_dirs=entries)
    assert not second["changed"] and len(kernel.writes) == writes
    assert second["settings"]["vm.lowmem_reserve_ratio"] == {
        "before": "256 256 32 0 0", "after": "256 256 32 0 0", "persisted": True}


def test_run_rejected_value_is_not_persisted(proc, kernel, boot):  # C4
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "vm.swappiness = 60\n")
    with pytest.raises(sysctl.Rejected):
        sysctl.run({"vm.vfs_cache_pressure": "50", "vm.swappiness": "500"}, reader=procfs.Reader(str(proc)),
                   sysctl_file=str(ours), sysctl_dirs=entries)
    assert _read(ours) == b"vm.swappiness = 60\n"
    assert _vm(proc, "vfs_cache_pressure") == "100"


def test_run_file_write_failure_puts_runtime_back(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"

    def full_disk(src, dest):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(sysctl.ConfigFileError) as err:
        sysctl.run({"vm.swappiness": "10"}, reader=procfs.Reader(str(proc)), sysctl_file=str(ours), sysctl_dirs=entries,
                   replace=full_disk)
    assert "vm.swappiness restored to 60" in str(err.value)
    assert _vm(proc, "swappiness") == "60"
    assert not ours.exists()


def test_run_unknown_key_changes_nothing(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    with pytest.raises(sysctl.UnknownKey, match="vm.swapiness"):
        sysctl.run({"vm.swappiness": "10", "vm.swapiness": "10"}, reader=procfs.Reader(str(proc)),
                   sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert kernel.writes == []


def test_run_guard_refuses_before_any_write(proc, kernel, boot):  # C9
    dirs, entries = boot.dirs, boot.entries
    _write(proc / "meminfo", MEMINFO.replace("Committed_AS:    4194304 kB", "Committed_AS:   12582912 kB"))
    with pytest.raises(overcommit.OvercommitRefused, match="Committed_AS"):
        sysctl.run({"vm.swappiness": "10", "vm.overcommit_memory": "2"}, reader=procfs.Reader(str(proc)),
                   sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert kernel.writes == []
    result = sysctl.run({"vm.overcommit_memory": "2"}, reader=procfs.Reader(str(proc)), force=True,
                        sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert result["overcommit_guard"]["forced"]
    assert any("forced" in warning for warning in result["warnings"])


@pytest.mark.parametrize("text", ["", "x", "1 2"])
def test_run_guard_on_a_current_value_that_is_not_a_number(proc, kernel, boot, text):
    """A /proc tree that reads an overcommit setting as empty or garbage ends in a SysctlError naming the
    setting and the text, before anything is written (was a bare ValueError, found by the fuzz step)."""
    dirs, entries = boot.dirs, boot.entries
    _write(proc / "sys" / "vm" / "overcommit_memory", text + "\n")
    with pytest.raises(sysctl.SysctlError, match=r"vm\.overcommit_memory: the kernel reports .*not a number"):
        sysctl.run({"vm.overcommit_memory": "0" if text else "1"}, reader=procfs.Reader(str(proc)),
                   sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert kernel.writes == []
    assert not (dirs["etc"] / "60-memops.conf").exists()


def test_run_warns_when_a_pair_resets(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    _write(proc / "sys" / "vm" / "dirty_bytes", "100000000\n")
    _write(proc / "sys" / "vm" / "dirty_ratio", "0\n")
    result = sysctl.run({"vm.dirty_ratio": "20"}, reader=procfs.Reader(str(proc)),
                        sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert "makes the kernel reset vm.dirty_bytes (now 100000000) to 0" in result["warnings"][0]
    assert _vm(proc, "dirty_bytes") == "0"


def test_run_override_warning(proc, kernel, boot):  # C5
    dirs, conf, entries = boot.dirs, boot.conf, boot.entries
    _write(conf, "vm.swappiness = 60\n")
    result = sysctl.run({"vm.swappiness": "10"}, reader=procfs.Reader(str(proc)),
                        sysctl_file=str(dirs["etc"] / "60-memops.conf"), sysctl_dirs=entries)
    assert result["overridden_by"] == [{"key": "vm.swappiness", "file": str(conf), "value": 60}]
    assert str(conf) in result["warnings"][0] and "overridden at boot" in result["warnings"][0]


def test_run_absent_leaves_runtime(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "# keep\nvm.swappiness = 10\n")
    result = sysctl.run({"vm.swappiness": None, "vm.gone_from_this_kernel": None}, state="absent",
                        reader=procfs.Reader(str(proc)), sysctl_file=str(ours), sysctl_dirs=entries)
    assert result["changed"] and _read(ours) == b"# keep\n"
    assert kernel.writes == []
    assert result["settings"]["vm.gone_from_this_kernel"] == {"before": None, "after": None, "persisted": False}
    again = sysctl.run({"vm.swappiness": None}, state="absent", reader=procfs.Reader(str(proc)), sysctl_file=str(ours),
                       sysctl_dirs=entries)
    assert not again["changed"]


def test_run_persist_false_touches_no_file_and_warns(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "vm.swappiness = 30\n")
    result = sysctl.run({"vm.swappiness": "10"}, persist=False, reader=procfs.Reader(str(proc)), sysctl_file=str(ours),
                        sysctl_dirs=entries)
    assert _read(ours) == b"vm.swappiness = 30\n" and _vm(proc, "swappiness") == "10"
    assert result["settings"]["vm.swappiness"]["persisted"] is False
    assert "persist is false" in result["warnings"][0]


def test_run_fixes_mode_only(proc, kernel, boot):
    dirs, entries = boot.dirs, boot.entries
    ours = dirs["etc"] / "60-memops.conf"
    _write(ours, "vm.swappiness = 60\n")
    os.chmod(ours, 0o600)
    result = sysctl.run({"vm.swappiness": "60"}, reader=procfs.Reader(str(proc)), sysctl_file=str(ours), sysctl_dirs=entries)
    assert result["changed"] and stat.S_IMODE(os.stat(ours).st_mode) == 0o644
