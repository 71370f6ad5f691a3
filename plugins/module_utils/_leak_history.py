# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Memory history over hours and days, and the leak trend read from it.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import): the checker that roles/monitoring installs
records one point per process and per systemd service at every check
(``record``), keeps the history in a small JSON state file (``load``,
``dump``) and names the leak suspects (``suspects``); mem_facts reads the
same file (``read``) so that a diagnosis names them too.

What is kept: the RSS of the largest processes, each keyed by pid and start
time (a reused pid is another process), and the memory of each service's
cgroup (a restart carries the service's level over, so a service that grows
after every restart still shows one rising line). Recent points are kept as
they are, older ones merged into half-hour, then six-hour buckets, so that a
series holds at most ``MAX_POINTS`` points and a week of them fits in the
file's size bound.

"now" is always a parameter: tests feed points hours apart in seconds.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import operator
import os
import stat
import time

from ansible_collections.memops.linux.plugins.module_utils import _cgroups as cgroups
from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

STATE_VERSION = 1
# the state file is never read nor written larger than this
MAX_STATE_BYTES = 1 << 20
# how many processes and services are followed (the largest at each check)
MAX_PROCESSES = 100
MAX_UNITS = 50
# raw points: kept for RAW_KEEP seconds, at most RAW_MAX of them; then merged into buckets of
# TIERS[i][0] seconds, kept for TIERS[i][1] seconds (the last tier's older buckets are dropped)
RAW_KEEP = 3600
RAW_MAX = 12
TIERS = ((1800, 12 * 3600), (6 * 3600, 8 * 86400))
MAX_POINTS = RAW_MAX + sum(keep // width + 2 for width, keep in TIERS)
# how many groups the walk for services reads at most (slices and services)
MAX_GROUPS = 400
KIB = 1024


class HistoryError(ValueError):
    """A state file that cannot be the history: damaged, too large or of another version."""


def empty() -> dict:
    return {"version": STATE_VERSION, "updated": None, "processes": {}, "units": {}}


# ---------------------------------------------------------------------------
# one series: {"tiers": [raw, buckets, ...]}, each point [time (s), value (KiB), how many samples it merges]


def new_series(**labels) -> dict:
    series = dict(labels)
    series["tiers"] = [[] for _dummy in range(len(TIERS) + 1)]
    return series


def _fold(point, into, width):
    """Merge ``point`` into the last bucket of ``into`` when both fall in the same ``width`` seconds."""
    if into and into[-1][0] // width == point[0] // width:
        last = into[-1]
        count = last[2] + point[2]
        last[0] = (last[0] * last[2] + point[0] * point[2]) // count
        last[1] = (last[1] * last[2] + point[1] * point[2]) // count
        last[2] = count
    else:
        into.append(list(point))


def add_point(series: dict, now: int, kib: int) -> bool:
    """Append one sample; points that aged out of a tier move into the next one. Amortised O(1): each
    point is moved once per tier. False (nothing added) for a time not after the last point's."""
    tiers = series["tiers"]
    raw = tiers[0]
    if raw and now <= raw[-1][0]:
        return False
    raw.append([now, kib, 1])
    while len(raw) > RAW_MAX or now - raw[0][0] > RAW_KEEP:
        _fold(raw.pop(0), tiers[1], TIERS[0][0])
    for index in range(1, len(tiers)):
        buckets = tiers[index]
        keep = TIERS[index - 1][1]
        while buckets and now - buckets[0][0] > keep:
            point = buckets.pop(0)
            if index + 1 < len(tiers):
                _fold(point, tiers[index + 1], TIERS[index][0])
    return True


def points(series: dict) -> list:
    """The series as [(time, bytes)], oldest first."""
    return [(point[0], point[1] * KIB) for tier in reversed(series["tiers"]) for point in tier]


def last_point(series: dict):
    raw = series["tiers"][0]
    return raw[-1] if raw else None


# ---------------------------------------------------------------------------
# the trend


def fit(times: list, values: list) -> tuple:
    """Least-squares line through the points (``times`` in seconds, ``values``) -> (slope per second,
    value at the first time, R^2). Sums of whole numbers taken from the first point are exact, whatever the
    size of the values; the sums run in C (map), so a series costs little."""
    count = len(times)
    t0, v0 = times[0], values[0]
    ts = [t - t0 for t in times]
    vs = [v - v0 for v in values]
    sum_t, sum_v = sum(ts), sum(vs)
    mean_t, mean_v = sum_t / count, sum_v / count
    var_t = sum(map(operator.mul, ts, ts)) - sum_t * mean_t
    var_v = sum(map(operator.mul, vs, vs)) - sum_v * mean_v
    if var_t <= 0:
        return 0.0, v0 + mean_v, 0.0
    cov = sum(map(operator.mul, ts, vs)) - sum_t * mean_v
    slope = cov / var_t
    r2 = min(1.0, cov * cov / (var_t * var_v)) if var_v > 0 else 0.0
    return slope, v0 + mean_v - slope * mean_t, r2


def trend(series_points: list, thresholds: dict) -> dict | None:
    """A leak trend in [(time, bytes)], oldest first, or None.

    A trend is steady growth over at least ``leak_trend_min_span_hours`` whose straight line fits
    (R^2 at least ``leak_trend_min_fit``: a garbage-collected sawtooth or noise does not), that grew at
    least ``leak_trend_min_growth_bytes`` and ``leak_trend_min_growth_pct`` of where it started, and still
    grows: the last third of the span rises at ``leak_trend_recent_share`` of the whole's rate at least
    (a process that grew while it warmed up, then settled, does not)."""
    return _trend([p[0] for p in series_points], [p[1] for p in series_points], thresholds)


def _trend(times, values, thresholds, unit=1):
    """trend() on two lists; ``values`` counted in ``unit`` bytes."""
    if len(times) < 4:
        return None
    span = times[-1] - times[0]
    if span < thresholds["leak_trend_min_span_hours"] * 3600:
        return None
    if (max(values) - min(values)) * unit < thresholds["leak_trend_min_growth_bytes"] / 2:  # cheap: most series are flat
        return None
    slope, start, r2 = fit(times, values)
    slope, start = slope * unit, start * unit
    growth = slope * span
    if slope <= 0 or growth < thresholds["leak_trend_min_growth_bytes"]:
        return None
    if start > 0 and 100.0 * growth / start < thresholds["leak_trend_min_growth_pct"]:
        return None
    if r2 < thresholds["leak_trend_min_fit"]:
        return None
    first = min(bisect.bisect_left(times, times[-1] - span / 3.0), len(times) - 3)
    recent_slope = fit(times[first:], values[first:])[0] * unit
    if recent_slope < thresholds["leak_trend_recent_share"] * slope:
        return None
    return {"growth_bytes_per_hour": int(slope * 3600), "span_seconds": int(span), "fit": round(r2, 3),
            "growth_bytes": int(growth), "recent_bytes_per_hour": int(recent_slope * 3600)}


# ---------------------------------------------------------------------------
# recording


def service_usage(reader: procfs.Reader, rows: list) -> dict:
    """{service: (bytes charged to its memory cgroup, start time of its oldest process or None)} for the
    services below the slices of the memory hierarchy (system.slice and its sub-slices): one usage file
    and one cgroup.procs per service. {} without a memory controller."""
    controller = cgroups.layout(reader)["memory_controller"]
    root = cgroups.memory_root(reader, controller)
    if root is None:
        return {}
    usage_file = "memory.current" if controller == "v2" else "memory.usage_in_bytes"
    starts = {row["pid"]: row.get("starttime") for row in rows}
    found = {}
    pending = [root]
    seen = 0
    while pending and seen < MAX_GROUPS:
        try:
            with os.scandir(pending.pop()) as entries:
                names = [(entry.name, entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for name, path in names:
            seen += 1
            if name.endswith(".slice"):
                pending.append(path)
            elif name.endswith(".service") and name not in found:
                usage = procfs.to_int((_read(reader, os.path.join(path, usage_file)) or "").strip())
                if usage is None or usage < 0:
                    continue
                born = [starts[pid] for pid in cgroups.members(reader, path) if starts.get(pid) is not None]
                found[name] = (usage, min(born) if born else None)
    return found


def _read(reader, path):
    try:
        return reader.read(path)
    except procfs.ProcfsError:
        return None


def record(state: dict, rows: list, units: dict, now: float, max_processes: int = MAX_PROCESSES,
           max_units: int = MAX_UNITS) -> dict:
    """Add this check's samples to ``state`` (in place; returned): ``rows`` the processes of the scan (pid,
    starttime, name, rss_bytes), ``units`` what service_usage returns. The ``max_processes`` largest processes
    and ``max_units`` largest services are followed; a process gone or fallen out of them is forgotten.
    O(processes)."""
    now = int(now)
    old = state["processes"]
    kept = {}
    candidates = [row for row in rows if row.get("starttime") is not None]
    for row in heapq.nlargest(max_processes, candidates, key=lambda r: r["rss_bytes"]):
        key = "%d:%d" % (row["pid"], row["starttime"])
        series = old.get(key) or new_series(name=row["name"], pid=row["pid"], first=now)
        series["name"] = row["name"]
        add_point(series, now, row["rss_bytes"] // KIB)
        kept[key] = series
    state["processes"] = kept
    old_units = state["units"]
    kept_units = {}
    for name, (usage, generation) in heapq.nlargest(max_units, units.items(), key=lambda item: item[1][0]):
        series = old_units.get(name) or new_series(name=name, first=now, carry=0, last=None, generation=generation)
        kib = usage // KIB
        if series["last"] is not None and generation != series["generation"] and series["last"] > kib:
            # restarted: the new processes start low again; carry the old level over
            series["carry"] += series["last"] - kib
        if add_point(series, now, kib + series["carry"]):
            series.update(last=kib, generation=generation)
        kept_units[name] = series
    state["units"] = kept_units
    state["updated"] = now
    return state


# ---------------------------------------------------------------------------
# suspects


_TIME, _VALUE = operator.itemgetter(0), operator.itemgetter(1)


def suspects(state: dict, thresholds: dict, available_bytes: int | None) -> list:
    """The processes and services seen at the last update whose history shows a leak trend, fastest first:
    {kind: process|unit, name, pid (None for a unit), bytes (now), growth_bytes_per_hour, span_seconds, fit,
    exhaustion_seconds (at this growth, until MemAvailable is used up; None when unknown)}."""
    found = []
    updated = state.get("updated")
    for kind, table in (("process", state["processes"]), ("unit", state["units"])):
        for series in table.values():
            last = last_point(series)
            if last is None or last[0] != updated:
                continue
            tiers = series["tiers"]
            oldest = next(tier[0][0] for tier in reversed(tiers) if tier)
            if last[0] - oldest < thresholds["leak_trend_min_span_hours"] * 3600:  # young: skip before any work
                continue
            found_trend = _trend(list(map(_TIME, itertools.chain.from_iterable(reversed(tiers)))),
                                 list(map(_VALUE, itertools.chain.from_iterable(reversed(tiers)))), thresholds, KIB)
            if found_trend is None:
                continue
            now_bytes = (last[1] - series.get("carry", 0)) * KIB
            per_second = found_trend["growth_bytes_per_hour"] / 3600.0
            exhaustion = int(available_bytes / per_second) if available_bytes is not None and per_second > 0 else None
            found_trend.update(kind=kind, name=series["name"], pid=series.get("pid"), bytes=now_bytes,
                               first_seen=series["first"], exhaustion_seconds=exhaustion)
            found.append(found_trend)
    found.sort(key=lambda item: -item["growth_bytes_per_hour"])
    return found


def facts(state: dict, thresholds: dict, available_bytes: int | None, path: str | None = None,
          now: float | None = None) -> dict:
    """The ``leaks`` facts: what is followed, since when, and the suspects."""
    firsts = [s["first"] for table in (state["processes"], state["units"]) for s in table.values()]
    result = {"history_file": path, "updated": state.get("updated"), "processes": len(state["processes"]),
              "units": len(state["units"]), "since": min(firsts) if firsts else None,
              "suspects": suspects(state, thresholds, available_bytes)}
    if now is not None and state.get("updated") is not None:
        result["age_seconds"] = max(0, int(now) - state["updated"])
    return result


# ---------------------------------------------------------------------------
# the state file


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_series(series, unit):
    if not isinstance(series, dict) or not isinstance(series.get("name"), str) or not _is_int(series.get("first")):
        return False
    tiers = series.get("tiers")
    if not isinstance(tiers, list) or len(tiers) != len(TIERS) + 1 or set(map(type, tiers)) - {list}:
        return False
    # each point a list of three whole numbers, checked in C (map), not in a loop per point: the file holds thousands
    every = list(itertools.chain.from_iterable(tiers))
    if set(map(type, every)) - {list} or set(map(len, every)) - {3} or set(map(type, itertools.chain.from_iterable(every))) - {int}:
        return False
    if unit:
        return _is_int(series.get("carry")) and all(key in series and (series[key] is None or _is_int(series[key]))
                                                    for key in ("last", "generation"))
    return _is_int(series.get("pid"))


def parse(text: str) -> dict:
    """The history from the text of a state file. Raises HistoryError."""
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise HistoryError("not JSON (%s)" % exc)
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise HistoryError("not a leak history of version %d" % STATE_VERSION)
    if state.get("updated") is not None and not _is_int(state["updated"]):
        raise HistoryError("updated is not a time")
    for key, unit in (("processes", False), ("units", True)):
        table = state.get(key)
        if not isinstance(table, dict) or not all(_valid_series(s, unit) for s in table.values()):
            raise HistoryError("%s: a damaged series" % key)
    return state


def load(path: str, log=None, max_bytes: int = MAX_STATE_BYTES) -> dict:
    """The history kept in ``path``; an empty one when there is none yet. A damaged or oversized file is
    discarded with a line to ``log`` (a callable), never an exception: the history starts afresh."""
    try:  # O_NONBLOCK: a FIFO planted there must not block the check for ever; only a regular file is read
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return _discard(log, path, "not a regular file")
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        return _discard(log, path, exc.strerror or str(exc))
    if len(data) > max_bytes:
        return _discard(log, path, "larger than %d bytes" % max_bytes)
    try:
        return parse(data.decode("utf-8"))
    except (UnicodeDecodeError, HistoryError) as exc:
        return _discard(log, path, exc)


def _discard(log, path, reason):
    if log is not None:
        log("leak history %s discarded: %s; starting afresh" % (path, reason))
    return empty()


def read(path: str, max_bytes: int = MAX_STATE_BYTES) -> dict | None:
    """The history in ``path`` for a reader that does not keep it (mem_facts): None when there is none or
    it cannot be used. Never raises."""
    if not os.path.isfile(path):
        return None
    problems = []
    state = load(path, problems.append, max_bytes)
    return None if problems or state.get("updated") is None else state


def dump(state: dict, max_bytes: int = MAX_STATE_BYTES) -> str:
    """The state as compact JSON of at most ``max_bytes``: when the series do not all fit, the smallest are
    left out (each series is encoded once; O(series))."""
    encode = json.JSONEncoder(separators=(",", ":")).encode
    head = '{"version":%d,"updated":%s,' % (STATE_VERSION, json.dumps(state.get("updated")))
    budget = max_bytes - len(head) - len('"processes":{},"units":{}}\n')
    encoded = []
    for table_name in ("processes", "units"):
        for key, series in state[table_name].items():
            text = "%s:%s" % (json.dumps(key), encode(series))
            last = last_point(series)
            encoded.append((last[1] if last else 0, table_name, key, text))
    chosen = {"processes": [], "units": []}
    for _size, table_name, key, text in sorted(encoded, key=lambda item: -item[0]):
        if len(text) + 1 <= budget:
            budget -= len(text) + 1
            chosen[table_name].append((key, text))
    for table_name in chosen:
        dropped = set(state[table_name]) - {key for key, _text in chosen[table_name]}
        for key in dropped:
            del state[table_name][key]
    return head + '"processes":{%s},"units":{%s}}\n' % (
        ",".join(text for _key, text in sorted(chosen["processes"])),
        ",".join(text for _key, text in sorted(chosen["units"])))


def reading(path: str, thresholds: dict, clock=None):
    """For mem_facts: a ``leaks`` callable for _memfacts.gather that reads the history the checker keeps in
    ``path`` without changing it -> the ``leaks`` facts, or None when there is no usable history there
    (monitoring not installed, not readable by this user)."""
    def leaks(_rows, gathered):
        state = read(path)
        if state is None:
            return None
        available = (gathered.get("memory") or {}).get("available_bytes")
        return facts(state, thresholds, available, path, (clock or _now)())
    return leaks


def _now():
    return time.time()
