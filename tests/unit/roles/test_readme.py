# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every role's README.md has what Galaxy users look for, and its variables agree with argument_specs.

Sections Requirements, Role Variables and Example Playbook; the Role Variables
table names, in its first column, every option of every entry point of
meta/argument_specs.yml and nothing else, and the section mentions no variable
of the role that is not an option; the example is YAML that uses the role.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(ROOT, "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))
SECTIONS = ("Requirements", "Role Variables", "Example Playbook")


def _readme(role):
    path = os.path.join(ROLES_DIR, role, "README.md")
    assert os.path.exists(path), "roles/%s has no README.md" % role
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def sections(text):
    """{heading: body} of the level-2 sections of a Markdown text; fenced code does not count as headings."""
    found, heading, body, fenced = {}, None, [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            if heading is not None:
                found[heading] = "\n".join(body)
            heading, body = line[3:].strip(), []
        elif heading is not None:
            body.append(line)
    if heading is not None:
        found[heading] = "\n".join(body)
    return found


def table_names(section):
    """The backquoted names in the first column of the section's table rows (header and rule left out)."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    names = []
    for row in rows[2:]:
        first = row.strip("|").split("|")[0]
        names.extend(re.findall(r"`([^`]+)`", first))
    return names


def options(role):
    """Every option of every entry point of the role's argument_specs."""
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    return {name for spec in specs.values() for name in (spec.get("options") or {})}


@pytest.mark.parametrize("role", ROLES)
def test_readme_has_the_galaxy_sections(role):
    found = sections(_readme(role))
    missing = [name for name in SECTIONS if not found.get(name, "").strip()]
    assert missing == [], "roles/%s/README.md lacks the sections (or they are empty): %s" % (role, missing)


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_name_exactly_the_argument_spec_options(role):
    section = sections(_readme(role)).get("Role Variables", "")
    listed = table_names(section)
    known = options(role)
    assert sorted(known - set(listed)) == [], "roles/%s/README.md: options missing from Role Variables" % role
    assert sorted(set(listed) - known) == [], "roles/%s/README.md: Role Variables lists unknown variables" % role
    assert len(listed) == len(set(listed)), "roles/%s/README.md: a variable listed twice" % role
    mentioned = set(re.findall(r"(?<![\w.])%s_\w+" % re.escape(role), section))
    assert sorted(mentioned - known) == [], "roles/%s/README.md: Role Variables mentions unknown variables" % role


@pytest.mark.parametrize("role", ROLES)
def test_example_playbook_is_yaml_that_uses_the_role(role):
    section = sections(_readme(role)).get("Example Playbook", "")
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, re.M | re.S)
    assert blocks, "roles/%s/README.md: Example Playbook has no ```yaml block" % role
    plays = [play for block in blocks for play in yaml.safe_load(block)]
    assert all(play.get("name") and play.get("hosts") for play in plays), "every play has a name and hosts"
    fqcn = "memops.linux." + role
    used = [entry for play in plays for entry in play.get("roles", [])
            if (entry.get("role") if isinstance(entry, dict) else entry) == fqcn]
    used += [task for play in plays for task in play.get("tasks", [])
             if (task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role") or {}).get("name")
             == fqcn]
    assert used, "roles/%s/README.md: the example does not use %s" % (role, fqcn)


def test_sections_reads_level_two_headings_outside_code():
    text = "# t\n## A\nx\n```yaml\n## not a heading\n```\n## B\n\n## C\ny\n"
    assert sections(text) == {"A": "x\n```yaml\n## not a heading\n```", "B": "", "C": "y"}


def test_table_names_takes_the_first_column_only():
    section = "| variable | meaning |\n| --- | --- |\n| `a_x`, `a_y` | like `a_z` |\n| `a_w` | w |\n"
    assert table_names(section) == ["a_x", "a_y", "a_w"]
