# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Galaxy artifact holds the collection and nothing private or test-only.

`ansible-galaxy collection build` runs on a copy of the checkout in which reports,
test output and scratch files were planted first, as they are after working in a
checkout; galaxy.yml's build_ignore must keep them out of the tarball, whose
files are readable by everyone who installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

# What ships: the collection's content, its metadata and the entry script of the README.
SHIPPED_DIRS = ("docs", "meta", "playbooks", "plugins", "roles", "changelogs", "tests/sanity")
SHIPPED_FILES = ("README.md", "LICENSE", "MANIFEST.json", "FILES.json", "requirements.txt",
                 "scripts/diagnose", "scripts/lib.sh", "tests/config.yml", "meta/execution-environment.yml")
# Test-only, CI and private files of the checkout that must not ship (and the example AWX project,
# which users copy into a repository of their own).
NOT_SHIPPED = ("pytest.ini", "scripts/test", ".ci/run", ".gitignore", ".ansible-lint", "tests/conftest.py",
               "tests/requirements.txt", "tests/callback_plugins/set_stats_artifact.py",
               "tests/reboot", "tests/unit", "tests/fleet", "tests/monitoring", "tests/integration", "tests/docsite/build",
               "tests/docsite/guides.py", "benchmarks", "extensions/molecule",
               "execution-environment.yml", "scripts/build-ee", "tests/ee", "tests/containers",
               "tests/requirements-ee.txt", "examples/awx")
# Planted before the build, as working in the checkout leaves them.
PLANTED = (
    "memops-report/report.json", "memops-report/report.md", "memops-report/report.html",
    "memops-report/hosts/web1.json",
    "playbooks/memops-report/report.html", "playbooks/memops-report/hosts/web1.json",
    "nightly-report/report.json", "nightly-report/report.md", "nightly-report/report.html",
    "nightly-report/hosts/db1.json",
    "tests/output/junit/unit-latest.xml", "tests/output/docsite/index.html", "memops-linux-0.0.1.tar.gz",
    "roles/swap/tasks/.main.yml.swp", "README.md~", ".env", "plugins/modules/swapfile.py.orig",
    ".pytest_cache/v/cache/lastfailed", "changelogs/.plugin-cache.yaml",
)
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".cache",
                                     ".venv", "output", "*.tar.gz")


def ansible_galaxy():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    return beside if os.path.exists(beside) else shutil.which("ansible-galaxy")


pytestmark = pytest.mark.skipif(ansible_galaxy() is None, reason="ansible-galaxy is not installed")


def checkout_files(root, top):
    """The files below root/top, as paths relative to root."""
    found = []
    for directory, dirs, files in os.walk(os.path.join(root, top)):
        dirs[:] = [name for name in dirs if name != "__pycache__"]
        found.extend(os.path.relpath(os.path.join(directory, name), root) for name in files)
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the checkout copy, the files of the tarball built from it)

    Only files count: a directory whose files are all left out (a report directory of
    another name than memops-report, extensions/) may stay in the tarball, empty."""
    source = tmp_path_factory.mktemp("checkout") / "linux"
    shutil.copytree(COLLECTION, str(source), ignore=COPY_IGNORE, symlinks=True)
    for path in PLANTED:
        target = source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("--password=hunter2\n")
    output = tmp_path_factory.mktemp("built")
    proc = subprocess.run([ansible_galaxy(), "collection", "build", str(source), "--output-path", str(output)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (artifact,) = os.listdir(str(output))
    assert artifact == "memops-linux-%s.tar.gz" % _version(source)
    with tarfile.open(str(output / artifact)) as tar:
        members = {member.name for member in tar.getmembers() if not member.isdir()}
    return source, members


def _version(source):
    with open(os.path.join(str(source), "galaxy.yml"), encoding="utf-8") as handle:
        return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("version:"))


def test_the_collection_content_ships_whole(built):
    source, members = built
    expected = [path for top in SHIPPED_DIRS for path in checkout_files(str(source), top)
                if path not in PLANTED]
    assert len(expected) > 100
    assert sorted(set(expected) - members) == []
    assert sorted(set(SHIPPED_FILES) - members) == []
    for role in os.listdir(str(source / "roles")):
        assert {"roles/%s/README.md" % role, "roles/%s/meta/argument_specs.yml" % role} <= members


def test_no_report_test_or_private_file_ships(built):
    _source, members = built
    assert sorted(path for path in PLANTED if path in members) == []
    leaked = [path for path in members
              if any(path == name or path.startswith(name + "/") for name in NOT_SHIPPED + ("memops-report", "nightly-report"))]
    assert leaked == []
    assert not any("memops-report" in path or path.endswith(("report.json", "report.html")) for path in members)


def test_nothing_ships_beyond_the_collection(built):
    """Anything new at the top of the checkout must be shipped, or ignored, on purpose."""
    _source, members = built
    unexpected = [path for path in members
                  if path not in SHIPPED_FILES
                  and not any(path == top or path.startswith(top + "/") for top in SHIPPED_DIRS)]
    assert unexpected == []
