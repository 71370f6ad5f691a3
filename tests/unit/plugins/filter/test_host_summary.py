# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host_summary filter: the summary lines of _summary, errors as filter errors."""

from __future__ import annotations

import json
import random

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.memops.linux.plugins.filter.host_summary import FilterModule
from ansible_collections.memops.linux.plugins.plugin_utils import _gather
from ansible_collections.memops.linux.plugins.plugin_utils import _summary
from ansible_collections.memops.linux.tests.unit.plugins.module_utils import fleet_synthetic as synthetic

host_summary = FilterModule().filters()["host_summary"]


def test_same_lines_as_the_role_prints():
    facts = synthetic.host_facts(random.Random(3), "swap_exhausted")
    assert host_summary(facts, 3, 2) == _summary.host_summary(facts, findings=3, consumers=2)
    assert host_summary(facts) == _summary.host_summary(facts)


def test_a_summary_is_read_from_the_file_it_names(tmp_path):
    facts = synthetic.host_facts(random.Random(3), "swap_exhausted")
    path = tmp_path / "db1.json"
    path.write_text(json.dumps({"host": "db1", "memops": facts}))
    assert host_summary(_gather.summary(facts, str(path), 1), 3, 2) == _summary.host_summary(facts, 3, 2)
    with pytest.raises(AnsibleFilterError, match="^memops.linux.host_summary: its facts file .* cannot be read"):
        host_summary(_gather.summary(facts, str(tmp_path / "gone.json"), 1))


@pytest.mark.parametrize("facts, args", [("text", ()), ({}, (-1,))])
def test_errors_name_the_filter(facts, args):
    with pytest.raises(AnsibleFilterError, match="^memops.linux.host_summary: "):
        host_summary(facts, *args)
