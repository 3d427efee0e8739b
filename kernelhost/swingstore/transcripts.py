"""Transcript store: per-vat delivery logs, in hash-chained spans.

Tables: `transcriptSpans(vatID, startPos, endPos, hash, isCurrent, incarnation)`
and `transcriptItems(vatID, position, item, incarnation)`.

- A span covers positions [startPos, endPos). Each live vat has exactly one
  current span (isCurrent = 1); closed spans have isCurrent NULL.
- Positions count every item of the vat and never reset, neither at a span
  rollover nor at an incarnation change (vat upgrade).
- Span hash: starts as sha256("start of transcript span") (hex); each item
  turns it into sha256(prior_hex + sha256(item)_hex) (hex digests
  concatenated as text, UTF-8 encoded).
- Closing a span never deletes its items. Deleting the items of a closed
  span (keeping its metadata and hash) is `prune_span`, a separate explicit
  policy that nothing calls by default.
- Every span change yields export records `transcript.<vatID>.current` and,
  for closed spans, `transcript.<vatID>.<startPos>`.

The writer caches each vat's current span (`core.span_cache`, vatID ->
[startPos, endPos, hash, incarnation]); every rollback clears it.
"""

from __future__ import annotations

import hashlib

from .errors import SwingStoreError
from .exportdata import span_key, span_record

INITIAL_SPAN_HASH = hashlib.sha256(b"start of transcript span").hexdigest()

SQL_SPAN_CURRENT = (
    "SELECT startPos, endPos, hash, incarnation FROM transcriptSpans"
    " WHERE vatID = ? AND isCurrent = 1"
)
SQL_SPAN_AT = (
    "SELECT startPos, endPos, hash, incarnation, isCurrent FROM transcriptSpans"
    " WHERE vatID = ? AND startPos = ?"
)
SQL_SPAN_ANY = "SELECT 1 FROM transcriptSpans WHERE vatID = ? LIMIT 1"
SQL_SPAN_LIST = (
    "SELECT startPos, endPos, hash, incarnation, isCurrent FROM transcriptSpans"
    " WHERE vatID = ? ORDER BY startPos"
)
SQL_SPAN_INSERT = (
    "INSERT INTO transcriptSpans (vatID, startPos, endPos, hash, isCurrent, incarnation)"
    " VALUES (?, ?, ?, ?, 1, ?)"
)
SQL_SPAN_UPDATE_END = (
    "UPDATE transcriptSpans SET endPos = ?, hash = ? WHERE vatID = ? AND isCurrent = 1"
)
SQL_SPAN_CLOSE = "UPDATE transcriptSpans SET isCurrent = NULL WHERE vatID = ? AND isCurrent = 1"
SQL_SPAN_SET_INCARNATION = (
    "UPDATE transcriptSpans SET incarnation = ? WHERE vatID = ? AND isCurrent = 1"
)
SQL_SPAN_DELETE_ALL = "DELETE FROM transcriptSpans WHERE vatID = ?"
SQL_VAT_IDS = "SELECT DISTINCT vatID FROM transcriptSpans ORDER BY vatID"
SQL_ITEM_INSERT = (
    "INSERT INTO transcriptItems (vatID, position, item, incarnation) VALUES (?, ?, ?, ?)"
)
SQL_ITEMS_RANGE = (
    "SELECT position, item FROM transcriptItems"
    " WHERE vatID = ? AND position >= ? AND position < ? ORDER BY position"
)
SQL_ITEMS_DELETE_RANGE = (
    "DELETE FROM transcriptItems WHERE vatID = ? AND position >= ? AND position < ?"
)
SQL_ITEMS_DELETE_ALL = "DELETE FROM transcriptItems WHERE vatID = ?"


def next_span_hash(prior_hash: str, item: str) -> str:
    item_hash = hashlib.sha256(item.encode()).hexdigest()
    return hashlib.sha256((prior_hash + item_hash).encode()).hexdigest()


def _span_dict(row) -> dict:
    start, end, hash_, incarnation, is_current = row
    return {
        "startPos": start,
        "endPos": end,
        "hash": hash_,
        "incarnation": incarnation,
        "isCurrent": bool(is_current),
    }


