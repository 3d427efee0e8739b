"""atheris harness: the capdata decoder (kernelhost.kernel.marshal: unserialize, split_methargs).

Input bytes are turned into capdata three ways:
- UTF-8 text starting with "#": the text is the body, with three slots (o+1, p-2, ko3);
- other UTF-8 text that is JSON: that value is the whole capdata (`{"body": ..., "slots": [...]}`);
- anything else drives a FuzzedDataProvider: a body (mutated real body or free text) and a
  slot list, or an arbitrary JSON-ish value as capdata.
Each capdata is decoded with and without a slot conversion and as methargs. Only
PassableError (the documented error) may escape; anything else is a crash.

    .venv/bin/python fuzz/fuzz_marshal.py -atheris_runs=100000 fuzz/corpus/marshal fuzz/seeds/marshal
"""

from __future__ import annotations

import json

import atheris
from _common import STATS, as_text, json_value, main

with atheris.instrument_imports(include=["kernelhost.kernel.marshal", "kernelhost.kernel.jsonfast"]):
    from kernelhost.kernel.marshal import PassableError, encode_plain, methargs, split_methargs, unserialize

SLOTS = ["o+1", "p-2", "ko3"]
BODY_CHARS = list('[]{}",:$&*!#0123456789-.eE \\') + ["\ud800", "x", "u", "Alleged: "]
REAL = [
    encode_plain(["increment", []])["body"],
    encode_plain({"#tag": 1, "b": b"\x00\xff", "s": "$not a slot", "n": -(10**30), "l": [None, True, ""]})["body"],
    '#["$0.Alleged: counter","&1",{"#error":"boom","name":"TypeError"},"*AAE="]',
    '#{"#record":[["#k",1],["b","!$x"]]}',
]


def slot_to_val(slot, iface, is_promise):
    return ("promise" if is_promise else "remotable", slot, iface)


def structured(data: bytes):
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 3:
        return json_value(fdp)
    if mode == 0:
        chars = list(fdp.PickValueInList(REAL))
        for _ in range(fdp.ConsumeIntInRange(1, 6)):
            op = fdp.ConsumeIntInRange(0, 2)
            i = fdp.ConsumeIntInRange(0, max(len(chars) - 1, 0))
            c = fdp.PickValueInList(BODY_CHARS)
            if op == 0 and chars:
                chars[i] = c
            elif op == 1:
                chars.insert(i, c)
            elif chars:
                del chars[i]
        body = "".join(chars)
    elif mode == 1:
        body = "#" + fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 200))
    else:
        body = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
    slots = [fdp.PickValueInList(["o+1", "o-2", "p+3", "ko20", "kp40", "", "x"])
             for _ in range(fdp.ConsumeIntInRange(0, 12))]
    return {"body": body, "slots": slots}


def to_capdata(data: bytes):
    text = as_text(data)
    if text is not None and text.startswith("#"):
        return {"body": text, "slots": list(SLOTS)}
    if text is not None:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass  # not JSON (or deeper / longer than json accepts): use the bytes another way
    return structured(data)


def test_one_input(data: bytes) -> None:
    capdata = to_capdata(data)
    for conversion in (slot_to_val, None):
        try:
            unserialize(capdata, conversion)
        except PassableError as exc:
            STATS["refused"] += 1
            assert str(exc), "PassableError without a message"
        else:
            STATS["decoded"] += 1
    try:
        method, _args = split_methargs(capdata, slot_to_val)
    except PassableError:
        return
    STATS["methargs"] += 1
    assert type(method) is str, f"split_methargs returned method {method!r}"


def seeds() -> dict[str, bytes]:
    out = {f"body-{i}": body.encode() for i, body in enumerate(REAL)}
    out["capdata-methargs.json"] = json.dumps(methargs("transfer", ["alice", 5, b"memo"])).encode()
    out["capdata-slots.json"] = json.dumps({"body": '#["$0.Alleged: purse","&1"]', "slots": ["o+1", "p+2"]}).encode()
    return out


if __name__ == "__main__":
    main("marshal", test_one_input, seeds)
