"""run(policy) across blocks: a commit + restart between blocks must not change the
activity hash (the node's app hash covers it through export-data).

Found by the host engineer: with `controller.run(policy)` (flush units of many cranks)
a clean stop after block 2 and a restart gave a different `activityhash` from block 3
on. The skip rule of the kernel's write buffer (an unchanged value is not written)
depended on the buffer's process-local read cache, so a warm kernel and a freshly
started one wrote different statements for the same state change."""

from __future__ import annotations

import pytest

from kernelhost.controller import computron_budget, crank_limit, initialize_swingset, make_controller
from kernelhost.swingstore import open_swingstore

from .conftest import three_vat_config

BLOCKS = [
    [("left", "wire", []), ("left", "send_and_reply", [1]), ("left", "pipelined_call", [])],
    [("left", "remote_promise_as_arg", ["k"]), ("left", "objects_by_reference", [])],
    [("left", "make_counter", ["c1", 3]), ("left", "call_vat", ["c1", "first", []])],
    [("left", "rejected_promise", ["r"]), ("right", "fail", ["no"])],
    [("left", "call_vat", ["c1", "second", []]), ("left", "send_and_reply", [2])],
    [("left", "pipelined_call", []), ("left", "call_vat", ["c1", "third", []])],
    [],
    [],
]


def bridge(obj):
    return {"echo": obj}


def _run_blocks(tmp_path, name, policy_factory, restart_after=()):
    path = tmp_path / name
    store = open_swingstore(path)
    initialize_swingset(store.kernel, three_vat_config())
    store.host.commit()
    c = make_controller(store.kernel, devices={"bridge": bridge})
    hashes = []
    for number, block in enumerate(BLOCKS, start=1):
        for vat, method, args in block:
            c.queue_to_vat_root(vat, method, args)
            c.run(policy_factory())
        c.run(policy_factory())
        store.host.commit()
        hashes.append((number, c.get_activity_hash(), c.get_status()["crankNumber"]))
        if number in restart_after:
            c.shutdown()
            store.close()
            store = open_swingstore(path)
            c = make_controller(store.kernel, devices={"bridge": bridge})
    dump = store.debug.dump()
    c.shutdown()
    store.close()
    return hashes, dump


@pytest.mark.parametrize("policy_factory", [lambda: crank_limit(3), lambda: crank_limit(7),
                                            lambda: computron_budget(2500), lambda: None],
                         ids=["crank_limit_3", "crank_limit_7", "computrons_2500", "until_empty"])
def test_restart_between_blocks_keeps_the_activity_hash(tmp_path, policy_factory):
    reference, ref_dump = _run_blocks(tmp_path, "ref", policy_factory)
    restarted, dump = _run_blocks(tmp_path, "restarted", policy_factory, restart_after={1, 2, 4, 5})
    assert restarted == reference
    assert dump == ref_dump


def test_restart_after_every_block_with_small_budget(tmp_path):
    reference, _ = _run_blocks(tmp_path, "ref", lambda: crank_limit(2))
    restarted, _ = _run_blocks(tmp_path, "restarted", lambda: crank_limit(2),
                               restart_after=set(range(1, len(BLOCKS))))
    assert restarted == reference
