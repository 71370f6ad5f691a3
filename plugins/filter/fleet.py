# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Queries over the fleet report that are clumsy in jmespath; documented in the .yml file of each filter."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_queries


def _wrap(name, function):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except _report.ReportError as exc:
            raise AnsibleFilterError("memops.linux.%s: %s" % (name, exc))
    run.__name__ = name
    run.__doc__ = function.__doc__
    return run


class FilterModule:
    """memops.linux fleet report filters."""

    def filters(self):
        return {
            "top_processes": _wrap("top_processes", _report_queries.top_processes),
            "hosts_with_finding": _wrap("hosts_with_finding", _report_queries.hosts_with_finding),
            "host_findings": _wrap("host_findings", _report_queries.host_findings),
        }
