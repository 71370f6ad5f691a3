# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the options host_report and fleet_report share for the files they write on the
# controller (their argument spec: plugin_utils/_action.ReportAction).

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  directory_mode:
    description:
      - Permissions of the directories this creates (O(dest) and its missing parents), an octal string like
        O(mode). An existing directory keeps its mode.
      - The default keeps them to the controller user; to share files of O(mode=0640) with the group give
        V("0750") here too. A directory mode that does not give the owner read, write and search, lets the
        group or others write, or sets a set-user-ID or sticky bit fails the task (set-group-ID is allowed, so
        that the files keep the directory's group).
    type: raw
    default: "0700"
  redact:
    description:
      - Regular expressions (Python) searched in every command line the written files hold (the processes'
        C(cmdline) and the evidence of findings that quote one); the text each one's first group matches (or
        the whole match, without a group) becomes C(<redacted>). The facts themselves are left as they are.
      - Unset, the defaults of O(memops.linux.mem_facts#module:redact) apply. They hide the values of
        arguments and C(KEY=VALUE) words whose name looks like a secret (C(--password=VALUE),
        C(--token VALUE), C(DB_PASSWORD=VALUE)), bearer and basic credentials and URL passwords. Facts
        gathered with those defaults hold no such value already; this also covers facts gathered otherwise.
      - Give a list to use those patterns instead; V([]) keeps command lines whole. A pattern that does not
        compile fails the task, and nothing is written.
    type: list
    elements: str
"""
