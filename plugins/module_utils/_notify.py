# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When the on-host checker notifies, and what it sends.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). A notification goes out when the health
reaches ``notify_on`` and differs from what that target was last sent (status,
or the set of findings by id and severity), and once more when the health
falls back below ``notify_on`` ("resolved"). An unchanged problem is not sent
again at every check. Each target keeps its own record, so a target that
failed is tried again at the next check without repeating the others.
"""

from __future__ import annotations

import hashlib
import json
import re
from email.message import EmailMessage

from ansible_collections.memops.linux.plugins.module_utils._schema import HEALTH_STATUSES, at_least, section
from ansible_collections.memops.linux.plugins.module_utils._units import format_size

# the statuses worth a notification: every one above ok
NOTIFY_ON = HEALTH_STATUSES[1:]
# the findings that notify whatever notify_on says: the guide's memory_alert.sh mails when more than 90% of
# memory is in use (memory.used_high; below 5% available it is memory.available_low)
NOTIFY_FINDINGS = ("memory.used_high", "memory.available_low")
TARGET_TYPES = {"mail": "to", "webhook": "url"}
# characters no mail header and no URL may hold: CR and LF would start another header
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class NotifyError(ValueError):
    """A notification target that cannot be used."""


def check_targets(targets: list) -> None:
    """Raise NotifyError naming the first target that is not ``{type: mail, to}``
    (with an optional ``from``) or ``{type: webhook, url}`` with an http(s) URL; an
    address, sender or URL holding a line break or another control character is refused."""
    if not isinstance(targets, list):
        raise NotifyError("notify must be a list of targets, got %r" % (targets,))
    for index, target in enumerate(targets):
        label = "notify[%d]" % index
        if not isinstance(target, dict) or target.get("type") not in TARGET_TYPES:
            raise NotifyError("%s: expected {type: mail, to: ADDRESS} or {type: webhook, url: URL}, got %r"
                              % (label, target))
        key = TARGET_TYPES[target["type"]]
        value = target.get(key)
        if not isinstance(value, str) or not value.strip():
            raise NotifyError("%s: a %s target needs %s" % (label, target["type"], key))
        for field in (key, "from") if target["type"] == "mail" else (key,):
            text = target.get(field)
            if field == "from" and text is None:
                continue
            if not isinstance(text, str) or not text.strip() or _CONTROL.search(text):
                raise NotifyError("%s: %s must be one line of printable text without CR, LF or other control "
                                  "characters, such as ops@example.com, got %r" % (label, field, text))
        if target["type"] == "webhook" and not value.startswith(("http://", "https://")):
            raise NotifyError("%s: url %r must start with http:// or https://" % (label, value))


def check_notify_findings(ids: object) -> list:
    """``notify_findings`` as a list of finding ids (None: NOTIFY_FINDINGS); NotifyError for anything else."""
    if ids is None:
        return list(NOTIFY_FINDINGS)
    if not isinstance(ids, list) or not all(isinstance(i, str) and re.match(r"^[a-z0-9_]+\.[a-z0-9_.]+$", i) for i in ids):
        raise NotifyError("notify_findings must be a list of finding ids such as memory.used_high, got %r" % (ids,))
    return ids


def snapshot(health: dict, notify_on: str, notify_findings: list | None = None) -> dict:
    """What a notification is about: the status, the findings above info by
    id and severity, and whether to alert: the status reaches ``notify_on``, or
    a finding listed in ``notify_findings`` (None: NOTIFY_FINDINGS) is active.
    Advice (info) never alerts, listed or not."""
    if notify_on not in NOTIFY_ON:
        raise NotifyError("notify_on must be one of %s, got %r" % (", ".join(NOTIFY_ON), notify_on))
    listed = set(check_notify_findings(notify_findings))
    active = [f for f in health.get("findings") or [] if f["severity"] != "info"]
    return {
        "status": health["status"],
        "findings": sorted({"%s:%s" % (f["id"], f["severity"]) for f in active}),
        "alerting": at_least(health["status"], notify_on) or any(f["id"] in listed for f in active),
    }


def decide(last_sent: dict | None, current: dict) -> str | None:
    """``"alert"``, ``"resolved"`` or None (send nothing), from the snapshot
    last delivered to a target (None: never) and the current one."""
    if current["alerting"]:
        if (last_sent is None or not last_sent.get("alerting") or last_sent.get("status") != current["status"]
                or last_sent.get("findings") != current["findings"]):
            return "alert"
        return None
    if last_sent is not None and last_sent.get("alerting"):
        return "resolved"
    return None


def target_key(target: dict) -> str:
    """A stable key for a target's record in the state file, without the
    address itself (webhook URLs often carry a token)."""
    return hashlib.sha256(json.dumps(target, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def payload(event: str, host: str, facts: dict, health: dict, previous_status: str | None = None, top: int = 5,
            checked_at: str | None = None) -> dict:
    """The JSON body of a webhook, and the content of a mail."""
    processes = section(facts, "processes").get("top_rss") or []
    events = section(facts, "oom").get("events") or []
    memory = section(facts, "memory")
    swap = section(facts, "swap")
    return {
        "source": "memops.linux",
        "event": event,
        "host": host,
        "status": health["status"],
        "previous_status": previous_status,
        "checked_at": checked_at,
        "findings": [{key: f.get(key) for key in ("id", "severity", "title", "evidence")}
                     for f in health.get("findings") or [] if f["severity"] != "info"],
        "memory": {
            "total_bytes": memory.get("total_bytes"),
            "available_bytes": memory.get("available_bytes"),
            "available_pct": memory.get("available_pct"),
            "swap_total_bytes": swap.get("total_bytes"),
            "swap_used_bytes": swap.get("used_bytes"),
        },
        "top_consumers": [{key: row.get(key) for key in ("pid", "name", "user", "rss_bytes", "mem_pct")}
                          for row in processes[:top]],
        "oom_kills": section(facts, "oom").get("kill_count"),
        "recent_oom_victims": [
            {"pid": e["victim"].get("pid"), "name": e["victim"].get("name"), "rss_bytes": e["victim"].get("rss_bytes"),
             "logged_at": e.get("logged_at"), "uptime_seconds": e.get("uptime_seconds")}
            for e in events[-5:]],
    }


def _size(value):
    return "unknown" if value is None else format_size(value)


def mail_text(body: dict) -> str:
    """A plain-text rendering of ``payload`` for mail."""
    memory = body["memory"]
    lines = ["Memory health of %s: %s (was %s)" % (body["host"], body["status"], body["previous_status"] or "unknown"),
             "checked at %s" % body["checked_at"], ""]
    if body["event"] == "resolved":
        lines += ["The problems reported earlier are resolved.", ""]
    lines.append("Available %s of %s (%s%%); swap used %s of %s" % (
        _size(memory["available_bytes"]), _size(memory["total_bytes"]), memory["available_pct"],
        _size(memory["swap_used_bytes"]), _size(memory["swap_total_bytes"])))
    if body["findings"]:
        lines += ["", "Findings:"]
        for finding in body["findings"]:
            lines.append("- [%s] %s (%s)" % (finding["severity"], finding["title"], finding["id"]))
            lines += ["    %s" % item for item in finding.get("evidence") or []]
    if body["top_consumers"]:
        lines += ["", "Top memory consumers:"]
        lines += ["- %s[%s] %s (%s%%)" % (r["name"], r["pid"], _size(r["rss_bytes"]), r["mem_pct"])
                  for r in body["top_consumers"]]
    if body["recent_oom_victims"]:
        lines += ["", "Recent OOM kills (%s since boot):" % body["oom_kills"]]
        lines += ["- %s %s[%s] RSS %s" % (v["logged_at"] or "at %ss" % v["uptime_seconds"], v["name"], v["pid"],
                                          _size(v["rss_bytes"])) for v in body["recent_oom_victims"]]
    return "\n".join(lines) + "\n"


def mail_message(body: dict, to: str, sender: str | None = None) -> str:
    """An RFC 5322 message for ``sendmail -t``."""
    message = EmailMessage()
    message["To"] = to
    if sender:
        message["From"] = sender
    word = "resolved" if body["event"] == "resolved" else body["status"]
    message["Subject"] = "[memops] %s: memory %s" % (body["host"], word)
    message.set_content(mail_text(body))
    return message.as_string()
