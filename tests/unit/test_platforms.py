# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The platforms meta claims are the ones the tests run on.

scripts/test builds one podman image per Debian suite in its IMAGES list
(tests/containers/build-image debootstraps it); molecule and the fleet tests
run on those images (the fleet on Debian 12 and 13, molecule on 12), the
reboot tests on a guest of a suite among them. The roles' meta/main.yml must
name exactly those suites, and galaxy.yml no other distribution.
"""

from __future__ import annotations

import os
import re
import shlex

import pytest
import yaml

from ansible_collections.memops.linux.tests.unit.playbook_run import COLLECTION

ROLES = sorted(name for name in os.listdir(os.path.join(COLLECTION, "roles"))
               if os.path.isfile(os.path.join(COLLECTION, "roles", name, "meta", "main.yml")))
# Distributions a Galaxy tag or platform could claim besides Debian.
OTHER_DISTRIBUTIONS = {"ubuntu", "el", "rhel", "centos", "fedora", "rocky", "alma", "almalinux", "suse",
                       "opensuse", "sles", "arch", "archlinux", "alpine", "amazon", "oraclelinux"}


def read(path):
    with open(os.path.join(COLLECTION, path), encoding="utf-8") as handle:
        return handle.read()


def parse_images(script):
    """{image: suite} from the IMAGES=("suite image" ...) array of scripts/test."""
    match = re.search(r"^IMAGES=\((.*?)\)", script, re.MULTILINE | re.DOTALL)
    assert match, "scripts/test has no IMAGES=(...) array"
    images = {}
    for entry in shlex.split(match.group(1), comments=True):
        suite, image = entry.split()
        images[image] = suite
    return images


def images_built():
    return parse_images(read("scripts/test"))


def default_suite(script):
    """The suite a build script uses when given none: suite="${1:-SUITE}"."""
    match = re.search(r'^suite="\$\{1:-([a-z]+)\}"', script, re.MULTILINE)
    assert match, "no default suite found"
    return match.group(1)


def test_parse_images():
    script = 'X=1\nIMAGES=("bookworm localhost/memops/debian:12"\n    # a comment\n    "trixie localhost/memops/debian:13")\n'
    assert parse_images(script) == {"localhost/memops/debian:12": "bookworm", "localhost/memops/debian:13": "trixie"}


def test_scripts_test_builds_bookworm_and_trixie():
    assert images_built() == {"localhost/memops/debian:12": "bookworm", "localhost/memops/debian:13": "trixie"}


@pytest.mark.parametrize("role", ROLES)
def test_role_platforms_are_the_tested_suites(role):
    meta = yaml.safe_load(read(os.path.join("roles", role, "meta", "main.yml")))
    claimed = {(platform["name"], version)
               for platform in meta["galaxy_info"]["platforms"] for version in platform["versions"]}
    tested = {("Debian", suite) for suite in images_built().values()}
    assert claimed == tested, (
        f"roles/{role}/meta/main.yml claims {sorted(claimed)}; scripts/test IMAGES tests {sorted(tested)}")


def test_galaxy_tags_name_no_untested_distribution():
    tags = set(yaml.safe_load(read("galaxy.yml"))["tags"])
    assert not tags & OTHER_DISTRIBUTIONS


def test_molecule_and_fleet_run_on_images_scripts_test_builds():
    images = set(images_built())
    used = {}
    scenarios = os.path.join(COLLECTION, "extensions", "molecule")
    for scenario in sorted(os.listdir(scenarios)):
        path = os.path.join("extensions", "molecule", scenario, "molecule.yml")
        if os.path.isfile(os.path.join(COLLECTION, path)):
            for match in re.finditer(r"image: \$\{MEMOPS_MOLECULE_IMAGE:-([^}]+)\}", read(path)):
                used[path] = match.group(1)
    fleet = re.findall(r'"(MEMOPS_FLEET_IMAGE\w*)", "([^"]+)"', read("tests/fleet/podman_fleet.py"))
    assert fleet, "tests/fleet/podman_fleet.py names no default image"
    used.update(("tests/fleet/podman_fleet.py " + variable, image) for variable, image in fleet)
    assert "extensions/molecule/default/molecule.yml" in used
    assert {path: image for path, image in used.items() if image not in images} == {}
    # and no image is built, and its suite claimed in meta, that no test runs on
    assert images - set(used.values()) == set()


def test_the_fleet_tests_run_a_container_of_every_image():
    source = read("tests/fleet/test_diagnose_fleet.py")
    assert "TRIXIE_IMAGE" in source and "images=TRIXIE" in source


def test_reboot_guest_is_a_tested_suite():
    assert default_suite(read("tests/reboot/build-guest")) in set(images_built().values())
