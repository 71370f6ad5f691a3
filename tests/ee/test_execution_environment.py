# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""diagnose.yml inside the execution environment of execution-environment.yml, run the way AWX runs
a job outside Kubernetes: ansible-runner with process isolation in podman, a private data
directory laid out as AWX lays it out (project, inventory, extra vars, the machine credential's
SSH key in env/ssh_key, which ansible-runner hands to ssh-agent inside the container), and AWX's
container options. The hosts: localhost, which is the execution environment's container itself,
and two podman containers booting systemd with an OpenSSH server, reached over SSH from inside it.
And once with ansible-navigator (--eei, --mode stdout), as a developer runs it.

Nothing is mocked. Needs root, podman, ssh-keygen, the images (scripts/build-ee builds the
execution environment, or MEMOPS_EE_IMAGE names it; tests/containers/build-image the SSH hosts),
ansible-runner and ansible-navigator; the containers are removed at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import ansible_runner
import pytest

from podman_fleet import CHECKOUT, CONTAINERS_CONF, Fleet, podman, podman_usable

# ansible-runner starts podman itself: it must see the project's podman settings
os.environ.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)

SSH_IMAGE = "localhost/memops/debian-ssh:12"
SSH_CONTAINERFILE = os.path.join(CHECKOUT, "tests", "containers", "ssh-host.Containerfile")
REPORT_FILES = ("report.json", "report.md", "report.html")
# What AWX passes to ansible-runner for a job in an execution environment on podman (its
# build_execution_environment_params and DEFAULT_CONTAINER_RUN_OPTIONS): root inside the
# container, which rootless podman maps to the AWX user, and the slirp4netns network.
AWX_CONTAINER_OPTIONS = ["--user=root", "--network", "slirp4netns:enable_ipv6=true"]
NAVIGATOR = os.path.join(os.path.dirname(sys.executable), "ansible-navigator")
# AWX runs a job template's playbook from its project; this one is the collection's, from the image.
PROJECT_PLAYBOOK = """---
- name: Diagnose memory with the collection in the execution environment
  ansible.builtin.import_playbook: memops.linux.diagnose
"""
# the first test may build the execution environment (scripts/build-ee): minutes on a clean machine
pytestmark = pytest.mark.timeout(900)
# OOM kills made by other tests on this machine would make hosts that read the kernel log critical.
EXTRA_VARS = {"diagnose_thresholds": {"oom_recent_seconds": 0}}


def _build(command, what):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200, check=False)
    if result.returncode != 0:
        pytest.fail("%s failed (exit %d):\n%s\n%s"
                    % (what, result.returncode, result.stdout[-3000:], result.stderr[-6000:]))
    return result.stdout


@pytest.fixture(scope="module")
def ee_image():
    """The execution environment: MEMOPS_EE_IMAGE, else what scripts/build-ee builds (or reuses)."""
    image = os.environ.get("MEMOPS_EE_IMAGE")
    if not image:
        image = _build([os.path.join(CHECKOUT, "scripts", "build-ee")], "scripts/build-ee").strip().splitlines()[-1]
    why = podman_usable(image)
    if why:
        pytest.fail("the execution environment tests need podman and the image: %s" % why)
    return image


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "memops-ee-test", "-f", str(path)],
                   check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def ssh_hosts(ssh_key):
    """Two containers booting systemd, whose sshd lets the test key in as root; {name: address}."""
    _build([os.path.join(CHECKOUT, "tests", "containers", "build-image"), "bookworm", SSH_IMAGE, SSH_CONTAINERFILE],
           "tests/containers/build-image %s" % SSH_IMAGE)
    public_key = ssh_key.with_suffix(".pub").read_text(encoding="utf-8").strip()
    with Fleet(2, prefix="memops-ee", image=SSH_IMAGE) as fleet:
        addresses = {}
        for name in fleet.names:
            podman("exec", name, "sh", "-c", 'umask 077 && mkdir -p /root/.ssh && printf "%s\\n" "$1" '
                   '> /root/.ssh/authorized_keys && systemctl is-active ssh', "sh", public_key)
            addresses[name] = podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()
        yield addresses


