# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vocabulary of the facts and of the verdict: one owner for every name and order.

Private to this collection: the API may change without notice; the values it
names are public (the facts of ``memops.linux.mem_facts``, the fleet report's
schema, the checker's metrics).

Plain Python, no imports but typing: the rules, the report, the metrics and the notifier
read their orders and key lists from here, so that "critical" outranks
"monitor" in one place only.
"""

from __future__ import annotations

from typing import Iterable

# ---------------------------------------------------------------------------
# health: the one definition of the orders, least severe first

# A finding's severity. "info" is advice: it never raises a host above ok.
SEVERITIES = ("info", "monitor", "critical")
# A host's verdict; a severity and the status it makes share their level.
HEALTH_STATUSES = ("ok", "monitor", "critical")
# A host the report has no verdict for (unreachable, mem_facts failed).
UNKNOWN = "unknown"

SEVERITY_LEVEL = {name: level for level, name in enumerate(SEVERITIES)}
# 0 ok, 1 monitor, 2 critical: also the value of the memops_health_status metric
HEALTH_LEVEL = {name: level for level, name in enumerate(HEALTH_STATUSES)}

# What reports list first: the most severe. A host without a verdict ranks right
# after critical, since an unreachable host is often one whose sshd the OOM killer took.
SEVERITIES_MOST_SEVERE_FIRST = SEVERITIES[::-1]
STATUSES_MOST_SEVERE_FIRST = HEALTH_STATUSES[-1:] + (UNKNOWN,) + HEALTH_STATUSES[-2::-1]
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES_MOST_SEVERE_FIRST)}
STATUS_RANK = {name: rank for rank, name in enumerate(STATUSES_MOST_SEVERE_FIRST)}


def health_status(severities: Iterable[str]) -> str:
    """The verdict of a host whose findings have ``severities``: the status of the
    most severe one, ok without findings."""
    return HEALTH_STATUSES[max((SEVERITY_LEVEL[s] for s in severities), default=0)]


def at_least(status: str, threshold: str) -> bool:
    """Whether health ``status`` is ``threshold`` or worse (both in HEALTH_STATUSES)."""
    return HEALTH_LEVEL[status] >= HEALTH_LEVEL[threshold]


# ---------------------------------------------------------------------------
# the facts

# The keys of a process row in the facts' top lists, in the order they are published.
PROCESS_KEYS = ("pid", "name", "cmdline", "user", "rss_bytes", "pss_bytes", "swap_bytes",
                "oom_score", "oom_score_adj", "mem_pct", "state", "ppid", "starttime")
# What the fleet report keeps of them, in the report schema's order (docs/report.md).
REPORT_PROCESS_KEYS = ("pid", "name", "user", "cmdline", "rss_bytes", "pss_bytes", "swap_bytes", "mem_pct",
                       "oom_score", "oom_score_adj")
# What the fleet report keeps of the memory and swap facts, and of an OOM victim.
REPORT_MEMORY_KEYS = ("total_bytes", "used_bytes", "free_bytes", "shared_bytes", "buff_cache_bytes",
                      "available_bytes", "available_pct", "used_pct")
REPORT_SWAP_KEYS = ("total_bytes", "used_bytes", "free_bytes", "used_pct")
REPORT_VICTIM_KEYS = ("pid", "name", "uid", "rss_bytes", "oom_score_adj")
# The parts of memory.breakdown, in their published order: they sum to MemTotal.
BREAKDOWN_PARTS = ("process_anon", "page_cache", "shmem", "hugetlb", "slab", "kernel_other", "compressed_swap",
                   "unaccounted", "free")
# The kinds of mapping process_detail sums a process's memory by (_smaps), in their published order.
MAPPING_KINDS = ("heap", "stack", "anonymous", "file", "shmem", "other")
# A finding's keys, and its remedy's.
FINDING_KEYS = ("id", "severity", "title", "evidence", "remedy", "data")
REMEDY_KEYS = ("summary", "role", "variable", "value", "module")

# The facts publish the cgroup hierarchy the module's own process belongs to
# under these names (v1 and v2 read as "only cgroup v1" and "only cgroup2");
# inside the collection a hierarchy is named as systemd names it (_cgroups).
CGROUP_HIERARCHY_FACT = {"legacy": "v1", "unified": "v2", "hybrid": "hybrid", "none": "none"}


def section(facts: object, name: str) -> dict:
    """``facts[name]`` when it is a gathered subset (a dict), else an empty dict:
    the rules and reports read subsets that were not gathered as empty."""
    value = facts.get(name) if isinstance(facts, dict) else None
    return value if isinstance(value, dict) else {}


def finding(finding_id: str, severity: str, title: str, evidence: list, remedy: dict, data: dict | None = None) -> dict:
    """A finding as the rules publish it (FINDING_KEYS): a stable id, its severity, a title and the evidence lines
    a person reads, the remedy, and the numbers behind the evidence."""
    return {"id": finding_id, "severity": severity, "title": title, "evidence": evidence, "remedy": remedy,
            "data": data or {}}


def remedy(summary: str, role: str | None = None, variable: str | None = None, value: object = None,
           module: str | None = None) -> dict:
    """A finding's fix (REMEDY_KEYS): what to do, and where this collection applies it, the role and its variable
    with a suggested value, or the module."""
    return {"summary": summary, "role": role, "variable": variable, "value": value, "module": module}
