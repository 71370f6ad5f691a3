# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet filters: through the plugin, and in a real template."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.memops.linux.plugins.filter.fleet import FilterModule
from ansible_collections.memops.linux.plugins.plugin_utils import _report
from ansible_collections.memops.linux.plugins.plugin_utils import _report_queries
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT, ansible_playbook

NOW = datetime.datetime(2026, 11, 26, 13, 40, 2, tzinfo=datetime.timezone.utc)
FILTERS = FilterModule().filters()
DOCS = os.path.join(os.path.dirname(_report.__file__), os.pardir, "filter")


@pytest.fixture(scope="module")
def fleet():
    return json.loads(_report.render_json(_report.build_fleet(fleet_synthetic.fleet_facts(26, seed=5), now=NOW)))


def test_every_filter_has_its_documentation():
    for name in FILTERS:
        assert os.path.exists(os.path.join(DOCS, name + ".yml")), name


def test_top_processes_attaches_the_host(fleet):
    rows = FILTERS["top_processes"](fleet, key="swap_bytes", n=10)
    assert len(rows) == 10
    assert all(r["host"] and r["swap_bytes"] > 0 for r in rows)
    assert rows == sorted(rows, key=lambda r: -r["swap_bytes"])


def test_top_processes_defaults_to_rss(fleet):
    rows = FILTERS["top_processes"](fleet)
    assert len(rows) == 10
    assert rows[0]["rss_bytes"] == max(p["rss_bytes"] for h in fleet["hosts"] for p in h["top_processes"])


def test_hosts_with_finding(fleet):
    assert FILTERS["hosts_with_finding"](fleet, "swap.exhausted") == \
        fleet["summary"]["findings"]["swap.exhausted"]["hosts"]
    assert FILTERS["hosts_with_finding"](fleet, "swap.*", "monitor")
    assert FILTERS["hosts_with_finding"](fleet, "nothing.like.this") == []


def test_host_findings(fleet):
    rows = FILTERS["host_findings"](fleet, severity="critical")
    assert rows and all(r["severity"] == "critical" and r["host"] for r in rows)
    assert len(FILTERS["host_findings"](fleet)) == sum(len(h["findings"]) for h in fleet["hosts"])


@pytest.mark.parametrize("name, args", [
    ("top_processes", ({"hosts": "x"},)),
    ("top_processes", (None, "cmdline")),
    ("hosts_with_finding", ({"schema_version": 99, "hosts": []}, "x")),
    ("host_findings", (None, "*", "urgent")),
])
def test_errors_are_filter_errors(fleet, name, args):
    args = tuple(fleet if a is None else a for a in args)
    with pytest.raises(AnsibleFilterError, match="memops.linux.%s: " % name):
        FILTERS[name](*args)


@pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed")
def test_filters_in_a_template(tmp_path, fleet):
    """The documented usage, rendered by Ansible itself from report.json."""
    (tmp_path / "report.json").write_text(json.dumps(fleet))
    (tmp_path / "playbook.yml").write_text("""
- name: Query the report
  hosts: localhost
  gather_facts: false
  vars:
    fleet: "{{ lookup('ansible.builtin.file', report) | from_json }}"
  tasks:
    - name: Write the answers
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0644"
        content: "{{ {'swap': fleet | memops.linux.top_processes('swap_bytes', 3) | map(attribute='host') | list,
                      'exhausted': fleet | memops.linux.hosts_with_finding('swap.exhausted'),
                      'critical': fleet | memops.linux.host_findings(severity='critical') | map(attribute='id') | list}
                     | to_json }}"
""")
    proc = subprocess.run(
        [ansible_playbook(), "-i", "localhost,", "-c", "local", str(tmp_path / "playbook.yml"),
         "-e", json.dumps({"report": str(tmp_path / "report.json"), "out": str(tmp_path / "out.json"),
                           "ansible_python_interpreter": sys.executable})],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp")),
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answers = json.loads((tmp_path / "out.json").read_text())
    assert answers["swap"] == [r["host"] for r in _report_queries.top_processes(fleet, "swap_bytes", 3)]
    assert answers["exhausted"] == _report_queries.hosts_with_finding(fleet, "swap.exhausted")
    assert answers["critical"] == [f["id"] for f in _report_queries.host_findings(fleet, severity="critical")]
