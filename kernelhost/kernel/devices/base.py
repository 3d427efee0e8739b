"""What every device shares: state in the kvStore and a narrow kernel API."""

from __future__ import annotations

import json

__all__ = ["Device", "DeviceError", "KRef"]

_dumps = json.JSONEncoder(separators=(",", ":")).encode
_loads = json.loads



class DeviceError(Exception):
    """A device call failed; the calling vat sees a RemoteError("DeviceError")."""


class KRef:
    """A kernel reference inside device arguments/results (devices work in krefs)."""

    __slots__ = ("kref", "iface")

    def __init__(self, kref: str, iface: str | None = None):
        self.kref = kref
        self.iface = iface

    def __repr__(self) -> str:
        return f"KRef({self.kref})"

    def __eq__(self, other) -> bool:
        return isinstance(other, KRef) and other.kref == self.kref

    def __hash__(self) -> int:
        return hash(self.kref)


class Device:
    """Subclasses define `methods` (names vats may call) and implement them."""

    name = "device"
    methods: frozenset = frozenset()

    def __init__(self, kernel, device_id: str, endowment=None):
        self.kernel = kernel
        self.device_id = device_id
        self.endowment = endowment

    # state
    def get_state(self) -> dict:
        raw = self.kernel.kv.get(f"{self.device_id}.deviceState")
        return _loads(raw) if raw else self.initial_state()

    def set_state(self, state: dict) -> None:
        self.kernel.kv.set(f"{self.device_id}.deviceState", _dumps(state))

    def initial_state(self) -> dict:
        return {}

    # references the device keeps in its state must stay alive
    def hold(self, ref: KRef) -> str:
        if not isinstance(ref, KRef) or ref.kref[1] != "o":
            raise DeviceError(f"{self.name}: expected an object reference, got {ref!r:.60}")
        self.kernel.state.incref(ref.kref)
        return ref.kref

    def release(self, kref: str) -> None:
        self.kernel.state.decref(kref)

    def invoke(self, method: str, args: list):
        if method not in self.methods:
            raise DeviceError(f"device {self.name} has no method {method!r}")
        return getattr(self, method)(*args)
