"""Message passing across three vats: sends, resolution and rejection, pipelining,
promises as arguments, objects by reference."""

from __future__ import annotations

import re

from kernelhost.controller import KernelRef

from .conftest import boot, call, three_vat_config


def wired(store, **overrides):
    c = boot(store, three_vat_config(**overrides))
    assert call(c, "left", "wire") == ("fulfilled", "wired")
    return c


def test_bootstrap_result_and_status(store):
    c = boot(store, three_vat_config())
    status = c.get_status()
    names = [v["name"] for v in status["vats"]]
    assert names == ["vatAdmin", "left", "middle", "right"]
    assert status["runQueueLength"] == 0
    assert status["crankNumber"] > 0
    assert all(v["incarnation"] == 0 and v["transcriptLength"] >= 2 for v in status["vats"])
    assert status["bundleID"] == store.kernel.kv.get("kernelBundleID")
    bootstrap_kp = store.kernel.kv.get("bootstrapResult")
    assert c.kp_status(bootstrap_kp) == ("fulfilled", "ready")


def test_send_and_reply(store):
    c = wired(store)
    assert call(c, "left", "send_and_reply", 7) == ("fulfilled", 7)
    assert call(c, "left", "send_and_reply", {"big": 2**100, "b": b"\x00\xff"}) == (
        "fulfilled", {"big": 2**100, "b": b"\x00\xff"})


def test_rejection_carries_error_name_and_message(store):
    c = wired(store)
    assert call(c, "left", "rejection") == ("fulfilled", ["rejected", "ValueError", "nope"])
    state, err = call(c, "right", "fail", "direct")
    assert state == "rejected"
    assert err.name == "ValueError" and str(err) == "direct"


def test_pipelining_to_result_promises(store):
    c = wired(store)
    assert call(c, "left", "pipelined_call") == ("fulfilled", [5, "t1"])


def _queue_keys(store):
    return [k for k, _ in store.kernel.kv.iter_prefix("kp") if re.match(r"kp\d+\.queue\.\d+$", k)]


def test_messages_to_unresolved_promise_wait_in_its_queue(store):
    c = wired(store)
    kp = c.queue_to_vat_root("left", "pipelined_deferred", ["k1"])
    c.run()
    assert c.kp_status(kp) == ("unresolved", None)
    assert _queue_keys(store), "without pipelining the message waits in the kernel promise queue"
    assert call(c, "right", "settle_with_thing", "k1", "late")[0] == "fulfilled"
    assert c.kp_status(kp) == ("fulfilled", 42)
    assert not _queue_keys(store)


def test_pipelining_to_the_deciding_vat(store):
    c = wired(store, right={"enablePipelining": True})
    kp = c.queue_to_vat_root("left", "pipelined_deferred", ["k1"])
    c.run()
    assert c.kp_status(kp) == ("unresolved", None)
    assert not _queue_keys(store), "with pipelining the message went on to right"
    right = [v["id"] for v in c.get_status()["vats"] if v["name"] == "right"][0]
    span = store.kernel.transcripts.read_span(right)
    assert any('"message","p-' in item for item in span), "right received a message aimed at a promise"
    assert call(c, "right", "settle_with_thing", "k1", "late")[0] == "fulfilled"
    assert c.kp_status(kp) == ("fulfilled", 42)


def test_promises_passed_as_arguments(store):
    c = wired(store)
    assert call(c, "left", "local_promise_as_arg") == ("fulfilled", ["got", 42])
    assert call(c, "left", "remote_promise_as_arg", "k2") == ("fulfilled", ["middle got", "from right"])


def test_promise_rejection_reaches_holder(store):
    c = wired(store)
    assert call(c, "left", "rejected_promise", "k3") == ("fulfilled", ["rejected", "ValueError", "refused"])


def test_objects_by_reference_and_returned(store):
    c = wired(store)
    assert call(c, "left", "objects_by_reference") == ("fulfilled", ["x", True, "hi", 1])


def test_local_far_object_and_send_to_data(store):
    c = wired(store)
    assert call(c, "left", "local_far") == ("fulfilled", 2)
    assert call(c, "left", "send_to_data") == ("fulfilled", ["rejected", "TypeError"])


def test_host_sees_objects_as_kernel_refs(store):
    c = wired(store)
    state, value = call(c, "right", "make_thing", "y")
    assert state == "fulfilled" and isinstance(value, KernelRef) and value.kref.startswith("ko")
    assert value.iface == "Thing"


def test_settled_promises_are_freed(store):
    c = wired(store)
    for i in range(5):
        call(c, "left", "send_and_reply", i)
    kps = {k.split(".")[0] for k, _ in store.kernel.kv.iter_prefix("kp") if re.match(r"kp\d+\.", k)}
    # only host-pinned results stay (one per queue_to_vat_root + bootstrap)
    pinned = 5 + 1 + 1
    assert len(kps) == pinned
    for k, v in store.kernel.kv.iter_prefix("kp"):
        if k.endswith(".refCount"):
            assert v == "1", (k, v)


def test_unpassable_values_are_refused(store, vat_source):
    src = vat_source("odd", """
        from swingset import Far

        def build_root_object(vat_powers, vat_parameters, baggage):
            return Far("Odd", {"give_float": lambda: 1.5, "give_tuple": lambda: (1, 2),
                               "give_set": lambda: {1}})
    """)
    config = three_vat_config(odd={"source": src})
    c = boot(store, config)
    for method, word in (("give_float", "float"), ("give_tuple", "tuple"), ("give_set", "set")):
        state, err = call(c, "odd", method)
        assert state == "rejected" and err.name == "PassableError" and word in str(err)
    # the vat survives its unpassable answers
    assert not [v for v in c.get_status()["vats"] if v["terminated"]]


def test_kp_release_frees_the_host_result(store):
    c = wired(store)
    kp = c.queue_to_vat_root("right", "echo", [1])
    c.run()
    assert c.kp_status(kp) == ("fulfilled", 1)
    c.kp_release(kp)
    assert store.kernel.kv.get(f"{kp}.state") is None
