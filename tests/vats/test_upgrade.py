"""Vat upgrade (seed 004; research §7 B, C, D): new incarnation on the same vat ID and
baggage, old spans kept, any failure unwinds the whole upgrade."""

from __future__ import annotations

import pytest

from kernelhost.controller import KernelPanic


def test_b_upgrade_keeps_durable_drops_ram_and_replays_only_its_span(node):
    n = node()
    vid = n.create("ctr", "counter_v1")
    assert n.call("ctr", "both", 1) == ["ok", [1, 1]]
    r = n.boot("upgrade", "ctr", "counter_v2", {}, False)
    assert r == ["ok", {"incarnationNumber": 1}]
    assert n.call("ctr", "version") == ["ok", "v2"]
    # RAM state lost (20, not 21), durable state kept (21)
    assert n.call("ctr", "both", 20) == ["ok", [20, 21]]
    # real restart from the store on disk
    n.restart(commit=True)
    assert not n.vat("ctr")["online"]
    assert n.call("ctr", "both", 300) == ["ok", [320, 321]]
    # only the new incarnation's span was replayed: startVat, version(), both(20)
    assert n.c._kernel.warehouse.replayed_by_vat[vid] == 3
    assert n.vat("ctr")["incarnation"] == 1 and n.vat("ctr")["id"] == vid


def test_null_upgrade_keeps_durable_state_and_drops_ram_state(node):
    n = node()
    n.create("ctr", "counter_v1", parameters={"start": 5})
    assert n.call("ctr", "both", 1) == ["ok", [6, 1]]
    r = n.boot("upgrade", "ctr", "counter_v1", {"vatParameters": {"start": 100}}, False)
    assert r == ["ok", {"incarnationNumber": 1}]
    assert n.call("ctr", "both", 1) == ["ok", [101, 2]]
    assert n.call("ctr", "params") == ["ok", {"start": 100}]


@pytest.mark.parametrize("mode", ["explode", "lost_kind", "import_error"])
def test_c_failed_upgrade_unwinds_everything(node, mode):
    n = node()
    vid = n.create("ctr", "counter_v1")
    assert n.call("ctr", "both", 1) == ["ok", [1, 1]]
    bounds_before = n.c._kernel.transcript_bounds(vid)
    spans_before = n.spans(vid)
    source = "bad_import" if mode == "import_error" else "counter_v2"
    params = {"explode": mode == "explode", "skip_kind": mode == "lost_kind"}
    r = n.boot("upgrade", "ctr", source, {"vatParameters": params}, True)
    assert r[0] == "rejected" and "vat-upgrade failure" in r[2], r
    # v2's ping during its failed start was never delivered
    assert n.boot("get_pings") == []
    # v1 answers, its counter continuing (2, not 21 and not 1)
    assert n.call("ctr", "version") == ["ok", "v1"]
    assert n.call("ctr", "both", 1) == ["ok", [2, 2]]
    status = n.vat("ctr")
    assert status["incarnation"] == 0 and not status["terminated"]
    assert n.json(f"{vid}.source")["bundleID"] == n.kv("namedBundleID.counter_v1")
    # the transcript shows no trace of the attempt: two more deliveries, same span
    after = n.c._kernel.transcript_bounds(vid)
    assert after["startPos"] == bounds_before["startPos"] == 0
    assert after["endPos"] == bounds_before["endPos"] + 2
    n.restart(commit=True)
    assert n.spans(vid) == [(0, spans_before[0][1] + 2, 0, True)]
    assert n.call("ctr", "both", 1) == ["ok", [3, 3]]  # replay of v1's span, still v1
    assert n.boot("get_pings") == []


def test_unknown_upgrade_options_are_rejected(node):
    n = node()
    n.create("ctr")
    r = n.boot("upgrade", "ctr", "counter_v2", {"bogus": 1}, False)
    assert r[0] == "rejected" and "unknown options" in r[2]
    assert n.call("ctr", "version") == ["ok", "v1"]


