# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module-level fuzzing: every module's entry point, in check mode, with generated parameters and generated
/proc, /sys, fstab, sysctl.d and unit trees.

Each module's main() (the action plugin's run() for the controller-side host_report and fleet_report) runs
in-process, once per case, with parameters drawn from its argument_spec (params.py) and every path option
pointing into a tree drawn for the case (trees.py). A case passes when the module ends with exit_json, or
with fail_json and a message; it fails on a traceback, a result that is not strict JSON, a case that runs
longer than MEMOPS_FUZZ_CASE_SECONDS of CPU time (default 5; 6 times that in all), any write or program started (harness.py: check mode
changes nothing), or a change outside the tree.

Cases per module: MEMOPS_FUZZ_CASES (default 10000, what the ``fuzz`` step of scripts/test runs), e.g.
``MEMOPS_FUZZ_CASES=100000 pytest tests/fuzz -k swapfile`` to search one module harder, or
``MEMOPS_FUZZ_CASES=200 pytest tests/fuzz`` for a quick look. The ``ci`` Hypothesis profile (tests/conftest.py)
draws the same cases on every run; ``HYPOTHESIS_PROFILE=dev`` draws new ones.
"""

from __future__ import annotations


import pytest

from hypothesis import given, strategies as st

from ansible_collections.memops.linux.plugins.module_utils import _memfacts, _oom
from ansible_collections.memops.linux.plugins.modules import (
    mem_facts, mem_reclaim, memory_cgroup, memory_limit, oom_protect, swapfile, sysctl, thp,
)
from ansible_collections.memops.linux.tests.fuzz import harness, params as fuzz_params, trees
from ansible_collections.memops.linux.tests.fuzz.conftest import FUZZ

# No pytest-timeout (tests/unit's 300 s): each case has its own limit, and the step its own.
pytestmark = pytest.mark.timeout(0)

PROC_SYS = {"proc_root": ["proc", "sys", "nothing"], "sys_root": ["sys", "proc", "sys/fs/cgroup"]}
UNITS = st.sampled_from(["web.service", "web", "sshd.service", "-web.service", "web.service/../x", "a b.service",
                         "web@1.service", "web.socket", "", "\u00e9.service", "x" * 300 + ".service", "--help"])


def _answers():
    """What each command answers in one case: the same kind for all of its commands."""
    return st.one_of(
        st.sampled_from([(0, "", ""), (1, "", "Failed"), (127, "", "not found")]).map(lambda answer: lambda argv: answer),
        st.tuples(st.sampled_from([1, 100, 4242, 0, "x"]), st.sampled_from(["4096", "[not set]", "", "infinity", "9" * 40]))
        .map(lambda parts: lambda argv: (0, "systemd 255 (255.4-1)\n+PAM" if "--version" in argv else
                                         harness.SYSTEMCTL_SHOW % {"pid": parts[0], "unit": "web.service",
                                                                   "current": parts[1]}, "")),
        st.text(max_size=80).map(lambda text: lambda argv: (0, text, "")),
    )


ANSWERS = _answers()


@pytest.fixture(autouse=True)
def fast_sleep(monkeypatch):
    """Waits return at once (after the checks time.sleep makes: nan, negative and huge are still refused)."""
    real = harness.time_sleep

    def sleep(seconds):
        real(0 if 0 <= seconds <= 86400 else seconds)

    for function in (_memfacts.Gatherer.sample, _oom.await_score):
        monkeypatch.setattr(function, "__defaults__", tuple(sleep if d is real else d for d in function.__defaults__))
    monkeypatch.setattr("time.sleep", sleep)


def fuzz(layout, module, argument_spec, tree_paths=None, fixed=None, override=None):
    """Run ``module`` on FUZZ cases: a tree, parameters and command answers each. ``fixed`` gives the
    strategies of the path options, from the layout."""
    name = module.__name__.rsplit(".", 1)[-1]
    tree = trees.trees(tree_paths)
    args = fuzz_params.params(argument_spec, fixed=(fixed or roots)(layout), override=override)

    @FUZZ
    @given(tree, args, ANSWERS)
    def case(changes, module_args, answer):
        layout.build(changes)
        outcome = harness.run_main(module, module_args, answer, layout.tmp)
        harness.judge(outcome, name)
        assert layout.outside_unchanged(), "a file outside the tree changed"

    case()


def roots(layout, names=("proc_root", "sys_root")):
    return {name: fuzz_params.paths(layout, PROC_SYS[name]) for name in names}


def spec_of(module):
    return harness.argument_spec(module)


def test_mem_facts(layout):
    # the saved kernel log and the sosreport inside the tree too (the tree itself holds proc/: a sosreport)
    fuzz(layout, mem_facts, spec_of(mem_facts),
         override={"kernel_log_path": st.one_of(st.none(), fuzz_params.paths(layout, ["dmesg", "proc/meminfo", "proc"])),
                   "sosreport": st.one_of(st.none(), fuzz_params.paths(layout, [".", "proc", "proc/meminfo"]))})


def test_mem_reclaim(layout):
    fuzz(layout, mem_reclaim, spec_of(mem_reclaim))


def test_memory_cgroup(layout):
    fuzz(layout, memory_cgroup, spec_of(memory_cgroup),
         override={"name": st.one_of(st.sampled_from(["web", "db", "../x", "a/b", "", ".", "-x"]), st.text(max_size=20)),
                   "pids": st.lists(st.one_of(st.sampled_from(trees.PIDS), fuzz_params.HOSTILE_INT), max_size=4),
                   "process_name": st.one_of(st.sampled_from(trees.NAMES), st.text(max_size=10))})


def test_memory_limit(layout):
    fuzz(layout, memory_limit, spec_of(memory_limit),
         fixed=lambda layout: dict(roots(layout), unit_dir=fuzz_params.paths(layout, ["etc/systemd/system", "etc"])),
         override={"service": UNITS})


def test_oom_protect(layout):
    fuzz(layout, oom_protect, spec_of(oom_protect),
         fixed=lambda layout: dict(roots(layout), unit_dir=fuzz_params.paths(layout, ["etc/systemd/system", "etc"])),
         override={"service": UNITS, "pid": st.one_of(st.sampled_from(trees.PIDS), fuzz_params.HOSTILE_INT),
                   "name": st.one_of(st.sampled_from(trees.NAMES), st.text(max_size=10)),
                   "score_adj": st.one_of(st.integers(-1000, 1000), fuzz_params.HOSTILE_INT)})


def test_swapfile(layout):
    fuzz(layout, swapfile, spec_of(swapfile),
         fixed=lambda layout: dict(roots(layout),
                                   path=fuzz_params.paths(layout, ["swapfile", "etc/fstab", "x y/swap", "proc"]),
                                   fstab=fuzz_params.paths(layout, ["etc/fstab"])))


def test_sysctl(layout):
    keys = st.one_of(st.sampled_from(["vm.swappiness", "vm/swappiness", "vm.overcommit_memory", "vm.overcommit_ratio",
                                      "vm.min_free_kbytes", "vm.dirty_ratio", "vm.drop_caches", "kernel.x", "vm..x",
                                      "vm.*", "", "vm.swappiness ", "../vm"]), st.text(max_size=12))
    fuzz(layout, sysctl, spec_of(sysctl),
         fixed=lambda layout: dict(
             roots(layout, ("proc_root",)),
             sysctl_file=fuzz_params.paths(layout, ["etc/sysctl.d/60-memops.conf", "etc/sysctl.d/x.conf"]),
             sysctl_dirs=st.lists(fuzz_params.paths(layout, ["etc/sysctl.d", "etc"]), max_size=3)),
         override={"values": st.one_of(st.dictionaries(keys, fuzz_params.SCALAR, max_size=4),
                                       fuzz_params.value({"type": "dict"}))})


def test_thp(layout):
    fuzz(layout, thp, spec_of(thp))
