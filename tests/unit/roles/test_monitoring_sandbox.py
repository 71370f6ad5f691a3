# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""roles/monitoring: the sandbox of memops-check.service (monitoring_sandbox). The unit is rendered
from the role's template for several systemd versions and settings, checked by this host's
systemd-analyze (verify: every directive known; security --offline: the exposure rating), and the
directives newer than a host's systemd are left out. The sandbox at work (the checker reading other
users' processes and delivering) is shown by the monitoring Molecule scenario."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 templates any string
    def trust_as_template(text):
        return text

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

ROLE = os.path.join(COLLECTION, "roles", "monitoring")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
# systemd's src/analyze/analyze-security.c (badness_table) rates an exposure of 5.0 or more MEDIUM
# and 1.0 to 4.9 OK.
OK_AT_MOST = 4.9
EXPOSURE = re.compile(r"Overall exposure level for \S+: ([0-9]+\.[0-9]) ([A-Z]+)")
TARGETS = [{"type": "webhook", "url": "https://hooks.example.com/x"}, {"type": "mail", "to": "ops@example.com"}]


def _load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def render(systemd=252, **overrides):
    """memops-check.service as the role writes it (Ansible templates with trim_blocks)."""
    private = _load("vars", "main.yml")
    values = dict(_load("defaults", "main.yml"), monitoring_notify=TARGETS)
    values.update(overrides)
    values.update({
        "_monitoring_user": private["_monitoring_user"],
        "_monitoring_sandbox_newer": private["_monitoring_sandbox_newer"],
        "_monitoring_systemd_version": systemd,
        "_monitoring_interval_seconds": 300,
        "_monitoring_script": "/usr/local/lib/memops/memops_check.py",
        "_monitoring_config": "/etc/memops/monitoring.json",
        "_monitoring_lib_dir": "/usr/local/lib/memops",
        "_monitoring_state_dir": "/var/lib/memops/check",
    })
    with open(os.path.join(ROLE, "templates", "memops-check.service.j2"), encoding="utf-8") as handle:
        text = handle.read()
    # the template module's settings: trim_blocks, the file's last line ending kept
    templar = Templar(loader=DataLoader(), variables=values)
    return templar.template(trust_as_template(text), preserve_trailing_newlines=True)


def directives(unit):
    """The unit's settings as {name: value}, comments left out."""
    pairs = (line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    return dict(pairs)


def analyze(tmp_path, unit, *args):
    path = tmp_path / "memops-check.service"
    path.write_text(unit)
    return subprocess.run([SYSTEMD_ANALYZE, *args, str(path)], capture_output=True, text=True, timeout=60,
                          check=False)


def exposure(tmp_path, unit):
    proc = analyze(tmp_path, unit, "security", "--offline=true", "--no-pager")
    found = EXPOSURE.search(proc.stdout)
    assert found, proc.stdout + proc.stderr
    return float(found.group(1)), found.group(2)


def test_the_sandbox_keeps_only_what_the_checker_needs():
    unit = directives(render())
    assert unit["User"] == unit["Group"] == "memops-check"
    assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == "CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYSLOG"
    assert unit["NoNewPrivileges"] == unit["PrivateTmp"] == unit["ProtectHome"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["ReadWritePaths"] == "/var/lib/memops/check /var/lib/prometheus/node-exporter"
    assert unit["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert unit["SystemCallFilter"] == "@system-service"
    assert "DynamicUser" not in unit and "PrivateDevices" not in unit  # /dev/kmsg is read


def test_without_the_kernel_log_or_targets_it_keeps_less():
    unit = directives(render(monitoring_kernel_log=False, monitoring_notify=[]))
    assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == "CAP_DAC_READ_SEARCH CAP_SYS_PTRACE"
    assert unit["PrivateDevices"] == unit["ProtectKernelLogs"] == "yes"
    assert unit["RestrictAddressFamilies"] == "AF_UNIX"


@pytest.mark.parametrize("systemd, left_out", [
    (235, {"ProtectHostname", "RestrictSUIDSGID", "ProtectKernelLogs", "ProtectClock"}),
    (239, {"ProtectHostname", "RestrictSUIDSGID", "ProtectKernelLogs", "ProtectClock"}),
    (242, {"ProtectKernelLogs", "ProtectClock"}),
    (244, {"ProtectClock"}),
    (245, set()),
    (257, set()),
])
def test_directives_newer_than_the_hosts_systemd_are_left_out(systemd, left_out):
    unit = directives(render(systemd, monitoring_kernel_log=False))
    newer = set(_load("vars", "main.yml")["_monitoring_sandbox_newer"])
    assert newer - set(unit) == left_out
    assert unit["ProtectSystem"] == "strict" and unit["SystemCallFilter"] == "@system-service"


def test_without_the_sandbox_the_unit_is_the_one_before_it():
    unit = render(monitoring_sandbox=False)
    assert unit.endswith("IOSchedulingClass=idle\nTimeoutStartSec=300\n"), unit
    assert "User=" not in unit and "CapabilityBoundingSet" not in unit


@needs_systemd_analyze
@pytest.mark.parametrize("settings", [{}, {"monitoring_kernel_log": False, "monitoring_notify": []},
                                      {"monitoring_sandbox": False}])
def test_systemd_knows_every_directive(tmp_path, settings):
    proc = analyze(tmp_path, render(**settings), "verify")
    assert proc.returncode == 0 and "memops-check.service" not in proc.stderr, proc.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("systemd, settings", [
    (252, {}),
    (239, {}),  # the oldest systemd the collection supports, without the newer directives
    (252, {"monitoring_kernel_log": False, "monitoring_notify": []}),
])
def test_systemd_analyze_rates_the_sandbox_ok(tmp_path, systemd, settings):
    value, level = exposure(tmp_path, render(systemd, **settings))
    assert value <= OK_AT_MOST and level in ("OK", "SAFE", "PERFECT"), (value, level)


@needs_systemd_analyze
def test_systemd_analyze_rates_the_checker_without_the_sandbox_unsafe(tmp_path):
    value, level = exposure(tmp_path, render(monitoring_sandbox=False))
    assert value >= 9.0 and level in ("UNSAFE", "DANGEROUS"), (value, level)
