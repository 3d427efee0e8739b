"""Mailbox device: numbered messages to and from peers outside the kernel.

Inbound: the host calls ``controller.deliver_inbound(peer, [[seq, body], ...], ack)``;
messages with a sequence number above the highest already seen from that peer
become one ``deliver_inbound(peer, messages, ack)`` message to the registered
handler, so a resubmitted batch is delivered once. Outbound: vats
``add(peer, seq, body)`` / ``remove(peer, up_to_seq)`` / ``ack(peer, seq)``; the
host reads the outbox with ``controller.get_mailbox_outbox()``.
"""

from __future__ import annotations

from .base import Device, DeviceError

__all__ = ["MailboxDevice"]


class MailboxDevice(Device):
    name = "mailbox"
    methods = frozenset({"register_inbound_handler", "add", "remove", "ack", "get_highest_inbound"})

    def initial_state(self) -> dict:
        return {"handler": None, "inbound": {}, "outbox": {}}

    def register_inbound_handler(self, handler) -> None:
        st = self.get_state()
        if st["handler"]:
            self.release(st["handler"])
        st["handler"] = self.hold(handler)
        self.set_state(st)

    def _peer(self, st, peer):
        if type(peer) is not str or not peer:
            raise DeviceError("mailbox peer must be a non-empty str")
        return st["outbox"].setdefault(peer, {"messages": [], "ack": 0})

    def add(self, peer, seq, body) -> None:
        if type(seq) is not int or type(body) is not str:
            raise DeviceError("mailbox.add(peer, seq: int, body: str)")
        st = self.get_state()
        box = self._peer(st, peer)
        if all(m[0] != seq for m in box["messages"]):
            box["messages"].append([seq, body])
            box["messages"].sort()
        self.set_state(st)

    def remove(self, peer, up_to_seq) -> None:
        st = self.get_state()
        box = self._peer(st, peer)
        box["messages"] = [m for m in box["messages"] if m[0] > up_to_seq]
        self.set_state(st)

    def ack(self, peer, seq) -> None:
        st = self.get_state()
        box = self._peer(st, peer)
        box["ack"] = max(box["ack"], int(seq))
        self.set_state(st)

    def get_highest_inbound(self, peer) -> int:
        return self.get_state()["inbound"].get(peer, 0)

    # host side
    def deliver_inbound(self, peer: str, messages: list, ack: int) -> bool:
        st = self.get_state()
        highest = st["inbound"].get(peer, 0)
        fresh = sorted([int(s), str(b)] for s, b in messages if int(s) > highest)
        if not fresh or not st["handler"]:
            return False
        st["inbound"][peer] = fresh[-1][0]
        self.set_state(st)
        self.kernel.queue_to_kref(st["handler"], "deliver_inbound", [peer, fresh, int(ack)])
        return True

    def outbox(self) -> dict:
        return self.get_state()["outbox"]
