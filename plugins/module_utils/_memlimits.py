# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A service's systemd memory directives, chosen for the systemd and cgroups at hand.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import).

- ``MemoryMax=`` from systemd 231 on (on cgroup v1 systemd writes it to
  memory.limit_in_bytes); older systemd only knows ``MemoryLimit=``.
- ``MemoryHigh=`` (231+) and ``MemorySwapMax=`` (232+) exist only for the
  cgroup2 memory controller; elsewhere they are skipped with a reason, because
  systemd would accept and ignore them.
- A hard limit below what the service uses now is refused unless forced: v1
  answers EBUSY, cgroup2 OOM-kills the service on the spot.
"""

from __future__ import annotations

from ansible_collections.memops.linux.plugins.module_utils import _units

MEMORY_MAX_SINCE = 231
MEMORY_SWAP_MAX_SINCE = 232
INFINITY = "infinity"


class LimitError(Exception):
    """A limit is invalid or unsafe; nothing was changed."""


def parse_limit(value, name):
    """A size or 'infinity' -> bytes or 'infinity'; None stays None. Only
    swap_max may be 0 (no swap at all)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == INFINITY:
        return INFINITY
    try:
        return _units.parse_size(value, name=name, allow_zero=name == "swap_max")
    except _units.SizeError as exc:
        raise LimitError("%s, or infinity" % exc)


def directives(systemd_version, memory_controller, max_bytes=None, high_bytes=None, swap_max_bytes=None,
               restart_on_oom=False):
    """(list of (key, value), list of skipped {directive, reason}) for a drop-in."""
    chosen = []
    skipped = []
    unified = memory_controller == "v2"
    if max_bytes is not None:
        chosen.append(("MemoryMax" if systemd_version >= MEMORY_MAX_SINCE else "MemoryLimit", max_bytes))
    if high_bytes is not None:
        if systemd_version < MEMORY_MAX_SINCE or not unified:
            reason = _reason(systemd_version, memory_controller, MEMORY_MAX_SINCE)
            skipped.append({"directive": "MemoryHigh", "reason": reason})
        else:
            chosen.append(("MemoryHigh", high_bytes))
    if swap_max_bytes is not None:
        if systemd_version < MEMORY_SWAP_MAX_SINCE or not unified:
            reason = _reason(systemd_version, memory_controller, MEMORY_SWAP_MAX_SINCE)
            skipped.append({"directive": "MemorySwapMax", "reason": reason})
        else:
            chosen.append(("MemorySwapMax", swap_max_bytes))
    if restart_on_oom:
        chosen.append(("Restart", "on-failure"))
    return chosen, skipped


def _reason(systemd_version, memory_controller, since):
    if systemd_version < since:
        return "systemd %d lacks it (needs %d or newer)" % (systemd_version, since)
    return ("it needs the cgroup2 (unified) memory controller, and the memory controller here is %s"
            % (memory_controller or "not available"))


def check_usage(limit, current, force, directive="MemoryMax"):
    """Refuse a hard limit below the current usage unless forced; returns a warning or None."""
    if limit in (None, INFINITY) or current is None or limit >= current:
        return None
    message = ("%s=%s is below the %s the service uses now; on cgroup v1 the kernel refuses it (EBUSY), on "
               "cgroup2 it OOM-kills the service at once"
               % (directive, _units.format_size(limit), _units.format_size(current)))
    if not force:
        raise LimitError(message + "; raise the limit, or set force: true to apply it anyway")
    return message + " (applied because force is set)"
