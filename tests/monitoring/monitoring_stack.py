# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A monitoring stack of Debian's packages run as plain processes for tests/monitoring: node_exporter
(its default collectors and the textfile collector), Prometheus scraping it and evaluating the role's
alert rules, Alertmanager routing to a webhook receiver of this process that records every POST with
the time it came in; the checker run against this host; a real OOM kill in a memory cgroup.

Every server listens on a loopback port chosen free at start, keeps its configuration and data in a
temporary directory, and is stopped by ``Stack.close`` (call it from ``finally``); ``oom_kill`` removes
its cgroup, also when it fails. Needs root (the cgroup) and the Debian packages prometheus,
prometheus-node-exporter and prometheus-alertmanager (scripts/test installs them).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the directory holding ansible_collections/memops/linux (tests/conftest.py puts it on sys.path)
CHECKER = os.path.join(CHECKOUT, "roles", "monitoring", "files", "memops_check.py")
OOM_SCRIPT = os.path.join(CHECKOUT, "tests", "integration", "targets", "mem_facts", "files", "oom_in_cgroup.sh")
BINARIES = {
    "node_exporter": "/usr/bin/prometheus-node-exporter",
    "prometheus": "/usr/bin/prometheus",
    "alertmanager": "/usr/bin/prometheus-alertmanager",
}
PACKAGES = {"node_exporter": "prometheus-node-exporter", "prometheus": "prometheus",
            "alertmanager": "prometheus-alertmanager"}


class StackError(RuntimeError):
    """A server did not come up, or what was waited for did not happen in time."""


def missing():
    """Why the stack cannot run here, or None."""
    absent = sorted(PACKAGES[name] for name, path in BINARIES.items() if not os.access(path, os.X_OK))
    if absent:
        return "the Debian packages %s are not installed (scripts/test installs them)" % ", ".join(absent)
    if os.geteuid() != 0:
        return "a memory cgroup for the OOM kill needs root"
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec: a loopback address of this test
        return response.read().decode("utf-8")


