# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The heap limits of managed runtimes (the JVM, Node.js), read from their options, in bytes.

Private to this collection: the API may change without notice.

Plain Python, no imports of the collection: the words of a command line and of
the runtime's options variables in, the limit out. What each runtime does with
its flags:

- JVM: ``-Xmx<size>`` and ``-XX:MaxHeapSize=<size>`` set the heap (the last one
  given wins; a size is bytes or a number with k, m, g or t, binary). Without
  them the heap is ``-XX:MaxRAMPercentage`` (default 25) of the RAM the JVM
  sees: ``-XX:MaxRAM`` when given, else its container's limit, else physical
  RAM; ``-XX:MaxRAMFraction=N`` (before JDK 10) is 1/N of it.
- Node.js: ``--max-old-space-size=<MiB>`` (or ``--max_old_space_size``) caps the
  old space, the heap that grows; without it V8 picks a size of its own.
"""

from __future__ import annotations

import re
from typing import Iterable

JVM_DEFAULT_PERCENT = 25.0
_JVM_SIZE = re.compile(r"^([0-9]+)([kKmMgGtT]?)$")
_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NODE_FLAG = re.compile(r"^--max[-_]old[-_]space[-_]size=([0-9]+)$")


def jvm_size(text: str) -> int | None:
    """A JVM size ('512m', '2G', '1073741824') -> bytes, or None when it is not one."""
    match = _JVM_SIZE.match(text)
    if not match:
        return None
    return int(match.group(1)) * _FACTORS[match.group(2).lower()]


def _last(words: Iterable[str], prefixes: tuple) -> str | None:
    found = None
    for word in words:
        for prefix in prefixes:
            if word.startswith(prefix):
                found = word[len(prefix):]
    return found


def jvm_heap(words: Iterable[str], ram_bytes: int | None) -> dict:
    """{bytes, source, flag}: the JVM's maximum heap from its ``words`` (arguments and the words of
    JAVA_TOOL_OPTIONS and its kin). source is ``flag`` (-Xmx or MaxHeapSize), ``percentage`` (a
    MaxRAMPercentage or MaxRAMFraction given), ``default`` (25% of the RAM the JVM sees) or None when
    the RAM it sees is unknown; ``ram_bytes`` is that RAM (the container's limit, else MemTotal)."""
    words = list(words)
    explicit = _last(words, ("-Xmx", "-XX:MaxHeapSize="))
    if explicit is not None:
        size = jvm_size(explicit)
        return {"bytes": size, "source": "flag" if size is not None else None, "flag": explicit}
    max_ram = _last(words, ("-XX:MaxRAM=",))
    seen = jvm_size(max_ram) if max_ram is not None else None
    if seen is None or (ram_bytes is not None and seen > ram_bytes):
        seen = ram_bytes
    percent = _last(words, ("-XX:MaxRAMPercentage=",))
    fraction = _last(words, ("-XX:MaxRAMFraction=",))
    source = "percentage"
    try:
        share = float(percent) / 100.0 if percent is not None else (1.0 / int(fraction) if fraction else None)
    except (ValueError, ZeroDivisionError):
        share = None
    if share is None:
        share, source = JVM_DEFAULT_PERCENT / 100.0, "default"
    if seen is None or not 0 < share <= 1:
        return {"bytes": None, "source": None, "flag": None}
    return {"bytes": int(seen * share), "source": source, "flag": None}


def node_heap(words: Iterable[str]) -> dict:
    """{bytes, source, flag} of Node.js's old space from ``--max-old-space-size`` (MiB; the last wins);
    bytes and source are None without it: V8 then sizes the heap by itself."""
    found = None
    for word in words:
        match = _NODE_FLAG.match(word)
        if match:
            found = match
    if found is None:
        return {"bytes": None, "source": None, "flag": None}
    return {"bytes": int(found.group(1)) << 20, "source": "flag", "flag": found.group(0)}
