# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_redact: secrets taken out of command lines, and what is left alone."""

from __future__ import annotations

import time

import pytest

from ansible_collections.memops.linux.plugins.module_utils import _redact

DEFAULTS = _redact.compile_patterns()


@pytest.mark.parametrize("cmdline, expected", [
    ("mysqld --password=hunter2 --port 3306", "mysqld --password=<redacted> --port 3306"),
    ("app --token abc123 --verbose", "app --token <redacted> --verbose"),
    ("app -api_key=k1 --client-secret zz", "app -api_key=<redacted> --client-secret <redacted>"),
    ("env DB_PASSWORD=s3cr3t AWS_SECRET_ACCESS_KEY=x PATH=/usr/bin",
     "env DB_PASSWORD=<redacted> AWS_SECRET_ACCESS_KEY=<redacted> PATH=/usr/bin"),
    ("java -Xmx4g -jar a.jar --spring.datasource.password=x", "java -Xmx4g -jar a.jar --spring.datasource.password=<redacted>"),
    ("redis-server --requirepass foo", "redis-server --requirepass <redacted>"),
    ("curl -H Authorization: Bearer abcdefghijkl https://u:pw@h/x",
     "curl -H Authorization: Bearer <redacted> https://u:<redacted>@h/x"),
    # left alone: nothing secret-looking
    ("postgres: user db 127.0.0.1(5432) idle", "postgres: user db 127.0.0.1(5432) idle"),
    ("svc --passive --verbose", "svc --passive --verbose"),
    ("java -Xmx4g -jar /opt/shop/shop.jar", "java -Xmx4g -jar /opt/shop/shop.jar"),
])
def test_default_patterns(cmdline, expected):
    assert _redact.redact(cmdline, DEFAULTS) == expected


def test_own_patterns_replace_the_defaults_and_an_empty_list_keeps_all():
    own = _redact.compile_patterns([r"--port=(\d+)", "sekrit"])
    assert _redact.redact("a --port=5 --password=x sekrit", own) == "a --port=<redacted> --password=x <redacted>"
    assert _redact.compile_patterns([]) == []


@pytest.mark.parametrize("patterns, message", [
    (["(unclosed"], "redact[0] '(unclosed' is not a valid regular expression"),
    (["ok", ""], "redact[1] must be a regular expression"),
    ([5], "redact[0] must be a regular expression"),
])
def test_bad_patterns_are_refused(patterns, message):
    with pytest.raises(_redact.RedactError, match=message.replace("[", r"\[").replace("(", r"\(")):
        _redact.compile_patterns(patterns)


def test_redact_commands_walks_facts_and_reports():
    data = {"processes": {"top_rss": [{"cmdline": "a --token t1", "name": "--token t2"}]},
            "health": {"findings": [{"evidence": ["java: RSS 1Gi, java --password=p1"], "title": "--token t3"}]},
            "hosts": [[{"cmdline": None}, {"cmdline": "b KEY_SECRET=v"}]]}
    assert _redact.redact_commands(data, DEFAULTS) is data
    assert data["processes"]["top_rss"][0] == {"cmdline": "a --token <redacted>", "name": "--token t2"}
    assert data["health"]["findings"][0]["evidence"] == ["java: RSS 1Gi, java --password=<redacted>"]
    assert data["health"]["findings"][0]["title"] == "--token t3"
    assert data["hosts"][0] == [{"cmdline": None}, {"cmdline": "b KEY_SECRET=<redacted>"}]


def test_the_defaults_are_quick_on_the_longest_command_lines():
    started = time.monotonic()
    for text in ("a" * 4096, "-" + "password" * 512, "--" + "tokentoken." * 372, "bearer " * 585, "://" + ":" * 4093 + "@"):
        _redact.redact(text, DEFAULTS)
    assert time.monotonic() - started < 2
