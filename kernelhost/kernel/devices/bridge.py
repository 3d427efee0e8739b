"""Bridge device: synchronous calls from vats to the chain, and inbound chain events.

``D(bridge).call(obj)`` hands a JSON-able dict to the host's ``bridge(obj) -> obj``
endowment (a chain-send: bank balance query, give/grab, storage write) and
returns its answer. The host pushes chain->kernel events with
``controller.bridge_inbound(obj)``; they become ``inbound(obj)`` messages to the
handler a vat registered with ``D(bridge).register_handler(handler)``.
"""

from __future__ import annotations

import json

from .base import Device, DeviceError

__all__ = ["BridgeDevice"]


def _plain(obj, what: str):
    try:
        return json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise DeviceError(f"bridge {what} must be JSON data: {e}") from None


class BridgeDevice(Device):
    name = "bridge"
    methods = frozenset({"call", "register_handler"})

    def initial_state(self) -> dict:
        return {"handler": None}

    def call(self, obj):
        if self.endowment is None:
            raise DeviceError("bridge: the host gave no bridge endowment")
        request = _plain(obj, "request")
        try:
            answer = self.endowment(request)
        except Exception as e:  # noqa: BLE001 - the chain's refusal is the vat's error, not a kernel failure
            raise DeviceError(f"bridge call failed: {e}") from None
        return _plain(answer, "answer")

    def register_handler(self, handler) -> None:
        st = self.get_state()
        if st["handler"]:
            self.release(st["handler"])
        st["handler"] = self.hold(handler) if handler is not None else None
        self.set_state(st)

    # host side
    def inbound(self, obj) -> bool:
        handler = self.get_state()["handler"]
        if not handler:
            return False
        self.kernel.queue_to_kref(handler, "inbound", [_plain(obj, "inbound event")])
        return True
