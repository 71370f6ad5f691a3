# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Monitoring end to end with the real parts (issue 13, scope 3).

Debian's node_exporter (default collectors, and the textfile directory the role's checker writes to),
Prometheus scraping it every second and evaluating the role's alert rules rendered with short windows,
and Alertmanager routing to a webhook receiver in this process. A real OOM kill in a memory cgroup of
this host must reach the receiver as OOMKillDetected; the time from the victim's death to the delivery
is measured and written to benchmarks/results/monitoring_e2e.md (a measurement, not a target: the test
only asserts delivery within a generous time). A steadily growing process must reach it the same way as
MemoryLeakSuspected, through the checker's memops_leak_suspect_* metrics.

Needs root and the host kernel; scripts/test runs it as the step ``monitoring``, under the host lock.
Every server is stopped and every cgroup removed at the end, also when a test fails.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import time

import pytest

from monitoring_stack import BINARIES, CHECKER, CHECKOUT, Grower, Stack, missing, oom_kill, oom_kills, run_checker, wait_for

from ansible_collections.memops.linux.tests.unit.roles.test_monitoring import _render_rules

RESULTS = os.path.join(CHECKOUT, "benchmarks", "results")
# Prometheus scrapes and evaluates every INTERVAL seconds; Alertmanager waits GROUP_WAIT before the
# first notification of a group and between two of them.
INTERVAL = 1
GROUP_WAIT = 1
# monitoring_alert_for: the window of OOMKillDetected (increase over it) and the `for` of the others;
# long enough that the alert still fires when Alertmanager flushes its group.
ALERT_FOR = "10s"
RULE_VARS = {"monitoring_alert_for": ALERT_FOR,
             # the checker runs only when a test runs it: no staleness alert within a test
             "monitoring_interval": "1h"}
# OOM kills measured one after the other
OOM_KILLS = 3
# seconds a delivery may take before the test fails (the measurement is usually a few seconds)
DELIVERY_TIMEOUT = 90


@pytest.fixture(scope="module")
def results():
    """What the tests measured, written to benchmarks/results/monitoring_e2e.{json,md} at the end."""
    measured = {}
    yield measured
    if measured:
        _write_results(measured)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    why = missing()
    if why:
        pytest.fail("the end-to-end monitoring test cannot run: %s" % why)
    directory = tmp_path_factory.mktemp("stack")
    rules = _render_rules(tmp_path_factory.mktemp("rules"), RULE_VARS)
    running = Stack(directory, rules, interval=INTERVAL, group_wait=GROUP_WAIT)
    try:
        running.start()
        yield running
    finally:
        running.close()


