"""Capdata marshalling of passable data."""

from __future__ import annotations

import pytest

from kernelhost.kernel.marshal import (
    PassableError,
    RemoteError,
    capdata_is_single_slot,
    encode_plain,
    serialize,
    unserialize,
)


@pytest.mark.parametrize("value", [
    None, True, False, 0, -5, 2**200, -(2**70), "", "plain", "$looks like a slot", "!bang", "&amp", "*star",
    "#hash", b"", b"\x00\x01\xff", [], [1, [2, [3]]], {}, {"a": 1, "b": [None, "x"]},
    {"#error": "not an error, a record"}, {"#record": 1, "x": {"#y": [b"z"]}}, "ünïcødé ✓",
])
def test_plain_data_round_trips(value):
    capdata = encode_plain(value)
    assert capdata["slots"] == [] and capdata["body"].startswith("#")
    back = unserialize(capdata)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value,word", [
    (1.5, "float"), ((1, 2), "tuple"), ({1, 2}, "set"), (frozenset(), "frozenset"), ({1: "x"}, "keys must be str"),
    (object(), "object"), ([1, [2, 3.0]], "float"),
])
def test_unpassable_values_are_refused_clearly(value, word):
    with pytest.raises(PassableError, match=word):
        encode_plain(value)


def test_errors_travel_as_name_and_message():
    back = unserialize(encode_plain(ValueError("bad")))
    assert isinstance(back, RemoteError) and back.name == "ValueError" and str(back) == "bad"
    again = unserialize(encode_plain(back))
    assert again.name == "ValueError"


def test_slots_are_deduplicated_and_typed():
    class Obj:
        pass

    a, b, p = Obj(), Obj(), Obj()
    table = {id(a): ("o+1", False, "A"), id(b): ("o-5", False, None), id(p): ("p+2", True, None)}
    capdata = serialize({"x": [a, b, a], "p": p}, lambda v: table[id(v)])
    assert capdata["slots"] == ["o+1", "o-5", "p+2"]
    seen = []
    value = unserialize(capdata, lambda slot, iface, is_promise: seen.append((slot, iface, is_promise)) or slot)
    assert value == {"x": ["o+1", "o-5", "o+1"], "p": "p+2"}
    assert seen == [("o+1", "A", False), ("o-5", None, False), ("p+2", None, True)]
    assert capdata_is_single_slot(serialize(a, lambda v: table[id(v)])) == "o+1"
    assert capdata_is_single_slot(encode_plain(5)) is None


def test_bodies_are_deterministic():
    value = {"b": 1, "a": [True, None, "s"]}
    assert encode_plain(value)["body"] == encode_plain(dict(value))["body"] == '#{"b":1,"a":[true,null,"s"]}'
