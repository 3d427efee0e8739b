"""Liveslots: the vat-side runtime between vat code and the kernel.

It turns deliveries (``message``, ``notify``, ``startVat``) into method calls
and promise settlements, and vat actions (``E(x).m()``, resolutions, device
calls, durable state) into syscalls. It keeps the vat's half of the c-list:

    o+N    an object this vat exports (o+0 is the root)
    o+dK/N a durable object of durable kind K (lives in the vatstore)
    o-N    an object imported from another vat (a `Presence`)
    p+N    a promise this vat allocated (a send's result, or a local promise it exported)
    p-N    a promise the kernel introduced (an inbound result or argument)
    d-N    a device node

Promise rules (the same as SwingSet's): a promise is *decided* by exactly one
vat. A vat that decides a vpid resolves it with ``syscall.resolve`` and then
forgets the vpid ("retires" it); a vat that imports a vpid subscribes and
forgets it once notified. A settled promise sent again gets a fresh vpid.

Syscalls that need no answer go through `emit`; the ones that do (vatstore
reads, device calls) through `call`. The worker decides how they travel.
"""

from __future__ import annotations

from types import CoroutineType

from .durable import Baggage, DurableKinds
from .errors import VatFatal
from .far import DeviceNode, Far, Presence, far, iface_of, method_of
from .marshal import PassableError, RemoteError, serialize, split_methargs, unserialize
from .vpromise import PromiseKit, Scheduler, SchedulerOverrun, VPromise, spawn

__all__ = ["LiveSlots", "VatFatal", "OK_RESULT"]

OK_RESULT = ["ok", None, None]


class VatPowers:
    """The `vat_powers` argument of build_root_object."""

    def __init__(self, ls: LiveSlots, vat_admin, admin_device=None):
        self.D = ls.D
        self.vat_admin = vat_admin
        self.admin_device = admin_device  # only the kernel's vat-admin vat gets this
        self.exit_vat = ls.exit_vat
        self.exit_vat_with_failure = ls.exit_vat_with_failure


class _EProxy:
    __slots__ = ("_ls", "_target", "_result")

    def __init__(self, ls, target, result=True):
        self._ls = ls
        self._target = target
        self._result = result

    def __getattr__(self, method):
        if method[:1] == "_":
            raise AttributeError(method)
        ls, target, result = self._ls, self._target, self._result
        return lambda *args: ls.send(target, method, list(args), result)


class _DProxy:
    __slots__ = ("_ls", "_node")

    def __init__(self, ls, node):
        self._ls = ls
        self._node = node

    def __getattr__(self, method):
        if method[:1] == "_":
            raise AttributeError(method)
        ls, node = self._ls, self._node
        return lambda *args: ls.call_device(node, method, list(args))


