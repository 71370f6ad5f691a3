# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_leak_history: the trend on synthetic series, the downsampled history, its bound and its state file."""

from __future__ import annotations

import json
import os
import random

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis, _leak_history, _metrics, _procfs

MIB = 1 << 20
HOUR = 3600
T0 = 1_700_000_000
THRESHOLDS = _diagnosis.DEFAULT_THRESHOLDS


def series(values, step=300, start=T0):
    return [(start + i * step, int(v)) for i, v in enumerate(values)]


def steady(hours=12, step=300, base=200 * MIB, per_hour=10 * MIB):
    return series([base + per_hour * i * step / HOUR for i in range(int(hours * HOUR / step))], step)


# ---------------------------------------------------------------- the trend


def test_steady_growth_is_a_trend_with_its_rate():
    found = _leak_history.trend(steady(), THRESHOLDS)
    assert found is not None
    assert found["growth_bytes_per_hour"] == pytest.approx(10 * MIB, rel=0.01)
    assert found["span_seconds"] == 12 * HOUR - 300
    assert found["fit"] > 0.99


def test_noisy_steady_growth_is_a_trend():
    rng = random.Random(13)
    noisy = [(t, v + rng.randint(-8 * MIB, 8 * MIB)) for t, v in steady()]
    found = _leak_history.trend(noisy, THRESHOLDS)
    assert found is not None
    assert found["growth_bytes_per_hour"] == pytest.approx(10 * MIB, rel=0.1)


def test_a_garbage_collected_sawtooth_is_not():
    # grows 60 MiB in an hour, collected back to its floor, again and again: no trend however long
    saw = series([200 * MIB + (i % 12) * 5 * MIB for i in range(12 * 24)])
    assert _leak_history.trend(saw, THRESHOLDS) is None


def test_a_sawtooth_whose_floor_rises_is():
    saw = series([200 * MIB + (i % 12) * 5 * MIB + i * MIB for i in range(12 * 24)])
    found = _leak_history.trend(saw, THRESHOLDS)
    assert found is not None and found["growth_bytes_per_hour"] == pytest.approx(12 * MIB, rel=0.1)


def test_growth_that_settled_is_not():
    # warmed up for 4 hours (caches, pools), flat for the 8 since: the line still fits fairly well
    values = [200 * MIB + min(i, 48) * 2 * MIB for i in range(12 * 12)]
    assert _leak_history.trend(series(values), dict(THRESHOLDS, leak_trend_min_fit=0.5)) is None
    assert _leak_history.trend(series(values[:48]), dict(THRESHOLDS, leak_trend_min_span_hours=3)) is not None  # while it grew


def test_a_young_process_is_not_however_fast_it_grows():
    assert _leak_history.trend(steady(hours=5, per_hour=500 * MIB), THRESHOLDS) is None
    assert _leak_history.trend(steady(hours=5, per_hour=500 * MIB), dict(THRESHOLDS, leak_trend_min_span_hours=4)) is not None


@pytest.mark.parametrize("values, why", [
    ([100 * MIB] * 200, "flat"),
    ([300 * MIB - i * MIB for i in range(200)], "shrinking"),
    ([200 * MIB + i * 10 * 1024 for i in range(200)], "grew less than leak_trend_min_growth_bytes"),
    ([8 * (1 << 30) + i * 256 * 1024 for i in range(200)], "grew less than leak_trend_min_growth_pct of its size"),
])
def test_no_trend(values, why):
    assert _leak_history.trend(series(values), THRESHOLDS) is None, why


def test_too_few_points_are_no_trend():
    assert _leak_history.trend(series([1, 2 * MIB], step=24 * HOUR), THRESHOLDS) is None


# ---------------------------------------------------------------- the history


def rows_of(*processes):
    return [{"pid": pid, "starttime": start, "name": name, "rss_bytes": rss} for pid, start, name, rss in processes]


def test_pid_reuse_never_joins_two_processes():
    state = _leak_history.empty()
    for hour in range(8):  # a first process with pid 4242, growing
        _leak_history.record(state, rows_of((4242, 100, "worker", 100 * MIB + hour * 20 * MIB)), {}, T0 + hour * HOUR)
    assert [s["name"] for s in _leak_history.suspects(state, THRESHOLDS, None)] == ["worker"]
    # it exits; another process gets pid 4242 and keeps growing where the first left off
    for hour in range(8, 12):
        _leak_history.record(state, rows_of((4242, 9000, "worker", 100 * MIB + hour * 20 * MIB)), {}, T0 + hour * HOUR)
    assert list(state["processes"]) == ["4242:9000"]
    assert state["processes"]["4242:9000"]["first"] == T0 + 8 * HOUR
    assert _leak_history.suspects(state, THRESHOLDS, None) == []  # four hours: too young to judge


