# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""memops.linux memory check, run by memops-check.timer (roles/monitoring).

Standard library only. Gathers the memory facts with the collection's own
parsers and rules (a copy of its module_utils under --lib), writes node_exporter
textfile metrics atomically, and notifies mail and webhook targets when the
health reaches notify_on (or a finding of notify_findings is active) and differs from what each target was last sent.

  python3 memops_check.py --config /etc/memops/monitoring.json

The configuration is JSON (roles/monitoring writes it): textfile_dir,
metrics_file, state_file, thresholds, top, notify_on, notify_findings (finding ids that
notify below notify_on; null for the collection's default), notify, timeout,
kernel_log, proc_root, sys_root, host, redact (patterns hiding secrets in the
command lines that leave the host; null for the collection's defaults), leak_history
(keep the memory history of processes and services in leak-history.json beside the
state file, and name the leak suspects it shows). Messages go to stderr (the journal). Exit
status 0 when the metrics were written, whatever the health; 1 when the check
failed (the metrics then keep their old timestamp and the staleness alert fires);
2 for a bad configuration. A notification that cannot be delivered is logged
and tried again at the next check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_CONFIG = "/etc/memops/monitoring.json"
DEFAULT_LIB = "/usr/local/lib/memops"
SENDMAIL = "/usr/sbin/sendmail"
DEFAULTS = {
    "textfile_dir": "/var/lib/prometheus/node-exporter",
    "metrics_file": "memops.prom",
    "state_file": "/var/lib/memops/check/monitoring-state.json",
    "thresholds": {},
    "top": 5,
    "notify_on": "critical",
    "notify_findings": None,
    "notify": [],
    "timeout": 10,
    "kernel_log": True,
    "proc_root": "/proc",
    "sys_root": "/sys",
    "host": None,
    "redact": None,
    "leak_history": True,
}
# the leak history (_leak_history), beside state_file
LEAK_HISTORY_FILE = "leak-history.json"


class DeliveryError(Exception):
    """A notification was not delivered."""


def log(message):
    sys.stderr.write("memops-check: %s\n" % message)
    sys.stderr.flush()


def load_utils(lib_dir):
    """The collection's module_utils from ``lib_dir`` (the directory holding ansible_collections)."""
    if lib_dir not in sys.path:
        sys.path.insert(0, lib_dir)
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.memops.linux.plugins.module_utils import (
        _diagnosis, _leak_history, _memfacts, _metrics, _notify, _procfs, _redact, _textfile)
    return {"diagnosis": _diagnosis, "leak_history": _leak_history, "memfacts": _memfacts, "metrics": _metrics,
            "notify": _notify, "procfs": _procfs, "redact": _redact, "textfile": _textfile}


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict):
        raise ValueError("%s: expected a JSON object" % path)
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError("%s: unknown keys %s; known keys are %s" % (path, ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    merged = dict(DEFAULTS)
    merged.update(config)
    check_config(merged)
    return merged


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# key: (what it must be, the test)
CONFIG_CHECKS = {
    "textfile_dir": ("an absolute path", lambda v: isinstance(v, str) and v.startswith("/")),
    "metrics_file": ("a file name without /", lambda v: isinstance(v, str) and v not in ("", ".", "..") and "/" not in v),
    "state_file": ("an absolute path", lambda v: isinstance(v, str) and v.startswith("/") and not v.endswith("/")),
    "thresholds": ("an object of threshold names and numbers", lambda v: isinstance(v, dict)),
    "top": ("a whole number from 0 to 1000", lambda v: isinstance(v, int) and not isinstance(v, bool)
            and 0 <= v <= 1000),
    "notify_on": ("a string", lambda v: isinstance(v, str)),
    "timeout": ("a number of seconds from 1 to 3600",
                lambda v: _is_number(v) and 1 <= v <= 3600),  # nan and inf fail both comparisons
    "kernel_log": ("true or false", lambda v: isinstance(v, bool)),
    "proc_root": ("an absolute path", lambda v: isinstance(v, str) and v.startswith("/")),
    "sys_root": ("an absolute path", lambda v: isinstance(v, str) and v.startswith("/")),
    "host": ("null or one line of text (the host name notifications carry)",
             lambda v: v is None or (isinstance(v, str) and v.strip() != "" and v.isprintable())),
    "redact": ("null (the default patterns) or a list of regular expressions",
               lambda v: v is None or isinstance(v, list)),
    "leak_history": ("true or false", lambda v: isinstance(v, bool)),
}


def check_config(config):
    """Raise ValueError naming the first key of ``config`` whose value the checker cannot use: the
    configuration is checked once on load, so that a bad value is a clear message and not a traceback in
    the middle of a check (the thresholds, notify_on and the targets are checked by the collection's code)."""
    for key, (expected, test) in CONFIG_CHECKS.items():
        if not test(config[key]):
            raise ValueError("%s must be %s, got %s" % (key, expected, json.dumps(config[key])))


def run_log_command(argv):
    """dmesg or journalctl output when /dev/kmsg cannot be read, else None."""
    path = shutil.which(argv[0])
    if path is None:
        return None
    try:
        proc = subprocess.run([path] + argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.decode("utf-8", "surrogateescape") if proc.returncode == 0 and proc.stdout else None


def load_state(path):
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        return state if isinstance(state, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log("state file %s unreadable (%s); starting afresh" % (path, exc))
        return {}


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would resend a POST redirected by 301, 302 or 303 as a
    GET without its body, and the alert would be lost while counted as sent. Every redirect becomes an error."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        return None


def post_webhook(url, body, timeout):
    data = json.dumps(body, sort_keys=True).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "memops-check"})
    opener = urllib.request.build_opener(RefuseRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:  # nosec: the URL is the operator's
            status = response.status
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DeliveryError("HTTP %s %s: the webhook redirects to %s, and a redirected POST loses its body; "
                                "set url to the address it redirects to"
                                % (exc.code, exc.reason, describe_url((exc.headers or {}).get("Location") or "?")))
        raise DeliveryError("HTTP %s %s" % (exc.code, exc.reason))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", None) or exc))
    if not 200 <= status < 300:
        raise DeliveryError("HTTP %s" % status)


def send_mail(message, timeout, sendmail=SENDMAIL):
    if not os.access(sendmail, os.X_OK):
        raise DeliveryError("%s is missing: install a mail transfer agent (postfix, exim4, msmtp-mta)" % sendmail)
    try:
        proc = subprocess.run([sendmail, "-t", "-oi"], input=message.encode("utf-8"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DeliveryError(str(exc))
    if proc.returncode != 0:
        raise DeliveryError("sendmail exited %d: %s" % (proc.returncode, proc.stdout.decode("utf-8", "replace").strip()))


# a path segment shown in the log: a short word (services, api, webhooks, hook, IncomingWebhook), not in
# capitals only; anything else, such as the ids and tokens Slack, Teams and Discord keep in the path, is ***
_WORD = re.compile(r"^(?![A-Z_-]{2,}$)[A-Za-z][A-Za-z_-]{0,15}$")


def describe_url(url):
    """``url`` as the log shows it: scheme, host and port, the path with every segment that is not a short
    word masked, no user, password, query or fragment (webhook URLs carry their token in any of them)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unparsable URL)"
    if ":" in host:
        host = "[%s]" % host
    where = "%s://%s%s" % (parts.scheme, host, ":%d" % port if port else "") if parts.scheme else ""
    path = "/".join(segment if not segment or _WORD.match(segment) else "***" for segment in parts.path.split("/"))
    return where + path


def describe(target):
    return "mail to %s" % target["to"] if target["type"] == "mail" else "webhook %s" % describe_url(target["url"])


def notify(utils, config, facts, health, checked_at):
    """Send what is due to each target; record what was delivered. Never raises."""
    notify_utils = utils["notify"]
    state = load_state(config["state_file"])
    sent = state.get("sent") if isinstance(state.get("sent"), dict) else {}
    current = notify_utils.snapshot(health, config["notify_on"], config["notify_findings"])
    host = config["host"] or socket.getfqdn()
    records = {}
    for target in config["notify"]:
        key = notify_utils.target_key(target)
        last = sent.get(key) if isinstance(sent.get(key), dict) else None  # a damaged record: never sent
        records[key] = last
        event = notify_utils.decide(last, current)
        if event is None:
            continue
        body = notify_utils.payload(event, host, facts, health, previous_status=state.get("status"),
                                    top=config["top"], checked_at=checked_at)
        try:
            if target["type"] == "webhook":
                post_webhook(target["url"], body, config["timeout"])
            else:
                send_mail(notify_utils.mail_message(body, target["to"], target.get("from")), config["timeout"])
        except (DeliveryError, ValueError, TypeError, UnicodeError) as exc:
            # a message that cannot be built (a header the email package refuses) fails this target only:
            # the others are still sent and the state is still written
            log("%s %s not delivered: %s; trying again at the next check" % (event, describe(target), exc))
            continue
        records[key] = current
        log("%s (%s) sent: %s" % (event, health["status"], describe(target)))
    state = {"status": health["status"], "checked_at": checked_at, "sent": records}
    try:
        utils["textfile"].atomic_write(config["state_file"], json.dumps(state, indent=1, sort_keys=True) + "\n",
                                       mode=0o600, follow=False)
    except utils["textfile"].TextFileError as exc:
        log("%s; notifications may be sent again" % exc)


def leak_history_path(config):
    return os.path.join(os.path.dirname(config["state_file"]), LEAK_HISTORY_FILE)


class LeakHistory:
    """The history kept across checks: loaded once, updated with the check's processes and services (O(processes),
    the scan the facts made anyway), written back after the metrics."""

    def __init__(self, utils, config, thresholds, reader, now):
        self.module = utils["leak_history"]
        self.path = leak_history_path(config)
        self.thresholds, self.reader, self.now = thresholds, reader, now
        self.state = self.module.load(self.path, log)

    def __call__(self, rows, facts):
        units = self.module.service_usage(self.reader, rows)
        self.module.record(self.state, rows, units, self.now)
        available = (facts.get("memory") or {}).get("available_bytes")
        return self.module.facts(self.state, self.thresholds, available, self.path, self.now)

    def save(self, textfile):
        try:
            textfile.atomic_write(self.path, self.module.dump(self.state), mode=0o600, follow=False)
        except textfile.TextFileError as exc:
            log("%s; the leak history of this check is lost" % exc)


def check(utils, config, clock=time.time):
    """One check: gather, evaluate, write the metrics, notify. Returns the health."""
    started = time.monotonic()
    thresholds = utils["diagnosis"].merge_thresholds(config["thresholds"])
    reader = utils["procfs"].Reader(config["proc_root"], config["sys_root"])
    history = LeakHistory(utils, config, thresholds, reader, clock()) if config["leak_history"] else None
    facts = utils["memfacts"].gather(reader, utils["memfacts"].SUBSETS, top=max(config["top"], 5),
                                     thresholds=thresholds, use_kernel_log=bool(config["kernel_log"]),
                                     log_commands=run_log_command if config["kernel_log"] else None, leaks=history)
    # command lines leave the host in the notifications (the evidence of findings that quote one)
    utils["redact"].redact_commands(facts, utils["redact"].compile_patterns(config["redact"]))
    health = facts["health"]
    now = clock()
    metrics = utils["metrics"]
    text = metrics.render(metrics.checker_families(facts, health, time.monotonic() - started, now,
                                                   top=config["top"]))
    path = os.path.join(config["textfile_dir"], config["metrics_file"])
    # a link in the textfile directory is replaced, never written through (the checker runs as root)
    utils["textfile"].atomic_write(path, text, mode=0o644, follow=False)
    if history is not None:
        history.save(utils["textfile"])
    active = [f["id"] for f in health["findings"] if f["severity"] != "info"]
    log("health %s%s; metrics in %s" % (health["status"], (": " + ", ".join(active)) if active else "", path))
    if config["notify"]:
        notify(utils, config, facts, health, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return health


def main(argv=None):
    parser = argparse.ArgumentParser(description="memops.linux memory check")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="JSON configuration (default %(default)s)")
    parser.add_argument("--lib", default=DEFAULT_LIB,
                        help="directory holding ansible_collections/memops/linux/plugins/module_utils "
                             "(default %(default)s)")
    # tests only: seconds added to the clock, so that checks run seconds apart are seen hours apart
    parser.add_argument("--time-offset", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        utils = load_utils(args.lib)
    except ImportError as exc:
        log("cannot load the collection's module_utils from %s: %s" % (args.lib, exc))
        return 2
    try:
        config = load_config(args.config)
        utils["diagnosis"].merge_thresholds(config["thresholds"])
        utils["notify"].check_targets(config["notify"])
        utils["redact"].compile_patterns(config["redact"])
        utils["notify"].snapshot({"status": "ok"}, config["notify_on"], config["notify_findings"])
    except (OSError, ValueError) as exc:
        log("bad configuration: %s" % exc)
        return 2
    try:
        check(utils, config, clock=lambda: time.time() + args.time_offset)
    except (utils["procfs"].ProcfsError, utils["textfile"].TextFileError, OSError) as exc:
        log("check failed: %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
