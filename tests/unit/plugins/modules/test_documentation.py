# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module documents exactly the options its argument spec takes, with their types,
defaults and choices, doc fragments included; every module that reads the host takes
proc_root (and sys_root where it reads /sys) from the one shared spec and fragment."""

from __future__ import annotations

import importlib
import os

import pytest
import yaml

from ansible_collections.memops.linux.plugins.module_utils import _procfs
from ansible_collections.memops.linux.plugins.plugin_utils import _action
from ansible_collections.memops.linux.tests.unit.plugins.modules.documentation import (
    argument_spec, documented_options,
)

MODULES_DIR = os.path.join(os.path.dirname(_procfs.__file__), os.pardir, "modules")
ACTIONS_DIR = os.path.join(MODULES_DIR, os.pardir, "action")
# the controller's modules (fleet_report, report_mail, ...) only document action plugins of their name
ACTION_MODULES = sorted(name[:-3] for name in os.listdir(ACTIONS_DIR)
                        if name.endswith(".py") and os.path.exists(os.path.join(MODULES_DIR, name)))
HOST_MODULES = sorted(name[:-3] for name in os.listdir(MODULES_DIR)
                      if name.endswith(".py") and not name.startswith("_") and name[:-3] not in ACTION_MODULES)
# what every report action adds to its own options (plugins/plugin_utils/_action.ReportAction)
REPORT_ACTION_OPTIONS = {"mode": _action.MODE_OPTION, "directory_mode": _action.DIRECTORY_MODE_OPTION,
                         "redact": _action.REDACT_OPTION}


def load(name):
    return importlib.import_module("ansible_collections.memops.linux.plugins.modules." + name)


def test_every_host_module_is_checked():
    assert {"mem_facts", "mem_reclaim", "memory_cgroup", "memory_limit", "oom_protect", "swapfile", "sysctl",
            "thp"} <= set(HOST_MODULES)


@pytest.mark.parametrize("name", HOST_MODULES)
def test_documented_options_are_the_argument_spec(name, monkeypatch):
    module = load(name)
    spec, _kwargs = argument_spec(module, monkeypatch)
    options = documented_options(module)
    assert sorted(options) == sorted(spec)
    for option, documented in options.items():
        for key in ("type", "default", "choices", "elements"):
            assert documented.get(key) == spec[option].get(key), (option, key)
        assert bool(documented.get("required")) == bool(spec[option].get("required")), option


def test_every_action_module_is_checked():
    assert {"fleet_report", "host_report", "report_mail"} <= set(ACTION_MODULES)


@pytest.mark.parametrize("name", ACTION_MODULES)
def test_action_modules_document_the_action_spec(name):
    action = importlib.import_module("ansible_collections.memops.linux.plugins.action." + name).ActionModule
    spec = dict(action.ARGUMENT_SPEC)
    if issubclass(action, _action.ReportAction):
        spec.update(REPORT_ACTION_OPTIONS)
    options = documented_options(load(name))
    assert sorted(options) == sorted(spec)
    for option, documented in options.items():
        for key in ("type", "default", "choices", "elements", "aliases"):
            assert documented.get(key) == spec[option].get(key), (option, key)
        assert bool(documented.get("required")) == bool(spec[option].get("required")), option


@pytest.mark.parametrize("name", HOST_MODULES)
def test_root_options_come_from_the_shared_spec_and_fragment(name, monkeypatch):
    module = load(name)
    spec, _kwargs = argument_spec(module, monkeypatch)
    fragments = yaml.safe_load(module.DOCUMENTATION)["extends_documentation_fragment"]
    assert spec["proc_root"] == _procfs.ROOT_OPTIONS["proc_root"]
    assert "memops.linux._roots" in fragments
    if "sys_root" in spec:
        assert spec["sys_root"] == _procfs.ROOT_OPTIONS["sys_root"]
        assert "memops.linux._roots.sys_root" in fragments
    own = yaml.safe_load(module.DOCUMENTATION).get("options") or {}
    assert "proc_root" not in own and "sys_root" not in own
