# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_notify: when the checker notifies (state transitions), and what it sends."""

from __future__ import annotations

import email
import json

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _notify


def health(status, *findings):
    return {"status": status, "findings": [{"id": f[0], "severity": f[1], "title": "t " + f[0],
                                            "evidence": ["e " + f[0]]} for f in findings]}


OK = health("ok", ("oom.likely_victims", "info"))
MONITOR = health("monitor", ("swap.high", "monitor"))
CRITICAL = health("critical", ("memory.available_low", "critical"))
CRITICAL_MORE = health("critical", ("memory.available_low", "critical"), ("swap.high", "monitor"))
CRITICAL_OTHER = health("critical", ("oom.kills", "critical"))


def run(sequence, notify_on="critical"):
    """Feed healths through decide() as the checker does; the events sent, in order."""
    last = None
    events = []
    for item in sequence:
        current = _notify.snapshot(item, notify_on)
        event = _notify.decide(last, current)
        events.append(event)
        if event is not None:
            last = current
    return events


@pytest.mark.parametrize("sequence, notify_on, expected", [
    # nothing to say while healthy, and nothing about statuses below notify_on
    ([OK, OK, MONITOR, OK], "critical", [None, None, None, None]),
    # first critical is sent, an unchanged problem is not sent again
    ([OK, CRITICAL, CRITICAL, CRITICAL], "critical", [None, "alert", None, None]),
    # a critical host at the first check is sent at once
    ([CRITICAL, CRITICAL], "critical", ["alert", None]),
    # findings that change while critical are sent
    ([CRITICAL, CRITICAL_MORE, CRITICAL_MORE, CRITICAL_OTHER], "critical", ["alert", "alert", None, "alert"]),
    # recovery is sent once, below notify_on
    ([CRITICAL, MONITOR, OK, OK], "critical", ["alert", "resolved", None, None]),
    # back again after recovery
    ([CRITICAL, OK, CRITICAL], "critical", ["alert", "resolved", "alert"]),
    # notify_on monitor: monitor is alerting, monitor -> critical is a change of status
    ([OK, MONITOR, MONITOR, CRITICAL, MONITOR, OK], "monitor", [None, "alert", None, "alert", "alert", "resolved"]),
])
def test_transitions(sequence, notify_on, expected):
    assert run(sequence, notify_on) == expected


USED_HIGH = health("monitor", ("memory.used_high", "monitor"))
LOW_MONITOR = health("monitor", ("memory.available_low", "monitor"), ("tuning.swappiness", "info"))
ADVICE = health("ok", ("tuning.swappiness", "info"), ("oom.critical_unprotected", "info"))


@pytest.mark.parametrize("sequence, notify_findings, expected", [
    # the guide's line (more than 90% used) notifies below critical by default, and resolves
    ([OK, USED_HIGH, USED_HIGH, OK], None, [None, "alert", None, "resolved"]),
    ([USED_HIGH, LOW_MONITOR, CRITICAL, MONITOR], None, ["alert", "alert", "alert", "resolved"]),
    # other monitor findings do not
    ([MONITOR, OK], None, [None, None]),
    # advice never does, listed or not
    ([ADVICE, ADVICE], None, [None, None]),
    ([ADVICE, ADVICE], ["tuning.swappiness", "oom.critical_unprotected"], [None, None]),
    # an empty list: notify_on only
    ([USED_HIGH, CRITICAL], [], [None, "alert"]),
    ([MONITOR, OK], ["swap.high"], ["alert", "resolved"]),
])
def test_notify_findings(sequence, notify_findings, expected):
    last, events = None, []
    for item in sequence:
        current = _notify.snapshot(item, "critical", notify_findings)
        events.append(_notify.decide(last, current))
        last = current if events[-1] else last
    assert events == expected


@pytest.mark.parametrize("value", ["memory.used_high", [1], ["memory used"], {"memory.used_high": 1}])
def test_notify_findings_must_be_a_list_of_ids(value):
    with pytest.raises(_notify.NotifyError, match="notify_findings must be a list of finding ids"):
        _notify.snapshot(OK, "critical", value)


def test_info_findings_and_evidence_do_not_count_as_changes():
    wobbling = health("critical", ("memory.available_low", "critical"), ("oom.likely_victims", "info"))
    wobbling["findings"][0]["evidence"] = ["available 4.1%"]
    assert run([CRITICAL, wobbling]) == ["alert", None]


def test_a_failed_delivery_is_tried_again():
    """The checker records a snapshot only when delivery worked: decide() with the old record says send."""
    current = _notify.snapshot(CRITICAL, "critical")
    assert _notify.decide(None, current) == "alert"
    assert _notify.decide(None, current) == "alert"  # nothing recorded after the failure
    assert _notify.decide(current, current) is None


def test_snapshot_refuses_an_unknown_notify_on():
    with pytest.raises(_notify.NotifyError, match="notify_on must be one of monitor, critical"):
        _notify.snapshot(OK, "warning")


