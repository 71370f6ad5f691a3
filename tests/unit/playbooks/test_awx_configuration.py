# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""examples/awx/configure_awx.yml against the real awx.awx modules, without an AWX to talk to.

There is no AWX here. Every task runs (errors ignored) with CONTROLLER_HOST on a port where nothing
listens: the module validates its arguments against its own argument spec first, so a task
whose arguments are right fails only when it reaches for the controller. Suboptions the modules take as
plain dicts (workflow_nodes) are checked against their documentation. scripts/test installs awx.awx
from the `ansible` package on PyPI into a collections path of its own (MEMOPS_AWX_COLLECTIONS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION, ansible_playbook

PROJECT = os.path.join(COLLECTION, "examples", "awx")
PLAYBOOK = os.path.join(PROJECT, "configure_awx.yml")
UNREACHED = "There was an unknown error when trying to connect to http://127.0.0.1:1/api/v2/"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def awx_collections():
    """The collections root holding awx.awx: MEMOPS_AWX_COLLECTIONS (scripts/test), else the `ansible` package's."""
    given = os.environ.get("MEMOPS_AWX_COLLECTIONS")
    if given:
        assert os.path.isdir(os.path.join(given, "ansible_collections", "awx", "awx")), given
        return given
    import ansible_collections  # the namespace package of the `ansible` package, when installed
    for root in (os.path.dirname(path) for path in ansible_collections.__path__):
        if os.path.isdir(os.path.join(root, "ansible_collections", "awx", "awx")):
            return root
    return None


AWX = awx_collections()
pytestmark = [pytest.mark.skipif(ansible_playbook() is None, reason="ansible-playbook is not installed"),
              pytest.mark.skipif(AWX is None, reason="awx.awx is not installed (scripts/test installs it)")]


def tasks():
    with open(PLAYBOOK, encoding="utf-8") as handle:
        (play,) = yaml.safe_load(handle)
    return play["tasks"]


def module_docs(names):
    """{name: documentation} of awx.awx modules, as ansible-doc gives it."""
    ansible_doc = os.path.join(os.path.dirname(ansible_playbook()), "ansible-doc")
    proc = subprocess.run([ansible_doc, "--json", "-t", "module"] + sorted(names), capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=AWX), timeout=300, check=True)
    return {name: entry["doc"] for name, entry in json.loads(proc.stdout).items()}


def unknown_options(value, options, where):
    """The keys of value (recursively through documented suboptions) that the documentation does not name."""
    found = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += unknown_options(item, options, "%s[%d]" % (where, index))
        return found
    if not isinstance(value, dict):
        return found
    for key, item in value.items():
        spec = options.get(key) or next((option for option in options.values() if key in option.get("aliases", [])), None)
        if spec is None:
            found.append("%s.%s" % (where, key))
        elif spec.get("suboptions"):
            found += unknown_options(item, spec["suboptions"], "%s.%s" % (where, key))
        elif spec.get("choices") and not (isinstance(item, str) and "{{" in item) and item not in spec["choices"]:
            found.append("%s.%s=%r not in %s" % (where, key, item, spec["choices"]))
    return found


@pytest.fixture(scope="module")
def task_failures(tmp_path_factory):
    """{task name: its failure line} of one run of every task (each with ignore_errors) of a copy of the project."""
    project = tmp_path_factory.mktemp("awx") / "project"
    shutil.copytree(PROJECT, str(project))
    with open(PLAYBOOK, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    for task in plays[0]["tasks"]:
        task["ignore_errors"] = True
    (project / "configure_awx.yml").write_text(yaml.safe_dump(plays))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=AWX, ANSIBLE_NOCOLOR="1", CONTROLLER_HOST="http://127.0.0.1:1",
               CONTROLLER_OAUTH_TOKEN="no-controller-here", ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=str(project / "tmp"))
    proc = subprocess.run([ansible_playbook(), "configure_awx.yml"], cwd=str(project), env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    failures = {}
    for block in proc.stdout.split("TASK [")[1:]:
        name = block.split("]", 1)[0]
        failures[name] = [line for line in block.splitlines() if line.startswith("fatal: [localhost]")]
    return proc, failures


@pytest.mark.parametrize("task", tasks(), ids=lambda task: task["name"])
def test_the_module_takes_the_arguments(task_failures, task):
    """The module's own argument validation passes: the task fails only on the unreachable controller."""
    proc, failures = task_failures
    assert task["name"] in failures, proc.stdout + proc.stderr
    fatal = failures[task["name"]]
    assert len(fatal) == 1 and UNREACHED in fatal[0], fatal


def test_every_option_is_documented():
    """Every option and suboption is one the module documents, and a literal choice is one of its choices."""
    modules = {}
    for task in tasks():
        (module,) = [key for key in task if key.startswith("awx.awx.")]
        modules.setdefault(module, []).append(task[module])
    docs = module_docs(modules)
    found = []
    for module, arguments in modules.items():
        found += unknown_options(arguments, docs[module]["options"], module)
    assert found == []


def test_the_survey_is_one_awx_takes():
    with open(os.path.join(PROJECT, "surveys", "diagnose.json"), encoding="utf-8") as handle:
        survey = json.load(handle)
    assert survey["name"] and set(survey) == {"name", "description", "spec"}
    variables = [question["variable"] for question in survey["spec"]]
    assert len(variables) == len(set(variables))
    for question in survey["spec"]:
        assert {"question_name", "variable", "type", "required", "default"} <= set(question), question
        assert question["type"] in SURVEY_TYPES, question
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"].split("\n"), question
        if question["type"] in ("integer", "float"):
            assert question["min"] <= question["default"] <= question["max"], question
    assert {"diagnose_fail_on", "diagnose_thresholds", "diagnose_samples", "diagnose_sample_interval",
            "diagnose_report_copy_dir", "memops_mail_to"} <= set(variables)
    # a textarea: AWX sends the thresholds as text, which the role decodes
    assert next(question for question in survey["spec"] if question["variable"] == "diagnose_thresholds")["type"] == "textarea"
