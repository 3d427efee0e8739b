"""Export-data records: their keys, value formats, and the flush to the host.

Export data is the set of small key/value pairs a host mirrors into its own
consensus database (the chain's IAVL role), from which the whole consensus
state of the store can be verified and rebuilt with the artifacts:

    kv.<key>                     value of every consensus kv key
                                 (not `local.*`, not `host.*`)
    bundle.<bundleID>            the bundle ID itself
    transcript.<vatID>.<start>   closed span record (JSON, see `span_record`)
    transcript.<vatID>.current   the vat's current span record

A value of None means "delete this key". Artifacts (large blobs checked
against export data) are named `bundle.<id>` (zip bytes) and
`transcript.<vatID>.<start>.<end>` (one JSON string per line, one line per
item, in position order).

Flow: every change puts its record into `core.pending` (key -> final value),
the crank's export buffer. It is kept in memory rather than in an SQL table
for speed (one SQL statement per kv write instead of two), and it rolls back
exactly like SQL would: each crank savepoint keeps a copy of the buffer and
`rollback_crank` restores it, `host.rollback()` and close() drop it.
`flush_pending` hands the buffer, sorted by key, to the export callback and
merges it into `core.block_deltas`; `commit()` writes those into table
`exportDeltas` (the durable "deltas of the last committed block"), replacing
the previous block's, in the same transaction as the block's data.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .errors import SwingStoreError

ExportRecord = tuple[str, "str | None"]
ExportCallback = Callable[[list[ExportRecord]], object]

SQL_DELTAS_REPLACE = "DELETE FROM exportDeltas"
SQL_DELTAS_INSERT = "INSERT INTO exportDeltas (key, value) VALUES (?, ?)"
SQL_DELTAS_READ = "SELECT key, value FROM exportDeltas ORDER BY key"
SQL_DELTAS_ANY = "SELECT 1 FROM exportDeltas LIMIT 1"


def kv_key(key: str) -> str:
    return "kv." + key


def bundle_key(bundle_id: str) -> str:
    return "bundle." + bundle_id


def span_key(vat_id: str, start_pos: int | None) -> str:
    """`None` start means the current-span key."""
    if start_pos is None:
        return f"transcript.{vat_id}.current"
    return f"transcript.{vat_id}.{start_pos}"


def span_artifact_name(vat_id: str, start_pos: int, end_pos: int) -> str:
    return f"transcript.{vat_id}.{start_pos}.{end_pos}"


def span_record(
    vat_id: str, start_pos: int, end_pos: int, hash_: str, is_current: bool, incarnation: int
) -> str:
    # Written by hand (same bytes as json.dumps with compact separators and this
    # key order) because add_item calls it once per transcript append.
    return (
        f'{{"vatID":{json.dumps(vat_id)},"startPos":{start_pos},"endPos":{end_pos},'
        f'"hash":"{hash_}","isCurrent":{"true" if is_current else "false"},'
        f'"incarnation":{incarnation}}}'
    )


def encode_span_artifact(items: list[str]) -> bytes:
    # One JSON string per line, so items may themselves contain newlines.
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")


def decode_span_artifact(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    if not text:
        return []
    if not text.endswith("\n"):
        raise ValueError("span artifact does not end with a newline")
    items = []
    for line in text[:-1].split("\n"):
        item = json.loads(line)
        if not isinstance(item, str):
            raise ValueError("span artifact line is not a JSON string")
        items.append(item)
    return items


def flush_pending(core) -> int:
    """Hand the buffered records of `core.pending` to the callback, sorted by
    key, and add them to the block's deltas. Returns how many.

    Records stay pending until the callback returns, so a refused or failed
    callback loses nothing still uncommitted.
    """
    pending = core.pending
    if not pending:
        return 0
    records = sorted(pending.items())
    if not core.callback_allowed:
        raise SwingStoreError(
            f"export callback fired while disallowed by the host ({len(records)} records"
            f" pending, first {records[0][0]!r}); swing-store writes outside a block?"
        )
    core.callback(records)
    core.block_deltas.update(pending)
    core.pending = {}
    return len(records)
