"""Sandbox containment as node scenarios: vat code that tries to escape, spin or eat memory
is contained (the vat is refused or terminated with a reason), the node and other vats
carry on. Dynamic vats run on subprocess workers here (the default with a factory)."""

from __future__ import annotations

import pytest

from kernelhost.workers import WorkerLimits, make_worker_factory


@pytest.fixture
def snode(node):
    limits = WorkerLimits(memory_bytes=512 * 1024 * 1024, cpu_seconds=1, wall_seconds=20)
    return node(worker_factory=make_worker_factory(limits=limits))


@pytest.mark.parametrize("bundle, what", [
    ("bad_import", "os"),
    ("bad_open", "open"),
    ("bad_mro", "__class__"),
])
def test_escape_attempts_are_refused_with_a_reason(snode, bundle, what):
    n = snode
    n.create("good")
    r = n.boot("create", "evil", bundle, {})
    assert r[0] == "rejected" and "create_vat failed" in r[1] and what in r[1], r
    assert not n.c.panicked
    assert n.call("good", "add", 1) == ["ok", 1]
    assert [v["name"] for v in n.c.get_status()["vats"] if v["dynamic"]] == ["good"]


@pytest.mark.parametrize("method, reason", [
    ("spin", "CPU time limit"),
    ("hog", "memory"),
])
def test_runaway_vats_are_terminated_with_a_reason(snode, method, reason):
    n = snode
    n.create("good")
    vid = n.create("hog", "hog")
    assert n.vat("hog")["managerType"] == "subprocess"
    n.boot("start_watch", "hog")
    out = n.call("hog", method)
    assert out[0] == "rejected" and out[1] == "VatTerminated" and reason in out[2], out
    assert n.vat("hog")["terminated"] and not n.c.panicked
    done = n.boot("outcome", "hog")
    assert done[0] == "rejected" and reason in done[2]
    assert vid in n.json("vats.terminated")
    # the node and the other vats carry on, also after a restart
    assert n.call("good", "add", 2) == ["ok", 2]
    n.restart(commit=True)
    assert n.call("good", "add", 3) == ["ok", 5]
    assert n.call("hog", "echo", 1)[0] == "rejected"