class LiveSlots:
    def __init__(self, emit, call, *, namespace_loader):
        """emit(vsc) sends a syscall that needs no answer; call(vsc) -> result sends one
        that does. The vat code comes from `namespace_loader(extra_modules) -> namespace`,
        called at startVat with the per-vat ``swingset`` module, so module-level code can
        ``from swingset import E, Far``."""
        self.emit = emit
        self.call = call
        self.sched = Scheduler()
        self._slot_to_val: dict[str, object] = {}
        self._val_to_slot: dict[int, tuple] = {}  # id(val) -> (slot, is_promise, iface); val kept alive above
        self._import_kits: dict[str, PromiseKit] = {}  # vpids decided elsewhere, waiting for notify
        self._next_export = 1
        self._next_promise = 1
        self.kinds = DurableKinds(self)
        self.baggage = Baggage(self)
        self._namespace_loader = namespace_loader
        self.started = False
        self._vts = self._val_to_slot_for_export
        self._stv = self._slot_to_val_for_import

    # ------------------------------------------------------------------ the vat-facing API
    def vat_module(self) -> dict:
        """The ``swingset`` module a vat imports: bound to this vat."""
        return {
            "E": _EMaker(self),
            "D": self.D,
            "Far": Far,
            "far": far,
            "make_promise_kit": self.make_promise_kit,
            "is_promise": lambda v: isinstance(v, VPromise),
            "prepare_kind": self.kinds.prepare_kind,
            "RemoteError": RemoteError,
            "PassableError": PassableError,
        }

    def make_promise_kit(self) -> PromiseKit:
        return PromiseKit(self.sched)

    def D(self, node):  # noqa: N802 - the SwingSet name
        if type(node) is not DeviceNode:
            raise TypeError(f"D() needs a device node, not {type(node).__name__}")
        return _DProxy(self, node)

    def exit_vat(self, completion=None) -> None:
        self.emit(["exit", False, serialize(completion, self._vts)])

    def exit_vat_with_failure(self, reason=None) -> None:
        self.emit(["exit", True, serialize(reason, self._vts)])

    # ------------------------------------------------------------------ slots
    def _export_promise(self, p: VPromise) -> str:
        vpid = f"p+{self._next_promise}"
        self._next_promise += 1
        self._slot_to_val[vpid] = p
        self._val_to_slot[id(p)] = (vpid, True, None)
        # This vat decides vpid: report the settlement to the kernel, then forget the vpid.

        def ok(value, vpid=vpid):
            self._resolve_vpid(vpid, False, value)

        def err(reason, vpid=vpid):
            self._resolve_vpid(vpid, True, reason)

        p._subscribe(ok, err)
        return vpid

    def _resolve_vpid(self, vpid: str, rejected: bool, value) -> None:
        p = self._slot_to_val.pop(vpid, None)
        if p is not None:
            self._val_to_slot.pop(id(p), None)
        try:
            data = serialize(value, self._vts)
        except PassableError as e:
            rejected, data = True, serialize(e)
        self.emit(["resolve", [[vpid, rejected, data]]])

    def _val_to_slot_for_export(self, v):
        entry = self._val_to_slot.get(id(v))
        if entry is not None:
            return entry
        if isinstance(v, VPromise):
            self._export_promise(v)
            return self._val_to_slot[id(v)]
        if type(v) is CoroutineType:
            raise PassableError("cannot pass a coroutine: await it, or pass the promise from E()")
        iface = iface_of(v)
        if iface is None or isinstance(v, type) or type(v) in (Presence, DeviceNode):
            raise PassableError(f"cannot pass {type(v).__name__} object {v!r:.60}: not passable "
                                "(allowed: None, bool, int, str, bytes, list, dict with str keys, "
                                "Far objects, promises, errors)")
        vref = f"o+{self._next_export}"
        self._next_export += 1
        entry = (vref, False, iface)
        self._slot_to_val[vref] = v
        self._val_to_slot[id(v)] = entry
        return entry

    def _slot_to_val_for_import(self, slot: str, iface, is_promise: bool):
        v = self._slot_to_val.get(slot)
        if v is not None:
            return v
        kind = slot[0]
        if kind == "o":
            if slot[1] == "-":
                v = Presence(slot, iface)
            elif slot.startswith("o+d"):
                return self.kinds.rep_for(slot)
            else:
                raise VatFatal(f"unknown export {slot} in inbound data")
            self._slot_to_val[slot] = v
            self._val_to_slot[id(v)] = (slot, False, iface)
            return v
        if kind == "p":
            # A promise decided elsewhere: wait for the kernel's notify.
            kit = PromiseKit(self.sched)
            v = kit.promise
            self._import_kits[slot] = kit
            self._slot_to_val[slot] = v
            self._val_to_slot[id(v)] = (slot, True, None)
            self.emit(["subscribe", slot])
            return v
        if kind == "d":
            v = DeviceNode(slot, iface)
            self._slot_to_val[slot] = v
            self._val_to_slot[id(v)] = (slot, False, iface)
            return v
        raise VatFatal(f"bad slot {slot!r}")

    def register_durable(self, vref: str, rep, iface: str) -> None:
        self._slot_to_val[vref] = rep
        self._val_to_slot[id(rep)] = (vref, False, iface)

    # ------------------------------------------------------------------ outbound
    def send(self, target, method: str, args: list, want_result: bool = True):
        t = type(target)
        if t is Presence:
            slot = target.vref
        elif isinstance(target, VPromise):
            entry = self._val_to_slot.get(id(target))
            if entry is None or entry[0] not in self._import_kits:
                # Local or already settled: wait for it here, then send to what it became.
                return target.then(lambda v: self.send(v, method, args, want_result))
            slot = entry[0]  # pipeline: the kernel routes it to the promise's decider
        elif t is CoroutineType:
            return self.send(spawn(target, self.sched), method, args, want_result)
        elif iface_of(target) is not None and not isinstance(target, type):
            return self._local_send(target, method, args)
        else:
            kit = PromiseKit(self.sched)
            kit.reject(TypeError(f"cannot send {method!r} to {type(target).__name__} (not an object)"))
            return kit.promise
        data = serialize([method, args], self._vts)
        if not want_result:
            self.emit(["send", slot, {"methargs": data, "result": None}])
            return None
        vpid = f"p+{self._next_promise}"
        self._next_promise += 1
        kit = PromiseKit(self.sched)
        p = kit.promise
        self._import_kits[vpid] = kit
        self._slot_to_val[vpid] = p
        self._val_to_slot[id(p)] = (vpid, True, None)
        self.emit(["send", slot, {"methargs": data, "result": vpid}])
        self.emit(["subscribe", vpid])
        return p

    def _local_send(self, target, method, args):
        kit = PromiseKit(self.sched)

        def invoke(_):
            try:
                kit.resolve(method_of(target, method)(*args))
            except Exception as e:  # noqa: BLE001 - the method's exception rejects the result
                kit.reject(e)

        self.sched.queue.append((invoke, None))
        return kit.promise

    def call_device(self, node: DeviceNode, method: str, args: list):
        r = self.call(["callNow", node.vref, method, serialize(args, self._vts)])
        if r[0] != "ok":
            raise RemoteError(str(r[1]), "DeviceError")
        return unserialize(r[1], self._stv)

    # vatstore, used by durable.py
    def vs_get(self, key: str):
        r = self.call(["vatstoreGet", key])
        if r[0] != "ok":
            raise VatFatal(f"vatstoreGet failed: {r[1]}")
        return r[1]

    def vs_set(self, key: str, value: str) -> None:
        self.emit(["vatstoreSet", key, value])

    def vs_delete(self, key: str) -> None:
        self.emit(["vatstoreDelete", key])

    def vs_next_key(self, prior: str):
        r = self.call(["vatstoreGetNextKey", prior])
        if r[0] != "ok":
            raise VatFatal(f"vatstoreGetNextKey failed: {r[1]}")
        return r[1]

    # ------------------------------------------------------------------ inbound
    def dispatch(self, delivery: list) -> list:
        """Run one delivery to completion (microtask queue drained). Returns
        ``["ok", None, None]`` or ``["error", problem, None]``."""
        try:
            kind = delivery[0]
            self.kinds.begin_delivery()
            if kind == "message":
                self._deliver(delivery[1], delivery[2])
            elif kind == "notify":
                self._notify(delivery[1])
            elif kind == "startVat":
                self._start_vat(delivery[1])
            elif kind == "bringOutYourDead":
                pass
            else:
                raise VatFatal(f"unknown delivery type {kind!r}")
            self.sched.run()
            if kind == "startVat":
                self._finish_start()
        except (VatFatal, SchedulerOverrun, PassableError) as e:
            return ["error", f"{type(e).__name__}: {e}", None]
        except Exception as e:  # noqa: BLE001 - a liveslots/vat crash fails the delivery, not the kernel
            return ["error", f"{type(e).__name__}: {e}", None]
        return OK_RESULT

    def _deliver(self, target_slot: str, msg: dict) -> None:
        stv = self._stv
        method, args = split_methargs(msg["methargs"], stv)
        target = self._slot_to_val.get(target_slot)
        if target is None:
            if target_slot.startswith("o+d"):
                target = self.kinds.rep_for(target_slot)
            else:
                raise VatFatal(f"message {method!r} to unknown target {target_slot}")
        result_vpid = msg.get("result")
        if isinstance(target, VPromise):
            res = self.send(target, method, args)  # pipelined to a promise we decide: queue locally
        else:
            try:
                res = method_of(target, method)(*args)
            except Exception as e:  # noqa: BLE001 - a throwing method rejects its result promise
                if result_vpid is None:
                    return
                self._resolve_vpid(result_vpid, True, e)
                return
            if type(res) is CoroutineType:
                res = spawn(res, self.sched)
        if result_vpid is None:
            return
        if isinstance(res, VPromise) or result_vpid in self._slot_to_val:
            # We now decide result_vpid. Pipelined messages may already target it, so
            # give it a local promise that follows `res`.
            p = self._slot_to_val.get(result_vpid)
            if p is None:
                kit = PromiseKit(self.sched)
                p = kit.promise
                self._slot_to_val[result_vpid] = p
                self._val_to_slot[id(p)] = (result_vpid, True, None)
            self._import_kits.pop(result_vpid, None)
            p._resolve(res)

            def ok(value, vpid=result_vpid):
                self._resolve_vpid(vpid, False, value)

            def err(reason, vpid=result_vpid):
                self._resolve_vpid(vpid, True, reason)

            p._subscribe(ok, err)
        else:
            self._resolve_vpid(result_vpid, False, res)

    def _notify(self, resolutions: list) -> None:
        for vpid, rejected, data in resolutions:
            kit = self._import_kits.pop(vpid, None)
            if kit is None:
                raise VatFatal(f"notify for unknown promise {vpid}")
            p = self._slot_to_val.pop(vpid, None)
            if p is not None:
                self._val_to_slot.pop(id(p), None)
            value = unserialize(data, self._stv)
            if rejected:
                if not isinstance(value, BaseException):
                    value = RemoteError(repr(value), "Rejection")
                kit.promise._reject(value)
            else:
                kit.promise._resolve(value)

    def _start_vat(self, capdata: dict) -> None:
        if self.started:
            raise VatFatal("startVat delivered twice")
        arg = unserialize(capdata, self._stv)
        params = arg.get("parameters") if isinstance(arg, dict) else None
        powers = (arg.get("powers") or {}) if isinstance(arg, dict) else {}
        ns = self._namespace_loader({"swingset": self.vat_module()})
        build = ns.get("build_root_object")
        if not callable(build):
            raise VatFatal("vat code does not define build_root_object(vat_powers, vat_parameters, baggage)")
        self._vat_powers = VatPowers(self, powers.get("vat_admin"), powers.get("admin_device"))
        root = build(self._vat_powers, params if params is not None else {}, self.baggage)
        if type(root) is CoroutineType:
            root = spawn(root, self.sched)
        self._root = root

    def _finish_start(self) -> None:
        root = self._root
        if isinstance(root, VPromise):
            if root._state == 1:
                root = root._value
            elif root._state == 2:
                raise VatFatal(f"build_root_object failed: {root._value!r}")
            else:
                raise VatFatal("build_root_object's promise did not settle during startVat")
        iface = iface_of(root)
        if iface is None or isinstance(root, type) or type(root) in (Presence, DeviceNode):
            raise VatFatal(f"build_root_object must return a Far object, not {type(root).__name__}")
        self._root = None
        self._slot_to_val["o+0"] = root
        self._val_to_slot[id(root)] = ("o+0", False, iface)
        self.kinds.check_all_redefined()
        self.started = True


class _EMaker:
    """``E(x).method(*args)`` -> promise; ``E.sendonly(x).method(*args)`` -> None."""

    __slots__ = ("_ls",)

    def __init__(self, ls: LiveSlots):
        self._ls = ls

    def __call__(self, target):
        return _EProxy(self._ls, target)

    def sendonly(self, target):
        return _EProxy(self._ls, target, False)

