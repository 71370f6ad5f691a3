# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing the controller-side entry points, host_report and fleet_report: their action plugins' run(), in check
mode, with parameters drawn from their argument specs and facts drawn from what mem_facts gathered on the
pristine tree, with values replaced or removed (see test_modules.py for what a case must and must not do; an
AnsibleError with a message is their fail_json). Cases: MEMOPS_FUZZ_CASES, as for the modules."""

from __future__ import annotations

import functools
import json
import types

import pytest

from hypothesis import given, strategies as st

from ansible_collections.memops.linux.plugins.action import fleet_report, host_report
from ansible_collections.memops.linux.plugins.modules import mem_facts
from ansible_collections.memops.linux.plugins.plugin_utils import _action
from ansible_collections.memops.linux.tests.fuzz import harness, params as fuzz_params
from ansible_collections.memops.linux.tests.fuzz.conftest import FUZZ

# No pytest-timeout (tests/unit's 300 s): each case has its own limit, and the step its own.
pytestmark = pytest.mark.timeout(0)

HOSTS = ["db1", "web1", "<b>x</b>", "", "../etc", "h\u00e9\u2028\x1b[31m", "gone"]
EXTRA = {"mode": _action.MODE_OPTION, "directory_mode": _action.DIRECTORY_MODE_OPTION, "redact": _action.REDACT_OPTION}
MODES = st.one_of(st.sampled_from(["0600", "0640", "0644", "0666", "06777", "600", "u=rw", "0o600", 384, "rw", ""]),
                  fuzz_params.value({"type": "raw"}))


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    """What mem_facts gathers on the pristine tree: the facts every case changes."""
    from ansible_collections.memops.linux.tests.fuzz.trees import Layout  # pylint: disable=import-outside-toplevel
    layout = Layout(str(tmp_path_factory.mktemp("facts")))
    outcome = harness.run_main(mem_facts, {"proc_root": layout.path("proc"), "sys_root": layout.path("sys")},
                               lambda argv: (127, "", ""), layout.tmp)
    assert outcome.error is None and not outcome.result.get("failed"), outcome.error or outcome.result
    return outcome.result["ansible_facts"]["memops"]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _apply(base, edits):
    """A copy of base with each (path, delete, value) edit made where the path still leads."""
    facts = json.loads(base)
    for path, delete, value in edits:
        if not path:
            facts = value
            continue
        parent = facts
        try:
            for step in path[:-1]:
                parent = parent[step]
            if delete and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return facts


def mutated(facts):
    paths = list(_paths(facts))
    edit = st.tuples(st.sampled_from(paths), st.booleans(), fuzz_params.ANY)
    return st.lists(edit, max_size=5).map(functools.partial(_apply, json.dumps(facts)))


def run(action_class, name, args, task_vars):
    task = types.SimpleNamespace(args=args, check_mode=True, async_val=0, action="memops.linux." + name)
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None))
    action = action_class(task, connection, None, None, None, None)
    return harness.run_action(action, task_vars)


@pytest.mark.parametrize("health", ["critical", None, ["ok"], {"status": 3}])
def test_host_report_with_a_health_of_another_shape(facts, health):
    """A case the fuzzing found: facts whose health is no dict (here a text) once raised AttributeError."""
    outcome = run(host_report.ActionModule, "host_report", {}, {"inventory_hostname": "db1",
                                                                "ansible_facts": {"memops": dict(facts, health=health)}})
    harness.judge(outcome, "host_report")
    if not isinstance(health, dict):
        assert outcome.result["status"] == "unknown"


def test_host_report(layout, facts):
    spec = dict(host_report.ActionModule.ARGUMENT_SPEC, **EXTRA)
    # gather runs mem_facts on the host through the task's connection, which these cases have not; mem_facts'
    # own main() is fuzzed in test_modules.py
    args = fuzz_params.params(spec, fixed={"dest": st.one_of(st.none(), fuzz_params.paths(layout, ["reports"])),
                                           "gather": st.none()},
                              override={"mode": MODES, "directory_mode": MODES})

    @FUZZ
    @given(args, mutated(facts), st.sampled_from(HOSTS))
    def case(task_args, host_facts, host):
        outcome = run(host_report.ActionModule, "host_report", {k: v for k, v in task_args.items() if v is not None},
                      {"inventory_hostname": host, "ansible_facts": {"memops": host_facts}})
        harness.judge(outcome, "host_report")
        assert layout.outside_unchanged(), "a file outside the tree changed"

    case()


def test_fleet_report(layout, facts):
    spec = dict(fleet_report.ActionModule.ARGUMENT_SPEC, **EXTRA)
    args = fuzz_params.params(spec, fixed={"dest": fuzz_params.paths(layout, ["reports"])},
                              override={"mode": MODES, "directory_mode": MODES,
                                        "hosts": st.lists(st.one_of(st.sampled_from(HOSTS), st.text(max_size=8)),
                                                          max_size=5),
                                        "result_var": st.sampled_from(["memops_result", "x", ""])})
    results = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "failed": st.booleans(), "unreachable": st.booleans(), "skipped": st.booleans(), "msg": fuzz_params.SCALAR}))
    hostvars = st.fixed_dictionaries({
        name: st.fixed_dictionaries({"ansible_facts": st.one_of(st.just({}), st.fixed_dictionaries(
            {"memops": st.one_of(mutated(facts), st.just(facts))})), "memops_result": results})
        for name in HOSTS if name != "gone"})

    @FUZZ
    @given(args, hostvars)
    def case(task_args, host_vars):
        outcome = run(fleet_report.ActionModule, "fleet_report", task_args, {"hostvars": host_vars})
        harness.judge(outcome, "fleet_report")
        assert layout.outside_unchanged(), "a file outside the tree changed"

    case()
