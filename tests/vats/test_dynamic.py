"""Dynamic vats (seed 002; research §7 A, H, I): options, lazy reload after real restarts,
LRU of online workers, termination through the admin node or the host, reload failures
and replay divergence as kernel panics."""

from __future__ import annotations

import json
import os

import pytest

from kernelhost.controller import KernelPanic


def test_a_dynamic_vat_replayed_after_restart(node):
    n = node()
    vid = n.create("ctr", parameters={"start": 0})
    assert n.call("ctr", "add", 1) == ["ok", 1]
    n.restart(commit=True)
    assert not n.vat("ctr")["online"]
    assert n.json("vat.dynamicIDs") == [vid]
    admin_end = n.c._kernel.transcript_bounds("v1")["endPos"]  # vat-admin
    assert n.call("ctr", "add", 20) == ["ok", 21]  # 20 = no replay; a hang = no reload
    assert n.json("vat.dynamicIDs") == [vid]       # not created again
    # the creation notice was not re-sent: vat-admin got no delivery at all
    assert n.c._kernel.transcript_bounds("v1")["endPos"] == admin_end
    assert n.c._kernel.warehouse.replayed_by_vat[vid] == 2  # startVat, add(1)


def test_create_options_are_recorded(node):
    n = node()
    vid = n.create("opt", parameters={"start": 3}, critical=False, managerType="local", enablePipelining=True)
    options = n.json(f"{vid}.options")
    assert options == {"name": "opt", "critical": False, "managerType": "local", "enablePipelining": True,
                       "dynamic": True}
    assert n.call("opt", "params") == ["ok", {"start": 3}]
    r = n.boot("create", "bad", "counter_v1", {"managerType": "xsnap"})
    assert r[0] == "rejected" and "unknown managerType" in r[1]
    r = n.boot("create", "bad", "counter_v1", {"colour": "red"})
    assert r[0] == "rejected" and "unknown options" in r[1]


def test_dynamic_vats_default_to_the_subprocess_worker_when_a_factory_is_given(node):
    from kernelhost.workers import make_worker_factory

    n = node(worker_factory=make_worker_factory())
    vid = n.create("ctr")
    assert n.vat("ctr")["managerType"] == "subprocess"
    assert n.call("ctr", "add", 2) == ["ok", 2]
    # the recorded state does not depend on the node's worker choice
    assert "managerType" not in n.json(f"{vid}.options")
    first = json.loads(n.store.kernel.transcripts.read_span(vid)[0])
    assert first["d"][1]["workerOptions"] == {"type": "default"}
    n.restart(commit=True, worker_factory=None)  # same store on a node without subprocesses
    assert n.vat("ctr")["managerType"] == "local"
    assert n.call("ctr", "add", 3) == ["ok", 5]
    n.restart(commit=True, worker_factory=make_worker_factory(), options={"dynamicManagerType": "local"})
    assert n.vat("ctr")["managerType"] == "local"


def test_a_dynamic_vat_cannot_choose_to_run_inside_the_node(node):
    """Vat code asking for a local worker would run without CPU or memory limits in the
    node's own process: where the host has subprocess workers, it gets one anyway."""
    from kernelhost.workers import make_worker_factory

    n = node(worker_factory=make_worker_factory())
    vid = n.create("ctr", managerType="local")
    assert n.json(f"{vid}.options")["managerType"] == "local"  # recorded as asked (consensus)
    assert n.vat("ctr")["managerType"] == "subprocess"
    assert n.call("ctr", "add", 2) == ["ok", 2]
    worker = n.c._kernel.warehouse.online[vid]
    assert worker.pid != os.getpid() and worker.alive
    # the operator may still choose local dynamic vats for the whole node
    n.restart(commit=True, worker_factory=make_worker_factory(), options={"dynamicManagerType": "local"})
    assert n.vat("ctr")["managerType"] == "local"
    assert n.call("ctr", "add", 3) == ["ok", 5]


def test_h_lru_keeps_at_most_max_vats_online(node):
    n = node()
    for name in ("target", "target2", "target3", "target4"):
        n.create(name)
        n.call(name, "add", 1)
    n.restart(commit=True, options={"maxVatsOnline": 2})
    assert n.c.get_status()["maxVatsOnline"] == 2
    c = n.c
    for name, expect in (("target", 2), ("target2", 2), ("target3", 2), ("target4", 2), ("target2", 3)):
        kp = c.queue_to_vat_root(name, "add", [1])
        c.run()
        assert c.kp_status(kp) == ("fulfilled", expect)  # came back by replay each time
    online = sorted(v["name"] for v in c.get_status()["vats"] if v["online"])
    assert online == ["target2", "target4"]
    assert n.c._kernel.warehouse.evictions == 3
    # going offline wrote nothing: each vat's transcript holds just its deliveries
    vid = n.vat("target")["id"]
    assert n.c._kernel.transcript_bounds(vid)["endPos"] == 4  # init, startVat, add, add


