"""Baggage and durable kinds live in the vatstore, so a new incarnation (vat upgrade, issue 5)
finds them; it must redefine every durable kind. Driven at the worker level with a fake
vatstore standing in for the kernel."""

from __future__ import annotations

import pytest

from kernelhost.kernel.marshal import serialize, unserialize
from kernelhost.kernel.worker import LocalWorker


class FakeKernel:
    def __init__(self):
        self.vs: dict = {}
        self.resolved: dict = {}

    def one(self, vsc):
        t = vsc[0]
        if t == "vatstoreGet":
            return ["ok", self.vs.get(vsc[1])]
        if t == "vatstoreSet":
            self.vs[vsc[1]] = vsc[2]
        elif t == "vatstoreDelete":
            self.vs.pop(vsc[1], None)
        elif t == "vatstoreGetNextKey":
            later = sorted(k for k in self.vs if k > vsc[1])
            return ["ok", later[0] if later else None]
        elif t == "resolve":
            for vpid, rejected, data in vsc[1]:
                self.resolved[vpid] = (rejected, unserialize(data, lambda s, i, p: s))
        return ["ok", None]

    def handler(self, batch):
        r = None
        for vsc in batch:
            r = self.one(vsc)
        return r

    def deliver(self, worker, delivery):
        result, trailing = worker.deliver(delivery, self.handler)
        for vsc in trailing:
            self.one(vsc)
        return result

    def start(self, worker):
        return self.deliver(worker, ["startVat", serialize({"parameters": {}, "powers": {}})])

    def call(self, worker, method, args, vpid):
        result = self.deliver(worker, ["message", "o+0", {"methargs": serialize([method, args]), "result": vpid}])
        assert result[0] == "ok", result
        return self.resolved[vpid]


def incarnation(define_kind: bool):
    def loader(extra):
        sw = extra["swingset"]

        def build_root_object(vat_powers, vat_parameters, baggage):
            if define_kind:
                make = sw["prepare_kind"](baggage, "Tally", lambda: {"count": 0}, {
                    "add": lambda ctx, n: _add(ctx, n), "read": lambda ctx: ctx.state.count})
                tally = baggage.provide("tally", make)
            else:
                tally = None

            def keep_ephemeral():
                baggage.init("eph", sw["Far"]("Eph", {}))

            return sw["Far"]("Root", {
                "add": lambda n: tally.add(n), "read": lambda: tally.read(),
                "note": lambda k, v: baggage.init(k, v), "get": lambda k: baggage.get(k),
                "keys": lambda: baggage.keys(), "keep_ephemeral": keep_ephemeral,
            })

        return {"build_root_object": build_root_object}

    return LocalWorker(namespace_loader=loader)


def _add(ctx, n):
    ctx.state.count = ctx.state.count + n
    return ctx.state.count


def test_durable_state_survives_into_a_new_incarnation():
    k = FakeKernel()
    v1 = incarnation(True)
    assert k.start(v1)[0] == "ok"
    assert k.call(v1, "add", [5], "p-1") == (False, 5)
    assert k.call(v1, "note", ["greeting", {"hello": [1, 2]}], "p-2") == (False, None)
    assert any(key.startswith("vom.o+d") for key in k.vs)
    v1.shutdown()

    v2 = incarnation(True)  # new code, same vatstore
    assert k.start(v2)[0] == "ok"
    assert k.call(v2, "read", [], "p-3") == (False, 5)
    assert k.call(v2, "add", [2], "p-4") == (False, 7)
    assert k.call(v2, "get", ["greeting"], "p-5") == (False, {"hello": [1, 2]})
    assert k.call(v2, "keys", [], "p-6") == (False, ["greeting", "tally"])


def test_new_incarnation_must_redefine_every_durable_kind():
    k = FakeKernel()
    v1 = incarnation(True)
    k.start(v1)
    k.call(v1, "add", [1], "p-1")
    v2 = incarnation(False)
    result = k.start(v2)
    assert result[0] == "error" and "not redefined" in result[1] and "Tally" in result[1]


def test_ephemeral_objects_cannot_go_into_baggage():
    k = FakeKernel()
    v1 = incarnation(True)
    k.start(v1)
    rejected, err = k.call(v1, "keep_ephemeral", [], "p-1")
    assert rejected and err.name == "PassableError" and "not durable" in str(err)


@pytest.mark.parametrize("bad", ["startVat twice"])
def test_start_vat_twice_fails(bad):
    k = FakeKernel()
    v1 = incarnation(True)
    assert k.start(v1)[0] == "ok"
    assert k.start(v1)[0] == "error"
