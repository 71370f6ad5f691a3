# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checker's metrics through the real node_exporter: the checker runs
against this host's /proc into a temporary textfile directory, node_exporter
(textfile collector only) serves it on a free loopback port, and the scrape
must carry the memops_* series with the file's values and no textfile error."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, COLLECTIONS_ROOT
from ansible_collections.memops.linux.tests.unit.plugins.module_utils.test_metrics import parse

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
CHECKER = os.path.join(COLLECTION, "roles", "monitoring", "files", "memops_check.py")

pytestmark = pytest.mark.skipif(not os.access(NODE_EXPORTER, os.X_OK),
                                reason="node_exporter is not installed (Debian package prometheus-node-exporter; "
                                       "scripts/test installs it)")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def exporter(tmp_path):
    """Start node_exporter on the textfile directory; yield a scrape function; always stop it."""
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    port = _free_port()
    log = open(tmp_path / "node_exporter.log", "wb")  # pylint: disable=consider-using-with
    proc = subprocess.Popen([  # pylint: disable=consider-using-with
        NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
        "--collector.textfile", "--collector.textfile.directory=%s" % textfile_dir], stdout=log, stderr=log)
    try:
        def scrape():
            assert proc.poll() is None, (tmp_path / "node_exporter.log").read_text()
            return parse(_scrape("http://127.0.0.1:%d/metrics" % port, time.monotonic() + 15))[0]
        yield textfile_dir, scrape
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _run_checker(tmp_path, textfile_dir, thresholds):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"textfile_dir": str(textfile_dir), "state_file": str(tmp_path / "state.json"),
                                  "thresholds": thresholds, "top": 3}))
    proc = subprocess.run([sys.executable, CHECKER, "--config", str(config), "--lib", COLLECTIONS_ROOT],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return (textfile_dir / "memops.prom").read_text()


def test_node_exporter_serves_the_checkers_metrics(tmp_path, exporter):
    textfile_dir, scrape = exporter
    written = parse(_run_checker(tmp_path, textfile_dir, {"slab_unreclaimable_pct_monitor": 0,
                                                          "slab_unreclaimable_pct_critical": 0}))[0]
    scraped = scrape()
    assert scraped["node_textfile_scrape_error"] == {frozenset(): 0.0}
    memops = {name: series for name, series in scraped.items() if name.startswith("memops_")}
    assert memops == written, "node_exporter serves other memops_* series than the file holds"
    assert memops["memops_health_status"] == {frozenset(): 2.0}
    assert frozenset({("id", "slab.unreclaimable_high"), ("severity", "critical")}) in memops["memops_finding"]
    assert list(memops["memops_available_bytes"].values())[0] > 0
    assert len(memops["memops_top_process_rss_bytes"]) == 3
    assert abs(list(memops["memops_check_last_success_timestamp_seconds"].values())[0] - time.time()) < 120
    with open("/proc/vmstat", encoding="ascii") as handle:
        oom_kill = [int(line.split()[1]) for line in handle if line.startswith("oom_kill ")]
    if oom_kill:
        assert list(memops["memops_oom_kills_total"].values())[0] <= oom_kill[0]


def test_a_broken_textfile_is_an_error_node_exporter_reports(tmp_path, exporter):
    """The counter-check: what node_textfile_scrape_error looks like when a file does not parse."""
    textfile_dir, scrape = exporter
    (textfile_dir / "broken.prom").write_text('memops_health_status{id="unterminated} 1\n')
    assert scrape()["node_textfile_scrape_error"] == {frozenset(): 1.0}
