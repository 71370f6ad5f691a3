# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the option of mem_facts that details chosen processes, the
# pmap -x and smem step of a leak hunt (plugins/module_utils/_smaps.py, docs/process_detail.md).

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  process_detail:
    description:
      - One process in depth, the C(pmap -x PID) and C(smem) step of a leak hunt, for the processes it selects
        (O(process_detail.pids), O(process_detail.names), O(process_detail.top); together, each process once,
        at most 100). Returned as RV(ansible_facts.memops.process_detail); see C(docs/process_detail.md).
      - For each, C(/proc/PID/smaps) is read (at most 32 MiB, some 20000 mappings; a longer one is cut and said
        so) and C(/proc/PID/smaps_rollup) (kernel 4.14 and later; the totals are summed from C(smaps) without it).
      - Reading another user's C(smaps) needs root (C(become)); processes it may not read are listed, not fatal.
      - Unset (the default), nothing is detailed. A dict that selects no process, an unknown key, a negative
        number or more than 100 pids or names fails the task and names the problem.
    type: dict
    suboptions:
      pids:
        description: Process ids to detail. Pids that do not exist are listed in C(not_found_pids).
        type: list
        elements: int
      names:
        description:
          - Process names to detail, every process of each name, largest RSS first. A name is matched as
            M(memops.linux.oom_protect) matches it, against C(comm); a name longer than the 15 characters the
            kernel keeps there must also be argv[0] or the executable's name. Names that match nothing are listed
            in C(unmatched_names).
        type: list
        elements: str
      top:
        description:
          - Also detail the O(process_detail.top) largest processes by RSS (as C(ps aux --sort=-%mem) ranks
            them), at most 100; the module and the Ansible processes that started it are left out.
        type: int
        default: 0
      mappings:
        description: How many of each process's largest mappings (by RSS plus swap) to list, from V(0) to V(1000).
        type: int
        default: 10
"""
