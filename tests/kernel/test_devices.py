"""Devices: timer (height/time from the host, wake-ups), bridge (synchronous chain calls,
inbound events), mailbox (sequenced inbound, outbox)."""

from __future__ import annotations

from kernelhost.controller import make_controller
from kernelhost.swingstore import open_swingstore

from .conftest import DEMO_VATS, boot, call, three_vat_config

SLEEPER = """
    from swingset import Far

    def build_root_object(vat_powers, vat_parameters, baggage):
        D = vat_powers.D
        st = {"timer": None, "woken": []}
        waker = Far("Waker", {"wake": lambda t: st["woken"].append(t)})

        def set_timer(t):
            st["timer"] = t

        def sleep_until(when):
            return D(st["timer"]).set_wakeup(when, waker)

        def now():
            return [D(st["timer"]).get_current_time(), D(st["timer"]).get_block_height()]

        return Far("Sleeper", {"set_timer": set_timer, "sleep_until": sleep_until, "now": now,
                               "woken": lambda: st["woken"]})
"""

POSTMAN = """
    from swingset import Far

    def build_root_object(vat_powers, vat_parameters, baggage):
        D = vat_powers.D
        st = {"box": None, "got": []}

        def on_inbound(peer, messages, ack):
            st["got"].append([peer, messages, ack])
            for seq, body in messages:
                D(st["box"]).add(peer, seq, "re: " + body)

        handler = Far("Inbox", {"deliver_inbound": on_inbound})

        def set_mailbox(box):
            st["box"] = box
            D(box).register_inbound_handler(handler)

        return Far("Postman", {"set_mailbox": set_mailbox, "got": lambda: st["got"]})
"""


def test_timer_height_time_and_wakeups(store, vat_source):
    c = boot(store, three_vat_config(sleeper={"source": vat_source("sleeper", SLEEPER)}))
    assert call(c, "left", "give_device", "sleeper", "timer", "set_timer")[0] == "fulfilled"
    assert c.timer_poll(1, 1000) == 0
    assert call(c, "sleeper", "now") == ("fulfilled", [1000, 1])
    assert call(c, "sleeper", "sleep_until", 5000) == ("fulfilled", 1)
    assert c.timer_poll(2, 3000) == 0
    c.run()
    assert call(c, "sleeper", "woken") == ("fulfilled", [])
    assert c.timer_poll(3, 6000) == 1
    c.run()
    assert call(c, "sleeper", "woken") == ("fulfilled", [6000])
    assert c.timer_poll(4, 7000) == 0  # fired once only


def test_bridge_calls_inbound_events_and_replay(store):
    calls = []

    def bridge(obj):
        calls.append(obj)
        return {"amount": str(100 + len(calls))}

    config = three_vat_config(**{"bank-watcher": {"source": str(DEMO_VATS / "bank_watcher")}})
    c = boot(store, config, devices={"bridge": bridge})
    assert call(c, "left", "give_device", "bank-watcher", "bridge", "set_bridge")[0] == "fulfilled"
    assert call(c, "bank-watcher", "query_balance", "alice") == ("fulfilled", "101")
    assert calls == [{"type": "VBANK_GET_BALANCE", "address": "alice", "denom": "ucon"}]
    assert c.bridge_inbound({"type": "VBANK_BALANCE_UPDATE",
                             "updated": [{"address": "bob", "denom": "ucon", "amount": "7"}]})
    c.run()
    assert call(c, "bank-watcher", "get_balances") == ("fulfilled", {"alice/ucon": "101", "bob/ucon": "7"})

    # after a restart the vat is replayed: the recorded answer is used, the chain is not called
    def refusing_bridge(obj):
        raise RuntimeError("chain unavailable")

    clone = open_swingstore(None, serialized=store.debug.serialize())
    c2 = make_controller(clone.kernel, devices={"bridge": refusing_bridge})
    assert call(c2, "bank-watcher", "get_balances") == ("fulfilled", {"alice/ucon": "101", "bob/ucon": "7"})
    state, err = call(c2, "bank-watcher", "query_balance", "carol")
    assert state == "rejected" and err.name == "DeviceError" and "chain unavailable" in str(err)
    clone.close()


def test_bridge_without_endowment_is_a_device_error(store):
    config = three_vat_config(**{"bank-watcher": {"source": str(DEMO_VATS / "bank_watcher")}})
    c = boot(store, config)
    call(c, "left", "give_device", "bank-watcher", "bridge", "set_bridge")
    state, err = call(c, "bank-watcher", "query_balance", "alice")
    assert state == "rejected" and "no bridge endowment" in str(err)
    assert c.bridge_inbound({"type": "x"}) is True  # a handler is registered


def test_mailbox_inbound_is_delivered_once_and_outbox_fills(store, vat_source):
    c = boot(store, three_vat_config(postman={"source": vat_source("postman", POSTMAN)}))
    assert c.deliver_inbound("peer1", [[1, "a"]], 0) is False  # nobody listens yet
    call(c, "left", "give_device", "postman", "mailbox", "set_mailbox")
    assert c.deliver_inbound("peer1", [[1, "a"], [2, "b"]], 0) is True
    c.run()
    assert c.deliver_inbound("peer1", [[1, "a"], [2, "b"]], 1) is False  # seen already
    assert c.deliver_inbound("peer1", [[2, "b"], [3, "c"]], 1) is True
    c.run()
    assert call(c, "postman", "got") == ("fulfilled", [["peer1", [[1, "a"], [2, "b"]], 0],
                                                       ["peer1", [[3, "c"]], 1]])
    assert c.get_mailbox_outbox() == {"peer1": {"messages": [[1, "re: a"], [2, "re: b"], [3, "re: c"]], "ack": 0}}
