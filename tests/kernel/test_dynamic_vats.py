"""Dynamic vats (seed 002, research §7 A): created through vat-admin from a bundle ID or a
named bundle, recorded in the store, reloaded lazily and replayed after a restart without
being created again."""

from __future__ import annotations

import json

from kernelhost.controller import make_controller
from kernelhost.swingstore import open_swingstore

from .conftest import boot, call, three_vat_config


def test_create_vat_by_name_and_replay_after_restart(store):
    c = boot(store, three_vat_config())
    state, vat_id = call(c, "left", "make_counter", "c1", 0)
    assert state == "fulfilled" and vat_id.startswith("v")
    assert call(c, "left", "call_vat", "c1", "first", []) == ("fulfilled", 1)
    kv = store.kernel.kv
    assert json.loads(kv.get("vat.dynamicIDs")) == [vat_id]
    assert json.loads(kv.get(f"{vat_id}.source"))["bundleID"] == kv.get("namedBundleID.counter")
    options = json.loads(kv.get(f"{vat_id}.options"))
    assert options["name"] == "c1" and options["dynamic"] is True
    crank_before = kv.get("crankNumber")

    # kernel 2 starts on a copy of the (uncommitted) state
    clone = open_swingstore(None, serialized=store.debug.serialize())
    c2 = make_controller(clone.kernel)
    status = {v["name"]: v for v in c2.get_status()["vats"]}
    assert status["c1"]["dynamic"] and not status["c1"]["online"]  # loaded lazily
    # 21, not 20: the counter's RAM state came back by replaying its transcript
    assert call(c2, "left", "call_vat", "c1", "second", []) == ("fulfilled", 21)
    assert json.loads(clone.kernel.kv.get("vat.dynamicIDs")) == [vat_id]  # not created again
    assert int(clone.kernel.kv.get("crankNumber")) > int(crank_before)
    spans = clone.kernel.transcripts.read_span(vat_id)
    assert [json.loads(s)["d"][0] for s in spans[:2]] == ["initialize-worker", "startVat"]
    clone.close()


def test_dynamic_vat_durable_state_and_host_access(store):
    c = boot(store, three_vat_config())
    call(c, "left", "make_counter", "c2", 5)
    assert call(c, "c2", "increment", 2) == ("fulfilled", 7)  # by vat ID or name: names of dynamic vats
    assert call(c, "left", "call_vat", "c2", "durable_increment", [3]) == ("fulfilled", 3)
    assert call(c, "left", "call_vat", "c2", "durable_read", []) == ("fulfilled", 3)


def test_create_vat_failures_are_reported_to_the_caller(store, vat_source):
    broken = vat_source("broken", """
        def build_root_object(vat_powers, vat_parameters, baggage):
            raise RuntimeError("no root")
    """)
    config = three_vat_config()
    config["bundles"]["broken"] = {"source": broken}
    c = boot(store, config)
    ids_before = store.kernel.kv.get("vat.dynamicIDs")
    state, value = call(c, "left", "bad_create", "broken")
    assert state == "fulfilled" and value[0] == "rejected" and "no root" in value[2]
    assert store.kernel.kv.get("vat.dynamicIDs") == ids_before  # rolled away
    state, value = call(c, "left", "bad_create", "nope")
    assert value[0] == "rejected" and "no bundle named 'nope'" in value[2]
    state, value = call(c, "left", "bad_create", "b1-" + "0" * 128)
    assert value[0] == "rejected" and "not installed" in value[2]
    kernel_id = store.kernel.kv.get("kernelBundleID")
    state, value = call(c, "left", "bad_create", kernel_id)
    assert value[0] == "rejected" and "not a vat bundle" in value[2]
    # vat-admin still works afterwards
    assert call(c, "left", "make_counter", "c3", 1)[0] == "fulfilled"
