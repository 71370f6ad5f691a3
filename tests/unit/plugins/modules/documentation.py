# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A module's documentation as ansible-doc shows it: its own options and those of the
collection's doc fragments it extends; and its argument spec, as main() passes it."""

from __future__ import annotations

import importlib

import yaml

from ansible.module_utils import basic

FRAGMENTS = "ansible_collections.memops.linux.plugins.doc_fragments."


def documented_options(module):
    """{option: its documentation} of ``module``, doc fragments of this collection included."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = {}
    for name in doc.get("extends_documentation_fragment") or []:
        parts = name.split(".")
        if parts[:2] != ["memops", "linux"]:
            continue
        fragment = importlib.import_module(FRAGMENTS + parts[2]).ModuleDocFragment
        text = getattr(fragment, parts[3].upper() if len(parts) > 3 else "DOCUMENTATION")
        options.update(yaml.safe_load(text).get("options") or {})
    options.update(doc.get("options") or {})
    return options


class _Captured(Exception):
    pass


def argument_spec(module, monkeypatch):
    """(argument_spec, other keyword arguments) that ``module.main()`` gives AnsibleModule."""
    captured = {}

    def fake_init(self, argument_spec, **kwargs):
        captured.update(argument_spec=argument_spec, kwargs=kwargs)
        raise _Captured()

    monkeypatch.setattr(module, "AnsibleModule", type("M", (basic.AnsibleModule,), {"__init__": fake_init}))
    try:
        module.main()
    except _Captured:
        pass
    return captured["argument_spec"], captured["kwargs"]
