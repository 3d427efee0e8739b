"""atheris harness: the transaction decoder (split_tx/validate_tx) and submit_tx (mempool, DB).

Input bytes become a transaction two ways:
- UTF-8 text is parsed as JSON, as `manage.py submittx` does (text that json refuses is
  skipped: that is the JSON library's refusal, before the decoder);
- anything else drives a FuzzedDataProvider: a transaction of a known (or wrong) type with
  optional fields of hostile values, or an arbitrary JSON-ish value (bytes, non-str keys, huge
  ints, NaN, lone surrogates included).
The decoder must accept it (and re-validate an accepted body to itself, and give chain data
canonical_json can hash) or raise TxInvalid with a message; submit_tx must store it or raise
TxInvalid. Anything else is a crash.

submit_tx needs the chain DB: Django is set up with console.settings.test on a throwaway
SQLite database in a temp dir (migrated once at start). FUZZ_TXS_DB=0 fuzzes the pure
decoder only (faster).

    .venv/bin/python fuzz/fuzz_txs.py -atheris_runs=100000 fuzz/corpus/txs fuzz/seeds/txs
"""

from __future__ import annotations

import base64
import json
import os
import sys

import atheris
from _common import HOSTILE_STRINGS, STATS, as_text, json_value, main, temp_dir

WITH_DB = os.environ.get("FUZZ_TXS_DB", "1") != "0"

with atheris.instrument_imports(include=["kernelhost.chain.txshapes"]):
    from kernelhost.chain.txshapes import TX_TYPES, TxInvalid, canonical_json, split_tx, validate_tx

submit_tx = None
if WITH_DB and __name__ == "__main__" and sys.argv[1:2] != ["--write-seeds"]:
    os.environ["KERNELCONSOLE_VAR_DIR"] = str(temp_dir("txs"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings.test"
    for name in ("DATABASE_URL", "REDIS_URL"):  # always the throwaway SQLite file, never a real DB
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:  # durability is not under test
        cursor.execute("PRAGMA synchronous = OFF")
    with atheris.instrument_imports(include=["kernelhost.chain.services.txs"]):
        from kernelhost.chain.services.txs import submit_tx

FIELDS = ["from", "to", "amount", "denom", "vat", "method", "args", "peer", "messages", "ack", "bundle",
          "proposer", "content", "voter", "proposalId", "option", "expedited"]
TYPES = [*TX_TYPES, "gov/vote", "gov/submitProposal", "gov/", "nope", ""]
STRINGS = [*HOSTILE_STRINGS, *TYPES, "AAAA", "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==", "counter", "increment", "yes", "no"]


def structured(data: bytes):
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 5)
    if mode == 0:
        return json_value(fdp, strings=STRINGS)
    tx = {"type": fdp.PickValueInList(TYPES)}
    if mode == 1:  # a well-formed bank/send with one field replaced
        tx = {"type": "bank/send", "from": "alice", "to": "bob", "amount": "5", "denom": "ucon"}
    elif mode == 2:
        tx = {"type": "swingset/send", "vat": "counter", "method": "increment", "args": []}
    elif mode == 3:
        tx = {"type": "swingset/deliverInbound", "peer": "p", "messages": [[1, "m"]], "ack": 0}
    elif mode == 4:
        raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        tx = {"type": "swingset/installBundle", "bundle": base64.b64encode(raw).decode("ascii")}
    for _ in range(fdp.ConsumeIntInRange(0, 5)):
        tx[fdp.PickValueInList(FIELDS)] = json_value(fdp, strings=STRINGS)
    if fdp.ConsumeIntInRange(0, 15) == 0:
        del tx["type"]
    return tx


def to_tx(data: bytes):
    text = as_text(data)
    if text is None:
        return structured(data)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, int digit limit, deep nesting
        return None


def test_one_input(data: bytes) -> None:
    tx = to_tx(data)
    if tx is None:
        STATS["not-json"] += 1
        return
    try:
        tx_type, body = split_tx(tx)
        body = validate_tx(tx_type, body)
    except TxInvalid as exc:
        STATS["refused"] += 1
        assert str(exc), "TxInvalid without a message"
    else:
        STATS["accepted"] += 1
        canonical_json(body)  # an accepted body is hashable chain data
        assert validate_tx(tx_type, body) == body, "validation is not idempotent"
    if submit_tx is None:
        return
    try:
        row = submit_tx(tx)
    except TxInvalid as exc:
        assert str(exc), "TxInvalid without a message"
        return
    STATS["submitted"] += 1
    assert row.pk and len(row.tx_hash) == 64


def seeds() -> dict[str, bytes]:
    txs = {
        "bank-send.json": {"type": "bank/send", "from": "alice", "to": "bob", "amount": "5", "denom": "ucon"},
        "swingset-send.json": {"type": "swingset/send", "vat": "counter", "method": "increment", "args": []},
        "deliver-inbound.json": {"type": "swingset/deliverInbound", "peer": "peer1",
                                 "messages": [[1, "hello"], [2, "{\"x\":1}"]], "ack": 0},
        "install-bundle.json": {"type": "swingset/installBundle", "bundle": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
        "gov-vote.json": {"type": "gov/vote", "voter": "voter1", "proposalId": 1, "option": "yes"},
        "gov-submit.json": {"type": "gov/submitProposal", "proposer": "voter1", "expedited": False,
                            "content": {"kind": "text", "title": "t", "description": "d"}},
    }
    out = {name: json.dumps(tx).encode() for name, tx in txs.items()}
    out["structured-bank"] = b"\xff\x01amount\x00"
    return out


if __name__ == "__main__":
    main("txs", test_one_input, seeds)
