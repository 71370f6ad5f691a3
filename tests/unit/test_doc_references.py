# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every M() and P() reference of this collection's docs names something that exists.

M() names a module, P(fqcn#type) a plugin of that type or a role (P(fqcn#role)).
ansible-doc renders a wrong one as a dead link and `antsibull-docs
lint-collection-docs` (the sanity step of scripts/test) fails on it; this test
finds it without antsibull-docs installed.
"""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

REFERENCE = re.compile(r"\b(?P<kind>[MP])\(memops\.linux\.(?P<name>[a-z0-9_]+)(?:#(?P<type>[a-z_]+))?\)")
DOC_DIRS = ("plugins", "roles")


def doc_files():
    for top in DOC_DIRS:
        for directory, dirs, files in os.walk(os.path.join(COLLECTION, top)):
            dirs[:] = sorted(name for name in dirs if name != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".yml", ".yaml")):
                    yield os.path.join(directory, name)


def references():
    found = []
    for path in doc_files():
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                for match in REFERENCE.finditer(line):
                    found.append((os.path.relpath(path, COLLECTION), number, match))
    return found


def target_exists(kind, name, plugin_type):
    if kind == "M":
        plugin_type = "module"
    if plugin_type == "role":
        return os.path.isdir(os.path.join(COLLECTION, "roles", name, "tasks"))
    directory = os.path.join(COLLECTION, "plugins", "modules" if plugin_type == "module" else plugin_type)
    return any(os.path.exists(os.path.join(directory, name + suffix)) for suffix in (".py", ".yml", ".yaml"))


def test_references_are_found():
    """The scan sees the references the docs are known to hold, in both forms."""
    matches = [entry[2] for entry in references()]
    seen = {(match.group("kind"), match.group("name"), match.group("type")) for match in matches}
    assert ("M", "mem_facts", None) in seen
    assert ("P", "diagnose", "role") in seen


@pytest.mark.parametrize("kind, name, plugin_type, exists", [
    ("M", "mem_facts", None, True),
    ("M", "diagnose", None, False),
    ("P", "diagnose", "role", True),
    ("P", "mem_facts", "role", False),
    ("P", "host_summary", "filter", True),
    ("P", "host_summary", "lookup", False),
])
def test_target_exists(kind, name, plugin_type, exists):
    assert target_exists(kind, name, plugin_type) is exists


def test_every_reference_names_what_exists():
    wrong = []
    for path, number, match in references():
        if match.group("kind") == "P" and match.group("type") is None:
            wrong.append(f"{path}:{number}: {match.group(0)} needs a type: P(memops.linux.NAME#TYPE)")
        elif not target_exists(match.group("kind"), match.group("name"), match.group("type")):
            hint = ""
            if match.group("kind") == "M" and target_exists("P", match.group("name"), "role"):
                hint = f" ({match.group('name')} is a role: write P(memops.linux.{match.group('name')}#role))"
            wrong.append(f"{path}:{number}: {match.group(0)} names nothing in this collection{hint}")
    assert not wrong, "\n".join(wrong)
