"""The seed decides everything: the workload, the transactions per block, the crash schedule."""

from __future__ import annotations

import pytest

from kernelhost.failpoints import FAILPOINTS
from kernelhost.sim.simulation import make_plan
from kernelhost.sim.workload import CATEGORIES, Workload, parse_mix

BUNDLE = "b1-" + "0" * 128


def test_same_seed_same_plan_other_seed_other_plan():
    one, again, other = make_plan(7, 12, kernel_bundle_id=BUNDLE), make_plan(7, 12, kernel_bundle_id=BUNDLE), \
        make_plan(8, 12, kernel_bundle_id=BUNDLE)
    assert one == again
    assert (one.txs, one.schedule) != (other.txs, other.schedule)


def test_every_failpoint_is_scheduled_at_a_positive_hit():
    for seed in range(20):
        plan = make_plan(seed, 12, kernel_bundle_id=BUNDLE)
        assert set(FAILPOINTS) <= {name for name, _at in plan.schedule}
        assert all(at >= 1 for _name, at in plan.schedule)
        assert len(plan.txs) <= plan.max_txs * (plan.height - 1)  # the workload ends before the target height


def test_kernel_upgrade_is_voted_through_before_the_target_height():
    plans = [make_plan(seed, 12, kernel_bundle_id=BUNDLE) for seed in range(30)]
    upgrades = [p for p in plans if p.upgrade_height]
    assert upgrades, "some seeds must schedule a null kernel upgrade (kernel.upgrade.after_shutdown)"
    for plan in upgrades:
        at = next(i for i, tx in enumerate(plan.txs) if tx.get("content", {}).get("kind") == "kernelUpgrade")
        block = at // plan.max_txs + 1
        assert block + 2 + 1 <= plan.upgrade_height < plan.height  # voting period 2 + lead 1; runs at height + 1
        votes = plan.txs[at + 1:at + 3]
        assert [v["voter"] for v in votes] == ["val1", "val2"] and all(v["option"] == "yes" for v in votes)


def test_workload_covers_the_mix_and_respects_it():
    workload = Workload(3)
    txs = [workload.next_tx() for _ in range(400)]
    types = {tx["type"] for tx in txs}
    assert {"bank/send", "swingset/send", "swingset/installBundle", "gov/submitProposal", "gov/vote"} <= types
    methods = {(tx["vat"], tx["method"]) for tx in txs if tx["type"] == "swingset/send"}
    assert {("bank-watcher", "query_balance"), ("bootstrap", "make_counter"), ("bootstrap", "call"),
            ("bootstrap", "upgrade_vat")} <= methods
    bank_only = Workload(3, ("bank",))
    assert {bank_only.next_tx()["type"] for _ in range(100)} == {"bank/send"}


def test_workload_is_reproducible():
    a, b = Workload(11), Workload(11)
    assert [a.next_tx() for _ in range(100)] == [b.next_tx() for _ in range(100)]


def test_transactions_pass_submit_validation():
    from kernelhost.chain.txshapes import split_tx, validate_tx

    workload = Workload(4)
    for _ in range(200):
        validate_tx(*split_tx(workload.next_tx()))


def test_parse_mix():
    assert parse_mix(None) == CATEGORIES
    assert parse_mix("gov, bank") == ("gov", "bank")
    with pytest.raises(ValueError, match="unknown mix"):
        parse_mix("bank,nft")
