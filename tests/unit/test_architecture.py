# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The layers of docs/architecture.md, kept: which file may import which, one owner
for each piece of host knowledge and for the verdict's vocabulary, no file under
plugins/ longer than 700 lines, and no code written twice (pylint's symilar)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
MODULE_UTILS = os.path.join(PLUGINS, "module_utils")
PACKAGE = "ansible_collections.memops.linux.plugins."

# module_utils by layer, lowest first: a file imports only files of lower layers
# (or, within its layer, the ones named after it here).
LAYERS = (
    ("foundation", {"_schema": (), "_units": (), "_textfile": (), "_procfs": (), "_redact": (), "_fstab": ("_procfs", "_textfile")}),
    ("host", {"_kernel": (), "_host": (), "_cgroups": (), "_kernlog": ("_oomlog",), "_oomlog": ()}),
    ("rules", {"_heap": (), "_diagnosis": ("_rules_breakdown", "_rules_cgroups"), "_rules_breakdown": (),
               "_rules_cgroups": (), "_overcommit": (), "_metrics": (), "_notify": ()}),
    ("actors", {"_systemd": (), "_swapdisk": (), "_swap": ("_swapdisk",), "_swaphost": ("_swap", "_swapdisk"),
                "_sysctl": (), "_thp": (), "_oom": (), "_memlimits": (), "_reclaim": ("_swap",)}),
    ("facts", {"_workloads": (), "_breakdown": (), "_proctable": (), "_smaps": (),
               "_memfacts": ("_workloads", "_breakdown", "_proctable"), "_leak_history": (), "_sosreport": ()}),
)
LAYER_OF = {name: index for index, (_layer, names) in enumerate(LAYERS) for name in names}
SAME_LAYER = {name: set(allowed) for _layer, names in LAYERS for name, allowed in names.items()}
MAX_LINES = 700


def python_files(top):
    for directory, _dirs, files in os.walk(top):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def collection_imports(path):
    """The collection's plugin modules ``path`` imports, as 'module_utils._x' or 'plugin_utils._y'."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            rest = node.module[len(PACKAGE):]
            if "." in rest:  # from ...module_utils._x import name
                found.add(rest)
            else:  # from ...module_utils import _x
                found.update("%s.%s" % (rest, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(PACKAGE):] for alias in node.names if alias.name.startswith(PACKAGE))
    return found


def test_every_module_util_has_its_layer():
    names = {os.path.basename(p)[:-3] for p in python_files(MODULE_UTILS)} - {"__init__"}
    assert names - set(LAYER_OF) == set(), "add the new file to LAYERS and to docs/architecture.md"


@pytest.mark.parametrize("name", sorted(LAYER_OF))
def test_module_utils_import_only_lower_layers(name):
    path = os.path.join(MODULE_UTILS, name + ".py")
    for imported in collection_imports(path):
        area, _dot, other = imported.partition(".")
        assert area == "module_utils", "%s imports %s: controller code is not for managed nodes" % (name, imported)
        if LAYER_OF[other] == LAYER_OF[name]:
            assert other in SAME_LAYER[name], "%s imports %s of its own layer" % (name, other)
        else:
            assert LAYER_OF[other] < LAYER_OF[name], "%s imports %s, a layer above it" % (name, other)


def test_only_modules_and_controller_code_import_the_fact_gatherer():
    importers = {os.path.relpath(path, PLUGINS) for path in python_files(PLUGINS)
                 if "module_utils._memfacts" in collection_imports(path)}
    assert all(p.startswith(("modules/", "plugin_utils/")) for p in importers), importers


def test_no_file_under_plugins_is_longer_than_700_lines():
    long = {}
    for path in python_files(PLUGINS):
        with open(path, encoding="utf-8") as handle:
            count = sum(1 for _line in handle)
        if count > MAX_LINES:
            long[os.path.relpath(path, ROOT)] = count
    assert long == {}


def _sources(pattern, top=PLUGINS):
    """{relative path: text} of the plugin files (Python and report assets) whose text matches ``pattern``."""
    found = {}
    for directory, _dirs, files in os.walk(top):
        for name in files:
            if name.endswith((".py", ".js")):
                path = os.path.join(directory, name)
                with open(path, encoding="utf-8") as handle:
                    if re.search(pattern, handle.read()):
                        found[os.path.relpath(path, ROOT)] = True
    return sorted(found)


def test_systemd_as_pid1_is_decided_in_one_place():
    # PID 1's comm, and the sd_booted() way: only _host asks
    assert _sources(r"""["']1["'],\s*["']comm["']|read_pid\(\s*1,\s*["']comm|run/systemd/system["']\)""") == [
        "plugins/module_utils/_host.py"]


def test_the_cgroup_layout_is_decided_in_one_place():
    assert _sources(r"cgroup\.controllers") == ["plugins/module_utils/_cgroups.py"]
    assert _sources(r"\bdef hierarchy\(|\b(?:unified|legacy|hybrid)[\"'] if ") == ["plugins/module_utils/_cgroups.py"]


def test_severity_and_status_order_is_defined_once():
    words = r"[\"'](?:ok|info|monitor|critical|unknown)[\"']"
    literal = r"[(\[]\s*%s\s*,\s*%s|%s\s*:\s*\d" % (words, words, words)
    assert _sources(literal) == ["plugins/module_utils/_schema.py"]


def _without_documentation(path):
    """The file's text with module DOCUMENTATION, EXAMPLES and RETURN strings emptied (line count kept)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return re.sub(r'^(DOCUMENTATION|EXAMPLES|RETURN) = r?"""(.*?)"""',
                  lambda m: '%s = """%s"""' % (m.group(1), "\n" * m.group(2).count("\n")), text, flags=re.S | re.M)


def test_no_code_is_written_twice(tmp_path):
    """pylint's symilar over plugins/ and the roles' Python: no six lines the same,
    outside module documentation, comments, docstrings, imports and signatures."""
    symilar = shutil.which("symilar", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if symilar is None:
        pytest.fail("symilar (pylint) is not installed: pip install -r tests/requirements.txt")
    files = list(python_files(PLUGINS)) + list(python_files(os.path.join(ROOT, "roles")))
    copies = []
    for path in files:
        copy = tmp_path / os.path.relpath(path, ROOT).replace(os.sep, "__")
        copy.write_text(_without_documentation(path), encoding="utf-8")
        copies.append(str(copy))
    proc = subprocess.run([symilar, "-d", "6", "-i", "--ignore-docstrings", "--ignore-imports", "--ignore-signatures"]
                          + copies, capture_output=True, text=True, check=False)
    assert "duplicates=0 " in proc.stdout, proc.stdout[-6000:]