def wait_for(what, probe, timeout, interval=0.2):
    """Call ``probe`` until it returns something true; return that. StackError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise StackError("%s: not within %d s%s" % (what, timeout, " (last error: %s)" % last_error if last_error else ""))
        time.sleep(interval)


class Receiver:
    """A webhook receiver on a loopback port: every POST is kept as (time received, decoded JSON body)."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        received = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                with received.lock:
                    received.posts.append((now, json.loads(body.decode("utf-8"))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/alerts" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, name, since=0.0, status="firing"):
        """(time received, alert) of every alert ``name`` in ``status`` (firing or resolved) that Alertmanager
        posted at or after ``since``."""
        with self.lock:
            posts = list(self.posts)
        return [(when, alert) for when, body in posts if when >= since for alert in body.get("alerts", [])
                if alert.get("status") == status and alert.get("labels", {}).get("alertname") == name]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Stack:
    """node_exporter, Prometheus and Alertmanager as child processes, and the webhook receiver.

    ``rules`` is the text of the alert rules; ``interval`` the scrape and evaluation interval in seconds;
    ``group_wait`` Alertmanager's group_wait and group_interval."""

    def __init__(self, directory, rules, interval=1, group_wait=1):
        self.directory = str(directory)
        self.interval = interval
        self.group_wait = group_wait
        self.procs = {}
        self.logs = {}
        self.receiver = None
        self.textfile_dir = os.path.join(self.directory, "textfile")
        os.makedirs(self.textfile_dir)
        self.rules_file = self._write("rules.yml", rules)
        self.ports = {name: free_port() for name in BINARIES}
        self.urls = {name: "http://127.0.0.1:%d" % port for name, port in self.ports.items()}

    def _write(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def _start(self, name, args):
        log = open(os.path.join(self.directory, name + ".log"), "wb")  # pylint: disable=consider-using-with
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(  # pylint: disable=consider-using-with
            [BINARIES[name]] + args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.directory, start_new_session=True)

    def log_tail(self, name, size=3000):
        try:
            with open(os.path.join(self.directory, name + ".log"), encoding="utf-8", errors="replace") as handle:
                return handle.read()[-size:]
        except OSError:
            return ""

    def _ready(self, name, path):
        def probe():
            if self.procs[name].poll() is not None:
                raise StackError("%s exited with %s:\n%s" % (name, self.procs[name].returncode, self.log_tail(name)))
            return http_get(self.urls[name] + path) is not None
        wait_for("%s answering on %s" % (name, self.urls[name]), probe, timeout=60)

    def start(self):
        self.receiver = Receiver()
        self._start("node_exporter", [
            "--web.listen-address=127.0.0.1:%d" % self.ports["node_exporter"],
            "--collector.textfile.directory=%s" % self.textfile_dir])
        alertmanager_config = self._write("alertmanager.yml", yaml.safe_dump({
            "route": {"receiver": "webhook", "group_by": ["alertname"], "group_wait": "%ds" % self.group_wait,
                      "group_interval": "%ds" % self.group_wait, "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [{"url": self.receiver.url, "send_resolved": True}]}],
        }))
        self._start("alertmanager", [
            "--config.file=%s" % alertmanager_config, "--storage.path=%s" % os.path.join(self.directory, "alertmanager"),
            "--web.listen-address=127.0.0.1:%d" % self.ports["alertmanager"],
            "--cluster.listen-address="])  # no gossip port: a single instance
        every = "%ds" % self.interval
        prometheus_config = self._write("prometheus.yml", yaml.safe_dump({
            "global": {"scrape_interval": every, "scrape_timeout": every, "evaluation_interval": every},
            "rule_files": [self.rules_file],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % self.ports["alertmanager"]]}]}]},
            "scrape_configs": [{"job_name": "node",
                                "static_configs": [{"targets": ["127.0.0.1:%d" % self.ports["node_exporter"]]}]}],
        }))
        self._start("prometheus", [
            "--config.file=%s" % prometheus_config, "--storage.tsdb.path=%s" % os.path.join(self.directory, "tsdb"),
            "--web.listen-address=127.0.0.1:%d" % self.ports["prometheus"]])
        self._ready("node_exporter", "/metrics")
        self._ready("alertmanager", "/-/ready")
        self._ready("prometheus", "/-/ready")
        wait_for("Prometheus sending to Alertmanager",
                 lambda: self.api("alertmanagers")["activeAlertmanagers"], timeout=60)
        return self

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.logs[name].close()
        if self.receiver is not None:
            self.receiver.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ Prometheus' HTTP API

    def api(self, path, **params):
        url = "%s/api/v1/%s" % (self.urls["prometheus"], path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        answer = json.loads(http_get(url))
        if answer.get("status") != "success":
            raise StackError("Prometheus %s: %s" % (path, answer))
        return answer["data"]

    def query(self, expr):
        """The instant vector of ``expr``: {frozenset of labels: value}."""
        return {frozenset(item["metric"].items()): float(item["value"][1])
                for item in self.api("query", query=expr)["result"]}

    def value(self, expr):
        """The single value of ``expr``, or None when it has no series."""
        values = list(self.query(expr).values())
        if len(values) > 1:
            raise StackError("%s has %d series, expected one" % (expr, len(values)))
        return values[0] if values else None

    def active_alerts(self, name):
        """Prometheus' pending and firing alerts ``name``."""
        return [alert for alert in self.api("alerts")["alerts"] if alert["labels"].get("alertname") == name]

    def rules_loaded(self):
        return sorted(rule["name"] for group in self.api("rules")["groups"] for rule in group["rules"])


def run_checker(directory, textfile_dir, extra_config=None, args=(), lib=None):
    """One run of the role's checker against this host, writing memops.prom into ``textfile_dir``, its state
    in ``directory``; ``args`` are more command line arguments. Returns its stderr."""
    from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTIONS_ROOT  # pylint: disable=import-outside-toplevel
    config = {"textfile_dir": str(textfile_dir), "state_file": os.path.join(str(directory), "checker-state.json"),
              "top": 5, "notify": []}
    config.update(extra_config or {})
    path = os.path.join(str(directory), "checker.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    proc = subprocess.run([sys.executable, CHECKER, "--config", path, "--lib", lib or COLLECTIONS_ROOT] + list(args),
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise StackError("the checker exited %d: %s" % (proc.returncode, proc.stderr))
    return proc.stderr


GROWER = r"""
import sys
with open("/proc/self/comm", "w") as handle:
    handle.write(sys.argv[1])
chunks = [b"\x5a" * int(sys.argv[2])]
print("ready", flush=True)
for line in sys.stdin:
    chunks.append(b"\x5a" * int(line))  # written, so resident
    print("grown", flush=True)
"""


class Grower:
    """A real process named ``name`` that holds ``start`` bytes and grows by what ``grow`` asks, each byte
    written so that its RSS grows. ``close`` kills it."""

    def __init__(self, name, start):
        self.name = name
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-c", GROWER, name, str(start)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, start_new_session=True)
        self.pid = self.proc.pid
        self._answer("ready")

    def _answer(self, word):
        line = self.proc.stdout.readline().strip()
        if line != word:
            raise StackError("the growing process answered %r, expected %r (exit status %s)" % (line, word, self.proc.poll()))

    def grow(self, size):
        self.proc.stdin.write("%d\n" % size)
        self.proc.stdin.flush()
        self._answer("grown")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def _memory_cgroup(name):
    """Where oom_in_cgroup.sh makes the group ``name``: under the v1 memory hierarchy when there is one."""
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return os.path.join("/sys/fs/cgroup/memory", name)
    return os.path.join("/sys/fs/cgroup", name)


def _remove_cgroup(path):
    """Kill what is left in the cgroup ``path`` and remove it; nothing when it is gone."""
    for _attempt in range(50):
        if not os.path.isdir(path):
            return
        try:
            with open(os.path.join(path, "cgroup.procs"), encoding="ascii") as handle:
                pids = [int(line) for line in handle if line.strip()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.1)
    raise StackError("could not remove the cgroup %s" % path)


def oom_kill(limit="50M"):
    """One real OOM kill in a memory cgroup of its own (tests/integration/targets/mem_facts/files/oom_in_cgroup.sh).

    Returns (the victim's pid, the time.time() when its parent saw it die). The cgroup is removed, also
    when this fails."""
    name = "memops-e2e-%d" % os.getpid()
    group = _memory_cgroup(name)
    proc = subprocess.Popen(["bash", OOM_SCRIPT, name, limit],  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    victim = died = None
    try:
        for line in proc.stdout:
            # the script prints rc= as soon as the victim's subshell has been reaped
            if line.startswith("rc="):
                died = time.time()
                if line.strip() != "rc=137":
                    raise StackError("the process in %s was not killed by the OOM killer: %s" % (group, line.strip()))
            elif line.startswith("victim="):
                victim = int(line.split("=", 1)[1])
        proc.wait(timeout=60)
        if died is None:
            raise StackError("oom_in_cgroup.sh exited %s without a victim: %s" % (proc.returncode, proc.stderr.read()))
        return victim, died
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        _remove_cgroup(group)


def oom_kills():
    """oom_kill of /proc/vmstat."""
    with open("/proc/vmstat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    raise StackError("/proc/vmstat has no oom_kill: a kernel older than 4.13")
