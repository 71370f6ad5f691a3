# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pytest set-up shared by every test under tests/.

Tests import the collection as ``ansible_collections.memops.linux``. A checkout
that is not already laid out that way is exposed through a symlink in a
temporary directory, so a plain ``pytest`` works from any clone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

COLLECTION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION_PARTS = ("ansible_collections", "memops", "linux")


def _expose_collection():
    """Put a directory holding ansible_collections/memops/linux on sys.path.

    Returns the temporary directory to remove at the end, or None.
    """
    parts = COLLECTION_DIR.split(os.sep)
    if tuple(parts[-3:]) == COLLECTION_PARTS:
        root, scratch = os.sep.join(parts[:-3]) or os.sep, None
    else:
        root = scratch = tempfile.mkdtemp(prefix="memops-collections-")
        os.makedirs(os.path.join(root, *COLLECTION_PARTS[:-1]))
        os.symlink(COLLECTION_DIR, os.path.join(root, *COLLECTION_PARTS))
    if root not in sys.path:
        sys.path.insert(0, root)
    return scratch


_SCRATCH_DIR = _expose_collection()


def pytest_unconfigure(config):  # pylint: disable=unused-argument
    """Remove the temporary collections directory, if one was made."""
    if _SCRATCH_DIR:
        shutil.rmtree(_SCRATCH_DIR, ignore_errors=True)


try:
    from hypothesis import settings
except ImportError:  # hypothesis is optional for a quick local run
    settings = None

if settings is not None:
    # CI draws the same examples on every run, so a failure reproduces;
    # no deadline, since a loaded 2-core runner makes timings meaningless.
    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    settings.register_profile("dev", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