class TranscriptStore:
    __slots__ = ("_core",)

    def __init__(self, core) -> None:
        self._core = core

    # ------------------------------------------------------------------ internals

    def _current(self, vat_id: str) -> list | None:
        cache = self._core.span_cache
        span = cache.get(vat_id)
        if span is None:
            row = self._core.conn.execute(SQL_SPAN_CURRENT, (vat_id,)).fetchone()
            if row is None:
                return None
            span = list(row)
            cache[vat_id] = span
        return span

    def _require_current(self, vat_id: str) -> list:
        span = self._current(vat_id)
        if span is None:
            raise SwingStoreError(f"vat {vat_id!r} has no current transcript span")
        return span

    def _export(self, vat_id: str, start: int | None, value: str | None) -> None:
        if self._core.exporting:
            self._core.pending[span_key(vat_id, start)] = value

    def _export_current(self, vat_id: str, span: list) -> None:
        start, end, hash_, inc = span
        self._export(vat_id, None, span_record(vat_id, start, end, hash_, True, inc))

    def _close_current(self, vat_id: str, span: list) -> None:
        start, end, hash_, inc = span
        self._core.conn.execute(SQL_SPAN_CLOSE, (vat_id,))
        self._export(vat_id, start, span_record(vat_id, start, end, hash_, False, inc))

    def _open_span(self, vat_id: str, start: int, incarnation: int) -> list:
        self._core.conn.execute(SQL_SPAN_INSERT, (vat_id, start, start, INITIAL_SPAN_HASH,
                                                  incarnation))
        span = [start, start, INITIAL_SPAN_HASH, incarnation]
        self._core.span_cache[vat_id] = span
        self._export_current(vat_id, span)
        return span

    # ------------------------------------------------------------------ writes

    def init_transcript(self, vat_id: str) -> None:
        """Open span [0, 0) in incarnation 0 for a new vat."""
        if type(vat_id) is not str or not vat_id:
            raise SwingStoreError(f"vat ID must be a non-empty str, not {vat_id!r}")
        core = self._core
        if core.conn.execute(SQL_SPAN_ANY, (vat_id,)).fetchone() is not None:
            raise SwingStoreError(f"vat {vat_id!r} already has a transcript")
        if not core.in_txn:
            core.begin()
        self._open_span(vat_id, 0, 0)

    def add_item(self, vat_id: str, item: str) -> int:
        """Append `item` to the vat's current span; returns its position."""
        if type(item) is not str:
            raise SwingStoreError(f"transcript item must be a str, not {type(item).__name__}")
        core = self._core
        span = core.span_cache.get(vat_id) or self._require_current(vat_id)
        if not core.in_txn:
            core.begin()
        start, end, prior, inc = span
        new_hash = hashlib.sha256(
            (prior + hashlib.sha256(item.encode()).hexdigest()).encode()
        ).hexdigest()
        execute = core.conn.execute
        execute(SQL_ITEM_INSERT, (vat_id, end, item, inc))
        execute(SQL_SPAN_UPDATE_END, (end + 1, new_hash, vat_id))
        span[1] = end + 1
        span[2] = new_hash
        if core.exporting:
            core.pending[f"transcript.{vat_id}.current"] = span_record(
                vat_id, start, end + 1, new_hash, True, inc)
        return end

    def rollover_span(self, vat_id: str) -> int:
        """Close the current span and open an empty one at its end, same
        incarnation. Returns the new span's start. An empty current span is
        left as it is (there is nothing to close)."""
        span = self._require_current(vat_id)
        start, end, _hash, inc = span
        if start == end:
            return start
        if not self._core.in_txn:
            self._core.begin()
        self._close_current(vat_id, span)
        self._open_span(vat_id, end, inc)
        return end

    def rollover_incarnation(self, vat_id: str) -> int:
        """Like `rollover_span`, but the new span starts incarnation + 1. An
        empty current span just has its incarnation raised. Returns the new
        span's start."""
        core = self._core
        span = self._require_current(vat_id)
        start, end, _hash, inc = span
        if not core.in_txn:
            core.begin()
        if start == end:
            core.conn.execute(SQL_SPAN_SET_INCARNATION, (inc + 1, vat_id))
            span[3] = inc + 1
            self._export_current(vat_id, span)
            return start
        self._close_current(vat_id, span)
        self._open_span(vat_id, end, inc + 1)
        return end

    def stop_using_transcript(self, vat_id: str) -> None:
        """Close the current span for good (vat terminated); no-op if none."""
        core = self._core
        span = self._current(vat_id)
        if span is None:
            return
        if not core.in_txn:
            core.begin()
        self._close_current(vat_id, span)
        self._export(vat_id, None, None)
        core.span_cache.pop(vat_id, None)

    def prune_span(self, vat_id: str, start_pos: int) -> int:
        """Delete the items of a closed span, keeping its metadata and hash.
        Returns how many items were deleted. Pruned spans cannot be read or
        exported in archival mode."""
        core = self._core
        row = core.conn.execute(SQL_SPAN_AT, (vat_id, start_pos)).fetchone()
        if row is None:
            raise SwingStoreError(f"vat {vat_id!r} has no transcript span at {start_pos}")
        if row[4]:
            raise SwingStoreError(f"cannot prune the current span of vat {vat_id!r}")
        if not core.in_txn:
            core.begin()
        cur = core.conn.execute(SQL_ITEMS_DELETE_RANGE, (vat_id, row[0], row[1]))
        return cur.rowcount

    def delete_vat_transcripts(self, vat_id: str) -> int:
        """Delete every span and item of a (terminated) vat. Returns the
        number of spans deleted."""
        core = self._core
        spans = core.conn.execute(SQL_SPAN_LIST, (vat_id,)).fetchall()
        if not spans:
            return 0
        if not core.in_txn:
            core.begin()
        core.conn.execute(SQL_ITEMS_DELETE_ALL, (vat_id,))
        core.conn.execute(SQL_SPAN_DELETE_ALL, (vat_id,))
        for row in spans:
            self._export(vat_id, None if row[4] else row[0], None)
        core.span_cache.pop(vat_id, None)
        return len(spans)

    # ------------------------------------------------------------------ reads

    def get_current_span_bounds(self, vat_id: str) -> dict | None:
        span = self._current(vat_id)
        if span is None:
            return None
        start, end, hash_, inc = span
        return {"startPos": start, "endPos": end, "hash": hash_, "incarnation": inc}

    def list_spans(self, vat_id: str) -> list[dict]:
        rows = self._core.conn.execute(SQL_SPAN_LIST, (vat_id,)).fetchall()
        return [_span_dict(r) for r in rows]

    def list_vat_ids(self) -> list[str]:
        return [r[0] for r in self._core.conn.execute(SQL_VAT_IDS)]

    def read_span(self, vat_id: str, start_pos: int | None = None) -> list[str]:
        """All items of a span (the current one by default). Raises if the
        span's items are not all present (pruned)."""
        if start_pos is None:
            span = self._require_current(vat_id)
            start, end = span[0], span[1]
        else:
            row = self._core.conn.execute(SQL_SPAN_AT, (vat_id, start_pos)).fetchone()
            if row is None:
                raise SwingStoreError(f"vat {vat_id!r} has no transcript span at {start_pos}")
            start, end = row[0], row[1]
        rows = self._core.conn.execute(SQL_ITEMS_RANGE, (vat_id, start, end)).fetchall()
        if len(rows) != end - start:
            raise SwingStoreError(
                f"transcript span {vat_id}.{start} is incomplete (pruned?):"
                f" {len(rows)} of {end - start} items present"
            )
        return [r[1] for r in rows]

    def read_items(self, vat_id: str, start: int, end: int) -> list[tuple[int, str]]:
        """(position, item) for the stored items with start <= position < end;
        pruned positions are simply absent."""
        return self._core.conn.execute(SQL_ITEMS_RANGE, (vat_id, start, end)).fetchall()
