# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One host's diagnosis as the lines a person reads at a glance; documented in host_summary.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.memops.linux.plugins.module_utils import _report


def host_summary(facts, findings=5, consumers=5):
    """memops facts -> lines: verdict, the free -h lines, the first findings with evidence and fix, top consumers.

    The host entry of the fleet report (_report.build_host) is the one reading of
    the facts; this only lays it out as text.
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("memops.linux.host_summary: expected the memops facts (ansible_facts.memops) as a dict, "
                                 "got %s" % type(facts).__name__)
    findings, consumers = int(findings), int(consumers)
    if findings < 0 or consumers < 0:
        raise AnsibleFilterError("memops.linux.host_summary: findings and consumers must be 0 or more, got %d and %d"
                                 % (findings, consumers))
    host = _report.build_host("", facts, top=consumers)
    if host["status"] == "unknown":
        return ["UNKNOWN: %s" % host["reason"]]
    counts = host["counts"]
    lines = ["%s: %s" % (host["status"].upper(), ", ".join(
        "%d %s" % (counts[severity], severity) for severity in _report.SEVERITIES) + " finding(s)")]
    lines.extend(host["free_h"])
    for finding in host["findings"][:findings]:
        lines.append("[%s] %s (%s)" % (finding["severity"], finding["title"], finding["id"]))
        lines.extend("    " + line for line in finding["evidence"])
        lines.append("    fix: " + _report._remedy_text(finding["remedy"]))  # pylint: disable=protected-access
    hidden = len(host["findings"]) - findings
    if hidden > 0:
        lines.append("... and %d more finding(s) in the report" % hidden)
    if consumers and host["top_processes"]:
        lines.append("Top consumers (RSS): " + ", ".join(
            "%s[%s] %s%s" % (row["name"], row["pid"], _report.human_size(row["rss_bytes"]),
                             " (%.1f%%)" % row["mem_pct"] if row.get("mem_pct") is not None else "")
            for row in host["top_processes"]))
    return lines


class FilterModule:
    """memops.linux per-host summary filter."""

    def filters(self):
        return {"host_summary": host_summary}
