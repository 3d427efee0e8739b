"""A tiny stand-in for the chain: block heights, a pause flag and validator powers, driving the
governance hooks exactly as the chain's block loop does (txs, then end-block)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kernelhost.chain.types import BlockContext
from kernelhost.governance import selectors
from kernelhost.governance.services import gov_end_block, gov_init_genesis
from kernelhost.governance.txs import apply_gov_tx

BUNDLE = "b1-" + "ab" * 64
OTHER_BUNDLE = "b1-" + "cd" * 64


class GovChain:
    def __init__(self, powers: dict[str, int]):
        self.powers = dict(powers)
        self.height = 1
        self.paused_height: int | None = None
        self.actions: list = []

    def ctx(self) -> BlockContext:
        paused = self.paused_height is not None
        node = SimpleNamespace(kernel_state="paused" if paused else "running", paused_height=self.paused_height,
                               paused_reason="vat v3 panicked" if paused else None,
                               paused_action_id="4-0" if paused else None, kernel_bundle_id=OTHER_BUNDLE)
        return BlockContext(height=self.height, time_ms=1_767_225_600_000 + self.height * 1000, node=node)

    def tx(self, tx_type: str, body: dict):
        return apply_gov_tx(tx_type, body, self.ctx())

    def submit(self, content: dict, proposer: str = "val1", expedited: bool = False):
        body = {"proposer": proposer, "content": content}
        if expedited:
            body["expedited"] = True
        return self.tx("gov/submitProposal", body)

    def vote(self, voter: str, number: int, option: str):
        return self.tx("gov/vote", {"voter": voter, "proposalId": number, "option": option})

    def end_block(self) -> list:
        actions = gov_end_block(self.ctx())
        self.actions.extend((self.height, a) for a in actions)
        self.height += 1
        return actions

    def run_until(self, height: int) -> list:
        """End blocks until `height` has ended; returns (height, action) pairs seen."""
        seen = []
        while self.height <= height:
            h = self.height
            seen.extend((h, a) for a in self.end_block())
        return seen


@pytest.fixture
def chain(db, monkeypatch):
    """Four validators: 40 + 30 + 20 + 10 = 100 power, plus one with none."""
    c = GovChain({"val1": 40, "val2": 30, "val3": 20, "val4": 10, "val0": 0})
    monkeypatch.setattr(selectors, "validators_with_power", lambda: dict(c.powers))
    monkeypatch.setattr(selectors, "kernel_bundle_problem",
                        lambda bundle_id: None if bundle_id in (BUNDLE, OTHER_BUNDLE) else f"bundle {bundle_id[:12]}… is not installed")
    gov_init_genesis({})
    return c


GENESIS_MS = 1_767_225_600_000


class RealChain:
    """The chain app's own rows (NodeState, Validator, Transaction, Block) driven without a
    kernel: pending transactions run through the chain's execute_tx (which dispatches gov/*
    to governance), then governance's end-block, then the height commits."""

    VALIDATORS = (("val1", "Alpha", 40), ("val2", "Bravo", 30), ("val3", "Charlie", 20), ("val4", "Delta", 10))

    def __init__(self):
        from kernelhost.chain.models import ExportDataEntry, NodeState, Validator

        for bundle_id in (BUNDLE, OTHER_BUNDLE):  # "installed", as the export-data mirror says
            ExportDataEntry.objects.create(key=f"bundle.{bundle_id}", value="{}")
        NodeState.objects.create(pk=1, chain_id="gov-test", genesis_time_ms=GENESIS_MS, kernel_bundle_id=OTHER_BUNDLE,
                                 last_block_time_ms=GENESIS_MS)
        for address, name, power in self.VALIDATORS:
            Validator.objects.create(address=address, name=name, power=power)
        gov_init_genesis({})

    @property
    def node(self):
        from kernelhost.chain.models import NodeState

        return NodeState.objects.get(pk=1)

    def block(self, count: int = 1) -> list:
        from django.db import transaction

        from kernelhost.chain.models import Block, Transaction
        from kernelhost.chain.services.txs import execute_tx

        actions = []
        for _ in range(count):
            with transaction.atomic():
                node = self.node
                height = node.height + 1
                time_ms = GENESIS_MS + height * 2000
                ctx = BlockContext(height=height, time_ms=time_ms, node=node)
                pending = list(Transaction.objects.filter(status=Transaction.PENDING).order_by("id"))
                for index, tx in enumerate(pending):
                    result = execute_tx(ctx, tx.type, tx.body, index)
                    tx.status, tx.height, tx.index = Transaction.DONE, height, index
                    tx.code, tx.message, tx.data = result.code, result.message, result.data
                    tx.save()
                actions.extend(gov_end_block(ctx))
                node.height, node.last_block_time_ms = height, time_ms
                node.save()
                Block.objects.create(height=height, time_ms=time_ms, tx_count=len(pending), state=Block.COMMITTED)
        return actions

    def pause(self, reason: str = "vat v3 panicked: boom", action_id: str = "4-0") -> None:
        node = self.node
        node.kernel_state, node.paused_height, node.paused_reason, node.paused_action_id = (
            "paused", node.height, reason, action_id)
        node.save()

    def tx(self, tx_type: str, **body):
        from kernelhost.chain.services.txs import submit_tx

        return submit_tx({"type": tx_type, **body})


@pytest.fixture
def real_chain(db):
    return RealChain()
