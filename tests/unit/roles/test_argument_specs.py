# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every role's meta/argument_specs.yml matches its defaults/main.yml and names.

For each role under roles/: every public default is documented in the main
entry point with the same default, every option has a type and a description,
public variables carry the role's prefix and private ones (vars/main.yml) the
role's prefix after an underscore, and every entry point has its tasks file.
"""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES_DIR = os.path.join(ROOT, "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name))) \
    if os.path.isdir(ROLES_DIR) else []


def _load(role, *parts):
    path = os.path.join(ROLES_DIR, role, *parts)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _specs(role):
    specs = _load(role, "meta", "argument_specs.yml")
    assert specs is not None, "roles/%s has no meta/argument_specs.yml" % role
    return specs["argument_specs"]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_with_the_same_default(role):
    defaults = _load(role, "defaults", "main.yml") or {}
    options = _specs(role)["main"].get("options") or {}
    assert sorted(set(defaults) - set(options)) == [], "defaults of %s missing in argument_specs main" % role
    for name, value in defaults.items():
        assert options[name].get("default") == value, "%s: argument_specs default %r, defaults/main.yml %r" % (
            name, options[name].get("default"), value)
    undocumented_default = [name for name, spec in options.items()
                            if name not in defaults and not spec.get("required")]
    assert undocumented_default == [], "optional variables without a default in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_type_description_and_prefix(role):
    for entry_point, spec in _specs(role).items():
        assert spec.get("short_description"), "%s %s: no short_description" % (role, entry_point)
        for name, option in (spec.get("options") or {}).items():
            assert name.startswith(role + "_"), "%s %s: %s lacks the prefix %s_" % (role, entry_point, name, role)
            assert option.get("type"), "%s %s: %s has no type" % (role, entry_point, name)
            assert option.get("description"), "%s %s: %s has no description" % (role, entry_point, name)
            if option["type"] == "list":
                assert option.get("elements"), "%s %s: list %s has no elements" % (role, entry_point, name)


@pytest.mark.parametrize("role", ROLES)
def test_entry_points_have_tasks_and_share_the_main_definitions(role):
    specs = _specs(role)
    main = specs["main"].get("options") or {}
    for entry_point, spec in specs.items():
        assert os.path.exists(os.path.join(ROLES_DIR, role, "tasks", entry_point + ".yml")), \
            "%s: entry point %s has no tasks/%s.yml" % (role, entry_point, entry_point)
        for name, option in (spec.get("options") or {}).items():
            if name in main:
                for key in ("type", "default", "choices", "elements"):
                    assert option.get(key) == main[name].get(key), \
                        "%s %s: %s.%s differs from the main entry point" % (role, entry_point, name, key)


@pytest.mark.parametrize("role", ROLES)
def test_private_variables_carry_the_private_prefix(role):
    private = _load(role, "vars", "main.yml") or {}
    wrong = [name for name in private if not name.startswith("_%s_" % role)]
    assert wrong == [], "vars/main.yml of %s: %s should start with _%s_" % (role, wrong, role)
