# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback: writes what set_stats gathered to the JSON file named by MEMOPS_ARTIFACT_FILE.

AWX (through ansible-runner) takes a job's artifacts from the same place at the end of the
playbook: the run-wide custom stats, ``stats.custom["_run"]``. Enable it with
ANSIBLE_CALLBACK_PLUGINS=<this directory> and ANSIBLE_CALLBACKS_ENABLED=set_stats_artifact.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: set_stats_artifact
type: aggregate
short_description: write the set_stats data of a run to a JSON file (tests only)
description:
  - At the end of the playbook, writes a JSON object to the file named by the environment variable
    E(MEMOPS_ARTIFACT_FILE); its C(artifact_data) holds the run-wide stats, its C(per_host) those of each host.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "set_stats_artifact"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("MEMOPS_ARTIFACT_FILE")
        if not path:
            return
        custom = dict(stats.custom or {})
        data = {"artifact_data": custom.pop("_run", {}), "per_host": custom}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, default=str)
