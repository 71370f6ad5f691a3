# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sizes: the one parser every option of this collection that takes a size uses.

Private to this collection: the API may change without notice.

Plain Python (no Ansible import). Accepted: plain bytes (``1073741824``, as an
integer or a string of digits) and a number with a binary unit: ``512K``,
``512M``, ``4G``, ``1T``, the IEC spellings ``4GiB``, and fractions ``1.5G``.
K, M, G and T are powers of 1024. Everything else is a :class:`SizeError`
that names the value and the accepted forms: ``4GB`` and ``4 gigs``, booleans,
floats (write ``1.5G``), zero unless allowed, negative numbers.
"""

from __future__ import annotations

import decimal
import re

KIB = 1024
MIB = KIB ** 2
GIB = KIB ** 3
TIB = KIB ** 4

_FACTORS = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": TIB}
# The largest size any option takes: the kernel's sizes and file offsets are signed 64-bit.
MAX_SIZE = 2 ** 63 - 1
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGT])(iB)?)?$", re.IGNORECASE)
_DECIMAL_UNIT = re.compile(r"^[0-9.]+\s*[KMGT]B$", re.IGNORECASE)

ACCEPTED_FORMS = "bytes (1073741824) or a number with K, M, G or T, all binary (512M, 4G, 4GiB, 1.5G)"


class SizeError(ValueError):
    """A size that does not parse, or is out of range."""


def parse_size(value: int | str, name: str = "size", allow_zero: bool = False) -> int:
    """``'1.5G'`` -> 1610612736. Fractions are rounded down to whole bytes.
    Above MAX_SIZE (8 EiB) is a SizeError, checked before any arithmetic.

    ``name`` is the option the value came from, for the error message."""
    if isinstance(value, bool):
        raise SizeError("%s: %r is a boolean, not a size; give %s" % (name, value, ACCEPTED_FORMS))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        negative = text.startswith("-")
        match = _SIZE.match(text[1:].lstrip() if negative else text)
        if not match:
            if _DECIMAL_UNIT.match(text):
                binary = text[:-1].rstrip()
                raise SizeError("%s: %r is ambiguous (decimal or binary?); write %s or %siB, both binary (1024-based)"
                                % (name, value, binary, binary))
            raise SizeError("%s: %r is not a size; give %s" % (name, value, ACCEPTED_FORMS))
        factor = _FACTORS[(match.group(2) or "").upper()]
        if len(match.group(1).partition(".")[0].lstrip("0")) > len(str(MAX_SIZE)):
            raise SizeError("%s: %s is larger than any size the kernel takes (at most %d bytes, 8 EiB)"
                            % (name, _short(value), MAX_SIZE))
        number = int(decimal.Decimal(match.group(1)) * factor)
        if negative:
            number = -number
    else:
        raise SizeError("%s: %r (%s) is not a size; give %s" % (name, value, type(value).__name__, ACCEPTED_FORMS))
    if number > MAX_SIZE:
        raise SizeError("%s: %s is larger than any size the kernel takes (at most %d bytes, 8 EiB)"
                        % (name, _short(value), MAX_SIZE))
    if number < 0:
        raise SizeError("%s: %r is negative; give %s" % (name, value, ACCEPTED_FORMS))
    if number == 0 and not allow_zero:
        raise SizeError("%s: %r is zero; give a size above zero: %s" % (name, value, ACCEPTED_FORMS))
    return number


def _short(value):
    """A value for a message, cut to a readable length (repr() of a huge int may raise)."""
    if not isinstance(value, str):
        return "a number of %d bits" % value.bit_length()
    text = repr(value)
    return text if len(text) <= 40 else "%s... (%d characters)" % (text[:30], len(text))


def format_size(value: int) -> str:
    """Bytes -> a short binary string for messages ('1.5 GiB', '512 B')."""
    for unit, factor in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(value) >= factor:
            text = "%.1f" % (value / factor)
            return "%s %s" % (text[:-2] if text.endswith(".0") else text, unit)
    return "%d B" % value
