# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running a module's main() in-process, on every supported ansible-core."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.memops.linux.tests.unit.plugins.modules.module_args import patch_module_args


@pytest.fixture
def run_module(capsys, monkeypatch):
    """``run_module(module, **args)`` -> the result the module printed (exit_json or fail_json).

    Warnings are also recorded as the module gives them: once the controller's
    display is loaded in the same process (other tests run playbooks or filters),
    ansible-core 2.19+ sends module warnings there instead of into the result."""
    def run(module, **args):
        args.setdefault("_ansible_remote_tmp", "/tmp")
        args.setdefault("_ansible_keep_remote_files", False)
        recorded = []
        original = basic.AnsibleModule.warn

        def warn(self, warning):
            recorded.append(warning)
            return original(self, warning)

        monkeypatch.setattr(basic.AnsibleModule, "warn", warn)
        # warnings of an earlier run in this process must not reach this result (ansible-core keeps them
        # in module-level collections, emptied only when a module exits in its own process)
        module_warnings._global_warnings.clear()
        module_warnings._global_deprecations.clear()
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        monkeypatch.setattr(basic.AnsibleModule, "warn", original)
        result = json.loads(capsys.readouterr().out)
        if recorded and "warnings" not in result:
            result["warnings"] = recorded
        return result

    return run
