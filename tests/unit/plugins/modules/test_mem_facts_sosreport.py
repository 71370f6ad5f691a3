# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hosts diagnosed from the fixture sosreports (tests/unit/fixtures/sosreport/README.md), directories and tarballs."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _sosreport as sosreport
from ansible_collections.memops.linux.plugins.modules import mem_facts

SOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures", "sosreport")
BASE, OOM, LOWMEM = (os.path.join(SOS, "sosreport-%s-2026-12-04-%s" % pair)
                     for pair in (("web01", "base"), ("web02", "oom"), ("web03", "lowmem")))
KIB = 1024


def facts_of(run_module, path, **options):
    result = run_module(mem_facts, sosreport=path, **options)
    assert not result.get("failed"), result.get("msg")
    return result["ansible_facts"]["memops"]


def tarball(tmp_path, source, name="sos.tar.xz", mode="w:xz", extra=None):
    path = tmp_path / name
    with tarfile.open(str(path), mode) as archive:
        archive.add(source, arcname=os.path.basename(source))
        for member, data in (extra or []):
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return str(path)


def test_a_sosreport_directory_gives_the_facts_and_verdict_of_its_host(run_module):
    facts = facts_of(run_module, BASE)
    assert facts["memory"]["total_bytes"] == 24683792 * KIB and facts["memory"]["available_bytes"] == 24115108 * KIB
    assert facts["swap"]["total_bytes"] == 0
    assert facts["health"]["status"] == "ok"
    capture = facts["capture"]
    assert (capture["type"], capture["hostname"], capture["taken_at"], capture["sos_version"]) == \
        ("sosreport directory", "web01", "2026-12-04T04:37:25", "4.0")
    assert capture["missing"] == ["pressure (proc/pressure/memory)", "uptime (proc/uptime)"]
    assert capture["log_file"] == "sos_commands/kernel/dmesg" and facts["oom"]["log_source"] == "file"
    assert facts["oom"]["events"] == []
    # processes from ps auxwww: kernel threads counted apart, users and command lines as ps gave them
    processes = facts["processes"]
    assert processes["count"] == 7 and processes["kernel_threads"] == 8
    top = processes["top_rss"][0]
    assert (top["pid"], top["name"], top["user"], top["rss_bytes"], top["ppid"]) == (12169, "python3", "root",
                                                                                     41292 * KIB, 12168)
    assert top["oom_score"] is None and top["cmdline"].startswith("/usr/bin/python3 /usr/bin/sos report")
    # sysctl values from sysctl_-a where proc/sys lacks them
    assert facts["tunables"]["vm"]["overcommit_memory"] == 0 and facts["commit"]["overcommit_ratio"] == 50
    assert capture["sysctl_from"] == "sos_commands/kernel/sysctl_-a"


def test_a_sosreport_with_an_oom_history(run_module):
    facts = facts_of(run_module, OOM)
    (event,) = facts["oom"]["events"]
    assert event["victim"]["name"] == "plymouthd" and event["victim"]["pid"] == 265
    assert facts["oom"]["kill_count"] == 1
    found = {f["id"]: f for f in facts["health"]["findings"]}
    assert "oom.kills" in found and facts["health"]["status"] in ("monitor", "critical")
    assert facts["capture"]["hostname"] == "web02"


def test_a_sosreport_in_a_low_memory_state(run_module):
    facts = facts_of(run_module, LOWMEM)
    assert facts["memory"]["available_bytes"] == 400000 * KIB
    assert facts["health"]["status"] == "critical"
    assert "memory.available_low" in [f["id"] for f in facts["health"]["findings"]]


@pytest.mark.parametrize("name, mode", [("web03.tar.xz", "w:xz"), ("web03.tar.gz", "w:gz"), ("web03.tar", "w")])
def test_a_sosreport_tarball_is_unpacked_and_removed(run_module, tmp_path, monkeypatch, name, mode):
    made = []
    real = sosreport.tempfile.mkdtemp
    monkeypatch.setattr(sosreport.tempfile, "mkdtemp", lambda **kw: made.append(real(**kw)) or made[-1])
    facts = facts_of(run_module, tarball(tmp_path, LOWMEM, name, mode))
    assert facts["health"]["status"] == "critical" and facts["capture"]["type"] == "sosreport tarball"
    assert facts["capture"]["hostname"] == "web03" and facts["processes"]["count"] == 7
    assert made and not any(os.path.exists(path) for path in made)


def test_what_a_sosreport_lacks_is_listed(run_module, tmp_path):
    target = tmp_path / "sosreport-bare"
    shutil.copytree(BASE, str(target))
    for relative in ("sos_commands/kernel/dmesg", "sos_commands/kernel/sysctl_-a", "sos_commands/process/ps_auxwww",
                     "proc/slabinfo"):
        os.remove(str(target / relative))
    facts = facts_of(run_module, str(target))
    missing = facts["capture"]["missing"]
    assert "slab caches (proc/slabinfo)" in missing
    assert any(line.startswith("kernel log (") for line in missing)
    assert any(line.startswith("sysctl values (") for line in missing)
    assert any(line.startswith("processes (") for line in missing)
    assert facts["oom"]["log_skipped"] and facts["oom"]["events"] == []  # the live log is not read instead
    assert facts["processes"]["count"] == 0 and facts["capture"]["hostname"] == "web01"


