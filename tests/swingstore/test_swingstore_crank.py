"""Crank savepoints, crank hash and activity hash."""

from __future__ import annotations

import hashlib

import pytest

from kernelhost.swingstore import SwingStoreError


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def activity(old: str, crankhash: str) -> str:
    return sha(f"activityhash\n{old}\n{crankhash}\n")


def test_crank_hash_formats(store):
    ks = store.kernel
    assert ks.get_activity_hash() == ""
    ks.start_crank()
    ks.kv.set("a", "1")
    ks.kv.set("local.stats", "ignored")  # non-consensus: not hashed
    ks.kv.delete("b")
    ks.kv.set("a", "1")  # unchanged value is still hashed
    crankhash, act = ks.emit_crank_hashes()
    ks.end_crank()
    expected_crank = sha("add\na\n1\n" + "delete\nb\n" + "add\na\n1\n")
    assert crankhash == expected_crank
    assert act == activity("", expected_crank)
    assert ks.get_activity_hash() == act
    assert ks.kv.get("activityhash") == act

    ks.start_crank()
    crankhash2, act2 = ks.emit_crank_hashes()  # empty crank
    ks.end_crank()
    assert crankhash2 == sha("")
    assert act2 == activity(act, sha(""))


def test_activity_hash_survives_reopen(db_path):
    from kernelhost.swingstore import open_swingstore

    s = open_swingstore(db_path)
    s.kernel.kv.set("x", "y")
    _c, act = s.kernel.emit_crank_hashes()
    s.host.commit()
    s.close()
    s = open_swingstore(db_path)
    assert s.kernel.get_activity_hash() == act
    s.close()


def test_rollback_to_deliver_keeps_start_of_crank(store):
    ks = store.kernel
    ks.kv.set("q", "0")
    ks.transcripts.init_transcript("v1")
    ks.start_crank()
    ks.kv.set("q", "1")  # e.g. removing the message from the run-queue
    ks.establish_crank_savepoint("deliver")
    ks.kv.set("q", "2")
    ks.kv.set("vat.state", "bad")
    ks.kv.delete("q")
    ks.transcripts.add_item("v1", "delivery")
    ks.rollback_crank("deliver")
    assert ks.kv.get("q") == "1"
    assert ks.kv.get("vat.state") is None
    assert ks.transcripts.get_current_span_bounds("v1")["endPos"] == 0
    crankhash, _ = ks.emit_crank_hashes()
    ks.end_crank()
    # the write before the crank was never emitted, so it is part of this hash
    assert crankhash == sha("add\nq\n0\n" + "add\nq\n1\n")


def test_rollback_to_start_undoes_whole_crank(store, recorder):
    ks = store.kernel
    ks.kv.set("a", "0")
    store.host.commit()
    recorder.batches.clear()
    ks.start_crank()
    ks.kv.set("a", "1")
    ks.establish_crank_savepoint("deliver")
    ks.kv.set("a", "2")
    ks.emit_crank_hashes()
    ks.rollback_crank("start")
    assert ks.kv.get("a") == "0"
    assert ks.get_activity_hash() == ""
    crankhash, _ = ks.emit_crank_hashes()
    ks.end_crank()
    assert crankhash == sha("")
    assert recorder.records == [("kv.activityhash", activity("", sha("")))]


def test_rollback_can_repeat_and_drops_later_savepoints(store):
    ks = store.kernel
    ks.start_crank()
    ks.establish_crank_savepoint("one")
    ks.kv.set("x", "1")
    ks.establish_crank_savepoint("two")
    ks.kv.set("x", "2")
    ks.rollback_crank("one")
    assert ks.kv.get("x") is None
    with pytest.raises(SwingStoreError, match="unknown crank savepoint 'two'"):
        ks.rollback_crank("two")
    ks.kv.set("x", "3")
    ks.rollback_crank("one")
    assert ks.kv.get("x") is None
    ks.establish_crank_savepoint("two")  # usable again after being dropped
    ks.end_crank()


def test_crank_misuse_is_refused(store):
    ks = store.kernel
    with pytest.raises(SwingStoreError, match="outside a crank"):
        ks.establish_crank_savepoint("x")
    with pytest.raises(SwingStoreError, match="outside a crank"):
        ks.rollback_crank("start")
    with pytest.raises(SwingStoreError, match="outside a crank"):
        ks.end_crank()
    ks.start_crank()
    with pytest.raises(SwingStoreError, match="already in a crank"):
        ks.start_crank()
    ks.establish_crank_savepoint("d")
    with pytest.raises(SwingStoreError, match="already exists"):
        ks.establish_crank_savepoint("d")
    with pytest.raises(SwingStoreError, match="already exists"):
        ks.establish_crank_savepoint("start")
    with pytest.raises(SwingStoreError, match="inside a crank"):
        store.host.commit()
    ks.end_crank()
    store.host.commit()


def test_unemitted_writes_do_not_cross_commit(db_path):
    """The crank hasher is reset at commit, so a restart cannot change hashes."""
    from kernelhost.swingstore import open_swingstore

    a = open_swingstore(db_path)
    a.kernel.kv.set("unemitted", "1")
    a.host.commit()
    a.kernel.kv.set("next", "2")
    ch_a, act_a = a.kernel.emit_crank_hashes()
    a.host.rollback()
    a.close()
    b = open_swingstore(db_path)  # "restarted" node
    b.kernel.kv.set("next", "2")
    ch_b, act_b = b.kernel.emit_crank_hashes()
    b.close()
    assert (ch_a, act_a) == (ch_b, act_b) == (sha("add\nnext\n2\n"), activity("", ch_a))