def test_upgrade_disconnects_promises_and_ephemeral_exports(node):
    n = node()
    vid = n.create("ctr")
    assert n.boot("hold", "ctr", "k") == "holding"
    assert n.boot("keep", "ctr", "make_thing", ["old"], "t1") == "kept"
    assert n.boot("call_kept", "t1", "label", []) == ["ok", "old"]
    n.boot("upgrade", "ctr", "counter_v2", {}, False)
    # the promise v1 decided is rejected, its ephemeral object is gone
    out = n.boot("held_outcome", "k")
    assert out[0] == "rejected" and out[1] == "UpgradeDisconnection"
    assert n.boot("call_kept", "t1", "label", [])[0] == "rejected"
    assert not [k for k in n.c._kernel.kv.iter_prefix(f"{vid}.c.p")]
    # the new incarnation exports fresh objects without colliding with the old vrefs
    assert n.boot("keep", "ctr", "make_thing", ["new"], "t2") == "kept"
    assert n.boot("call_kept", "t2", "label", []) == ["ok", "new"]
    assert n.boot("call_kept", "t1", "label", [])[0] == "rejected"
    assert n.call("ctr", "add", 2) == ["ok", 2]


def test_d_transcript_spans_and_incarnations(node):
    n = node()
    vid = n.create("ctr")
    # created: init + startVat in span 0, incarnation 0
    assert n.spans(vid) == [(0, 2, 0, True)]
    assert n.entry_types(vid, 0) == ["initialize-worker", "startVat"]
    for _ in range(3):
        n.call("ctr", "add", 1)
    assert n.spans(vid) == [(0, 5, 0, True)]
    n.restart(commit=True)
    assert n.spans(vid) == [(0, 5, 0, True)]  # restarting does not alter the transcript
    n.boot("upgrade", "ctr", "counter_v2", {}, False)
    # old span closed with BOYD + shutdown-worker; incarnation 1 starts at 7
    assert n.spans(vid) == [(0, 7, 0, False), (7, 9, 1, True)]
    assert n.entry_types(vid, 0)[-2:] == ["bringOutYourDead", "shutdown-worker"]
    assert n.entry_types(vid, 7) == ["initialize-worker", "startVat"]
    n.restart(commit=True)
    assert n.spans(vid) == [(0, 7, 0, False), (7, 9, 1, True)]
    n.call("ctr", "add", 1)
    assert n.spans(vid) == [(0, 7, 0, False), (7, 10, 1, True)]
    assert n.c._kernel.transcript_bounds(vid) == {"startPos": 7, "endPos": 10, "incarnation": 1}
    # a second upgrade (null): incarnation 2 at position 12
    n.boot("upgrade", "ctr", "counter_v2", {}, False)
    assert n.spans(vid) == [(0, 7, 0, False), (7, 12, 1, False), (12, 14, 2, True)]
    # restart without commit: back to the committed state, nothing half-written
    n.restart(commit=False)
    assert n.spans(vid) == [(0, 7, 0, False), (7, 9, 1, True)]
    assert n.call("ctr", "add", 5) == ["ok", 5]


def test_upgrade_failpoint_after_stop_loses_the_uncommitted_upgrade(node):
    fired = []

    def failpoint(name):
        if name == "vat.upgrade.after_stop":
            fired.append(name)
            raise RuntimeError("failpoint vat.upgrade.after_stop")

    n = node()
    vid = n.create("ctr")
    n.call("ctr", "add", 1)
    n.restart(commit=True, options={"failpoint": failpoint})
    kp = n.c.queue_to_vat_root("boot", "upgrade", ["ctr", "counter_v2", {}, False])
    with pytest.raises(RuntimeError, match="failpoint"):
        n.c.run()
    assert fired and n.c.panicked
    with pytest.raises(KernelPanic):
        n.c.run()
    del kp
    n.restart(commit=False, options={})
    assert n.spans(vid) == [(0, 3, 0, True)]
    assert n.call("ctr", "add", 1) == ["ok", 2]
    assert n.call("ctr", "version") == ["ok", "v1"]


def test_upgrade_and_rollback_on_subprocess_workers(node):
    from kernelhost.workers import make_worker_factory

    n = node(worker_factory=make_worker_factory())
    vid = n.create("ctr")
    assert n.vat("ctr")["managerType"] == "subprocess"
    assert n.call("ctr", "both", 1) == ["ok", [1, 1]]
    r = n.boot("upgrade", "ctr", "counter_v2", {"vatParameters": {"explode": True}}, True)
    assert r[0] == "rejected" and "vat-upgrade failure" in r[2]
    assert n.call("ctr", "both", 1) == ["ok", [2, 2]]
    assert n.boot("upgrade", "ctr", "counter_v2", {}, False) == ["ok", {"incarnationNumber": 1}]
    assert n.call("ctr", "both", 20) == ["ok", [20, 22]]
    n.restart(commit=True)
    assert n.call("ctr", "both", 300) == ["ok", [320, 322]]
    assert n.boot("get_pings") == []
    assert n.spans(vid)[-1][2] == 1