def _parse_time(text):
    """An RFC 3339 time of Prometheus or Alertmanager (nanoseconds, Z) as seconds since the epoch."""
    date, _dot, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.datetime.strptime(date, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    return seconds + (float("0." + fraction) if fraction else 0.0)


def _first_sample_at_least(stack, metric, value):
    """The time of the first scraped sample of ``metric`` (one series) that is >= value, in the last 2 minutes."""
    (series,) = stack.api("query", query="%s[2m]" % metric)["result"]
    return min(float(when) for when, sample in series["values"] if float(sample) >= value)


def _one_oom_kill(stack):
    """One OOM kill, waited for at the receiver: {died, scraped, firing, received (time.time()), alert}."""
    before = stack.value("node_vmstat_oom_kill")
    victim, died = oom_kill()
    kills = oom_kills()
    print("victim %d killed by the OOM killer at %s (oom_kill %d)" % (victim, _utc(died), kills))
    assert kills >= before + 1
    delivered = wait_for("OOMKillDetected delivered to the receiver",
                         lambda: stack.receiver.alerts("OOMKillDetected", since=died), timeout=DELIVERY_TIMEOUT,
                         interval=0.05)
    received, alert = delivered[0]
    scraped = _first_sample_at_least(stack, "node_vmstat_oom_kill", before + 1)
    # Prometheus sends startsAt as the time the alert started firing
    firing = _parse_time(alert["startsAt"])
    assert scraped <= firing <= received, (died, scraped, firing, received)
    print("OOM kill to delivery: %.3f s (scraped after %.3f s, alert firing after %.3f s)"
          % (received - died, scraped - died, firing - died))
    return {"died": died, "scraped": scraped, "firing": firing, "received": received, "alert": alert}


def test_an_oom_kill_reaches_the_receiver_as_oomkilldetected(stack, results, tmp_path):
    assert "OOMKillDetected" in stack.rules_loaded()
    run_checker(tmp_path, stack.textfile_dir)
    # Prometheus holds a few samples from before the kill (increase() needs one), and no OOMKillDetected of an
    # earlier kill on this host is still active (it would be the one delivered)
    wait_for("samples of node_vmstat_oom_kill and memops_oom_kills_total in Prometheus",
             lambda: (stack.value("count_over_time(node_vmstat_oom_kill[1m])") or 0) >= 3
             and stack.value("memops_oom_kills_total") is not None, timeout=60)
    checker_before = stack.value("memops_oom_kills_total")
    measured = []
    for _kill in range(OOM_KILLS):
        # the alert of the kill before has ended: resolved in Prometheus and sent so, or Alertmanager would
        # see the next one as the same alert, already notified
        wait_for("no OOMKillDetected active before the kill", lambda: not stack.active_alerts("OOMKillDetected"),
                 timeout=60)
        if measured:
            wait_for("OOMKillDetected resolved at the receiver",
                     lambda: stack.receiver.alerts("OOMKillDetected", since=measured[-1]["received"], status="resolved"),
                     timeout=DELIVERY_TIMEOUT)
        measured.append(_one_oom_kill(stack))
    alert = measured[0]["alert"]
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"] == "OOM kill detected on %s" % alert["labels"]["instance"]
    # the checker's own counter reaches Prometheus through node_exporter's textfile collector
    run_checker(tmp_path, stack.textfile_dir)
    wait_for("memops_oom_kills_total of the checker after the kills",
             lambda: (stack.value("memops_oom_kills_total") or 0) >= checker_before + OOM_KILLS, timeout=30)
    results["oom"] = {
        "kills": [{"victim_died": _utc(kill["died"]), "seconds_to_scrape": round(kill["scraped"] - kill["died"], 3),
                   "seconds_to_alert_firing": round(kill["firing"] - kill["died"], 3),
                   "seconds_to_delivery": round(kill["received"] - kill["died"], 3)} for kill in measured],
        "median_seconds_to_delivery": round(statistics.median(kill["received"] - kill["died"] for kill in measured), 3),
        "alert": {key: alert[key] for key in ("status", "labels", "annotations", "startsAt")},
    }


# The leak: a process that starts at LEAK_START bytes and grows LEAK_STEP bytes between two checks, checks
# LEAK_CHECK_SECONDS apart on the checker's clock (--time-offset) over LEAK_CHECKS checks: 7 hours, more
# than the 6 of leak_trend_min_span_hours, seen in seconds; 56 MiB in all, more than its 32 MiB and 10%.
LEAK_NAME = "memops-leaker"
LEAK_START = 64 << 20
LEAK_STEP = 4 << 20
LEAK_CHECK_SECONDS = 1800
LEAK_CHECKS = 15


@pytest.fixture
def grower():
    running = Grower(LEAK_NAME, LEAK_START)
    try:
        yield running
    finally:
        running.close()


def _leak_parts_missing(stack):
    """What the leak path needs of the other parts of the collection and is not there, or None."""
    with open(CHECKER, encoding="utf-8") as handle:
        checker = handle.read()
    missing_parts = []
    if "--time-offset" not in checker or "leak_history" not in checker:
        missing_parts.append("the checker's long-term leak history (leak-history.json, --time-offset, the "
                             "memops_leak_suspect_* metrics)")
    if "MemoryLeakSuspected" not in stack.rules_loaded():
        missing_parts.append("the alert rule MemoryLeakSuspected in roles/monitoring/templates/memops-alerts.rules.yml.j2")
    return " and ".join(missing_parts) or None


def test_a_growing_process_reaches_the_receiver_as_memoryleaksuspected(stack, results, tmp_path, grower):
    why = _leak_parts_missing(stack)
    if why:
        pytest.skip("the leak path needs %s" % why)
    pid = str(grower.pid)
    written = None
    for check in range(LEAK_CHECKS):
        if check:
            grower.grow(LEAK_STEP)
        run_checker(tmp_path, stack.textfile_dir, args=["--time-offset", str(check * LEAK_CHECK_SECONDS)])
        with open(os.path.join(stack.textfile_dir, "memops.prom"), encoding="utf-8") as handle:
            metrics = handle.read()
        if written is None and 'memops_leak_suspect_growth_bytes_per_hour{kind="process",name="%s",pid="%s"}' % (
                LEAK_NAME, pid) in metrics:
            written = time.time()
            named_after = check * LEAK_CHECK_SECONDS
    assert written is not None, "the checker never named %s[%s] a leak suspect:\n%s" % (LEAK_NAME, pid, metrics)
    print("%s[%s] named a leak suspect after %.1f hours on the checker's clock" % (LEAK_NAME, pid, named_after / 3600.0))

    def ours(alerts):
        return [(when, alert) for when, alert in alerts
                if alert["labels"].get("name") == LEAK_NAME and alert["labels"].get("pid") == pid]

    delivered = wait_for("MemoryLeakSuspected of %s[%s] delivered to the receiver" % (LEAK_NAME, pid),
                         lambda: ours(stack.receiver.alerts("MemoryLeakSuspected", since=written)),
                         timeout=DELIVERY_TIMEOUT, interval=0.05)
    received, alert = delivered[0]
    growth = stack.value('memops_leak_suspect_growth_bytes_per_hour{name="%s",pid="%s"}' % (LEAK_NAME, pid))
    per_hour = LEAK_STEP * 3600.0 / LEAK_CHECK_SECONDS
    assert 0.8 * per_hour <= growth <= 1.25 * per_hour, (growth, per_hour)
    assert alert["labels"]["kind"] == "process"
    assert LEAK_NAME in alert["annotations"]["summary"]
    firing = _parse_time(alert["startsAt"])
    assert written <= firing <= received, (written, firing, received)
    results["leak"] = {
        "named_after_hours": named_after / 3600.0,
        "growth_bytes_per_hour": growth,
        "seconds_to_alert_firing": round(firing - written, 3),
        "seconds_to_delivery": round(received - written, 3),
        "alert": {key: alert[key] for key in ("status", "labels", "annotations", "startsAt")},
    }
    print("leak suspect written to delivery: %.3f s (alert firing after %.3f s)" % (received - written, firing - written))


def _utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _version(name):
    proc = subprocess.run([BINARIES[name], "--version"], capture_output=True, text=True, timeout=30, check=False)
    return (proc.stdout or proc.stderr).splitlines()[0].strip()


def _write_results(measured):
    record = {
        "benchmark": "monitoring_e2e",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "versions": {name: _version(name) for name in sorted(BINARIES)},
        "intervals": {"scrape_seconds": INTERVAL, "evaluation_seconds": INTERVAL, "alertmanager_group_wait_seconds": GROUP_WAIT,
                      "alertmanager_group_interval_seconds": GROUP_WAIT, "monitoring_alert_for": ALERT_FOR},
    }
    record.update(measured)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "monitoring_e2e.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
        handle.write("\n")
    with open(os.path.join(RESULTS, "monitoring_e2e.md"), "w", encoding="utf-8") as handle:
        handle.write(_markdown(record))
    print(_markdown(record))


def _markdown(record):
    intervals = record["intervals"]
    lines = [
        "# Monitoring end to end: from the event on the host to the alert at the receiver",
        "",
        "%s, kernel %s, %d CPUs (load %.2f); %s." % (
            record["date"], record["kernel"], record["cpus"], record["load_average_1m"],
            "; ".join(record["versions"].values())),
        "",
        "Prometheus scrapes node_exporter every %d s and evaluates the role's rules (rendered with "
        "`monitoring_alert_for: %s`) every %d s; Alertmanager's `group_wait` and `group_interval` are %d s and it "
        "posts to a webhook receiver on a loopback port. A measurement, not a target: with the defaults "
        "(a 15 s or 1 min scrape interval, `group_wait: 30s`) expect those intervals to dominate."
        % (intervals["scrape_seconds"], intervals["monitoring_alert_for"], intervals["evaluation_seconds"],
           intervals["alertmanager_group_wait_seconds"]),
        "",
    ]
    if "oom" in record:
        oom = record["oom"]
        lines += [
            "## OOM kill to OOMKillDetected",
            "",
            "A process in a memory cgroup of 50 MiB allocates 200 MiB and the kernel's OOM killer kills it, %d times "
            "one after the other (each once the alert of the one before was resolved). Median from the victim's "
            "death to the delivery: **%.3f s**." % (len(oom["kills"]), oom["median_seconds_to_delivery"]),
            "",
            "| victim died | first scrape with the new `node_vmstat_oom_kill` | alert firing in Prometheus (`startsAt`) "
            "| delivery at the receiver |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += ["| %s | %.3f s | %.3f s | **%.3f s** |" % (
            kill["victim_died"], kill["seconds_to_scrape"], kill["seconds_to_alert_firing"], kill["seconds_to_delivery"])
            for kill in oom["kills"]]
        lines += [
            "",
            "The first alert as the receiver got it:",
            "",
            "```json",
            json.dumps(oom["alert"], indent=1, sort_keys=True),
            "```",
            "",
        ]
    if "leak" in record:
        leak = record["leak"]
        lines += [
            "## A leak suspect to MemoryLeakSuspected",
            "",
            "A process (`%s`) grows %d MiB between two checks; the checker's clock is moved %d s on at each "
            "check (`--time-offset`), so %d checks run seconds apart span %.1f hours of its history. It names the "
            "process a leak suspect after %.1f hours (`memops_leak_suspect_growth_bytes_per_hour`: %.1f MiB per hour)."
            % (LEAK_NAME, LEAK_STEP >> 20, LEAK_CHECK_SECONDS, LEAK_CHECKS,
               (LEAK_CHECKS - 1) * LEAK_CHECK_SECONDS / 3600.0, leak["named_after_hours"],
               leak["growth_bytes_per_hour"] / (1 << 20)),
            "",
            "| from the check that wrote the suspect's metrics to | seconds |",
            "| --- | ---: |",
            "| the alert firing in Prometheus (`startsAt`, after the rule's `for: %s`) | %.3f |"
            % (record["intervals"]["monitoring_alert_for"], leak["seconds_to_alert_firing"]),
            "| **delivery at the receiver** | **%.3f** |" % leak["seconds_to_delivery"],
            "",
            "The alert as the receiver got it:",
            "",
            "```json",
            json.dumps(leak["alert"], indent=1, sort_keys=True),
            "```",
            "",
        ]
    lines += ["Reproduce: `scripts/test monitoring` (root; tests/monitoring).", ""]
    return "\n".join(lines)
