# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The next release (galaxy.yml's version) has its release summary among the fragments.

The sanity step of scripts/test runs `antsibull-changelog lint` and builds the
release notes in a copy; this test reads the files themselves.
"""

from __future__ import annotations

import os

import yaml

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

CHANGELOGS = os.path.join(COLLECTION, "changelogs")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def fragments():
    directory = os.path.join(CHANGELOGS, "fragments")
    return {name: load(os.path.join(directory, name)) for name in sorted(os.listdir(directory))
            if name.endswith((".yml", ".yaml"))}


def test_summary_section_is_release_summary():
    assert load(os.path.join(CHANGELOGS, "config.yaml"))["prelude_section_name"] == "release_summary"


def test_one_fragment_holds_the_release_summary():
    summaries = {name: content["release_summary"] for name, content in fragments().items()
                 if "release_summary" in content}
    assert len(summaries) == 1, f"fragments with a release_summary: {sorted(summaries)}; one is needed"
    (summary,) = summaries.values()
    assert isinstance(summary, str) and len(summary.split()) >= 20


def test_galaxy_version_is_not_released_yet():
    version = load(os.path.join(COLLECTION, "galaxy.yml"))["version"]
    releases = load(os.path.join(CHANGELOGS, "changelog.yaml")).get("releases") or {}
    assert version not in releases, (
        f"galaxy.yml's version {version} is already released in changelogs/changelog.yaml: raise it")
