# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One host's diagnosis as the lines a person reads at a glance.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Lays out the host entry of the fleet report
(``_report.build_host``), so that the summary, the report and the HTML page
read the facts the same way.
"""

from __future__ import annotations

from ansible_collections.memops.linux.plugins.module_utils import _schema
from ansible_collections.memops.linux.plugins.plugin_utils import _report


class SummaryError(ValueError):
    """The input is not a host's memops facts, or a count is negative."""


def host_summary(facts: dict, findings: int = 5, consumers: int = 5) -> list[str]:
    """memops facts -> lines: the verdict, the free -h lines, the first ``findings`` findings with
    evidence and fix, then the ``consumers`` largest processes by RSS."""
    if not isinstance(facts, dict):
        raise SummaryError("expected the memops facts (ansible_facts.memops) as a dict, got %s"
                           % type(facts).__name__)
    findings, consumers = int(findings), int(consumers)
    if findings < 0 or consumers < 0:
        raise SummaryError("findings and consumers must be 0 or more, got %d and %d" % (findings, consumers))
    host = _report.build_host("", facts, top=consumers)
    if host["status"] == _schema.UNKNOWN:
        return ["UNKNOWN: %s" % host["reason"]]
    counts = host["counts"]
    lines = ["%s: %s finding(s)" % (_report.status_text(host), ", ".join(
        "%d %s" % (counts[severity], severity) for severity in _schema.SEVERITIES_MOST_SEVERE_FIRST))]
    lines.extend("    not seen: " + line for line in host["partial"])
    lines.extend(host["free_h"])
    for finding in host["findings"][:findings]:
        lines.append("[%s] %s (%s)" % (finding["severity"], finding["title"], finding["id"]))
        lines.extend("    " + line for line in finding["evidence"])
        lines.append("    fix: " + _report.remedy_text(finding["remedy"]))
    hidden = len(host["findings"]) - findings
    if hidden > 0:
        lines.append("... and %d more finding(s) in the report" % hidden)
    if consumers and host["top_processes"]:
        lines.append("Top consumers (RSS): " + ", ".join(
            "%s[%s] %s%s" % (row["name"], row["pid"], _report.human_size(row["rss_bytes"]),
                             " (%.1f%%)" % row["mem_pct"] if row.get("mem_pct") is not None else "")
            for row in host["top_processes"]))
    return lines
