# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Questions about a fleet report (the content of report.json): the filter plugins' answers.

Private to this collection: the API may change without notice.

Controller code, plain Python (no Ansible import).
"""

from __future__ import annotations

import fnmatch

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils._report import SCHEMA_VERSION, ReportError

PROCESS_SORT_KEYS = ("rss_bytes", "pss_bytes", "swap_bytes", "mem_pct", "oom_score")


def _hosts_of(fleet):
    if not isinstance(fleet, dict) or not isinstance(fleet.get("hosts"), list):
        raise ReportError("expected a fleet report (the content of report.json, schema_version %d), got %s"
                          % (SCHEMA_VERSION, type(fleet).__name__))
    if fleet.get("schema_version") != SCHEMA_VERSION:
        raise ReportError("fleet report has schema_version %r; this collection reads %d"
                          % (fleet.get("schema_version"), SCHEMA_VERSION))
    return fleet["hosts"]


def top_processes(fleet: dict, key: str = "rss_bytes", n: int = 10) -> list[dict]:
    """The n processes with the largest key across all hosts, each with its ``host``.

    Reads each host's top consumers and top swap users (a process in both counts once).
    """
    if key not in PROCESS_SORT_KEYS:
        raise ReportError("top_processes: key must be one of %s, got %r" % (", ".join(PROCESS_SORT_KEYS), key))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ReportError("top_processes: n must be a whole number, 0 or more, got %r" % (n,))
    rows = []
    for host in _hosts_of(fleet):
        seen = set()
        for proc in (host.get("top_processes") or []) + (host.get("top_swap") or []):
            if proc.get("pid") in seen or not isinstance(proc.get(key), (int, float)):
                continue
            seen.add(proc.get("pid"))
            row = dict(proc)
            row["host"] = host["name"]
            rows.append(row)
    rows.sort(key=lambda r: (-r[key], r["host"], r.get("pid") or 0))
    return rows[:n]


def host_findings(fleet: dict, finding_id: str = "*", severity: str | None = None) -> list[dict]:
    """Findings across the fleet whose id matches finding_id (a name or glob), each with its ``host``."""
    if severity is not None and severity not in _schema.SEVERITIES_MOST_SEVERE_FIRST:
        raise ReportError("severity must be one of %s, got %r" % (", ".join(_schema.SEVERITIES_MOST_SEVERE_FIRST), severity))
    rows = []
    for host in _hosts_of(fleet):
        for finding in host.get("findings") or []:
            if fnmatch.fnmatchcase(finding["id"], finding_id) and severity in (None, finding["severity"]):
                row = dict(finding)
                row["host"] = host["name"]
                rows.append(row)
    return rows


def hosts_with_finding(fleet: dict, finding_id: str, severity: str | None = None) -> list[str]:
    """Names of the hosts with a finding whose id matches finding_id (a name or glob), most severe host first."""
    names = []
    for row in host_findings(fleet, finding_id, severity):
        if not names or names[-1] != row["host"]:
            names.append(row["host"])
    return names