def _private_data_dir(path, ssh_hosts, ssh_key, extra_vars):
    """A private data directory as AWX writes it for a job."""
    for name in ("project", "inventory", "env"):
        (path / name).mkdir(parents=True)
    (path / "project" / "diagnose.yml").write_text(PROJECT_PLAYBOOK, encoding="utf-8")
    inventory = {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}},
        "children": {"ssh_hosts": {
            "hosts": {name: {"ansible_host": address} for name, address in ssh_hosts.items()},
            "vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3"}}}}}
    (path / "inventory" / "hosts.json").write_text(json.dumps(inventory), encoding="utf-8")
    (path / "env" / "extravars").write_text(json.dumps(extra_vars), encoding="utf-8")
    # AWX does not check host keys unless told to
    (path / "env" / "envvars").write_text(json.dumps({"ANSIBLE_HOST_KEY_CHECKING": "False"}), encoding="utf-8")
    (path / "env" / "ssh_key").write_text(ssh_key.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _run(image, data_dir, limit=None, volume_mounts=None):
    """ansible-runner with process isolation; returns (runner, the execution environment's container id)."""
    cidfile = data_dir.parent / (data_dir.name + ".cid")
    runner = ansible_runner.run(
        private_data_dir=str(data_dir), playbook="diagnose.yml", limit=limit, quiet=True, timeout=600,
        process_isolation=True, process_isolation_executable="podman", container_image=image,
        container_options=AWX_CONTAINER_OPTIONS + ["--cidfile", str(cidfile)],
        container_volume_mounts=volume_mounts or [])
    print(runner.stdout.read()[-20000:])
    return runner, cidfile.read_text(encoding="utf-8").strip()


def _facts(report_dir, host):
    with open(report_dir / "hosts" / ("%s.json" % host), encoding="utf-8") as handle:
        return json.load(handle)["memops"]


def _fleet_summary(runner):
    """The set_stats data AWX keeps as the job's artifacts (the playbook_on_stats event's artifact_data)."""
    stats = [event for event in runner.events if event["event"] == "playbook_on_stats"]
    assert len(stats) == 1
    return stats[0]["event_data"]["artifact_data"]


def test_image_holds_ansible_runner_and_the_collection(ee_image):
    """What AWX needs in an execution environment, the collection at galaxy.yml's version, its
    Python dependency, and a pip that uses the package index again (the build was offline)."""
    with open(os.path.join(CHECKOUT, "galaxy.yml"), encoding="utf-8") as handle:
        version = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("version:"))

    def run(*command):
        return podman("run", "--rm", ee_image, *command).stdout.strip()

    installed = json.loads(run("ansible-galaxy", "collection", "list", "memops.linux", "--format", "json"))
    assert installed == {"/usr/share/ansible/collections/ansible_collections": {"memops.linux": {"version": version}}}
    assert run("ansible-runner", "--version").split(".")[0] == "2"
    assert run("python3", "-c", "import jmespath; print(jmespath.search('a.b', {'a': {'b': 7}}))") == "7"
    pip_config = run("python3", "-m", "pip", "config", "list")
    assert "no-index" not in pip_config and "find-links" not in pip_config, pip_config
    # not root unless the job asks for it (AWX does, with --user=root)
    assert run("id", "-u") == "1000"


