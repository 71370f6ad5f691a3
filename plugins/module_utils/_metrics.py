# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Metrics of the on-host checker, in the Prometheus text exposition format.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import): the checker that roles/monitoring installs
runs it on hosts without Ansible. ``checker_families`` turns the facts and the
health of one check into metric families; ``render`` writes them as the text
node_exporter's textfile collector reads (HELP and TYPE lines, escaped label
values, one sample per label set).
"""

from __future__ import annotations

import math
import re
from typing import Iterable

from ansible_collections.memops.linux.plugins.module_utils._schema import HEALTH_LEVEL, section

METRIC_TYPES = ("gauge", "counter", "untyped")

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricsError(ValueError):
    """A metric family that cannot be written in the exposition format."""


def escape_label_value(value: object) -> str:
    """A label value as the exposition format wants it: backslash, double quote
    and line feed escaped. Bytes that are not UTF-8 (a process name kept with
    surrogateescape) become U+FFFD: the textfile collector rejects invalid UTF-8."""
    text = str(value)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that surrogateescape did not make
        data = text.encode("utf-8", "replace")
    text = data.decode("utf-8", "replace")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text escapes only backslash and line feed."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: int | float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def family(name: str, metric_type: str, help_text: str,
           samples: Iterable[tuple[dict, int | float]] | None = None) -> dict:
    """A metric family: ``samples`` is a list of (labels dict, value)."""
    return {"name": name, "type": metric_type, "help": help_text, "samples": list(samples or [])}


def render(families: Iterable[dict]) -> str:
    """Metric families -> exposition text. Raises MetricsError on an invalid
    name, type or label name, or on two samples with the same labels."""
    lines = []
    seen = set()
    for fam in families:
        name = fam["name"]
        if not _METRIC_NAME.match(name):
            raise MetricsError("metric name %r is not valid: use letters, digits, _ and :" % name)
        if name in seen:
            raise MetricsError("metric family %s is given twice" % name)
        seen.add(name)
        if fam["type"] not in METRIC_TYPES:
            raise MetricsError("metric %s: type %r is not one of %s" % (name, fam["type"], ", ".join(METRIC_TYPES)))
        lines.append("# HELP %s %s" % (name, escape_help(fam["help"])))
        lines.append("# TYPE %s %s" % (name, fam["type"]))
        label_sets = set()
        for labels, value in fam["samples"]:
            key = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
            if key in label_sets:
                raise MetricsError("metric %s: two samples with the labels %r" % (name, dict(key)))
            label_sets.add(key)
            for label in labels:
                if not _LABEL_NAME.match(label) or label.startswith("__"):
                    raise MetricsError("metric %s: label name %r is not valid" % (name, label))
            text = ",".join('%s="%s"' % (k, escape_label_value(v)) for k, v in labels.items())
            lines.append("%s%s %s" % (name, "{%s}" % text if text else "", format_value(value)))
    return "\n".join(lines) + "\n" if lines else ""


def checker_families(facts: dict, health: dict, duration_seconds: float, now: float, top: int = 5) -> list[dict]:
    """The checker's metric families from one gather: ``facts`` as mem_facts
    returns them, ``health`` from _diagnosis.diagnose, ``now`` in seconds since
    the epoch. Families whose facts are missing (no commit limit, a kernel
    without the oom_kill counter) are left out rather than written as 0."""
    families = [family("memops_health_status", "gauge",
                       "Memory health from the memops.linux rules: 0 ok, 1 monitor, 2 critical.",
                       [({}, HEALTH_LEVEL[health["status"]])])]

    counts: dict[tuple[str, str], int] = {}
    for finding in health.get("findings") or []:
        key = (finding["id"], finding["severity"])
        counts[key] = counts.get(key, 0) + 1
    families.append(family(
        "memops_finding", "gauge",
        "Active findings of the memops.linux rules by id and severity; the value counts findings with that id.",
        [({"id": fid, "severity": severity}, count) for (fid, severity), count in sorted(counts.items())]))

    memory = section(facts, "memory")
    if memory.get("available_bytes") is not None:
        families.append(family("memops_available_bytes", "gauge",
                               "Memory available for new work without swapping (MemAvailable), in bytes.",
                               [({}, memory["available_bytes"])]))

    commit = section(facts, "commit")
    if commit.get("limit_bytes") and commit.get("committed_as_bytes") is not None:
        families.append(family("memops_commit_ratio", "gauge",
                               "Committed_AS divided by CommitLimit; allocations fail above 1 under strict overcommit.",
                               [({}, round(commit["committed_as_bytes"] / commit["limit_bytes"], 6))]))

    oom = section(facts, "oom")
    if oom.get("kill_count") is not None:
        families.append(family("memops_oom_kills_total", "counter",
                               "Processes killed by the OOM killer since boot (oom_kill in /proc/vmstat).",
                               [({}, oom["kill_count"])]))

    families.extend(cause_families(facts))

    rows = (section(facts, "processes").get("top_rss") or [])[:top]
    families.append(family("memops_top_process_rss_bytes", "gauge",
                           "Resident memory of the largest processes at the last check, in bytes.",
                           [({"name": row["name"], "pid": row["pid"]}, row["rss_bytes"]) for row in rows]))

    families.extend(leak_families(section(facts, "leaks").get("suspects") or []))

    families.append(family("memops_check_duration_seconds", "gauge",
                           "How long the last memory check took, in seconds.", [({}, round(duration_seconds, 6))]))
    families.append(family("memops_check_last_success_timestamp_seconds", "gauge",
                           "When the last memory check completed, in seconds since the epoch.", [({}, round(now, 3))]))
    return families


def leak_families(suspects: list) -> list[dict]:
    """The long-term leak suspects (_leak_history.suspects): growth, time to exhaustion (absent when
    unknown) and how long the trend has been seen; a series exists only while its process or unit is a suspect, a
    family only while it has a series."""
    labels = [({"kind": row["kind"], "name": row["name"], "pid": "" if row["pid"] is None else str(row["pid"])}, row)
              for row in suspects]
    families = [
        family("memops_leak_suspect_growth_bytes_per_hour", "gauge",
               "Memory growth of a long-term leak suspect (steady over hours), in bytes per hour.",
               [(label, row["growth_bytes_per_hour"]) for label, row in labels]),
        family("memops_leak_suspect_exhaustion_seconds", "gauge",
               "Projected seconds until MemAvailable reaches 0 at the leak suspect's growth.",
               [(label, row["exhaustion_seconds"]) for label, row in labels if row["exhaustion_seconds"] is not None]),
        family("memops_leak_suspect_span_seconds", "gauge",
               "How long the leak suspect's steady growth has been seen, in seconds.",
               [(label, row["span_seconds"]) for label, row in labels]),
    ]
    return [fam for fam in families if fam["samples"]]  # no suspect, no family


def cause_families(facts: dict) -> list[dict]:
    """The families the alert rules on causes read that node_exporter does not give: the overcommit mode,
    the unusable free index of each zone holding free memory, and the memory cgroups near their limit or
    with OOM kills (the groups the cgroup facts list). Families whose facts are missing are left out."""
    families = []
    mode = section(facts, "commit").get("overcommit_memory")
    if isinstance(mode, int) and not isinstance(mode, bool):
        families.append(family("memops_overcommit_memory", "gauge",
                               "vm.overcommit_memory: 0 heuristic, 1 always, 2 strict (CommitLimit enforced).",
                               [({}, mode)]))

    ram = section(facts, "memory").get("total_bytes")
    zones = section(facts, "fragmentation").get("zones")
    if ram and zones:
        # as fragmented_zones: a zone holding under 1% of RAM free says nothing about fragmentation
        samples = [({"node": zone["node"], "zone": zone["zone"], "order": order}, round(index, 6))
                   for zone in zones if zone.get("free_bytes", 0) >= ram * 0.01
                   for order, index in enumerate(zone.get("unusable_index") or []) if index is not None]
        families.append(family("memops_fragmentation_unusable_index", "gauge",
                               "Share of a zone's free memory in blocks smaller than 2^order pages (0 none, 1 all); "
                               "zones holding at least 1% of RAM free.", samples))

    groups = section(section(facts, "cgroup"), "groups")
    if groups:
        usage, kills, seen = [], [], set()
        for group in [g for name in ("near_limit", "oom_kills", "top_usage") for g in groups.get(name) or []]:
            if group["path"] in seen:
                continue
            seen.add(group["path"])
            labels = {"path": group["path"], "name": group["name"], "kind": group["kind"]}
            if group.get("limit_bytes") and group.get("working_set_bytes") is not None:
                usage.append((labels, round(group["working_set_bytes"] / group["limit_bytes"], 6)))
            if group.get("oom_kill_count"):
                kills.append((labels, group["oom_kill_count"]))
        families.append(family("memops_cgroup_usage_ratio", "gauge",
                               "Working set of a memory cgroup divided by its memory limit (the groups near their "
                               "limit, with OOM kills, or the largest).", usage))
        families.append(family("memops_cgroup_oom_kills_total", "counter",
                               "Processes the OOM killer took in a memory cgroup (the groups with the most).", kills))
    return families
