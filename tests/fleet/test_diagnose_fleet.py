# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/diagnose.yml across five podman containers booting systemd plus localhost.

Four containers run Debian 12, the last one Debian 13 (trixie): every test diagnoses both.

Real runs, nothing mocked: the report names every host (issue acceptance 3),
check mode writes nothing on the managed hosts and diagnose_fail_on fails
exactly the critical hosts (acceptance 4), the report is written even when
every host fails the verdict, and a --limit that leaves localhost out still
writes it and hands its summary to set_stats.

Needs root, podman and the test images (tests/containers/build-image); the
containers are removed at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os

import pytest

from podman_fleet import CHECKOUT, TRIXIE_IMAGE, Fleet, ansible_playbook, podman, podman_usable

PLAYBOOK = os.path.join(CHECKOUT, "playbooks", "diagnose.yml")
# set_stats_artifact writes the run's set_stats data where AWX takes a job's artifacts from
ARTIFACT_CALLBACKS = os.path.join(CHECKOUT, "tests", "callback_plugins")
FLEET_SIZE = 5
# the fleet's last container runs Debian 13
TRIXIE = {FLEET_SIZE: TRIXIE_IMAGE}
REPORT_FILES = ("report.json", "report.md", "report.html")

# OOM kills made by other tests on this machine within the hour would make every
# host that reads the kernel log critical; only the host a test makes critical may be.
NO_RECENT_OOM = {"oom_recent_seconds": 0}
# Unreclaimable slab >= 0% of RAM is always true: a critical finding on any host.
FORCED_CRITICAL = dict(NO_RECENT_OOM, available_pct_low=101, slab_unreclaimable_pct_monitor=0,
                       slab_unreclaimable_pct_critical=0)


@pytest.fixture(scope="module")
def fleet():
    why = podman_usable() or podman_usable(TRIXIE_IMAGE)
    if why:
        pytest.fail("the fleet tests need podman and the test images: %s" % why)
    with Fleet(FLEET_SIZE, prefix="memops-test", images=TRIXIE) as running:
        yield running


def _run(fleet, tmp_path, *args, host_vars=None, group_vars=None, all_vars=None, extra=(), env=None):
    inventory = fleet.write_inventory(str(tmp_path / "inventory.json"), host_vars=host_vars, group_vars=group_vars,
                                      extra=extra,
                                      all_vars=all_vars if all_vars is not None else {"diagnose_thresholds": NO_RECENT_OOM})
    result = ansible_playbook(PLAYBOOK, inventory, *args, cwd=str(tmp_path), env=env)
    print(result.stdout[-20000:])
    print(result.stderr[-5000:])
    return result


