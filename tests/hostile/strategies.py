"""Hypothesis strategies for hostile JSON-ish input."""

from __future__ import annotations

from hypothesis import strategies as st

HOSTILE_STRINGS = ["", "alice", "alice\n", "\ud800", "a" * 200, "../../etc", "$0", "&1", "*!!", "!x", "#record",
                   "\x00", "ü", "b1-" + "0" * 128, "1e5", "-0", " 7 ", "٣", "0x10", "NaN", "Infinity", "gov/vote",
                   "swingset/send", "bank/send"]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(2**5000), max_value=2**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(HOSTILE_STRINGS),
)

json_ish = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(HOSTILE_STRINGS)), children, max_size=5),
    ),
    max_leaves=20,
)


def deep_list(depth: int, leaf=0):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int, leaf=0):
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value
