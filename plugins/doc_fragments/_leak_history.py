# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: the option of mem_facts that reads the leak history the
# checker of memops.linux.monitoring keeps (plugins/module_utils/_leak_history.py).

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  leak_history:
    description:
      - The leak history the checker of the P(memops.linux.monitoring#role) role keeps on the host, read without
        changing it; C(/var/lib/memops/check/leak-history.json) where that role is installed.
      - Its long-term leak suspects (processes and services whose memory grew steadily for hours) become
        RV(ansible_facts.memops.leaks) and C(leak.trend) findings in RV(ansible_facts.memops.health).
      - A file that is missing, unreadable by the user the module runs as, damaged or larger than 1 MiB is
        skipped without an error (the host does not run the monitoring). Unset, none is read.
    type: path
"""
