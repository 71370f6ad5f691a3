# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Secrets taken out of command lines before they leave the host.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Command lines often carry passwords and
tokens passed as arguments (``--password=...``, ``--token abc``,
``DB_PASSWORD=...``, ``https://user:pass@host``). ``redact`` replaces them
with ``<redacted>`` wherever a command line is written: the facts of mem_facts,
the per-host and fleet reports, the checker's metrics and notifications.

A pattern is a Python regular expression searched in each command line: the
text its first group matched, or the whole match when it has no group, is
replaced. The default patterns (DEFAULT_PATTERNS) catch arguments and
``KEY=VALUE`` words whose name looks like a secret, bearer tokens and the
password of a URL.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Pattern

REDACTED = "<redacted>"

# a name that looks like a secret: password, passwd, passphrase, secret, token, api_key, access-key,
# private_key, credentials, auth_token...
_SECRET_NAME = r"[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key" \
               r"|credentials?|client[-_]?key)[\w.-]*"

DEFAULT_PATTERNS = (
    # --password=VALUE, -token=VALUE, DB_PASSWORD=VALUE, password=VALUE
    r"(?i)(?:^|(?<=\s))-{0,2}%s=(\S+)" % _SECRET_NAME,
    # --password VALUE, --api-key VALUE (the next word, unless it is another option)
    r"(?i)(?:^|(?<=\s))--?%s\s+([^\s-]\S*)" % _SECRET_NAME,
    # Authorization: Bearer VALUE, --header 'Authorization: Basic VALUE'
    r"(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})",
    # scheme://user:PASSWORD@host
    r"://[^\s/:@]*:([^\s/@]+)@",
)


class RedactError(ValueError):
    """A redact pattern that is not a valid regular expression."""


def compile_patterns(patterns: Iterable[str] | None = None) -> list[Pattern[str]]:
    """The compiled ``patterns``; DEFAULT_PATTERNS when None, none at all for an empty list.
    Raises RedactError naming the pattern that does not compile."""
    compiled = []
    for index, pattern in enumerate(DEFAULT_PATTERNS if patterns is None else patterns):
        if not isinstance(pattern, str) or not pattern:
            raise RedactError("redact[%d] must be a regular expression, got %r" % (index, pattern))
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise RedactError("redact[%d] %r is not a valid regular expression: %s; for example "
                              "'(?i)--db-pass=(\\S+)' hides what its first group matches" % (index, pattern, exc))
    return compiled


def _replace(match: Any) -> str:
    if not match.re.groups:
        return REDACTED
    start, end = match.span(1)
    if start < 0:
        return match.group()
    whole_start = match.start()
    text = match.group()
    return text[:start - whole_start] + REDACTED + text[end - whole_start:]


def redact(text: Any, patterns: list[Pattern[str]]) -> Any:
    """``text`` with what ``patterns`` match replaced by REDACTED; anything but a str as it is."""
    if not isinstance(text, str) or not text:
        return text
    for pattern in patterns:
        text = pattern.sub(_replace, text)
    return text


# where command lines are: the processes' own, and the evidence of findings that quote them
COMMAND_KEYS = ("cmdline", "evidence")


def redact_commands(data: Any, patterns: list[Pattern[str]], keys: Iterable[str] = COMMAND_KEYS) -> Any:
    """``data`` (facts, a report: nested dicts and lists) with every str under one of ``keys``, or in a list
    there, redacted; changed in place, and returned."""
    keys = frozenset(keys)
    if not patterns:
        return data
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name, value in item.items():
                if name in keys and isinstance(value, str):
                    item[name] = redact(value, patterns)
                elif name in keys and isinstance(value, list):
                    item[name] = [redact(line, patterns) for line in value]
                    stack.extend(line for line in value if isinstance(line, (dict, list)))
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, (dict, list)))
    return data
