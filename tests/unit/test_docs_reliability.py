# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/reliability.md and docs/security.md, kept true: every test the reliability table cites exists
(the file, and in it the test function or the task of that name), every item of the reliability checklist
and of the hardening work has its row, and the role variables and files the security page names exist."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELIABILITY = os.path.join(ROOT, "docs", "reliability.md")
SECURITY = os.path.join(ROOT, "docs", "security.md")

# The reliability checklist by topic (swap files, sysctl, THP, oom_protect and systemd, /proc parsing,
# cgroups, what must hold everywhere), then the hardening work's defects, security findings and acceptance.
ITEMS = tuple(
    ["S%d" % n for n in range(1, 11)] + ["C%d" % n for n in range(1, 11)] + ["T%d" % n for n in range(1, 4)]
    + ["O%d" % n for n in range(1, 7)] + ["P%d" % n for n in range(1, 8)] + ["G%d" % n for n in range(1, 4)]
    + ["H%d" % n for n in range(1, 16)] + ["D%d" % n for n in range(1, 18)] + ["F%d" % n for n in range(1, 9)]
    + ["A%d" % n for n in range(1, 6)] + ["R%d" % n for n in range(1, 6)] + ["W1", "W2"])
NO_TEST = "no test yet"
CITATION = re.compile(r"`([^`\s]+)::([^`]+)`")


def table_rows(path=RELIABILITY):
    """{item: (what could go wrong, the answer, the test cell)} from the table's rows."""
    rows = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if not line.startswith("| ") or len(cells) != 4 or cells[0] in ("item", "---"):
                continue
            assert cells[0] not in rows, "%s has two rows" % cells[0]
            rows[cells[0]] = tuple(cells[1:])
    return rows


def task_names(path):
    """The names of the tasks (blocks, handlers, plays) of a YAML file, as written."""
    with open(path, encoding="utf-8") as handle:
        documents = yaml.safe_load(handle)
    names, stack = set(), [documents]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("name"), str) and any(key not in ("name",) for key in item):
                names.add(item["name"])
            stack.extend(value for value in item.values() if isinstance(value, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return names


def defined_tests(path):
    with open(path, encoding="utf-8") as handle:
        return set(re.findall(r"^\s*def (test_\w+)\(", handle.read(), re.MULTILINE))


def citations():
    return [(item, path, name) for item, (_wrong, _answer, tests) in sorted(table_rows().items())
            for path, name in CITATION.findall(tests)]


def test_every_item_has_a_row():
    rows = table_rows()
    assert sorted(set(ITEMS) - set(rows)) == []
    assert sorted(set(rows) - set(ITEMS)) == [], "rows of items the list above does not know"
    for item, (wrong, answer, tests) in rows.items():
        assert wrong and answer, "%s: say what could go wrong and how the collection answers" % item
        assert CITATION.search(tests) or tests == NO_TEST, \
            "%s: cite a test as `FILE::NAME`, or say %r" % (item, NO_TEST)


@pytest.mark.parametrize("item, path, name", citations(), ids=lambda value: str(value)[:60])
def test_every_cited_test_exists(item, path, name):
    full = os.path.join(ROOT, path)
    assert os.path.isfile(full), "%s cites %s, which does not exist" % (item, path)
    if path.endswith(".py"):
        assert name in defined_tests(full), "%s cites %s::%s: no such test function" % (item, path, name)
    elif path.endswith((".yml", ".yaml")):
        assert name in task_names(full), "%s cites %s::%s: no task of that name" % (item, path, name)
    else:
        pytest.fail("%s cites %s: a test is a Python test function or a task of a YAML file" % (item, path))


def test_the_citations_are_read():
    # a table whose citations no longer parse would make the test above pass on nothing
    cited = citations()
    assert len(cited) > 2 * len(ITEMS)
    assert {path.split("/")[0] for _item, path, _name in cited} == {"tests", "extensions"}


def role_variables():
    names = set()
    for spec in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(spec, encoding="utf-8") as handle:
            for entry in yaml.safe_load(handle)["argument_specs"].values():
                names.update(entry.get("options") or {})
    return names


def test_the_security_doc_names_variables_and_files_that_exist():
    with open(SECURITY, encoding="utf-8") as handle:
        text = handle.read()
    roles = sorted(os.listdir(os.path.join(ROOT, "roles")))
    known = role_variables()
    words = set(re.findall(r"`([a-z_]+)`", text))
    named = {word for word in words if word.split("_")[0] in roles and "_" in word}
    assert named, "the page names no role variable: the pattern no longer finds them"
    assert sorted(named - known) == [], "role variables named in docs/security.md that no role has"
    paths = set(re.findall(r"`((?:plugins|roles|tests|docs|playbooks)/[\w./-]+)`", text))
    paths |= set(re.findall(r"\b(docs/[\w.-]+\.md)\b", text))
    assert paths
    assert sorted(p for p in paths if not os.path.exists(os.path.join(ROOT, p))) == []
