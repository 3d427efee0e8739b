"""Vat failure terminates only that vat; a critical vat's failure panics the kernel,
and a panicked kernel runs nothing more."""

from __future__ import annotations

import pytest

from kernelhost.controller import KernelPanic

from .conftest import boot, call, three_vat_config

FRAGILE = """
    from swingset import Far, make_promise_kit

    def build_root_object(vat_powers, vat_parameters, baggage):
        kits = {}

        def deferred(key):
            kits[key] = make_promise_kit()
            return kits[key].promise

        def die(reason):
            vat_powers.exit_vat_with_failure(reason)
            return "dying"

        return Far("Fragile", {"deferred": deferred, "die": die, "echo": lambda x: x})
"""


def _vat(c, name):
    return [v for v in c.get_status()["vats"] if v["name"] == name][0]


def test_vat_failure_terminates_only_that_vat(store, vat_source):
    c = boot(store, three_vat_config(fragile={"source": vat_source("fragile", FRAGILE)}))
    assert call(c, "left", "hold_promise_of", "fragile", "k") == ("fulfilled", "holding")
    assert call(c, "fragile", "die", "boom") == ("fulfilled", "dying")
    assert _vat(c, "fragile")["terminated"]
    # promises the dead vat decided are rejected with its reason
    state, value = call(c, "left", "await_held", "k")
    assert state == "fulfilled" and value[0] == "rejected" and "boom" in value[2]
    # messages to it go splat
    state, err = call(c, "fragile", "echo", 1)
    assert state == "rejected" and err.name == "VatTerminated"
    state, value = call(c, "left", "call_vat", "fragile", "echo", [2])
    assert state == "rejected" and err.name == "VatTerminated"
    # everyone else carries on
    assert call(c, "left", "send_and_reply", 3) == ("fulfilled", 3)
    assert not c.panicked
    # the dead vat's transcript is closed, its state kept
    fid = _vat(c, "fragile")["id"]
    assert store.kernel.transcripts.get_current_span_bounds(fid) is None
    assert store.kernel.kv.get(f"{fid}.options") is not None


def test_failing_build_root_object_terminates_a_non_critical_vat(store, vat_source):
    src = vat_source("broken", """
        def build_root_object(vat_powers, vat_parameters, baggage):
            raise RuntimeError("cannot start")
    """)
    c = boot(store, three_vat_config(broken={"source": src}))
    assert _vat(c, "broken")["terminated"]
    assert any("cannot start" in line for line in c.get_log())
    assert call(c, "left", "send_and_reply", 1) == ("fulfilled", 1)


def test_sandbox_violation_at_start_terminates_the_vat(store, vat_source):
    src = vat_source("sneaky", """
        import os

        def build_root_object(vat_powers, vat_parameters, baggage):
            return None
    """)
    c = boot(store, three_vat_config(sneaky={"source": src}))
    assert _vat(c, "sneaky")["terminated"]
    assert any("SandboxViolation" in line and "import of 'os'" in line for line in c.get_log())


class RogueWorker:
    """A worker that starts fine, then makes an illegal syscall (a vref it never got) or
    dies outright, as a crashed subprocess would."""

    def __init__(self, mode):
        self.mode = mode

    def deliver(self, delivery, syscall_handler):
        if delivery[0] == "startVat":
            return ["ok", None, None], []
        if self.mode == "crash":
            raise OSError("worker process vanished")
        return ["ok", None, None], [["send", "o-999", {"methargs": {"body": '#["x",[]]', "slots": []},
                                                      "result": None}]]

    def shutdown(self):
        pass


@pytest.mark.parametrize("mode", ["illegal", "crash"])
def test_illegal_syscall_or_dead_worker_terminates_the_vat(store, mode):
    config = three_vat_config(rogue={"source": three_vat_config()["vats"]["right"]["source"],
                                     "managerType": "rogue"})
    c = boot(store, config, worker_factory=lambda spec: RogueWorker(mode))
    state, err = call(c, "rogue", "anything")
    assert state == "rejected" and err.name == "VatTerminated"
    assert _vat(c, "rogue")["terminated"]
    word = "illegal syscall" if mode == "illegal" else "worker failed"
    assert any(word in line for line in c.get_log())
    assert call(c, "left", "send_and_reply", 5) == ("fulfilled", 5)


def test_critical_vat_failure_panics_and_panic_is_sticky(store):
    c = boot(store, three_vat_config())
    left = _vat(c, "left")["id"]
    kp = c.queue_to_vat_root("left", "die", ["fatal problem"])
    with pytest.raises(KernelPanic, match="critical vat .* terminated"):
        c.run()
    assert c.panicked
    with pytest.raises(KernelPanic):
        c.run()
    with pytest.raises(KernelPanic):
        c.step()
    with pytest.raises(KernelPanic):
        c.queue_to_vat_root("right", "echo", [1])
    # nothing of the fatal crank reached the store; the vat's state is still there
    assert store.kernel.kv.get(f"{left}.options") is not None
    assert store.kernel.kv.get(f"{kp}.state") == "unresolved"
    assert store.kernel.kv.get("vats.terminated") == "[]"


def test_rejected_bootstrap_panics(store, vat_source):
    src = vat_source("badboot", """
        from swingset import Far

        def build_root_object(vat_powers, vat_parameters, baggage):
            def bootstrap(vats, devices):
                raise ValueError("no bootstrap for you")
            return Far("BadBoot", {"bootstrap": bootstrap})
    """)
    from kernelhost.controller import initialize_swingset, make_controller

    initialize_swingset(store.kernel, {"bootstrap": "badboot", "vats": {"badboot": {"source": src}}})
    c = make_controller(store.kernel)
    with pytest.raises(KernelPanic, match=r"policy panic: rejected .*no bootstrap for you"):
        c.run()


def test_panic_policy_on_a_host_message(store):
    c = boot(store, three_vat_config())
    c.queue_to_vat_root("right", "fail", ["bad input"], result_policy="panic")
    with pytest.raises(KernelPanic, match="bad input"):
        c.run()
