"""Host directive rules without a chain database or a kernel: height rules, the BEGIN-twice
guard, chain-send replay and its mismatch check, the export-callback guard (seed 003)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from kernelhost.host.errors import DecoheredError, ReplayMismatchError
from kernelhost.host.host import CHAIN_SENDS_KEY, HEIGHT_KEY, Host
from kernelhost.swingstore import SwingStoreError


class FakeChain:
    """A ChainPort whose kernel is paused, so END_BLOCK never loads a kernel; records sends."""

    def __init__(self, results: dict | None = None):
        self.applied: list[dict] = []
        self.exports: list = []
        self.results = results or {}

    def apply_send(self, send):
        self.applied.append(send)
        return self.results.get(send["type"], {"ok": True})

    def apply_export_records(self, records):
        self.exports.extend(records)

    def kernel_paused(self):
        return True

    def pending_actions(self, limit):
        return []

    def pending_host_actions(self):
        return []

    def unresolved_swingset_sends(self):
        return []

    def crank_budget(self):
        return 10

    def params(self):
        return {}

    @contextmanager
    def savepoint(self):
        yield self


@pytest.fixture
def host(tmp_path):
    h = Host.open(tmp_path / "ss.sqlite")
    yield h
    h.close()


def _block(host: Host, height: int, chain=None, sends=()) -> str:
    chain = chain or FakeChain()
    mode = host.begin_block(height, 1000 * height)
    host._chain = chain  # a device call during END_BLOCK: what the bridge would do
    for send in sends:
        host.chain_send(send)
    host._chain = None
    host.end_block(height, chain)
    host.commit_block(height)
    host.after_commit(height)
    return mode


def test_next_height_executes_and_commits_height_and_sends(host, tmp_path):
    assert _block(host, 1) == "execute"
    host.begin_block(2, 2000)
    host._chain = FakeChain()
    host.chain_send({"type": "VBANK_GIVE", "address": "a", "denom": "ucon", "amount": "1"})
    host._chain = None
    host.end_block(2, FakeChain())
    host.commit_block(2)
    host.after_commit(2)
    assert host.store.host.kv.get(HEIGHT_KEY) == "2"
    saved = json.loads(host.store.host.kv.get(CHAIN_SENDS_KEY))
    assert [s["send"]["type"] for s in saved] == ["VBANK_GIVE"]


def test_height_gap_is_decohered_and_sticky(host):
    _block(host, 1)
    with pytest.raises(DecoheredError, match="from 1 to 3"):
        host.begin_block(3, 3000)
    with pytest.raises(DecoheredError):
        host.begin_block(2, 2000)  # sticky: nothing runs after decoherence


def test_begin_twice_for_a_new_height_is_an_error(host):
    _block(host, 1)
    host.begin_block(2, 2000)
    host.abort_block()  # the chain failed before committing block 2
    with pytest.raises(DecoheredError, match="seen twice"):
        host.begin_block(2, 2000)


def test_directive_for_the_wrong_height(host):
    host.begin_block(1, 1000)
    with pytest.raises(DecoheredError, match="END_BLOCK"):
        host.end_block(2, FakeChain())


def test_same_height_after_restart_replays_recorded_sends(tmp_path):
    path = tmp_path / "ss.sqlite"
    host = Host.open(path)
    _block(host, 1)
    give = {"type": "VBANK_GIVE", "address": "a", "denom": "ucon", "amount": "5"}
    _block(host, 2, FakeChain({"VBANK_GIVE": {"ok": True, "balance": "5"}}), sends=[give])
    host.close()  # the chain did not commit block 2: it asks for block 2 again
    host = Host.open(path)
    chain = FakeChain({"VBANK_GIVE": {"ok": True, "balance": "5"}})
    assert host.begin_block(2, 2000) == "replay"
    host.end_block(2, chain)
    host.commit_block(2)
    host.after_commit(2)
    assert chain.applied == [give]
    # then block 3 executes normally, and the replayed block's sends are not carried over
    assert _block(host, 3) == "execute"
    assert json.loads(host.store.host.kv.get(CHAIN_SENDS_KEY)) == []
    host.close()


def test_replay_mismatch_stops_the_node_naming_the_send(tmp_path):
    path = tmp_path / "ss.sqlite"
    host = Host.open(path)
    _block(host, 1, FakeChain({"VBANK_GET_BALANCE": {"ok": True, "amount": "10"}}),
           sends=[{"type": "VBANK_GET_BALANCE", "address": "a", "denom": "ucon"}])
    host.close()
    host = Host.open(path)
    host.begin_block(1, 1000)
    with pytest.raises(ReplayMismatchError, match=r"chain-send #0 VBANK_GET_BALANCE.*expected"):
        host.end_block(1, FakeChain({"VBANK_GET_BALANCE": {"ok": True, "amount": "11"}}))
    with pytest.raises(DecoheredError):
        host.commit_block(1)
    host.close()


def test_export_callback_refused_outside_a_block(host):
    kernel = host.store.kernel
    # a kernel write between blocks (after COMMIT_BLOCK): flushing its export record must fail
    kernel.start_crank()
    kernel.kv.set("stray", "1")
    with pytest.raises(SwingStoreError, match="disallowed"):
        kernel.end_crank()


def test_export_callback_allowed_inside_a_block_and_sent_to_the_chain(host):
    chain = FakeChain()
    host.begin_block(1, 1000)
    kernel = host.store.kernel
    kernel.start_crank()
    kernel.kv.set("inside", "1")
    kernel.end_crank()
    host.end_block(1, chain)
    host.commit_block(1)
    host.after_commit(1)
    assert ("kv.inside", "1") in chain.exports
    assert ("kv.inside", "1") in host.store.host.get_export_deltas()
