"""Transcript spans, incarnations, range reads and span hashes."""

from __future__ import annotations

import hashlib

import pytest

from kernelhost.swingstore import SwingStoreError, open_swingstore


def span_hash(items: list[str]) -> str:
    """The span hash recomputed from its definition, independently of the store."""
    h = hashlib.sha256(b"start of transcript span").hexdigest()
    for item in items:
        item_hex = hashlib.sha256(item.encode("utf-8")).hexdigest()
        h = hashlib.sha256((h + item_hex).encode("ascii")).hexdigest()
    return h


def test_new_transcript_is_empty_span_zero(store):
    tr = store.kernel.transcripts
    tr.init_transcript("v1")
    assert tr.get_current_span_bounds("v1") == {
        "startPos": 0, "endPos": 0, "hash": span_hash([]), "incarnation": 0}
    assert tr.read_span("v1") == []
    with pytest.raises(SwingStoreError, match="already has a transcript"):
        tr.init_transcript("v1")
    assert tr.get_current_span_bounds("v9") is None
    with pytest.raises(SwingStoreError, match="no current transcript span"):
        tr.add_item("v9", "x")


def test_spans_incarnations_and_hash_chain(db_path):
    s = open_swingstore(db_path)
    tr = s.kernel.transcripts
    tr.init_transcript("v1")
    tr.init_transcript("v2")
    span0 = ["init-worker", "startVat", "msg", "save-snapshot"]
    assert [tr.add_item("v1", i) for i in span0] == [0, 1, 2, 3]
    tr.add_item("v2", "other vat")  # positions are per vat
    assert tr.rollover_span("v1") == 4
    span1 = ["load-snapshot", "notify", "msg é ✓", "shutdown-worker"]
    assert [tr.add_item("v1", i) for i in span1] == [4, 5, 6, 7]
    assert tr.rollover_incarnation("v1") == 8
    span2 = ["init-worker", "startVat\nwith newline"]
    assert [tr.add_item("v1", i) for i in span2] == [8, 9]
    s.host.commit()
    s.close()

    s = open_swingstore(db_path)
    tr = s.kernel.transcripts
    assert tr.list_spans("v1") == [
        {"startPos": 0, "endPos": 4, "hash": span_hash(span0), "incarnation": 0,
         "isCurrent": False},
        {"startPos": 4, "endPos": 8, "hash": span_hash(span1), "incarnation": 0,
         "isCurrent": False},
        {"startPos": 8, "endPos": 10, "hash": span_hash(span2), "incarnation": 1,
         "isCurrent": True},
    ]
    assert tr.get_current_span_bounds("v1") == {
        "startPos": 8, "endPos": 10, "hash": span_hash(span2), "incarnation": 1}
    assert tr.read_span("v1") == span2
    assert tr.read_span("v1", 0) == span0
    assert tr.read_span("v1", 4) == span1
    assert tr.read_items("v1", 3, 9) == [(3, "save-snapshot")] + list(
        zip(range(4, 9), span1 + span2[:1], strict=True))
    assert tr.read_items("v1", 10, 20) == []
    assert tr.read_span("v2") == ["other vat"]
    assert tr.list_vat_ids() == ["v1", "v2"]
    with pytest.raises(SwingStoreError, match="no transcript span at 5"):
        tr.read_span("v1", 5)
    s.close()


def test_closing_spans_never_deletes_items(store):
    tr = store.kernel.transcripts
    tr.init_transcript("v1")
    for i in range(3):
        tr.add_item("v1", f"a{i}")
    tr.rollover_incarnation("v1")
    tr.add_item("v1", "b0")
    tr.stop_using_transcript("v1")
    assert tr.get_current_span_bounds("v1") is None
    assert tr.read_items("v1", 0, 100) == [(0, "a0"), (1, "a1"), (2, "a2"), (3, "b0")]
    assert [sp["isCurrent"] for sp in tr.list_spans("v1")] == [False, False]
    tr.stop_using_transcript("v1")  # idempotent
    with pytest.raises(SwingStoreError, match="no current transcript span"):
        tr.add_item("v1", "late")


def test_empty_span_rollovers(store):
    tr = store.kernel.transcripts
    tr.init_transcript("v1")
    assert tr.rollover_span("v1") == 0  # nothing to close
    assert tr.rollover_incarnation("v1") == 0
    assert tr.list_spans("v1") == [{"startPos": 0, "endPos": 0, "hash": span_hash([]),
                                     "incarnation": 1, "isCurrent": True}]


def test_pruning_is_explicit_and_keeps_metadata(store):
    tr = store.kernel.transcripts
    tr.init_transcript("v1")
    tr.add_item("v1", "old")
    tr.rollover_span("v1")
    tr.add_item("v1", "new")
    with pytest.raises(SwingStoreError, match="current span"):
        tr.prune_span("v1", 1)
    assert tr.prune_span("v1", 0) == 1
    assert tr.list_spans("v1")[0]["hash"] == span_hash(["old"])
    with pytest.raises(SwingStoreError, match="incomplete"):
        tr.read_span("v1", 0)
    assert tr.read_items("v1", 0, 2) == [(1, "new")]


def test_transcript_rollback_within_crank(store):
    ks = store.kernel
    tr = ks.transcripts
    tr.init_transcript("v1")
    tr.add_item("v1", "kept")
    ks.start_crank()
    ks.establish_crank_savepoint("deliver")
    tr.add_item("v1", "lost")
    tr.rollover_incarnation("v1")
    tr.add_item("v1", "lost too")
    ks.rollback_crank("deliver")
    assert tr.get_current_span_bounds("v1") == {
        "startPos": 0, "endPos": 1, "hash": span_hash(["kept"]), "incarnation": 0}
    assert tr.add_item("v1", "next") == 1
    ks.end_crank()
    assert tr.read_span("v1") == ["kept", "next"]


def test_delete_vat_transcripts(store, recorder):
    tr = store.kernel.transcripts
    tr.init_transcript("v1")
    tr.add_item("v1", "x")
    tr.rollover_span("v1")
    store.host.commit()
    assert tr.delete_vat_transcripts("v1") == 2
    store.host.commit()
    assert tr.list_spans("v1") == []
    assert tr.read_items("v1", 0, 10) == []
    assert "transcript.v1.0" not in recorder.shadow()
    assert "transcript.v1.current" not in recorder.shadow()
