# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Contender (c), the floor: read statm, stat, oom_score, oom_score_adj and
comm of every process with plain open().read(), and nothing else (no
parsing, no output). What any per-process memory scan in Python costs at
least on this host."""

import os

FILES = ("statm", "stat", "oom_score", "oom_score_adj", "comm")


def main():
    for name in os.listdir("/proc"):
        if name.isdigit():
            for file_name in FILES:
                try:
                    with open("/proc/" + name + "/" + file_name) as handle:
                        handle.read()
                except OSError:
                    pass


if __name__ == "__main__":
    main()
