# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests that run real ansible-playbook processes share: where ansible-playbook and the collection are."""

from __future__ import annotations

import os
import shutil
import sys

from ansible_collections.memops.linux.plugins.module_utils import _summary

# .../ansible_collections/memops/linux/plugins/module_utils/_summary.py -> .../ansible_collections/memops/linux
COLLECTION = os.path.abspath(os.path.join(os.path.dirname(_summary.__file__), os.pardir, os.pardir))
# the directory holding ansible_collections, for ANSIBLE_COLLECTIONS_PATH
COLLECTIONS_ROOT = os.path.abspath(os.path.join(COLLECTION, *[os.pardir] * 3))


def ansible_playbook():
    """The ansible-playbook next to this Python (its virtualenv), else the one on PATH, else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return beside if os.path.exists(beside) else shutil.which("ansible-playbook")
