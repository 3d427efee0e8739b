"""Kernel upgrade at a height (seed "kernel bundle upgrade"): governance hands the host an
upgradeKernel action; the host switches the kernel between blocks. A new kernel that cannot
start (missing bundle, not a kernel bundle, import error) leaves the old one running and the
plan is recorded as failed; a good one takes over and keeps the kernel's state."""

from __future__ import annotations

import base64
import shutil
import threading

import pytest

from kernelhost.chain.models import NodeState, Transaction
from kernelhost.chain.services.node_genesis import init_node
from kernelhost.chain.services.txs import submit_tx
from kernelhost.controller.bundling import KERNEL_SOURCE_DIR, bundle_kernel_source
from kernelhost.runner import run_node
from kernelhost.swingstore.bundleformat import bundle_id_of

from .nodekit import TEST_GENESIS, vat_bundle_b64

pytestmark = pytest.mark.django_db


def _kernel_bundle(tmp_path, name: str, *, version: str, broken: bool = False) -> bytes:
    src = tmp_path / name
    shutil.copytree(KERNEL_SOURCE_DIR, src, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    text = (src / "version.py").read_text()
    (src / "version.py").write_text(text.replace('KERNEL_VERSION = "', f'KERNEL_VERSION = "{version}-'))
    if broken:
        init = src / "__init__.py"
        init.write_text(init.read_text() + '\nraise ImportError("this kernel cannot start")\n')
    return bundle_kernel_source(src)


def _blocks(n: int) -> None:
    run_node(stop=threading.Event(), blocks=n, logical_clock=True, block_time_ms=1000, publish=lambda *a: None)


def _upgrade(bundle_id: str, plan: str) -> None:
    node = NodeState.objects.get(pk=1)
    node.pending_host_actions = [{"kind": "upgradeKernel", "params": {"bundleID": bundle_id}, "proposal_id": None,
                                  "plan_name": plan}]
    node.save()
    _blocks(1)


def _give(amount: int) -> Transaction:
    tx = submit_tx({"type": "swingset/send", "vat": "payer", "method": "give", "args": ["carol", amount]})
    _blocks(1)
    return Transaction.objects.get(pk=tx.pk)


def test_failed_upgrades_keep_the_old_kernel_and_a_good_one_takes_over(settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    init_node(settings.SWINGSTORE_PATH, config_path=TEST_GENESIS)
    good = _kernel_bundle(tmp_path, "good", version="v2")
    broken = _kernel_bundle(tmp_path, "broken", version="v3", broken=True)
    vat = vat_bundle_b64(TEST_GENESIS.parent / "vats" / "payer")
    for data in (base64.b64encode(good).decode(), base64.b64encode(broken).decode(), vat):
        submit_tx({"type": "swingset/installBundle", "bundle": data})
    _blocks(2)
    original = NodeState.objects.get(pk=1).kernel_bundle_id
    assert _give(1).data["status"] == "fulfilled"

    failures = {
        "missing": "b1-" + "0" * 128,
        "not-a-kernel": bundle_id_of(base64.b64decode(vat)),
        "import-error": bundle_id_of(broken),
    }
    for plan, bundle_id in failures.items():
        _upgrade(bundle_id, plan)
        node = NodeState.objects.get(pk=1)
        assert node.pending_host_actions == [], plan
        assert node.kernel_bundle_id == original, plan
        assert _give(1).data["value"]["ok"] is True, f"old kernel must keep running after {plan}"

    _upgrade(bundle_id_of(good), "v2")
    assert NodeState.objects.get(pk=1).kernel_bundle_id == bundle_id_of(good)
    after = _give(2)
    assert after.data["status"] == "fulfilled" and after.data["value"]["balance"] == str(5000 + 1 + 3 + 2)
    try:
        from kernelhost.governance.models import AppliedUpgrade
    except ImportError:
        return
    outcomes = dict(AppliedUpgrade.objects.values_list("name", "ok"))
    assert outcomes == {"missing": False, "not-a-kernel": False, "import-error": False, "v2": True}


def test_governance_plan_upgrades_the_kernel_at_its_height(settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    init_node(settings.SWINGSTORE_PATH, config_path=TEST_GENESIS)
    good = _kernel_bundle(tmp_path, "good", version="v2")
    submit_tx({"type": "swingset/installBundle", "bundle": base64.b64encode(good).decode()})
    _blocks(2)
    new_id = bundle_id_of(good)
    height = NodeState.objects.get(pk=1).height + 1 + 3 + 2  # tx block + voting period + lead
    proposal = submit_tx({"type": "gov/submitProposal", "proposer": "val1", "content": {
        "kind": "kernelUpgrade", "title": "kernel v2", "bundleID": new_id, "height": height, "name": "v2"}})
    _blocks(1)
    proposal = Transaction.objects.get(pk=proposal.pk)
    assert proposal.code == 0, proposal.message
    for voter in ("val1", "val2"):
        submit_tx({"type": "gov/vote", "voter": voter, "proposalId": proposal.data["proposalId"], "option": "yes"})
    while NodeState.objects.get(pk=1).height < height:
        _blocks(1)
        assert NodeState.objects.get(pk=1).kernel_bundle_id != new_id  # not before the plan's height
    _blocks(1)  # the host switches kernels at the start of the next block
    assert NodeState.objects.get(pk=1).kernel_bundle_id == new_id
    assert _give(4).data["value"]["ok"] is True
    from kernelhost.governance.models import UpgradePlan

    assert UpgradePlan.objects.get(name="v2").status == UpgradePlan.APPLIED