def test_target_key_is_stable_and_hides_the_address():
    target = {"type": "webhook", "url": "https://hooks.example.com/T0/B0/secret-token"}
    key = _notify.target_key(target)
    assert key == _notify.target_key(dict(reversed(list(target.items()))))
    assert "secret" not in key and len(key) == 16
    assert key != _notify.target_key({"type": "webhook", "url": "https://hooks.example.com/other"})


@pytest.mark.parametrize("targets, message", [
    ("http://x", "must be a list"),
    ([{"type": "pager"}], r"notify\[0\]: expected"),
    (["http://x"], r"notify\[0\]: expected"),
    ([{"type": "mail"}], r"notify\[0\]: a mail target needs to"),
    ([{"type": "mail", "to": "a@b"}, {"type": "webhook", "url": "ftp://x"}], r"notify\[1\]: url 'ftp://x' must start"),
    ([{"type": "mail", "to": "ops@example.com\r\nBcc: all@example.com"}], r"notify\[0\]: to must be one line"),
    ([{"type": "mail", "to": "ops@example.com\n"}], r"notify\[0\]: to must be one line"),
    ([{"type": "mail", "to": "a@b", "from": "memops@example.com\r\nBcc: x@y"}], r"notify\[0\]: from must be one line"),
    ([{"type": "mail", "to": "a@b", "from": ""}], r"notify\[0\]: from must be one line"),
    ([{"type": "mail", "to": "a@b", "from": 5}], r"notify\[0\]: from must be one line"),
    ([{"type": "webhook", "url": "https://x/y\r\nHost: z"}], r"notify\[0\]: url must be one line"),
])
def test_check_targets_refuses(targets, message):
    with pytest.raises(_notify.NotifyError, match=message):
        _notify.check_targets(targets)


def test_check_targets_accepts():
    _notify.check_targets([{"type": "mail", "to": "ops@example.com"}, {"type": "webhook", "url": "https://x/y"},
                           {"type": "mail", "to": "ops@example.com", "from": "memops <memops@db1.example.com>"}])


FACTS = {
    "memory": {"total_bytes": 8 << 30, "available_bytes": 256 << 20, "available_pct": 3.1},
    "swap": {"total_bytes": 0, "used_bytes": 0},
    "processes": {"top_rss": [{"pid": p, "name": "w%d" % p, "user": "app", "rss_bytes": p << 20, "mem_pct": 1.0,
                               "cmdline": "secret args"} for p in range(9, 0, -1)]},
    "oom": {"kill_count": 3, "events": [
        {"victim": {"pid": 100 + i, "name": "java", "rss_bytes": 1 << 30}, "logged_at": "2024-01-01T00:0%d:00Z" % i,
         "uptime_seconds": 10.0 * i} for i in range(7)]},
}


def test_payload_is_json_with_what_the_guide_mails():
    body = _notify.payload("alert", "db1.example.com", FACTS, CRITICAL_MORE, previous_status="ok", top=3,
                           checked_at="2024-01-01T00:10:00Z")
    assert json.loads(json.dumps(body)) == body
    assert body["host"] == "db1.example.com"
    assert body["event"] == "alert"
    assert (body["status"], body["previous_status"]) == ("critical", "ok")
    assert [f["id"] for f in body["findings"]] == ["memory.available_low", "swap.high"]
    assert body["findings"][0] == {"id": "memory.available_low", "severity": "critical",
                                   "title": "t memory.available_low", "evidence": ["e memory.available_low"]}
    assert [r["pid"] for r in body["top_consumers"]] == [9, 8, 7]
    assert "cmdline" not in body["top_consumers"][0]
    assert [v["pid"] for v in body["recent_oom_victims"]] == [102, 103, 104, 105, 106]
    assert body["oom_kills"] == 3
    assert body["memory"]["available_bytes"] == 256 << 20


def test_payload_leaves_info_findings_out():
    body = _notify.payload("resolved", "h", {}, OK)
    assert body["findings"] == [] and body["top_consumers"] == [] and body["recent_oom_victims"] == []


def test_mail_message_parses_with_headers_for_sendmail_t():
    body = _notify.payload("alert", "db1", FACTS, CRITICAL, previous_status="ok", checked_at="2024-01-01T00:10:00Z")
    message = email.message_from_string(_notify.mail_message(body, "ops@example.com", sender="memops@db1"))
    assert message["To"] == "ops@example.com"
    assert message["From"] == "memops@db1"
    assert message["Subject"] == "[memops] db1: memory critical"
    text = message.get_payload(decode=True).decode("utf-8")
    assert "Memory health of db1: critical (was ok)" in text
    assert "- [critical] t memory.available_low (memory.available_low)" in text
    assert "w9[9] 9 MiB" in text
    assert "java[106]" in text and "1 GiB" in text
    assert "Available 256 MiB of 8 GiB (3.1%)" in text


def test_resolved_mail_says_so():
    body = _notify.payload("resolved", "db1", {}, OK, previous_status="critical")
    message = email.message_from_string(_notify.mail_message(body, "ops@example.com"))
    assert message["Subject"] == "[memops] db1: memory resolved"
    assert "resolved" in message.get_payload(decode=True).decode("utf-8")
