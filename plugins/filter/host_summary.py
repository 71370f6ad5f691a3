# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One host's diagnosis as the lines a person reads at a glance; documented in host_summary.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.memops.linux.plugins.plugin_utils import _gather
from ansible_collections.memops.linux.plugins.plugin_utils import _summary


def host_summary(facts, findings=5, consumers=5):
    """memops facts -> the summary lines of the diagnose role."""
    try:
        # a summary (the diagnose role's default) names the file with the full facts
        return _summary.host_summary(_gather.full_facts(facts), findings, consumers)
    except (_summary.SummaryError, _gather.GatherError) as exc:
        raise AnsibleFilterError("memops.linux.host_summary: %s" % exc)


class FilterModule:
    """memops.linux per-host summary filter."""

    def filters(self):
        return {"host_summary": host_summary}