def _member(name, kind=tarfile.REGTYPE, size=0, linkname=""):
    member = tarfile.TarInfo(name)
    member.type, member.size, member.linkname = kind, size, linkname
    return member


@pytest.mark.parametrize("member, data, fragment", [
    (_member("/etc/passwd-x", size=1), b"x", "points outside the tarball"),
    (_member("sosreport-web01-2026-12-04-base/proc/../../../evil", size=1), b"x", "points outside the tarball"),
])
def test_a_tarball_with_members_outside_is_refused(run_module, tmp_path, member, data, fragment):
    path = tarball(tmp_path, BASE, "bad.tar", "w", [(member, data)])
    result = run_module(mem_facts, sosreport=path)
    assert result.get("failed") and fragment in result["msg"] and "Traceback" not in result["msg"]
    assert not (tmp_path.parent / "evil").exists()


def test_links_and_devices_in_a_tarball_are_never_made(tmp_path):
    extra = [(_member("sosreport-web01-2026-12-04-base/proc/kmsg", tarfile.CHRTYPE), None),
             (_member("sosreport-web01-2026-12-04-base/proc/swaps2", tarfile.SYMTYPE, linkname="/proc/swaps"), None),
             (_member("sosreport-web01-2026-12-04-base/proc/fifo", tarfile.FIFOTYPE), None)]
    with sosreport.open_capture(tarball(tmp_path, BASE, "links.tar", "w", extra)) as capture:
        proc = os.path.join(capture.root, "proc")
        assert os.path.isfile(os.path.join(proc, "meminfo"))
        assert not any(os.path.lexists(os.path.join(proc, name)) for name in ("kmsg", "swaps2", "fifo"))


def test_a_tarball_past_the_size_limit_is_refused(tmp_path):
    with pytest.raises(sosreport.CaptureError, match="more than 0 MiB unpacked; unpack it"):
        sosreport.open_capture(tarball(tmp_path, BASE), limit=1000)


@pytest.mark.parametrize("options, fragments", [
    ({"sosreport": BASE, "proc_root": "/host/proc"}, ["leave out proc_root"]),
    ({"sosreport": BASE, "kernel_log_path": "/var/log/kern.log"}, ["leave out kernel_log_path"]),
    ({"sosreport": "/nonexistent/sos"}, ["sosreport /nonexistent/sos", "No such file"]),
    ({"sosreport": "/dev/null"}, ["neither a directory nor a regular file"]),
    ({"sosreport": SOS}, ["not a sosreport"]),
])
def test_bad_sosreport_input(run_module, options, fragments):
    result = run_module(mem_facts, **options)
    assert result.get("failed") is True and "Traceback" not in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"]


def test_a_file_that_is_no_tarball_is_refused(run_module, tmp_path):
    path = tmp_path / "sosreport.tar.xz"
    path.write_bytes(b"not a tarball at all")
    result = run_module(mem_facts, sosreport=str(path))
    assert result.get("failed") and "not a readable tarball" in result["msg"]


def test_a_sosreport_without_meminfo_is_refused(run_module, tmp_path):
    target = tmp_path / "sosreport-nomem"
    shutil.copytree(BASE, str(target))
    os.remove(str(target / "proc" / "meminfo"))
    result = run_module(mem_facts, sosreport=str(target))
    assert result.get("failed") and "no proc/meminfo" in result["msg"] and "memory plugin" in result["msg"]


def test_parse_ps_aux_skips_garbage_and_kernel_threads():
    text = ("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
            "root 2 0.0 0.0 0 0 ? S 04:06 0:00 [kthreadd]\n"
            "garbage line\n"
            "www-data 812 1.0 2.0 20000 1000 ? Sl 04:06 0:10 nginx: worker process\n")
    rows, kthreads = sosreport.parse_ps_aux(text, {812: (33, 1)})
    assert kthreads == 1
    assert [(r["pid"], r["name"], r["user"], r["uid"], r["ppid"], r["rss_bytes"], r["vsz_bytes"]) for r in rows] == \
        [(812, "nginx", "www-data", 33, 1, 1000 * KIB, 20000 * KIB)]


def test_a_meminfo_that_links_out_of_the_sosreport_is_not_followed(run_module, tmp_path):
    target = tmp_path / "sosreport-linked"
    shutil.copytree(BASE, str(target))
    os.remove(str(target / "proc" / "meminfo"))
    os.symlink("/proc/meminfo", str(target / "proc" / "meminfo"))
    result = run_module(mem_facts, sosreport=str(target))
    assert result.get("failed") and "no proc/meminfo" in result["msg"]


def test_without_dmesg_the_oom_history_comes_from_var_log_messages(run_module, tmp_path):
    target = tmp_path / "sosreport-messages"
    shutil.copytree(BASE, str(target))
    os.remove(str(target / "sos_commands" / "kernel" / "dmesg"))
    (target / "var" / "log").mkdir(parents=True)
    (target / "var" / "log" / "messages").write_text(
        "Nov 29 01:00:04 web01 kernel: Out of memory: Killed process 21578 (redis-server) total-vm:9100804kB, "
        "anon-rss:9066596kB, file-rss:64kB, shmem-rss:0kB\n")
    facts = facts_of(run_module, str(target))
    assert facts["capture"]["log_file"] == "var/log/messages"
    assert [event["victim"]["name"] for event in facts["oom"]["events"]] == ["redis-server"]
    assert not any(line.startswith("kernel log") for line in facts["capture"]["missing"])