def test_a_process_gone_is_no_suspect_and_is_forgotten():
    state = _leak_history.empty()
    for hour in range(8):
        _leak_history.record(state, rows_of((1, 1, "leaky", 100 * MIB + hour * 20 * MIB)), {}, T0 + hour * HOUR)
    _leak_history.record(state, rows_of((2, 2, "other", 10 * MIB)), {}, T0 + 8 * HOUR)
    assert list(state["processes"]) == ["2:2"]
    assert _leak_history.suspects(state, THRESHOLDS, None) == []


def test_a_service_that_grows_after_every_restart_is_seen():
    state = _leak_history.empty()
    for step in range(24):  # restarted every 4 hours, 40 MiB per hour in between
        generation, hours_up = divmod(step, 4)
        usage = 50 * MIB + hours_up * 40 * MIB
        _leak_history.record(state, [], {"app.service": (usage, 1000 + generation)}, T0 + step * HOUR)
    found = _leak_history.suspects(state, THRESHOLDS, 10 << 30)
    assert [(s["kind"], s["name"], s["pid"]) for s in found] == [("unit", "app.service", None)]
    assert found[0]["bytes"] == 50 * MIB + 3 * 40 * MIB  # what it holds now, not the carried level
    assert found[0]["exhaustion_seconds"] == pytest.approx((10 << 30) / (found[0]["growth_bytes_per_hour"] / 3600), rel=0.01)


