"""Paused mode (seed 000, #4516): a kernel panic does not stop the chain.

A critical vat fails while the chain account "fuse" holds funds -> kernel panic -> the block
commits with the kernel paused; swingset txs are refused with code 30, bank txs work, balance
updates queue up; a restart stays paused; a resumeKernel host action (remedy retry) resumes
it and every queued action is delivered exactly once.
"""

from __future__ import annotations

import threading

import pytest

from kernelhost.chain.models import Action, Block, NodeState, Transaction
from kernelhost.chain.services.node_genesis import init_node
from kernelhost.chain.services.txs import submit_tx
from kernelhost.chain.types import ERR_KERNEL_PAUSED
from kernelhost.runner import run_node

from .nodekit import TEST_GENESIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    init_node(settings.SWINGSTORE_PATH, config_path=TEST_GENESIS)
    return tmp_path


def _blocks(n: int, events: list | None = None) -> None:
    publish = (lambda topic, event: events.append((topic, event))) if events is not None else (lambda *a: None)
    run_node(stop=threading.Event(), blocks=n, logical_clock=True, block_time_ms=1000, publish=publish)


def _send(vat, method, *args) -> str:
    return submit_tx({"type": "swingset/send", "vat": vat, "method": method, "args": list(args)}).tx_hash


def _bank(src, dst, amount) -> str:
    return submit_tx({"type": "bank/send", "from": src, "to": dst, "amount": str(amount), "denom": "ucon"}).tx_hash


def _tx(tx_hash: str) -> Transaction:
    return Transaction.objects.get(tx_hash=tx_hash)


def test_panic_pauses_the_kernel_and_resume_delivers_queued_actions_once(node):
    first_bank = _bank("alice", "bob", 10)
    bomb = _send("bomb", "explode")
    events: list = []
    _blocks(1, events)

    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "paused" and state.paused_height == 1
    assert "critical vat" in state.paused_reason and "boom" in state.paused_reason
    assert state.paused_action_id == _tx(bomb).data["actionID"]
    assert _tx(first_bank).code == 0  # the chain's own transactions of the panicking block stay
    assert Action.objects.filter(state=Action.PENDING).count() == 2  # nothing consumed: rolled back
    assert any(topic == "banner" and event.get("kernelState") == "paused" for topic, event in events)

    refused = _send("payer", "give", "bob", 1)
    defuse = _bank("fuse", "alice", 1)
    later_bank = _bank("alice", "bob", 5)
    _blocks(1)
    assert _tx(refused).code == ERR_KERNEL_PAUSED and "kernel is paused" in _tx(refused).message
    assert _tx(defuse).code == 0 and _tx(later_bank).code == 0
    assert Action.objects.filter(state=Action.PENDING, kind="VBANK_BALANCE_UPDATE").count() == 3

    _blocks(1)  # a restart (run_node reopens the store) stays paused; nothing reaches the kernel
    assert NodeState.objects.get(pk=1).kernel_state == "paused"
    assert Block.objects.get(height=3).cranks == 0

    state = NodeState.objects.get(pk=1)
    state.pending_host_actions = [{"kind": "resumeKernel", "params": {"remedy": "retry"}, "proposal_id": 7,
                                   "plan_name": None}]
    state.save()
    _blocks(1)  # the resume runs first thing in block 4, and nothing else reaches the kernel then
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "running" and state.pending_host_actions == []
    _blocks(2)
    assert not Action.objects.filter(state=Action.PENDING).exists()
    assert Action.objects.filter(kind="VBANK_BALANCE_UPDATE", state=Action.CONSUMED).count() == 3
    assert _tx(bomb).data["status"] == "fulfilled"  # retried: the fuse is empty now

    count = _send("bank-watcher", "get_update_count")
    _blocks(2)
    assert _tx(count).data == {"actionID": _tx(count).data["actionID"], "kpid": _tx(count).data["kpid"],
                               "status": "fulfilled", "value": 3}


def test_swingset_send_result_and_chain_sends_through_the_bridge(node):
    give = _send("payer", "give", "carol", 25)
    unknown_vat = _send("nosuchvat", "hello")
    _blocks(2)
    assert _tx(give).data["status"] == "fulfilled"
    assert _tx(give).data["value"] == {"ok": True, "balance": "5025"}
    assert "no vat named" in Action.objects.get(action_id=_tx(unknown_vat).data["actionID"]).result["error"]


def test_governance_vote_resumes_the_kernel_skipping_the_poison_action(node):
    bomb = _send("bomb", "explode")
    _blocks(1)
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "paused"
    poison = state.paused_action_id
    assert poison == _tx(bomb).data["actionID"]

    proposal = submit_tx({"type": "gov/submitProposal", "proposer": "val1", "content": {
        "kind": "resumeKernel", "title": "skip the bomb", "remedy": {"kind": "skipAction", "actionID": poison}}})
    _blocks(1)
    proposal = _tx(proposal.tx_hash)
    assert proposal.code == 0, proposal.message
    number = proposal.data["proposalId"]
    for voter in ("val1", "val2"):
        submit_tx({"type": "gov/vote", "voter": voter, "proposalId": number, "option": "yes"})
    _blocks(5)  # voting ends, the proposal passes, the host resumes the kernel a block later
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "running", state.paused_reason
    assert Action.objects.get(action_id=poison).state == Action.SKIPPED
    assert _send("payer", "give", "carol", 1)
    _blocks(1)
    assert NodeState.objects.get(pk=1).kernel_state == "running"


def test_resume_that_cannot_be_carried_out_leaves_the_kernel_paused(node):
    _send("bomb", "explode")
    _blocks(1)
    from kernelhost.controller import Controller

    impossible = [{"remedy": "skipAction", "actionID": "no-such"},
                  {"remedy": "upgradeKernel", "bundleID": "b1-" + "0" * 128}, {"remedy": "dance"}]
    if not hasattr(Controller, "terminate_vat"):  # the controller cannot do this remedy (yet)
        impossible.append({"remedy": "terminateVat", "vatID": "v3"})
    for params in impossible:
        state = NodeState.objects.get(pk=1)
        state.pending_host_actions = [{"kind": "resumeKernel", "params": params, "proposal_id": None,
                                       "plan_name": None}]
        state.save()
        _blocks(1)
        state = NodeState.objects.get(pk=1)
        assert state.kernel_state == "paused" and state.pending_host_actions == [], params
        assert state.paused_height == 1