def test_terminate_with_failure_through_the_admin_node(node):
    n = node()
    vid = n.create("ctr")
    other = n.create("other")
    assert n.boot("hold", "ctr", "k") == "holding"
    assert n.boot("keep", "ctr", "make_thing", ["t"], "thing") == "kept"
    assert n.boot("start_watch", "ctr") == "watching"
    assert n.boot("terminate", "ctr", "you are fired") == "asked"
    # the creator is told: done() rejects with the reason
    out = n.boot("outcome", "ctr")
    assert out[0] == "rejected" and "you are fired" in out[2]
    # outstanding promises rejected, sends to its objects reject
    out = n.boot("held_outcome", "k")
    assert out[0] == "rejected" and "you are fired" in out[2]
    assert n.boot("call_kept", "thing", "label", [])[0] == "rejected"
    assert n.call("ctr", "add", 1)[0] == "rejected"
    # c-list emptied, bookkeeping updated, transcript closed but kept
    assert n.c._kernel.kv.iter_prefix(f"{vid}.c.") == []
    assert vid not in n.json("vat.dynamicIDs") and vid in n.json("vats.terminated")
    assert n.store.kernel.transcripts.get_current_span_bounds(vid) is None
    assert n.vat("ctr")["terminated"]
    # others carry on, also after a restart
    assert n.call("other", "add", 4) == ["ok", 4]
    n.restart(commit=True)
    assert n.call("other", "add", 1) == ["ok", 5]
    assert n.call("ctr", "add", 1)[0] == "rejected"
    assert other in n.json("vat.dynamicIDs")


def test_vat_exit_settles_done(node):
    n = node()
    n.create("ctr")
    n.boot("start_watch", "ctr")
    n.call("ctr", "exit", "finished")
    assert n.boot("outcome", "ctr") == ["fulfilled", "finished"]
    assert n.vat("ctr")["terminated"]


def test_critical_dynamic_vat_termination_panics(node):
    n = node()
    n.create("crit", critical=True)
    kp = n.c.queue_to_vat_root("boot", "terminate", ["crit", "bye"])
    with pytest.raises(KernelPanic, match="critical vat .* terminated"):
        n.c.run()
    del kp


def test_host_terminate_vat(node):
    n = node()
    vid = n.create("ctr")
    n.boot("start_watch", "ctr")
    n.boot("hold", "ctr", "k")
    assert n.c.terminate_vat(vid, "governance says so") is True
    assert n.vat("ctr")["terminated"]
    n.c.run()
    out = n.boot("outcome", "ctr")
    assert out[0] == "rejected" and "governance says so" in out[2]
    assert n.boot("held_outcome", "k")[0] == "rejected"
    assert n.c.terminate_vat("ctr", "again") is False
    with pytest.raises(ValueError, match="critical"):
        n.c.terminate_vat("boot", "no")
    with pytest.raises(KeyError):
        n.c.terminate_vat("v99", "no")
    assert not n.c.panicked


def test_reload_failure_is_a_panic_naming_vat_and_bundle(node):
    n = node()
    vid = n.create("ctr")
    n.call("ctr", "add", 1)
    n.store.host.commit()
    bundle_id = n.json(f"{vid}.source")["bundleID"]
    n.store.kernel.bundles.delete_bundle(bundle_id)
    n.restart(commit=True)
    kp = n.c.queue_to_vat_root("ctr", "add", [1])
    with pytest.raises(KernelPanic) as info:
        n.c.run()
    assert vid in str(info.value) and bundle_id in str(info.value)
    del kp


def test_replay_divergence_panics_naming_the_position(node):
    n = node()
    vid = n.create("ctr")
    n.call("ctr", "add", 1)
    n.call("ctr", "add", 1)
    v1 = n.kv("namedBundleID.counter_v1")
    tampered = n.kv("namedBundleID.counter_diverge")
    n.restart(commit=True, options={"testBundleSwaps": {v1: tampered}})
    kp = n.c.queue_to_vat_root("ctr", "add", [1])
    with pytest.raises(KernelPanic) as info:
        n.c.run()
    msg = str(info.value)
    # position 2 is the first add(): the tampered code makes a vatstore syscall there
    assert vid in msg and "position 2" in msg and "vatstore" in msg and "recorded" in msg
    del kp
