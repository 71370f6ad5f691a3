# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""OOM kills in kernel log text, in every format the log reaches people in.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import), a pure parser: :func:`parse_kernel_log`.
A line is taken apart in two steps: its prefix (mail quoting, indentation,
a line-number gutter, a ``/dev/kmsg`` record header or ``<N>`` priority,
syslog/kern.log/journalctl/OpenWrt logread wall-clock and host, ``dmesg``
``[uptime]``, ``-T`` ctime or ``--time-format iso``, printk caller ids), then
the kernel message: the invocation (``invoked oom-killer``), the memcg usage,
the ``oom-kill:`` summary, the selection (``Kill process ... or sacrifice
child``) and the kill line of any kernel from 2.6 on.

Values are read only where they are whole: a digit-grouped, wrapped or cut
value is left out (None) and said in the event's ``notes``. An event's
context (invoker, memcg, constraint) comes only from its own invocation
block: a new invocation, a kill, ``no killable processes``, a change of line
prefix (another log pasted after) or a time gap ends the block, and an
``oom-kill:`` summary lends its values only to the kill of the pid it names.
"""

from __future__ import annotations

import math
import re

from ansible_collections.memops.linux.plugins.module_utils import _procfs as procfs

# The longest time (seconds) from the start of an invocation block to its kill.
BLOCK_SECONDS = 300.0

_KMSG = re.compile(r"^\d+,\d+,(\d+),[^;]*;(.*)$")
_GUTTER = re.compile(r"^[0-9]{1,7}[ \t]+(?=\[\s*\d+\.\d+\])")
_PRIORITY = re.compile(r"^<\d{1,3}>")
_MONTH_DAY_TIME = r"[^\W\d_]{2,12}\.?[ ]{1,3}\d{1,2}[ ]{1,3}\d\d:\d\d:\d\d(?:\.\d{1,9})?"
_ISO_TIME = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
# syslog, kern.log, journalctl short/short-precise/short-iso, OpenWrt logread; host name optional
_SYSLOG = re.compile(
    r"^([^\W\d_]{2,12}\.?[ ]{1,3}%s[ ]{1,3}\d{4}|%s|%s)[ \t]+(?:(\S+)[ \t]+)?kernel:[ \t]?(.*)$"
    % (_MONTH_DAY_TIME, _MONTH_DAY_TIME, _ISO_TIME))
_UPTIME = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
_CALLER = re.compile(r"^\[\s*[TC]\d+\]\s?")
# dmesg -T, any locale: "[Thu May  9 14:52:38 2024]"
_DMESG_CTIME = re.compile(r"^\[([^\W\d_][^\[\]]{0,40}?\d\d:\d\d:\d\d[ ]{1,3}\d{4})\]\s?(.*)$")
_DMESG_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.,]\d{1,9}[+-]\d\d:?\d\d)[ \t](.*)$")
# journalctl -o short-monotonic: "[ 7312.005190] web01 kernel: message"
_JOURNAL_HOST = re.compile(r"^(\S+) kernel:[ \t]?(.*)$")
_CLOCK = re.compile(r"(\d\d):(\d\d):(\d\d)")
_WRAP = re.compile(r" {8,}|\t{2,}")

_INVOKED = re.compile(r"^(.{1,64}?) invoked oom-killer: (.*)$")
_SCOPE = r"(Out of memory|Out of Memory|Memory cgroup out of memory)(?: \([^)]*\))?: "
_KILLED = re.compile(r"^(?:%s)?Killed process\s+(\d+)(?:, UID (\d+),)? \((.*)\)(.*)$" % _SCOPE)
# "or a child": 2.6.32-2.6.35, "or sacrifice child": 2.6.36 to 5.0
_SELECTED = re.compile(r"^%s[Kk]ill process (\d+) \((.*)\) score (\S+) or (?:sacrifice|a) child" % _SCOPE)
_NO_KILLABLE = re.compile(r"^Out of memory and no killable process")
_SUMMARY = re.compile(r"^oom-kill:(.*)$")
_MEMCG_USAGE = re.compile(r"^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)")
_TASK_IN = re.compile(r"^Task in (\S+) killed as a result of limit of (\S+)")
_FIELD_KEY = re.compile(r"(?:^|(?<=[\s,]))([A-Za-z][A-Za-z_-]*):")
_SIZE = re.compile(r"^([0-9]+)kB$")
_HAS_SIZES = re.compile(r"(?:total-vm|vsz):")
_NUMBER = re.compile(r"^(-?[0-9]+)$")
_KEYWORDS = ("oom", "out of memory", "Out of memory", "Out of Memory", "Killed process", "Kill process",
             "memory: usage", "Task in ")
_SIZES = {"total-vm": "total_vm_bytes", "vsz": "total_vm_bytes", "anon-rss": "anon_rss_bytes", "file-rss": "file_rss_bytes",
          "shmem-rss": "shmem_rss_bytes", "pgtables": "pgtables_bytes"}
_NUMBERS = {"UID": "uid", "oom_score_adj": "oom_score_adj"}


class _Line:
    """One log line taken apart: uptime, wall-clock text, message, and the
    shape of its prefix (which kinds of prefix, which host, which quoting)."""

    __slots__ = ("uptime", "wallclock", "message", "shape", "cut")

    def __init__(self, raw):
        self.uptime = None
        self.wallclock = None
        self.cut = None
        quote = _leading_quote(raw)
        line = raw[len(quote):]
        kinds = [quote]
        match = _KMSG.match(line)
        if match:
            self.uptime = _seconds(match.group(1), 1e6)
            kinds.append("kmsg")
            line = match.group(2)
        else:
            line = self._prefixes(line, kinds)
        if line.startswith("MESSAGE="):
            kinds.append("MESSAGE")
            line = line[len("MESSAGE="):]
        self.shape = tuple(kinds)
        self.message = self._uncut(line.strip())

    def _prefixes(self, line, kinds):
        match = _GUTTER.match(line)
        if match:
            kinds.append("gutter")
            line = line[match.end():]
        match = _PRIORITY.match(line)
        if match:
            kinds.append("priority")
            line = line[match.end():]
        match = _SYSLOG.match(line)
        if match:
            self.wallclock = match.group(1)
            kinds.append(("syslog", match.group(2)))
            line = match.group(3)
        else:
            for kind, regex in (("ctime", _DMESG_CTIME), ("iso", _DMESG_ISO)):
                match = regex.match(line)
                if match:
                    self.wallclock = match.group(1)
                    kinds.append(kind)
                    line = match.group(2)
                    break
        match = _UPTIME.match(line)
        if match:
            self.uptime = _seconds(match.group(1))
            kinds.append("uptime")
            line = match.group(2)
            if self.wallclock is None:
                journal = _JOURNAL_HOST.match(line)
                if journal:
                    kinds.append(("journal", journal.group(1)))
                    line = journal.group(2)
        match = _CALLER.match(line)
        if match:
            kinds.append("caller")
            line = line[match.end():]
        return line

    def _uncut(self, message):
        """The message up to where a terminal wrapped it or a pager cut it."""
        wrap = _WRAP.search(message)
        if wrap:
            self.cut = "wrapped by a terminal"
            return message[:wrap.start()]
        if message.endswith(">"):
            self.cut = "cut by a pager (trailing '>')"
            return message[:-1]
        return message

    def clock(self):
        """(day text, seconds) to measure gaps with, or None."""
        if self.uptime is not None:
            return ("uptime", self.uptime)
        if self.wallclock is None:
            return None
        match = _CLOCK.search(self.wallclock)
        if not match:
            return None
        hours, minutes, seconds = (int(group) for group in match.groups())
        return (self.wallclock[:match.start()], hours * 3600 + minutes * 60 + seconds)


def _leading_quote(raw):
    """Mail/Markdown quoting and uniform indentation: the leading run of blanks and '>'."""
    end = 0
    while end < len(raw) and raw[end] in " \t>":
        end += 1
    return raw[:end]


def _seconds(text, divisor=1):
    """A log timestamp -> seconds, or None when it is no finite number."""
    try:
        value = float(text) / divisor
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fields(text, cut):
    """"key:value" fields of a kill line -> ({key: value text}, last key): a
    value is what lies between its key and the next key, without separators."""
    keys = list(_FIELD_KEY.finditer(text))
    fields = {}
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        fields[key.group(1)] = text[key.end():end].strip().rstrip(",").strip()
    last = keys[-1].group(1) if keys else None
    if last is not None and cut:
        fields[last] = None
    return fields, last


def _victim(match, line, notes):
    """The victim of a "Killed process" line, or None without a readable pid."""
    pid = procfs.to_int(match.group(2))
    if pid is None:
        return None
    rest = match.group(5)
    uid_text = match.group(3)
    if rest.startswith(", UID "):  # RHEL 7: "Killed process N (name), UID U, total-vm:..."
        uid_text, _sep, rest = rest[len(", UID "):].partition(",")
        uid_text = uid_text.strip()
    victim = {"pid": pid, "name": match.group(4), "uid": None}
    victim.update((key, None) for key in _SIZES.values())
    victim["oom_score_adj"] = None
    fields, last = _fields(rest, line.cut)
    if not fields and rest.strip() != ".":  # "." ends the 2.6 one-liner, which has no sizes
        notes.append("sizes left out: the kill line ends after the process name")
    if uid_text is not None:
        fields.setdefault("UID", uid_text)
    for key, name in list(_SIZES.items()) + list(_NUMBERS.items()):
        if key not in fields:
            continue
        text = fields[key]
        if text is None:
            notes.append("%s left out: its value is where the line was %s" % (key, line.cut))
            continue
        found = _SIZE.match(text) if key in _SIZES else _NUMBER.match(text)
        number = procfs.to_int(found.group(1)) if found else None
        if number is None:
            notes.append("%s left out: %r is no plain %s" % (key, text, "kB figure" if key in _SIZES else "number"))
            continue
        victim[name] = number * procfs.KIB if key in _SIZES else number
    victim["rss_bytes"] = _rss(victim, fields, last, rest, notes)
    return victim


def _rss(victim, fields, last, rest, notes):
    """anon + file (+ shmem where the kernel logs it), or None when any part is unknown."""
    parts = [victim["anon_rss_bytes"], victim["file_rss_bytes"]]
    if "shmem-rss" in fields:
        parts.append(victim["shmem_rss_bytes"])
    elif last == "file-rss" and rest.rstrip().endswith(","):
        parts.append(None)  # cut after file-rss: a shmem-rss may have followed
    if None in parts:
        if "total-vm" in fields or "anon-rss" in fields:
            notes.append("rss left out: a part of it (anon-rss, file-rss, shmem-rss) is missing or unreadable")
        return None
    return sum(parts)


def _integer(text):
    """A plain decimal integer (no digit grouping, no other scripts' digits), or None."""
    return procfs.to_int(text) if text is not None and _NUMBER.match(text) else None


def _summary(message, line):
    """The fields of an "oom-kill:" line; a field the line was cut in is None."""
    items = [item.partition("=") for item in re.split(r",(?=\w+=)", message)]
    fields = {key: value for key, _sep, value in items}
    notes = []
    if line.cut and items:
        fields[items[-1][0]] = None
        notes.append("oom-kill: %s and what followed it left out: the line was %s" % (items[-1][0], line.cut))
    return {
        "constraint": fields.get("constraint"),
        "memcg": fields.get("oom_memcg"),
        "task_memcg": fields.get("task_memcg"),
        "pid": _integer(fields.get("pid")),
        "uid": _integer(fields.get("uid")),
        "notes": notes,
    }


class _Parser:
    """The running state: the open invocation block and the events found."""

    def __init__(self):
        self.events = []
        self.block = {}
        self.start = None

    def reset(self, line=None):
        self.block = {}
        self.start = line

    def joins(self, line):
        """Whether a line may belong to the open block: same prefix shape, near in time."""
        if self.start is None:
            return True
        if line.shape != self.start.shape:
            return False
        before, now = self.start.clock(), line.clock()
        if before is None or now is None:
            return before is None and now is None
        return before[0] == now[0] and 0 <= now[1] - before[1] <= BLOCK_SECONDS

    def open(self, line):
        if not self.joins(line):
            self.reset()
        if self.start is None:
            self.start = line

    def feed(self, raw):
        line = _Line(raw)
        message = line.message
        match = _INVOKED.match(message)
        if match:
            details = dict(re.findall(r"(gfp_mask|order|oom_score_adj)=([^,\s]+)", match.group(2)))
            self.reset(line)
            self.block.update({
                "invoker": match.group(1),
                "gfp_mask": details.get("gfp_mask"),
                "order": procfs.to_int(details.get("order")),
            })
            return
        if _NO_KILLABLE.match(message):
            self.reset()
            return
        for regex, handler in ((_SUMMARY, self.summary), (_MEMCG_USAGE, self.usage), (_TASK_IN, self.task_in),
                               (_SELECTED, self.selected), (_KILLED, self.killed)):
            match = regex.match(message)
            if match:
                handler(match, line)
                return

    def summary(self, match, line):
        self.open(line)
        self.block["summary"] = _summary(match.group(1), line)

    def usage(self, match, line):
        self.open(line)
        usage, limit = procfs.to_int(match.group(1)), procfs.to_int(match.group(2))
        self.block["memcg_usage_bytes"] = usage * procfs.KIB if usage is not None else None
        self.block["memcg_limit_bytes"] = limit * procfs.KIB if limit is not None else None

    def task_in(self, match, line):
        self.open(line)
        self.block.setdefault("task_in", (match.group(1), match.group(2)))

    def selected(self, match, line):
        self.open(line)
        self.block["selected"] = {"scope_text": match.group(1), "pid": procfs.to_int(match.group(2)),
                                  "score": procfs.to_int(match.group(4))}

    def killed(self, match, line):
        notes = []
        victim = _victim(match, line, notes)
        if victim is None:
            return
        if not self.joins(line):
            self.reset()
        block = self.block
        selected = block.get("selected")
        summary = block.get("summary")
        if summary is not None and summary["pid"] is not None and summary["pid"] != victim["pid"] and not (
                selected is not None and selected["pid"] == summary["pid"]):
            # the summary names another task: this kill is not the open block's
            block, selected, summary = {}, None, None
        scope_text = match.group(1) or (selected["scope_text"] if selected else None)
        if scope_text is None and summary is None and not _HAS_SIZES.search(match.group(5)):
            return  # a bare "Killed process N (x)" with nothing that makes it a kernel OOM kill
        self.reset()
        self.events.append(_event(line, match, victim, block, selected, summary, scope_text, notes))


def _event(line, match, victim, block, selected, summary, scope_text, notes):
    if selected is not None:
        victim["score"] = selected["score"]
    task_memcg, memcg = block.get("task_in", (None, None))
    constraint = None
    if summary is not None:
        constraint, memcg, task_memcg = summary["constraint"], summary["memcg"], summary["task_memcg"]
        notes = summary["notes"] + notes
        if victim["uid"] is None:
            victim["uid"] = summary["uid"]
    memcg_scope = (scope_text or "").startswith("Memory cgroup") or constraint == "CONSTRAINT_MEMCG"
    return {
        "uptime_seconds": line.uptime,
        "logged_at": line.wallclock,
        "format": "modern" if match.group(1) in ("Out of memory", "Memory cgroup out of memory") else "legacy",
        "scope": "memcg" if memcg_scope else "system",
        "constraint": constraint,
        "memcg": memcg,
        "task_memcg": task_memcg,
        "memcg_usage_bytes": block.get("memcg_usage_bytes"),
        "memcg_limit_bytes": block.get("memcg_limit_bytes"),
        "invoker": block.get("invoker"),
        "gfp_mask": block.get("gfp_mask"),
        "order": block.get("order"),
        "victim": victim,
        "notes": notes,
    }


def parse_kernel_log(text: str) -> list[dict]:
    """Kernel log text in any of the formats people have it (``/dev/kmsg``
    records, ``dmesg`` plain, ``-T`` or ``--time-format iso``, printk caller
    ids, syslog/kern.log with or without host name, journalctl short,
    short-precise, short-iso, short-monotonic or verbose, OpenWrt logread,
    quoted or indented pastes) -> list of OOM kill events, oldest first.

    Handles the 2.6.9 one-liner ("Out of Memory: Killed process N (x)."), the
    RHEL 6 and 7 kill lines (", UID U,"), the pre-5.0 pair ("Kill process N
    (x) score S or sacrifice child" then "Killed process ..."), the 5.x single
    line ("Killed process ... oom_score_adj:") and memcg kills with their
    ``oom-kill:constraint=`` line. A bare "Killed process N (x)" line without
    sizes nor OOM context is not taken as a kill. Each event's ``notes`` says
    which values were left out and why."""
    parser = _Parser()
    for raw in text.splitlines():
        if not any(keyword in raw for keyword in _KEYWORDS):
            continue
        parser.feed(raw)
    return parser.events