def test_a_service_restarted_without_growing_is_not():
    state = _leak_history.empty()
    for step in range(24):
        _leak_history.record(state, [], {"app.service": (300 * MIB, 1000 + step // 4)}, T0 + step * HOUR)
    assert _leak_history.suspects(state, THRESHOLDS, None) == []


def test_a_week_of_many_processes_stays_within_the_bound():
    rng = random.Random(7)
    state = _leak_history.empty()
    population = [(pid, pid * 7, "p%d" % pid, rng.randint(1, 400) * MIB) for pid in range(1, 1001)]
    units = {"u%d.service" % n: (n * MIB, n) for n in range(80)}
    step = 300
    for index in range(7 * 24 * HOUR // step):
        rows = rows_of(*[(pid, start, name, rss + index * 1024) for pid, start, name, rss in population])
        _leak_history.record(state, rows, units, T0 + index * step)
    assert len(state["processes"]) == _leak_history.MAX_PROCESSES
    assert len(state["units"]) == _leak_history.MAX_UNITS
    for table in ("processes", "units"):
        for kept in state[table].values():
            assert len(_leak_history.points(kept)) <= _leak_history.MAX_POINTS
            assert _leak_history.points(kept)[0][0] <= T0 + 24 * HOUR  # the first day is still there, merged
    text = _leak_history.dump(state)
    assert len(text) <= _leak_history.MAX_STATE_BYTES
    assert _leak_history.parse(text) == json.loads(text)
    # a tighter bound leaves the smallest series out, never exceeds it
    small = _leak_history.dump(json.loads(text), max_bytes=64 * 1024)
    assert len(small) <= 64 * 1024
    kept = _leak_history.parse(small)
    assert 0 < len(kept["processes"]) < _leak_history.MAX_PROCESSES


def test_downsampling_keeps_the_mean_and_the_order():
    state = _leak_history.empty()
    for index in range(2 * 24 * 12):  # two days every five minutes, growing 1 MiB per step
        _leak_history.record(state, rows_of((1, 1, "p", (100 + index) * MIB)), {}, T0 + index * 300)
    kept = _leak_history.points(state["processes"]["1:1"])
    times = [t for t, _v in kept]
    assert times == sorted(times) and len(times) == len(set(times))
    assert len(kept) <= _leak_history.MAX_POINTS
    for t, value in kept:  # each point is the mean of the samples it merges: still on the line
        assert value == pytest.approx((100 + (t - T0) / 300) * MIB, rel=0.01)


def test_a_clock_that_goes_back_adds_nothing():
    kept = _leak_history.new_series(name="p", pid=1, first=T0)
    assert _leak_history.add_point(kept, T0, 1)
    assert not _leak_history.add_point(kept, T0 - 60, 2)
    assert _leak_history.points(kept) == [(T0, 1024)]


# ---------------------------------------------------------------- the state file


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "utf-8"),
    (b'{"version": 99}', "version"),
    (b'[]', "version"),
    (b'{"version": 1, "updated": 1, "processes": {"1:1": {"name": "p"}}, "units": {}}', "damaged series"),
    (b'{"version": 1, "updated": 1, "processes": {}, "units": {"u": {"name": "u", "first": 1, "carry": "x", '
     b'"last": null, "tiers": [[], [], []]}}}', "damaged series"),
    (b'{"version": 1, "updated": 1, "processes": {}, "units": {"u": {"name": "u", "first": 1, "carry": 0, '
     b'"last": null, "tiers": [[], [], []]}}}', "damaged series"),  # no generation
    (b'{"version": 1, "updated": true, "processes": {}, "units": {}}', "updated"),
    (b'{"version": 1, "updated": 1, "processes": {"1:1": {"name": "p", "pid": 1, "first": 1, '
     b'"tiers": [[[1, 2]], [], []]}}, "units": {}}', "damaged series"),
])
def test_a_damaged_state_file_is_discarded_with_a_line(tmp_path, content, reason):
    path = tmp_path / "leak-history.json"
    path.write_bytes(content)
    lines = []
    assert _leak_history.load(str(path), lines.append) == _leak_history.empty()
    assert len(lines) == 1 and "discarded" in lines[0] and reason in lines[0], lines
    assert _leak_history.read(str(path)) is None


def test_an_oversized_state_file_is_discarded_unread(tmp_path):
    path = tmp_path / "leak-history.json"
    path.write_text(" " * (_leak_history.MAX_STATE_BYTES + 1))
    lines = []
    assert _leak_history.load(str(path), lines.append) == _leak_history.empty()
    assert "larger than" in lines[0]


def test_no_state_file_is_an_empty_history_without_a_line(tmp_path):
    lines = []
    assert _leak_history.load(str(tmp_path / "none.json"), lines.append) == _leak_history.empty()
    assert lines == [] and _leak_history.read(str(tmp_path / "none.json")) is None


# ---------------------------------------------------------------- services from the cgroup tree


def test_service_usage_reads_the_services_below_the_slices(tmp_path):
    cgroup = tmp_path / "fs" / "cgroup"
    for directory, usage, procs in (("system.slice/app.service", "52428800\n", "10\n11\n"),
                                    ("system.slice/db.slice/db@main.service", "1048576\n", "20\n"),
                                    ("user.slice/user-1000.slice/user@1000.service", "4096\n", ""),
                                    ("init.scope", "1\n", "1\n")):
        os.makedirs(cgroup / directory)
        (cgroup / directory / "memory.current").write_text(usage)
        (cgroup / directory / "cgroup.procs").write_text(procs)
    (cgroup / "cgroup.controllers").write_text("cpu memory pids\n")
    reader = _procfs.Reader(str(tmp_path / "proc"), str(tmp_path))
    rows = rows_of((10, 500, "app", 1), (11, 400, "app-worker", 1), (20, 900, "db", 1))
    assert _leak_history.service_usage(reader, rows) == {
        "app.service": (50 * MIB, 400), "db@main.service": (MIB, 900), "user@1000.service": (4096, None)}


def test_service_usage_without_a_memory_controller_is_empty(tmp_path):
    assert _leak_history.service_usage(_procfs.Reader(str(tmp_path), str(tmp_path)), []) == {}


# ---------------------------------------------------------------- finding and metrics


def leaking_facts(available):
    state = _leak_history.empty()
    for hour in range(10):
        _leak_history.record(state, rows_of((77, 1, "leaky", 100 * MIB + hour * 100 * MIB)), {}, T0 + hour * HOUR)
    return {"leaks": _leak_history.facts(state, THRESHOLDS, available, "/h.json", T0 + 10 * HOUR)}


@pytest.mark.parametrize("available, severity", [(50 << 30, "monitor"), (1 << 30, "critical"), (None, "monitor")])
def test_suspects_become_leak_trend_findings(available, severity):
    facts = leaking_facts(available)
    assert facts["leaks"]["age_seconds"] == HOUR
    found = list(_diagnosis.rule_leak_trend(facts, THRESHOLDS))
    assert [(f["id"], f["severity"]) for f in found] == [("leak.trend", severity)]
    assert "leaky[77] grows 100 MiB per hour over 9.0 hours" in found[0]["evidence"][0]
    assert found[0]["remedy"]["role"] == "memops.linux.memory_limits"
    assert found[0]["data"]["growth_bytes_per_hour"] == pytest.approx(100 * MIB, rel=0.01)


def test_suspects_become_the_three_metrics():
    facts = leaking_facts(10 << 30)
    text = _metrics.render(_metrics.leak_families(facts["leaks"]["suspects"]))
    labels = '{kind="process",name="leaky",pid="77"}'
    assert "memops_leak_suspect_growth_bytes_per_hour%s %d" % (labels, 100 * MIB) in text
    assert "memops_leak_suspect_exhaustion_seconds%s %d" % (labels, 10 * 3600 * 1024 // 100) in text
    assert "memops_leak_suspect_span_seconds%s %d" % (labels, 9 * HOUR) in text
    assert "memops_leak_suspect_exhaustion_seconds{" not in _metrics.render(
        _metrics.leak_families(leaking_facts(None)["leaks"]["suspects"]))


def test_a_fifo_in_place_of_the_state_file_is_discarded_without_blocking(tmp_path):
    """Opening a FIFO for reading waits for a writer: the history must be refused, not wait for ever."""
    path = tmp_path / "leak-history.json"
    os.mkfifo(path)
    lines = []
    assert _leak_history.load(str(path), lines.append) == _leak_history.empty()
    assert lines and "not a regular file" in lines[0]
    assert _leak_history.read(str(path)) is None
