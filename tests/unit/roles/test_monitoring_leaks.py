# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Leaks over hours, with real processes on this host: the checker script (roles/monitoring) run for real
again and again against this host's /proc, its clock moved half an hour further at each run (--time-offset),
while four child processes change their memory between runs. Only the one that grows steadily is named; the
history is reloaded from its state file by every run (each run is a new process) and stays within its bound.
The fleet report of a diagnosis that reads the same file names it too."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis, _leak_history, _memfacts, _procfs
from ansible_collections.memops.linux.plugins.plugin_utils import _report, _report_markdown
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, COLLECTIONS_ROOT

CHECKER = os.path.join(COLLECTION, "roles", "monitoring", "files", "memops_check.py")
MIB = 1 << 20
STEP = 1800  # seconds of the checker's clock between two runs
STEPS = 20  # 9.5 hours
YOUNG_FROM = 14  # the young process starts here: 3 hours before the end

# A child that sets its name, holds 48 MiB (so that it stays among the processes the history follows on a
# busy host), answers "ready", then at each line on stdin changes its memory as its kind says and answers "ok".
CHILD = r"""
import ctypes, sys
kind, name, per_step, until = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]) << 20, int(sys.argv[4])
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME: the comm the checker reads
ballast = b"\x01" * (48 << 20)
held = []
step = 0
print("ready", flush=True)
for line in sys.stdin:
    step += 1
    if kind == "steady" or (kind == "settle" and step <= until):
        held.append(b"\x01" * per_step)
    elif kind == "sawtooth":
        if step % 2:
            held.append(b"\x01" * per_step)
        else:
            held.clear()
    print("ok", flush=True)
"""


class Child:
    def __init__(self, kind, name, per_step_mib, until=0):
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, name, str(per_step_mib), str(until)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def step(self):
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def children():
    started = []

    def start(*args, **kwargs):
        child = Child(*args, **kwargs)
        started.append(child)
        return child
    yield start
    for child in started:
        child.stop()


def run_checker(tmp_path, offset, **extra):
    config = dict({"textfile_dir": str(tmp_path / "textfile"), "state_file": str(tmp_path / "state" / "state.json"),
                   "kernel_log": False, "host": "test-host"}, **extra)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return subprocess.run([sys.executable, CHECKER, "--config", str(tmp_path / "config.json"), "--lib", COLLECTIONS_ROOT,
                           "--time-offset", str(offset)], capture_output=True, text=True, timeout=120, check=False)


def suspects(tmp_path):
    """{pid: (name, growth per hour)} of the leak metrics the last run wrote."""
    found = {}
    for line in (tmp_path / "textfile" / "memops.prom").read_text().splitlines():
        if line.startswith("memops_leak_suspect_growth_bytes_per_hour{"):
            labels, value = line[len("memops_leak_suspect_growth_bytes_per_hour{"):].rsplit("} ", 1)
            parts = dict(item.split("=", 1) for item in labels.split(","))
            found[parts["pid"].strip('"')] = (parts["name"].strip('"'), float(value))
    return found


def test_only_the_steadily_growing_process_is_named(tmp_path, children):
    steady = children("steady", "memops-steady", 6)  # 12 MiB per hour
    sawtooth = children("sawtooth", "memops-saw", 40)  # 40 MiB held and freed every other half hour
    settle = children("settle", "memops-settle", 8, until=6)  # grows for 3 hours, then holds what it has
    young = None
    history = tmp_path / "state" / _leak_history_file()
    first_run = None
    for step in range(STEPS):
        if step == YOUNG_FROM:
            young = children("steady", "memops-young", 30)  # fast, but seen for 3 hours only
        for child in (steady, sawtooth, settle, young):
            if child is not None:
                child.step()
        run = run_checker(tmp_path, step * STEP)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        state = json.loads(history.read_text())
        first_run = first_run or state["updated"]
        assert len(history.read_bytes()) <= _leak_history.MAX_STATE_BYTES
    ours = {str(child.proc.pid): child.name for child in (steady, sawtooth, settle, young)}
    named = {pid: found for pid, found in suspects(tmp_path).items() if pid in ours}
    assert list(named) == [str(steady.proc.pid)], (named, ours)
    assert named[str(steady.proc.pid)][0] == "memops-steady"
    assert named[str(steady.proc.pid)][1] == pytest.approx(12 * MIB, rel=0.2)
    metrics = (tmp_path / "textfile" / "memops.prom").read_text()
    assert 'memops_finding{id="leak.trend",severity=' in metrics
    assert 'memops_leak_suspect_span_seconds{kind="process",name="memops-steady",pid="%d"} ' % steady.proc.pid in metrics
    # every run was a new process: the span of 9.5 hours was read back from the state file
    state = json.loads(history.read_text())
    kept = [s for s in state["processes"].values() if s["pid"] == steady.proc.pid]
    assert kept and kept[0]["first"] == first_run
    assert len(_leak_history.points(kept[0])) <= _leak_history.MAX_POINTS

    # the diagnosis reads the same history (mem_facts' leak_history) and the fleet report names the process
    thresholds = _diagnosis.merge_thresholds({})
    facts = _memfacts.gather(_procfs.Reader(), ["overview", "processes"], thresholds=thresholds,
                             leaks=_leak_history.reading(str(history), thresholds))
    trend = [f for f in facts["health"]["findings"] if f["id"] == "leak.trend" and f["data"]["pid"] == steady.proc.pid]
    assert len(trend) == 1 and "memops-steady[%d] grows" % steady.proc.pid in trend[0]["evidence"][0]
    fleet = _report.build_fleet({"web01": facts}, now=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    assert fleet["summary"]["findings"]["leak.trend"]["title"] == \
        "Processes or services have grown steadily for hours (leak suspects)"
    markdown = _report_markdown.render_markdown(fleet)
    assert "Process memops-steady\\[%d\\] has grown steadily for hours" % steady.proc.pid in markdown  # brackets escaped

    # without the history (a fresh state directory) nothing is named: the span is what makes the suspect
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run = run_checker(fresh, STEPS * STEP)
    assert run.returncode == 0, run.stderr
    assert str(steady.proc.pid) not in suspects(fresh)


def _leak_history_file():
    return "leak-history.json"


@pytest.mark.parametrize("content, reason", [
    (b'{"version": 1, "processes": [', "not JSON"),
    (b"x" * (_leak_history.MAX_STATE_BYTES + 10), "larger than"),
])
def test_a_damaged_history_is_discarded_with_a_line_and_written_anew(tmp_path, content, reason):
    history = tmp_path / "state" / _leak_history_file()
    history.parent.mkdir()
    history.write_bytes(content)
    run = run_checker(tmp_path, 0)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "leak history %s discarded: " % history in run.stderr and reason in run.stderr
    assert _leak_history.parse(history.read_text())["updated"] is not None
    assert oct(history.stat().st_mode & 0o777) == "0o600"


def test_without_the_history_no_file_is_kept(tmp_path):
    """monitoring_leak_history: false (the checker's leak_history) keeps no history and names no long-term suspect."""
    with open(os.path.join(COLLECTION, "roles", "monitoring", "vars", "main.yml"), encoding="utf-8") as handle:
        assert 'leak_history: "{{ monitoring_leak_history | bool }}"' in handle.read()
    run = run_checker(tmp_path, 0, leak_history=False)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "textfile" / "memops.prom").exists()
    assert not (tmp_path / "state" / _leak_history_file()).exists()
    assert suspects(tmp_path) == {}
