# Copyright (c) memops.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module parameters drawn from an argument_spec: values of the option's type, its choices, and hostile
values of every type (huge and negative numbers, nan and inf, unicode, control characters, wrong types).

Path options never take a value of their own making: ``paths`` draws them inside the case's tree, so
that no case reads, let alone writes, the host's /etc, /proc or /sys.
"""

from __future__ import annotations

import os

from hypothesis import strategies as st

HOSTILE_STR = st.sampled_from([
    "", " ", "0", "-1", "1", "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1e-400", "9" * 400, "0x10", "1_0",
    "\u0663", "\u00b2", "256M", "1G", "64m", "1.5G", "-5G", "0B", "max", "infinity", "100%", "50 %", " 1G ",
    "1GiB", "1 G", "1GB", "1T", "1P", "1E", "99999999999999999999P", "\x00", "a\nb", "a\rb", "\u202e", "\ufeff1",
    "\u2028", "\x1b[31m", "..", "../..", "/", "-", "--", "-rf", "a" * 300, "\U0001f600", "systemd", "sshd",
    "always", "madvise", "never", "[never]", "present", "absent", "auto", "^(a+)+$", "(", ".*", "a{999999}",
])
HOSTILE_INT = st.one_of(
    st.integers(-(10 ** 6), 10 ** 6), st.sampled_from([0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 64, -(2 ** 63), 10 ** 400]))
HOSTILE_FLOAT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["nan", "inf", "-inf", "1e300", "-0.0", "1e-320", "0"]))
TEXT = st.text(max_size=40)
SCALAR = st.one_of(HOSTILE_STR, HOSTILE_INT, HOSTILE_FLOAT, st.booleans(), st.none(), TEXT)
ANY = st.recursive(
    SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.one_of(HOSTILE_STR, TEXT), inner,
                                                                                 max_size=3)),
    max_leaves=6)


def _of_type(spec):
    kind = spec.get("type", "str")
    if kind == "str":
        return st.one_of(HOSTILE_STR, HOSTILE_STR, TEXT)
    if kind == "int":
        return st.one_of(HOSTILE_INT, HOSTILE_INT, HOSTILE_INT, HOSTILE_STR)
    if kind == "float":
        return st.one_of(HOSTILE_FLOAT, HOSTILE_FLOAT, HOSTILE_INT, HOSTILE_STR)
    if kind == "bool":
        return st.one_of(st.booleans(), st.booleans(), st.sampled_from(["yes", "no", "maybe", 2, ""]))
    if kind == "list":
        element = _of_type({"type": spec.get("elements", "str"), "choices": spec.get("choices")})
        return st.one_of(st.lists(element, max_size=4), HOSTILE_STR)
    if kind == "dict":
        return st.one_of(st.dictionaries(st.one_of(HOSTILE_STR, TEXT), SCALAR, max_size=4), HOSTILE_STR)
    return ANY  # raw


def value(spec):
    """A value for one option: one of its choices most often when it has some, else a hostile value of its type,
    now and then a value of any type."""
    typed = _of_type(spec)
    choices = spec.get("choices")
    if choices:
        if spec.get("type") == "list":
            typed = st.one_of(st.lists(st.sampled_from(list(choices)), max_size=4), typed)
        else:
            typed = st.one_of(st.sampled_from(list(choices)), st.sampled_from(list(choices)), typed)
    return st.one_of(typed, typed, typed, typed, typed, typed, ANY)


def params(argument_spec, fixed=None, override=None):
    """Parameters for a module: ``fixed`` options (strategies) always drawn (the paths into the tree),
    ``override`` options drawn from the given strategy instead of from their spec; every other option is left
    out or drawn, a required one left out now and then."""
    fixed, override = fixed or {}, override or {}
    optional = {}
    required = {}
    for name, spec in argument_spec.items():
        if name in fixed:
            continue
        strategy = override[name] if name in override else value(spec)
        (required if spec.get("required") else optional)[name] = strategy
    drawn = st.fixed_dictionaries(required, optional=optional)
    dropped = st.lists(st.sampled_from(sorted(required)), max_size=1) if required else st.just([])
    return st.tuples(st.fixed_dictionaries(fixed), drawn, dropped, st.integers(0, 19)).map(
        lambda parts: dict({k: v for k, v in parts[1].items() if parts[3] or k not in parts[2]}, **parts[0]))


def paths(layout, targets):
    """A path option's value, inside the tree: one of ``targets`` (relative to the tree), the tree itself, a path
    that does not exist, one through a file, a link out of the tree, or odd characters."""
    root = layout.root
    return st.one_of(
        st.sampled_from([os.path.join(root, t) for t in targets]),
        st.sampled_from([os.path.join(root, t) for t in targets]),
        st.sampled_from([os.path.join(root, t) for t in targets]),
        st.sampled_from([root, root + "/", os.path.join(root, "nothing/here"), os.path.join(root, "etc/fstab/x"),
                         os.path.join(root, "link-out"), os.path.join(root, "a b\tc"),
                         os.path.join(root, "proc/./../proc"), os.path.join(root, "\u00e9\u2028x"),
                         os.path.join(root, "$HOME"), os.path.join(root, "x\\040y")]),
    )
