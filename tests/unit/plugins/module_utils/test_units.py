# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The size parser every size option of the collection goes through."""

from __future__ import annotations

import pytest

from ansible_collections.memops.linux.plugins.module_utils._units import (
    ACCEPTED_FORMS, GIB, KIB, MAX_SIZE, MIB, TIB, SizeError, format_size, parse_size,
)


@pytest.mark.parametrize("value, expected", [
    (1073741824, 1073741824),
    ("1073741824", 1073741824),
    (" 4096 ", 4096),
    ("512K", 512 * KIB),
    ("512M", 512 * MIB),
    ("4G", 4 * GIB),
    ("4GiB", 4 * GIB),
    ("4gib", 4 * GIB),
    ("4g", 4 * GIB),
    ("1T", TIB),
    ("2TiB", 2 * TIB),
    ("1.5G", 1536 * MIB),
    ("0.5M", 512 * KIB),
    ("1.1K", 1126),  # 1126.4 rounded down to whole bytes
    ("64 M", 64 * MIB),
    ("1M", MIB),
])
def test_accepted_forms(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value, words", [
    ("4GB", ["ambiguous", "4G or 4GiB"]),
    ("512mb", ["ambiguous", "512m or 512miB"]),
    ("4 gigs", ["not a size"]),
    ("G", ["not a size"]),
    ("", ["not a size"]),
    ("1e9", ["not a size"]),
    ("0x100", ["not a size"]),
    ("4P", ["not a size"]),
    ("4Gi", ["not a size"]),
    ("1,5G", ["not a size"]),
    ("-1G", ["negative"]),
    (-4096, ["negative"]),
    ("-0.5M", ["negative"]),
    (0, ["zero"]),
    ("0", ["zero"]),
    ("0G", ["zero"]),
    ("0.0001K", ["zero"]),  # rounds down to 0 bytes
    (True, ["boolean"]),
    (False, ["boolean"]),
    (1.5, ["float", "not a size"]),
    (None, ["NoneType", "not a size"]),
    (["4G"], ["list", "not a size"]),
])
def test_refused_values_name_the_value_and_the_accepted_forms(value, words):
    with pytest.raises(SizeError) as caught:
        parse_size(value, "size")
    message = str(caught.value)
    assert message.startswith("size: %r" % (value,))
    for word in words:
        assert word in message
    if "ambiguous" not in words:
        assert ACCEPTED_FORMS in message


def test_the_option_name_is_in_the_message():
    with pytest.raises(SizeError, match=r"^min_free: 'lots' is not a size"):
        parse_size("lots", "min_free")


def test_zero_when_allowed():
    assert parse_size(0, "min_free", allow_zero=True) == 0
    assert parse_size("0M", "min_free", allow_zero=True) == 0
    with pytest.raises(SizeError, match="negative"):
        parse_size("-1", "min_free", allow_zero=True)


def test_size_error_is_a_value_error():
    assert issubclass(SizeError, ValueError)


@pytest.mark.parametrize("value, text", [
    (0, "0 B"),
    (512, "512 B"),
    (KIB, "1 KiB"),
    (1536 * MIB, "1.5 GiB"),
    (4 * GIB, "4 GiB"),
    (3 * TIB, "3 TiB"),
    (-2 * MIB, "-2 MiB"),
])
def test_format_size(value, text):
    assert format_size(value) == text


@pytest.mark.parametrize("value", ["512M", "4G", "1.5G", "3T", "100K"])
def test_format_then_parse_round_trips(value):
    number = parse_size(value)
    assert parse_size(format_size(number)) == number


@pytest.mark.parametrize("value", ["9" * 400, "9" * 5000, int("9" * 400), 2 ** 63, "9000000T",
                                   "0" * 500 + "9" * 30, "1" + "0" * 30 + ".5K"])
def test_sizes_beyond_the_kernels_range_are_refused_without_overflow(value):
    with pytest.raises(SizeError, match="larger than any size the kernel takes") as caught:
        parse_size(value, "size")
    assert len(str(caught.value)) < 200


def test_the_largest_size_is_accepted():
    assert parse_size(str(MAX_SIZE)) == MAX_SIZE == 2 ** 63 - 1
