"""Fuzz the capdata decoder (kernelhost.kernel.marshal): arbitrary capdata — random
JSON-ish values, random bodies, mutated valid bodies, bad slot references — decodes or raises
PassableError (its documented error type), never anything else; deep nesting and huge integers
are refused with PassableError instead of a RecursionError / ValueError escaping into the
kernel; plain data still round-trips."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernelhost.kernel.marshal import PassableError, encode_plain, serialize, split_methargs, unserialize

from .conftest import FUZZ_SETTINGS, tried
from .strategies import deep_list, json_ish

plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.binary(max_size=10),
              st.sampled_from(["$0", "&0", "*AA==", "!x", "#k"])),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c, max_size=4)),
    max_leaves=20,
)
slots = st.lists(st.sampled_from(["o+1", "o-2", "p+3", "ko20", "kp40", "", "x"]), max_size=3)


@st.composite
def mutated_bodies(draw):
    """A valid body with a few characters changed, inserted or removed."""
    body = encode_plain(draw(plain))["body"]
    chars = list(body)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        i = draw(st.integers(0, max(len(chars) - 1, 0)))
        c = draw(st.sampled_from(list('[]{}",:$&*!#0123456789-.eE \\') + ["\ud800", "x"]))
        if op == "replace" and chars:
            chars[i] = c
        elif op == "insert":
            chars.insert(i, c)
        elif chars:
            del chars[i]
    return "".join(chars)


bodies = st.one_of(
    mutated_bodies(),
    st.text(max_size=40).map(lambda t: "#" + t),
    st.text(max_size=40),
    st.sampled_from(['#["$0"]', '#["$1"]', '#["$-1"]', '#["$x.y"]', '#["&0"]', '#["&99"]', '#["*!!"]', '#["*a"]',
                     '#{"#record":5}', '#{"#record":[[1,2]]}', '#{"#record":[["a"]]}', '#{"#error":5}',
                     '#{"#error":"m","name":[1]}', '#[' + "9" * 5000 + "]", "#" + "[" * 50_000 + "]" * 50_000,
                     '#["$٣"]', '#["$1_0"]', '#["$ 0"]']),
)
capdatas = st.one_of(
    st.fixed_dictionaries({"body": bodies, "slots": slots}),
    st.fixed_dictionaries({"body": st.one_of(bodies, json_ish), "slots": st.one_of(slots, json_ish)}),
    json_ish,
)


def slot_to_val(slot, iface, is_promise):
    return ("promise" if is_promise else "remotable", slot, iface)


@FUZZ_SETTINGS
@given(capdata=capdatas, with_slots=st.booleans())
@example(capdata={"body": '#["$0.Alleged: x", "&1"]', "slots": ["o+1", "p+2"]}, with_slots=True)
def test_fuzz_unserialize_raises_only_passable_error(capdata, with_slots):
    tried("marshal decoder (unserialize)")
    try:
        unserialize(capdata, slot_to_val if with_slots else None)
    except PassableError as exc:
        assert str(exc)


@FUZZ_SETTINGS
@given(capdata=capdatas)
def test_fuzz_split_methargs_raises_only_passable_error(capdata):
    tried("marshal decoder (split_methargs)")
    try:
        method, args = split_methargs(capdata, slot_to_val)
    except PassableError:
        return
    assert type(method) is str


@FUZZ_SETTINGS
@given(value=plain)
def test_fuzz_plain_data_round_trips(value):
    tried("marshal round trip (serialize/unserialize)")
    assert unserialize(encode_plain(value)) == value


def test_slot_errors_of_the_caller_propagate_unchanged():
    class Mine(Exception):
        pass

    def boom(slot, iface, is_promise):
        raise Mine(slot)

    with pytest.raises(Mine):
        unserialize({"body": '#["$0"]', "slots": ["o+1"]}, boom)


@pytest.mark.parametrize("body", ["#" + "[" * 100_000 + "]" * 100_000,
                                  "#" + '["$0",' * 5_000 + "1" + "]" * 5_000,
                                  "#" + '{"#record":[["a",' * 3_000 + "1" + "]]}" * 3_000],
                         ids=["plain-list", "with-slots", "records"])
def test_deep_nesting_in_capdata_is_refused(body):
    with pytest.raises(PassableError, match="nested too deeply|malformed"):
        unserialize({"body": body, "slots": ["o+1"]}, slot_to_val)


def test_huge_integers_are_refused_both_ways():
    with pytest.raises(PassableError, match="integer"):
        unserialize({"body": "#" + "9" * 5000, "slots": []})
    with pytest.raises(PassableError, match="integer this large"):
        encode_plain(10**5000)
    assert unserialize(encode_plain(10**4000)) == 10**4000  # within the limit: any size works


def test_serializing_deep_nesting_is_refused():
    with pytest.raises(PassableError, match="nested"):
        encode_plain(deep_list(100_000))
    with pytest.raises(PassableError, match="nested"):
        serialize([deep_list(100_000), object()], lambda v: ("o+1", False, None))


@pytest.mark.parametrize("ref", ["$-1", "$1_0", "$ 0", "$٣", "&-1"])
def test_only_plain_slot_numbers_are_accepted(ref):
    # "$-1" used to pick the last slot; int() also accepts "1_0", " 0" and other scripts' digits
    with pytest.raises(PassableError, match="slot reference"):
        unserialize({"body": f'#["{ref}"]', "slots": ["o+1"] * 11}, slot_to_val)
