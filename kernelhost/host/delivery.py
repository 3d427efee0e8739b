"""Delivering action-queue entries to the kernel.

Each kind maps to one controller call. A delivery the kernel refuses (unknown vat, bad
bundle) is a *result* recorded on the action, never a node failure; only a kernel panic
escapes (-> paused mode), and failpoints, which must stay crashes.

Targets of chain -> kernel notifications come from the chain params (genesis "chain" section):
    "balanceUpdateTarget": [vatName, method]   default ["bootstrap", "balanceUpdate"]
    "inboundTarget":       [vatName, method]   default ["bootstrap", "deliverInbound"]
used when the controller has no dedicated entry point (deliver_inbound).
"""

from __future__ import annotations

import base64

from . import kernelport

REFUSALS = (KeyError, ValueError, TypeError, LookupError)
# Defined inside the kernel bundle (loaded under a private module name): matched by name.
KERNEL_REFUSAL_NAMES = frozenset({"DeviceError", "KernelStateError"})
DEFAULT_BALANCE_TARGET = ("bootstrap", "balanceUpdate")
DEFAULT_INBOUND_TARGET = ("bootstrap", "deliverInbound")


def _target(params: dict, key: str, default: tuple[str, str]) -> tuple[str, str]:
    value = params.get(key)
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return default


def deliver_action(controller, action: dict, params: dict) -> dict:
    kind, body = action["kind"], action["body"]
    panics = kernelport.panic_types()
    try:
        if kind == "SWINGSET_SEND":
            kpid = controller.queue_to_vat_root(body["vat"], body["method"], list(body.get("args") or []),
                                                result_policy=params.get("sendResultPolicy", "ignore"))
            return {"kpid": kpid, "status": "unresolved"}
        if kind == "INSTALL_BUNDLE":
            bundle_id = controller.install_bundle(base64.b64decode(body["bundle"]), body.get("bundleID"))
            return {"installed": True, "bundleID": bundle_id}
        if kind == "DELIVER_INBOUND":
            if hasattr(controller, "deliver_inbound"):
                controller.deliver_inbound(body["peer"], body["messages"], body["ack"])
                return {"delivered": True}
            vat, method = _target(params, "inboundTarget", DEFAULT_INBOUND_TARGET)
            kpid = controller.queue_to_vat_root(vat, method, [body["peer"], body["messages"], body["ack"]])
            return {"delivered": True, "kpid": kpid}
        if kind == "VBANK_BALANCE_UPDATE":
            if hasattr(controller, "bridge_inbound"):
                # The bridge device's registered handler (the bank watcher vat) gets it.
                handled = controller.bridge_inbound({"type": "VBANK_BALANCE_UPDATE", "updated": body["updated"]})
                return {"delivered": bool(handled)}
            vat, method = _target(params, "balanceUpdateTarget", DEFAULT_BALANCE_TARGET)
            kpid = controller.queue_to_vat_root(vat, method, [body["updated"]])
            return {"delivered": True, "kpid": kpid}
        return {"error": f"unknown action kind {kind!r}"}
    except panics:
        raise
    except Exception as exc:
        # The kernel refused this action (unknown vat, bad bundle, bad arguments, a device
        # this swingset lacks): a result, the same on every node. Anything else (a storage
        # failure, a failpoint) is not deterministic and must stop the block instead.
        if isinstance(exc, REFUSALS) or type(exc).__name__ in KERNEL_REFUSAL_NAMES:
            return {"error": f"{type(exc).__name__}: {exc}"}
        raise
