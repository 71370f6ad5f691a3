# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vm_tuning role and the diagnosis agree: every remedy that names the role
names one of its variables, with a value the role takes; every profile sets
only settings the role has explicit variables for."""

from __future__ import annotations

import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, "roles", "vm_tuning")
RULES = os.path.join(ROOT, "plugins", "module_utils")


def _load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _remedies():
    """(variable, value) of every remedy of the rules (_diagnosis.py, _rules_*.py) that names memops.linux.vm_tuning."""
    source = ""
    for path in [os.path.join(RULES, "_diagnosis.py")] + sorted(glob.glob(os.path.join(RULES, "_rules_*.py"))):
        with open(path, encoding="utf-8") as handle:
            source += handle.read()
    found = re.findall(r'role="memops\.linux\.vm_tuning",\s*variable="(\w+)"(?:,\s*value=([^,)\s]+))?', source)
    assert found, "no remedy of the rules names memops.linux.vm_tuning"
    assert ("vm_tuning_nr_hugepages", "keep") in found, "the rules of _rules_breakdown.py are not read"
    return [(variable, value.strip('"') if value else None) for variable, value in found]


def test_every_remedy_names_a_variable_of_the_role():
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    profiles = _load("vars", "main.yml")["_vm_tuning_profiles"]
    for variable, value in _remedies():
        assert variable in options, "_diagnosis.py names %s, which vm_tuning does not have" % variable
        if variable == "vm_tuning_profile" and value is not None:
            assert value in profiles, "_diagnosis.py names profile %s, which vm_tuning does not have" % value


def test_profiles_set_only_what_explicit_variables_can_override():
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    profiles = _load("vars", "main.yml")["_vm_tuning_profiles"]
    assert sorted(profiles) == ["database", "default", "desktop", "redis"]
    for name, profile in profiles.items():
        assert sorted(profile) == ["sysctl", "thp"], name
        for setting in profile["sysctl"]:
            assert setting.startswith("vm.") and "vm_tuning_" + setting[3:] in options, (name, setting)
        for setting in profile["thp"]:
            assert "vm_tuning_thp_" + setting in options, (name, setting)


def test_profiles_follow_the_guide():
    profiles = _load("vars", "main.yml")["_vm_tuning_profiles"]
    assert profiles["database"]["sysctl"]["vm.swappiness"] == 10
    assert profiles["redis"]["sysctl"]["vm.overcommit_memory"] == 1
    assert profiles["redis"]["thp"]["enabled"] == "never"
    assert profiles["desktop"]["sysctl"]["vm.swappiness"] == 60
