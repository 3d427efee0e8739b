"""Run policies: crank limit, computron budget, until empty."""

from __future__ import annotations

import pytest

from kernelhost.controller import ComputronBudget, CrankLimit, crank_limit, until_empty
from kernelhost.kernel.kernel import DELIVERY_COMPUTRONS

from .conftest import boot, three_vat_config


def loaded(store):
    c = boot(store, three_vat_config())
    kp = c.queue_to_vat_root("left", "pipelined_call", [])
    return c, kp


def test_crank_limit_stops_after_exactly_n_cranks(store):
    c, kp = loaded(store)
    assert c.run(crank_limit(2)) == 2
    assert c.get_status()["runQueueLength"] > 0
    assert c.run(CrankLimit(1)) == 1
    assert c.run(until_empty()) > 0
    assert c.kp_status(kp) == ("fulfilled", [5, "t1"])
    assert c.run(crank_limit(5)) == 0  # nothing to do
    with pytest.raises(ValueError):
        CrankLimit(0)


def test_computron_budget(store):
    c, _kp = loaded(store)
    policy = ComputronBudget(2 * DELIVERY_COMPUTRONS)
    ran = c.run(policy)
    assert ran == 2 and policy.used >= 2 * DELIVERY_COMPUTRONS
    big = ComputronBudget(10**9)
    c.run(big)
    assert c.get_status()["runQueueLength"] == 0


def test_step_runs_one_crank(store):
    c, kp = loaded(store)
    n = 0
    while c.step():
        n += 1
    assert n > 3 and c.step() == 0
    assert c.kp_status(kp)[0] == "fulfilled"