def _report(directory):
    with open(os.path.join(directory, "report.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _all_hosts(fleet):
    return set(fleet.names) | {"localhost"}


def test_report_names_every_host(fleet, tmp_path):
    """Acceptance 3: five containers plus localhost, the report in ./memops-report by default."""
    result = _run(fleet, tmp_path, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
    assert result.returncode == 0
    hosts = _all_hosts(fleet)
    assert set(result.recap) == hosts
    assert all(stats["failed"] == 0 and stats["unreachable"] == 0 for stats in result.recap.values()), result.recap
    # a diagnosis changes nothing on the hosts (nor does the fleet report, written on the controller)
    assert all(result.recap[name]["changed"] == 0 for name in fleet.names), result.recap

    report_dir = tmp_path / "memops-report"
    for name in REPORT_FILES:
        text = (report_dir / name).read_text(encoding="utf-8")
        missing = [host for host in hosts if host not in text]
        assert not missing, "%s does not name %s" % (name, missing)
    report = _report(report_dir)
    assert report["summary"]["hosts"] == len(hosts)
    assert {host["name"] for host in report["hosts"]} == hosts
    assert all(host["status"] in ("ok", "monitor", "critical") for host in report["hosts"]), \
        [(host["name"], host["status"], host["reason"]) for host in report["hosts"]]

    for host in hosts:
        with open(report_dir / "hosts" / ("%s.json" % host), encoding="utf-8") as handle:
            per_host = json.load(handle)
        assert per_host["host"] == host
        assert per_host["memops"]["health"]["status"] in ("ok", "monitor", "critical")
        assert per_host["memops"]["memory"]["total_bytes"] > 0
    # the containers were seen as what they are, on Debian 12 and on Debian 13
    releases = {}
    for name in (fleet.names[0], fleet.names[-1]):
        container = json.loads((report_dir / "hosts" / ("%s.json" % name)).read_text(encoding="utf-8"))
        assert container["memops"]["capabilities"]["container"] is True
        assert container["memops"]["capabilities"]["systemd"] is True
        assert container["memops"]["processes"]["top_rss"], name
        os_release = podman("exec", name, "cat", "/etc/os-release").stdout
        releases[name] = dict(line.split("=", 1) for line in os_release.splitlines() if "=" in line)["VERSION_ID"]
    assert releases == {fleet.names[0]: '"12"', fleet.names[-1]: '"13"'}

    # the fleet summary handed to AWX with set_stats is the report's summary
    stats = result.stdout[result.stdout.index("CUSTOM STATS:"):]
    assert "memops_fleet" in stats and '"hosts": %d' % len(hosts) in stats.replace("\n", "")
    assert "memops_report_files" in stats and str(report_dir / "report.html") in stats

    # each host's summary: the verdict, the free -h lines, the top consumers
    assert result.stdout.count('"Mem:') == len(hosts)
    assert result.stdout.count('"Top consumers (RSS): ') == len(hosts)


def test_check_mode_writes_nothing_on_managed_hosts(fleet, tmp_path):
    """Acceptance 4: --check leaves every file of the containers as it was; the report is still written.

    Like every Ansible module, mem_facts logs its invocation to the target's
    journal unless ansible_no_target_syslog is set; that line is Ansible's, not
    the role's, and is switched off here so that no byte may change.
    """
    before = {name: fleet.snapshot(name) for name in fleet.names}
    assert all(len(lines) > 500 for lines in before.values())
    report_dir = tmp_path / "check-report"
    result = _run(fleet, tmp_path, "--check", "--diff", "-e", "diagnose_report_dir=%s" % report_dir,
                  group_vars={"ansible_no_target_syslog": True})
    after = {name: fleet.snapshot(name) for name in fleet.names}

    assert result.returncode == 0
    assert all(stats["failed"] == 0 for stats in result.recap.values()), result.recap
    assert all(result.recap[name]["changed"] == 0 for name in fleet.names), result.recap
    for name in fleet.names:
        added = sorted(set(after[name]) - set(before[name]))
        removed = sorted(set(before[name]) - set(after[name]))
        assert not added and not removed, "check mode changed %s:\n+ %s\n- %s" % (
            name, "\n+ ".join(added[:20]), "\n- ".join(removed[:20]))
    # the report lives on the controller and is written in check mode too (documented)
    assert {host["name"] for host in _report(report_dir)["hosts"]} == _all_hosts(fleet)


def test_fail_on_critical_fails_exactly_the_critical_hosts(fleet, tmp_path):
    """Acceptance 4: one container made critical by per-host thresholds fails; the others stay ok."""
    critical_host = fleet.names[1]
    result = _run(fleet, tmp_path, "-e", "diagnose_fail_on=critical",
                  host_vars={critical_host: {"diagnose_thresholds": FORCED_CRITICAL}})
    report = _report(tmp_path / "memops-report")
    status = {host["name"]: host["status"] for host in report["hosts"]}
    critical = {name for name, value in status.items() if value == "critical"}
    failed = {host for host, stats in result.recap.items() if stats["failed"]}

    assert result.returncode == 2, "ansible-playbook exits 2 when hosts failed"
    assert critical == {critical_host}, status
    assert failed == critical, result.recap
    assert set(result.recap) == _all_hosts(fleet)
    assert all(result.recap[host]["unreachable"] == 0 for host in result.recap)
    # the failure message lists the findings that made the host critical, with their fix
    message = next(line for line in result.stdout.splitlines() if line.startswith("fatal: [%s]" % critical_host))
    assert "is critical (diagnose_fail_on: critical)" in message
    assert "slab.unreclaimable_high" in message and "fix:" in message


def test_report_is_written_when_every_host_fails(fleet, tmp_path):
    """The verdict runs after the report: a fleet where every host fails still gets its report."""
    result = _run(fleet, tmp_path, "-e", "diagnose_fail_on=critical",
                  all_vars={"diagnose_thresholds": FORCED_CRITICAL})
    hosts = _all_hosts(fleet)
    assert result.returncode == 2
    assert {host for host, stats in result.recap.items() if stats["failed"]} == hosts
    report = _report(tmp_path / "memops-report")
    assert report["summary"]["status_counts"]["critical"] == len(hosts)
    assert {host["name"] for host in report["hosts"]} == hosts


def test_fail_on_none_fails_no_host(fleet, tmp_path):
    """diagnose_fail_on: none (the default) fails no host, critical or not."""
    result = _run(fleet, tmp_path, all_vars={"diagnose_thresholds": FORCED_CRITICAL})
    assert result.returncode == 0
    assert not any(stats["failed"] for stats in result.recap.values()), result.recap
    assert _report(tmp_path / "memops-report")["summary"]["status"] == "critical"


def test_an_unreachable_host_is_in_the_report_and_fails_the_verdict(fleet, tmp_path):
    """A host that cannot be reached is named in the report with the reason, and only it fails."""
    gone = fleet.run_id + "-gone"
    result = _run(fleet, tmp_path, extra=[gone])
    report = {host["name"]: host for host in _report(tmp_path / "memops-report")["hosts"]}
    assert set(report) == _all_hosts(fleet) | {gone}
    assert report[gone]["status"] == "unknown"
    assert report[gone]["reason"].startswith("unreachable"), report[gone]["reason"]
    assert result.returncode == 2
    assert {host for host, stats in result.recap.items() if stats["failed"]} == {gone}, result.recap
    assert "%s could not be diagnosed: " % gone in result.stdout


def test_limit_and_diagnose_hosts_narrow_the_report(fleet, tmp_path):
    """--limit and the diagnose_hosts pattern both decide which hosts are diagnosed and reported."""
    result = _run(fleet, tmp_path, "--limit", "%s,localhost" % fleet.names[0])
    assert result.returncode == 0
    assert {host["name"] for host in _report(tmp_path / "memops-report")["hosts"]} == {fleet.names[0], "localhost"}
    result = _run(fleet, tmp_path, "-e", "diagnose_hosts=containers", "-e", "diagnose_report_dir=only-containers")
    assert result.returncode == 0
    assert {host["name"] for host in _report(tmp_path / "only-containers")["hosts"]} == set(fleet.names)
    assert sorted(os.listdir(tmp_path / "only-containers" / "hosts")) == sorted(name + ".json" for name in fleet.names)


@pytest.mark.parametrize("limit", ["group", "one host"])
def test_a_limit_that_leaves_localhost_out_still_writes_the_report(fleet, tmp_path, limit):
    """Acceptance 1 of the AWX issue: --limit (AWX's Limit field) naming the containers' group, or one
    container, leaves localhost out; the fleet report and the set_stats artifact are still there."""
    pattern, hosts = ("containers", set(fleet.names)) if limit == "group" else (fleet.names[2], {fleet.names[2]})
    artifact = tmp_path / "artifact.json"
    result = _run(fleet, tmp_path, "--limit", pattern,
                  env={"ANSIBLE_CALLBACK_PLUGINS": ARTIFACT_CALLBACKS, "ANSIBLE_CALLBACKS_ENABLED": "set_stats_artifact",
                       "MEMOPS_ARTIFACT_FILE": str(artifact)})
    assert result.returncode == 0
    assert set(result.recap) == hosts
    assert all(stats["failed"] == 0 and stats["changed"] == 0 for stats in result.recap.values()), result.recap

    report_dir = tmp_path / "memops-report"
    assert sorted(os.listdir(report_dir)) == ["hosts", "report.html", "report.json", "report.md"]
    assert sorted(os.listdir(report_dir / "hosts")) == sorted(name + ".json" for name in hosts)
    report = _report(report_dir)
    assert {host["name"] for host in report["hosts"]} == hosts
    assert all(host["status"] in ("ok", "monitor", "critical") for host in report["hosts"]), \
        [(host["name"], host["status"], host["reason"]) for host in report["hosts"]]
    for name in ("report.md", "report.html"):
        text = (report_dir / name).read_text(encoding="utf-8")
        assert all(host in text for host in hosts), name

    with open(artifact, encoding="utf-8") as handle:
        data = json.load(handle)["artifact_data"]
    assert data["memops_fleet"] == report["summary"]
    assert data["memops_fleet"]["hosts"] == len(hosts)
    assert data["memops_report_files"] == {"json": str(report_dir / "report.json"),
                                           "markdown": str(report_dir / "report.md"),
                                           "html": str(report_dir / "report.html")}
