"""Resume a paused kernel by each remedy (issue 7): retry, terminateVat, skipAction,
upgradeKernel. `retry` (after the fuse was emptied) and `skipAction` (a real governance vote)
are covered in test_paused_mode; this file covers terminateVat (a real governance vote) and
upgradeKernel to a fixed kernel bundle, plus the refusals.

Design of terminateVat: a panic comes from a *critical* vat (or a kernel invariant), and the
controller refuses to terminate a critical vat (ValueError: that would panic every node
again). So the remedy removes a NON-critical culprit whose messages make the critical vat
fail: the poison action targets the non-critical "agitator", which calls the critical bomb;
once the agitator is terminated, the re-delivered poison action is rejected against the dead
vat and never reaches the bomb. Asking to terminate the critical bomb itself leaves the
kernel paused with the reason.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading

import pytest

from kernelhost.chain.models import Action, NodeState, Transaction
from kernelhost.chain.services.node_genesis import init_node
from kernelhost.chain.services.txs import submit_tx
from kernelhost.controller.bundling import KERNEL_SOURCE_DIR, bundle_kernel_source
from kernelhost.runner import run_node
from kernelhost.swingstore import open_swingstore
from kernelhost.swingstore.bundleformat import bundle_id_of

from .nodekit import TEST_GENESIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(settings, tmp_path):
    config = json.loads(TEST_GENESIS.read_text())
    config["baseDir"] = str(TEST_GENESIS.parent)
    config["vats"]["agitator"] = {"source": "vats/agitator"}
    genesis = tmp_path / "genesis-remedies.json"
    genesis.write_text(json.dumps(config))
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    init_node(settings.SWINGSTORE_PATH, config_path=genesis)
    return tmp_path


def _blocks(n: int) -> None:
    run_node(stop=threading.Event(), blocks=n, logical_clock=True, block_time_ms=1000, publish=lambda *a: None)


def _send(vat, method, *args) -> Transaction:
    return submit_tx({"type": "swingset/send", "vat": vat, "method": method, "args": list(args)})


def _tx(tx) -> Transaction:
    return Transaction.objects.get(pk=tx.pk)


def _vat_id(settings, name: str) -> str:
    store = open_swingstore(settings.SWINGSTORE_PATH, readonly=True)
    try:
        return store.kernel.kv.get(f"vat.name.{name}")
    finally:
        store.close()


def _host_action(params: dict) -> None:
    state = NodeState.objects.get(pk=1)
    state.pending_host_actions = [{"kind": "resumeKernel", "params": params, "proposal_id": None,
                                   "plan_name": None}]
    state.save()
    _blocks(1)


def _vote_resume(remedy: dict) -> None:
    proposal = submit_tx({"type": "gov/submitProposal", "proposer": "val1", "content": {
        "kind": "resumeKernel", "title": f"resume: {remedy['kind']}", "remedy": remedy}})
    _blocks(1)
    proposal = _tx(proposal)
    assert proposal.code == 0, proposal.message
    for voter in ("val1", "val2"):
        submit_tx({"type": "gov/vote", "voter": voter, "proposalId": proposal.data["proposalId"], "option": "yes"})
    _blocks(5)  # the voting period ends, the proposal passes, the host resumes a block later


def test_terminate_vat_of_the_culprit_by_governance_vote(node, settings):
    _blocks(1)  # the bootstrap block (a panic in it would roll the wiring back too)
    poison = _send("agitator", "provoke")
    _blocks(1)
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "paused" and "critical vat" in state.paused_reason
    assert state.paused_action_id == _tx(poison).data["actionID"]

    # the critical bomb itself cannot be removed: the resume fails, the kernel stays paused
    bomb = _vat_id(settings, "bomb")
    _host_action({"remedy": "terminateVat", "vatID": bomb})
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "paused" and state.pending_host_actions == []
    # nor can a vat that does not exist
    _host_action({"remedy": "terminateVat", "vatID": "v99"})
    assert NodeState.objects.get(pk=1).kernel_state == "paused"

    agitator = _vat_id(settings, "agitator")
    _vote_resume({"kind": "terminateVat", "vatID": agitator})
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "running", state.paused_reason
    _blocks(2)
    assert NodeState.objects.get(pk=1).kernel_state == "running"
    # the poison action was re-delivered exactly once and went splat against the dead agitator
    action = Action.objects.get(action_id=_tx(poison).data["actionID"])
    assert action.state == Action.CONSUMED
    data = _tx(poison).data
    assert data["status"] == "rejected" and "terminated" in json.dumps(data["value"]), data
    # the rest of the kernel works, the bomb (still armed) included
    give = _send("payer", "give", "carol", 1)
    again = _send("agitator", "ping")
    _blocks(2)
    assert _tx(give).data["status"] == "fulfilled"
    assert _tx(again).data["status"] == "rejected"
    assert NodeState.objects.get(pk=1).kernel_state == "running"


def _fixed_kernel(tmp_path) -> bytes:
    """A kernel whose 'fix' is that the bomb is no longer fatal: its failure terminates it
    like any other vat instead of panicking the kernel."""
    src = tmp_path / "fixed-kernel"
    shutil.copytree(KERNEL_SOURCE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    kernel = src / "kernel.py"
    text = kernel.read_text()
    assert text.count("        if info.critical:\n") == 1
    kernel.write_text(text.replace("        if info.critical:\n", '        if info.critical and info.name != "bomb":\n'))
    version = src / "version.py"
    version.write_text(version.read_text().replace('KERNEL_VERSION = "', 'KERNEL_VERSION = "fixed-'))
    return bundle_kernel_source(src)


def test_upgrade_kernel_remedy_to_a_fixed_kernel_bundle(node, tmp_path):
    fixed = _fixed_kernel(tmp_path)
    install = submit_tx({"type": "swingset/installBundle", "bundle": base64.b64encode(fixed).decode()})
    _blocks(1)  # bundles are installed while the kernel runs (installBundle is refused while paused)
    assert _tx(install).code == 0, _tx(install).message
    original = NodeState.objects.get(pk=1).kernel_bundle_id

    poison = _send("bomb", "explode")
    _blocks(1)
    assert NodeState.objects.get(pk=1).kernel_state == "paused"

    _vote_resume({"kind": "upgradeKernel", "bundleID": bundle_id_of(fixed)})
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "running", state.paused_reason
    assert state.kernel_bundle_id == bundle_id_of(fixed) != original
    _blocks(2)
    state = NodeState.objects.get(pk=1)
    assert state.kernel_state == "running", state.paused_reason
    # re-delivered once: the bomb exited with failure, which the fixed kernel survives
    assert Action.objects.get(action_id=_tx(poison).data["actionID"]).state == Action.CONSUMED
    assert _tx(poison).data["status"] == "fulfilled" and _tx(poison).data["value"] == "exploding"
    give = _send("payer", "give", "carol", 1)
    dead = _send("bomb", "explode")
    _blocks(2)
    assert _tx(give).data["status"] == "fulfilled"
    assert _tx(dead).data["status"] == "rejected"  # the bomb is gone, the kernel is not
    assert NodeState.objects.get(pk=1).kernel_bundle_id == bundle_id_of(fixed)
