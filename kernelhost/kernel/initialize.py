"""Genesis: the kernel's starting state.

`initialize_kernel` runs once in a store's life, from the kernel bundle the
controller just installed (so the code that lays the state out is the code
that will run on it). It records devices, the vat-admin vat, the static vats
(each with an ``initialize-worker`` transcript entry and a root object), queues
a ``startVat`` per vat and then ``bootstrap(vats, devices)`` to the bootstrap
vat with result policy ``panic``. All of it is hashed as crank 0.

Config (prepared by the controller; every bundle already installed):

    {"vats": [{"name", "bundleID", "parameters", "critical", "managerType",
               "enablePipelining"}, ...],
     "bootstrap": name | None,
     "devices": ["timer", "bridge", "mailbox"],
     "namedBundles": {name: bundleID},
     "defaultManagerType": "local"}
"""

from __future__ import annotations

from .devices import DEVICE_CLASSES
from .errors import KernelStateError
from .jsonfast import dumps as _dumps
from .kernel_state import FIRST_DEVICE, KernelState
from .kvbuffer import BufferedKV
from .marshal import serialize
from .vat_warehouse import initialize_worker_entry
from .version import STATE_SCHEMA_VERSION

__all__ = ["initialize_kernel"]


VAT_OPTIONS = frozenset({"name", "bundleID", "parameters", "critical", "managerType", "enablePipelining"})


class _Ref:
    """A kref inside genesis capdata (vat roots, device nodes)."""

    __slots__ = ("kref", "iface")

    def __init__(self, kref, iface):
        self.kref = kref
        self.iface = iface


def _slot(v):
    return (v.kref, False, v.iface)


def initialize_kernel(storage, config: dict, *, kernel_bundle_id: str) -> None:
    raw_kv = storage.kv
    if raw_kv.get("version") is not None or raw_kv.get("initialized") is not None:
        raise KernelStateError("kernel state is already initialised")
    kv = BufferedKV(raw_kv)
    state = KernelState(kv)
    _lay_out(kv, state, config, kernel_bundle_id)  # nothing reaches the store if this raises
    kv.flush(storage)


def _lay_out(kv, state: KernelState, config: dict, kernel_bundle_id: str) -> None:
    kv.set("version", str(STATE_SCHEMA_VERSION))
    kv.set("kernelBundleID", kernel_bundle_id)
    kv.set("crankNumber", "0")
    kv.set("runQueue", "[1,1]")
    kv.set("vat.names", "[]")
    kv.set("vat.dynamicIDs", "[]")
    kv.set("vats.terminated", "[]")
    kv.set("kernel.defaultManagerType", config.get("defaultManagerType") or "local")
    for name, bundle_id in sorted((config.get("namedBundles") or {}).items()):
        kv.set(f"namedBundleID.{name}", bundle_id)

    # devices: vat-admin always, then the configured ones in a fixed order
    wanted = list(config.get("devices") or [])
    for name in wanted:
        if name not in DEVICE_CLASSES or name == "vatAdmin":
            raise KernelStateError(f"unknown device {name!r} (known: timer, bridge, mailbox)")
    device_names = ["vatAdmin"] + [n for n in ("timer", "bridge", "mailbox") if n in wanted]
    device_nodes = {}
    for name in device_names:
        dev_id = f"d{state.next_id('device.nextID', FIRST_DEVICE)}"
        kv.set(f"device.name.{name}", dev_id)
        device_nodes[name] = state.add_device_node(dev_id)
    kv.set("device.names", _dumps(device_names))

    def add_vat(name, source, options, parameters, powers):
        vat_id = state.allocate_vat_id()
        state.add_static_vat(name, vat_id)
        options = dict(options, name=name)
        root = state.add_kernel_object(vat_id)
        kv.set(f"{vat_id}.c.o+0", root)
        kv.set(f"{vat_id}.c.{root}", "R o+0")
        params_capdata = serialize({"parameters": parameters, "powers": powers}, _slot)
        state.record_vat(vat_id, source, options, params_capdata)
        for s in params_capdata["slots"]:
            state.incref(s)  # vatParameters hold their krefs
        mtype = options.get("managerType") or config.get("defaultManagerType") or "local"
        kv.add_op("init_transcript", vat_id)
        kv.add_op("add_item", vat_id, initialize_worker_entry(source, mtype))
        state.enqueue({"type": "startVat", "vatID": vat_id})
        return vat_id, root

    admin_id, admin_root = add_vat(
        "vatAdmin", {"kernelVat": "vatAdmin"}, {"critical": True}, {},
        {"admin_device": _Ref(device_nodes["vatAdmin"], "vatAdminDevice")})
    kv.set("vatAdminRootKref", admin_root)
    state.incref(admin_root)  # pinned: the kernel always needs to reach vat-admin

    roots = {"vatAdmin": admin_root}
    for vat in config.get("vats") or []:
        unknown = sorted(set(vat) - VAT_OPTIONS)
        if unknown:
            raise KernelStateError(f"vat {vat.get('name')!r}: unknown options {unknown}")
        name = vat["name"]
        if name in roots:
            raise KernelStateError(f"duplicate vat name {name!r}")
        options = {k: vat[k] for k in ("critical", "managerType", "enablePipelining") if vat.get(k)}
        _vid, root = add_vat(name, {"bundleID": vat["bundleID"]}, options, vat.get("parameters") or {},
                             {"vat_admin": _Ref(admin_root, "VatAdminService")})
        roots[name] = root

    bootstrap = config.get("bootstrap")
    if bootstrap:
        if bootstrap not in roots or bootstrap == "vatAdmin":
            raise KernelStateError(f"bootstrap vat {bootstrap!r} is not one of the configured vats")
        vats_arg = {name: _Ref(root, None) for name, root in sorted(roots.items())}
        devices_arg = {name: _Ref(node, name) for name, node in device_nodes.items() if name != "vatAdmin"}
        methargs = serialize(["bootstrap", [vats_arg, devices_arg]], _slot)
        kp = state.add_kernel_promise(policy="panic")
        state.incref(kp)  # pinned, so the bootstrap result stays inspectable
        state.enqueue({"type": "send", "target": roots[bootstrap], "msg": {"methargs": methargs, "result": kp}})
        kv.set("bootstrapResult", kp)
    state.finish_crank()