def test_diagnose_in_the_execution_environment(ee_image, ssh_hosts, ssh_key, tmp_path):
    """localhost (the execution environment itself) and two SSH hosts diagnosed; the report in the
    project directory (the default ./memops-report) of the private data directory; the fleet summary
    in the job's artifacts."""
    data_dir = _private_data_dir(tmp_path / "job", ssh_hosts, ssh_key, EXTRA_VARS)
    runner, ee_container = _run(ee_image, data_dir)
    assert (runner.status, runner.rc) == ("successful", 0)
    hosts = set(ssh_hosts) | {"localhost"}
    assert set(runner.stats["ok"]) == hosts
    assert not runner.stats["failures"] and not runner.stats["dark"], runner.stats

    report_dir = data_dir / "project" / "memops-report"
    for name in REPORT_FILES:
        text = (report_dir / name).read_text(encoding="utf-8")
        assert all(host in text for host in hosts), "%s does not name every host" % name
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert {host["name"] for host in report["hosts"]} == hosts
    assert all(host["status"] in ("ok", "monitor", "critical") for host in report["hosts"]), report["hosts"]

    # each host's facts come from where they should: its own container's memory cgroup
    for name in ssh_hosts:
        facts = _facts(report_dir, name)
        container_id = podman("inspect", "--format", "{{.Id}}", name).stdout.strip()
        assert facts["cgroup"]["memory_path"].endswith("libpod-" + container_id), facts["cgroup"]
        assert facts["capabilities"]["systemd"] is True
    local = _facts(report_dir, "localhost")
    assert local["cgroup"]["memory_path"].endswith("libpod-" + ee_container), local["cgroup"]
    assert local["capabilities"]["container_type"] == "podman" and local["capabilities"]["systemd"] is False

    artifacts = _fleet_summary(runner)
    assert artifacts["memops_fleet"]["hosts"] == len(hosts)
    assert artifacts["memops_fleet"]["status_counts"] == report["summary"]["status_counts"]
    assert artifacts["memops_report_files"]["json"] == "/runner/project/memops-report/report.json"


def test_limit_and_report_in_a_mounted_directory(ee_image, ssh_hosts, ssh_key, tmp_path):
    """The AWX Limit field leaving localhost out, and the report written to a directory mounted into
    the job (AWX: paths exposed to isolated jobs), which outlives the private data directory."""
    reports = tmp_path / "reports"
    reports.mkdir()
    extra_vars = dict(EXTRA_VARS, diagnose_report_dir="/srv/memops-reports/nightly")
    data_dir = _private_data_dir(tmp_path / "job", ssh_hosts, ssh_key, extra_vars)
    runner = _run(ee_image, data_dir, limit="ssh_hosts", volume_mounts=["%s:/srv/memops-reports:Z" % reports])[0]
    assert (runner.status, runner.rc) == ("successful", 0)
    assert set(runner.stats["ok"]) == set(ssh_hosts)

    report = json.loads((reports / "nightly" / "report.json").read_text(encoding="utf-8"))
    assert {host["name"] for host in report["hosts"]} == set(ssh_hosts)
    assert all((reports / "nightly" / name).stat().st_size > 0 for name in REPORT_FILES)
    assert not (data_dir / "project" / "memops-report").exists()
    assert _fleet_summary(runner)["memops_fleet"]["hosts"] == len(ssh_hosts)


@pytest.fixture
def mqueue_dir():
    """ansible-navigator refuses podman without /dev/mqueue (POSIX message queues, which it shares with
    the container); made for the test where the machine has none, and removed after it."""
    made = not os.path.isdir("/dev/mqueue")
    if made:
        os.mkdir("/dev/mqueue")
    try:
        yield
    finally:
        if made:
            os.rmdir("/dev/mqueue")


def test_ansible_navigator_runs_diagnose_in_the_execution_environment(ee_image, mqueue_dir, tmp_path):
    """ansible-navigator run with --eei and --mode stdout: the report in ./memops-report of the
    playbook's directory, which navigator mounts into the container; localhost is the container."""
    (tmp_path / "diagnose.yml").write_text(PROJECT_PLAYBOOK, encoding="utf-8")
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": "/usr/bin/python3"}}}}
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory), encoding="utf-8")
    result = subprocess.run([NAVIGATOR, "run", "diagnose.yml", "-i", "inventory.yml", "--mode", "stdout",
                             "--eei", ee_image, "--pull-policy", "never", "--ce", "podman",
                             "--pae", "false", "--lf", str(tmp_path / "navigator.log"),
                             "-e", json.dumps(EXTRA_VARS)],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    print(result.stdout[-10000:], result.stderr[-5000:])
    assert result.returncode == 0
    report = json.loads((tmp_path / "memops-report" / "report.json").read_text(encoding="utf-8"))
    assert [host["name"] for host in report["hosts"]] == ["localhost"]
    assert all((tmp_path / "memops-report" / name).stat().st_size > 0 for name in REPORT_FILES)
    local = _facts(tmp_path / "memops-report", "localhost")
    assert local["capabilities"]["container_type"] == "podman" and local["capabilities"]["systemd"] is False
    assert "/libpod-" in local["cgroup"]["memory_path"], local["cgroup"]
