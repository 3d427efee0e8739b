"""Devices: synchronous kernel-side services vats reach with ``D(node).method(...)``.

Each device keeps its state in the kvStore (``dNN.deviceState``) and talks to
the outside world only through the endowment the host gave it. Devices are not
transcripted; what a vat got from a device call is in the *vat's* transcript,
so replay never calls a device again.
"""

from .base import Device, DeviceError, KRef
from .bridge import BridgeDevice
from .mailbox import MailboxDevice
from .timer import TimerDevice
from .vat_admin import VatAdminDevice

DEVICE_CLASSES = {
    "vatAdmin": VatAdminDevice,
    "timer": TimerDevice,
    "bridge": BridgeDevice,
    "mailbox": MailboxDevice,
}

__all__ = ["DEVICE_CLASSES", "Device", "DeviceError", "KRef", "BridgeDevice", "MailboxDevice",
           "TimerDevice", "VatAdminDevice"]
