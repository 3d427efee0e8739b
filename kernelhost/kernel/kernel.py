"""The kernel: cranks, deliveries, syscalls, termination and panics.

One crank (see docs/arch-kernel.md for the full picture):

1. Open an in-memory savepoint in the write buffer (kvbuffer.py).
2. Dequeue the run-queue head.
3. Route it: a ``send`` to a promise is queued on the promise, pipelined to its
   decider, re-targeted to what the promise resolved to, or rejected; a
   ``send`` to an object goes to its owner (rejected if the owner is gone);
   ``notify``, ``startVat`` and ``create-vat`` go to their vat.
4. Deliver through the vat's worker; handle its syscalls as they arrive
   (send, resolve, subscribe, exit, vatstore*, callNow); record the transcript
   entry ``{d, sc:[{s,r}], r}``.
5. If the delivery failed (liveslots error, illegal syscall): roll back to the
   crank's start (the message goes back to the queue head), terminate the vat;
   the message is then re-processed and "goes splat" against the dead vat.
6. Free unreferenced promises, ``crankNumber += 1``, close the savepoint.

The buffer reaches the store (one store crank + ``emit_crank_hashes()``) at the
end of every run()/step(), every FLUSH_EVERY_CRANKS cranks and after every
host call that changes state.

A kernel panic is sticky: nothing more runs and run()/step() keep raising.
The host must not commit after a panic.
"""

from __future__ import annotations

from .devices import DEVICE_CLASSES, DeviceError, KRef
from .errors import IllegalSyscall, KernelPanicError, KernelStateError
from .jsonfast import dumps as _dumps
from .jsonfast import loads as _loads
from .kernel_state import KernelState, VatClist, msg_krefs
from .kvbuffer import BufferedKV
from .marshal import PassableError, capdata_is_single_slot, error_capdata, serialize, unserialize
from .schema import check_schema
from .vat_warehouse import (
    DEFAULT_MAX_VATS_ONLINE,
    VatWarehouse,
    initialize_worker_entry,
    shutdown_worker_entry,
    transcript_entry,
)
from .vats import KERNEL_VATS
from .version import KERNEL_VERSION, STATE_SCHEMA_VERSION

__all__ = ["Kernel", "DELIVERY_COMPUTRONS", "SYSCALL_COMPUTRONS"]


# Computrons: a deterministic stand-in for metering. A delivery costs a base
# amount plus a fixed amount per syscall (what the kernel had to do for it);
# the figures are what run policies budget against.
DELIVERY_COMPUTRONS = 1000
SYSCALL_COMPUTRONS = 100

# A flush unit never grows beyond this many cranks (bounds memory and keeps
# export data flowing during long runs).
FLUSH_EVERY_CRANKS = 1000

_OK = ["ok", None]
_VAT_TERMINATED = error_capdata("vat terminated", "VatTerminated")
UPGRADE_FAILURE = "vat-upgrade failure"
UPGRADE_OPTIONS = frozenset({"vatParameters"})


class _FailpointEscape(BaseException):
    """Carries a failpoint's exception out of a crank untouched (never a panic)."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


class _KernelAbort(BaseException):
    """Raised into a vat when the kernel itself failed while handling a syscall.
    A BaseException so vat code's ``except Exception`` does not swallow it; the
    kernel checks its own record of the failure anyway."""


class _VatInfo:
    __slots__ = ("vat_id", "name", "options", "clist", "critical", "pipelining", "dynamic")

    def __init__(self, state: KernelState, vat_id: str, options: dict):
        self.vat_id = vat_id
        self.options = options
        self.name = options.get("name") or vat_id
        self.critical = bool(options.get("critical"))
        self.pipelining = bool(options.get("enablePipelining"))
        self.dynamic = bool(options.get("dynamic"))
        self.clist = VatClist(state, vat_id)


class CrankResult:
    __slots__ = ("delivered_to", "computrons", "failed", "vat_created")

    def __init__(self):
        self.delivered_to = None
        self.computrons = 0
        self.failed = False
        self.vat_created = False


class Kernel:
    def __init__(self, storage, *, read_bundle, kernel_bundle_id=None, devices=None,
                 worker_factory=None, log=None, options=None):
        self.storage = storage
        self.kv = BufferedKV(storage.kv)
        self.state = KernelState(self.kv)
        self.options = dict(options or {})
        self.kernel_bundle_id = kernel_bundle_id
        self.panic_error: KernelPanicError | None = None
        self.log_lines: list = []
        self._log = log
        self._read_bundle = read_bundle
        self._vats: dict = {}
        self._running = False
        self._closed = False
        # per-delivery scratch
        self._sc = None
        self._vat = None
        self._illegal = None
        self._exit = None
        self._kernel_error = None
        self._failure = None
        self._failpoint = self.options.get("failpoint")
        check_schema(self)
        opts = self.options
        self.warehouse = VatWarehouse(
            self, kernel_vats=KERNEL_VATS, worker_factory=worker_factory, read_bundle=read_bundle,
            kernel_bundle=(kernel_bundle_id, self._kernel_bundle_bytes), log=self._vat_log,
            max_online=opts.get("maxVatsOnline") or DEFAULT_MAX_VATS_ONLINE,
            dynamic_manager_type=opts.get("dynamicManagerType"),
            bundle_swaps=opts.get("testBundleSwaps"))
        endowments = dict(devices or {})
        self.devices: dict = {}
        self.device_names: dict = {}
        for name in _loads(self.kv.get("device.names") or "[]"):
            dev_id = self.kv.get(f"device.name.{name}")
            self.devices[dev_id] = DEVICE_CLASSES[name](self, dev_id, endowments.get(name))
            self.device_names[name] = dev_id

    # ------------------------------------------------------------------ helpers
    def _kernel_bundle_bytes(self):
        if not self.kernel_bundle_id:
            return None
        return self.storage.bundles.get_bundle(self.kernel_bundle_id)

    def _vat_log(self, text: str) -> None:
        self.note(text)

    def note(self, text: str) -> None:
        """Non-consensus log line (vat prints, result-policy logs)."""
        lines = self.log_lines
        lines.append(text)
        if len(lines) > 1000:
            del lines[:500]
        if self._log is not None:
            self._log(text)

    def vat(self, vat_id: str) -> _VatInfo:
        info = self._vats.get(vat_id)
        if info is None:
            raw = self.kv.get(f"{vat_id}.options")
            if raw is None:
                raise KeyError(f"no vat {vat_id}")
            info = self._vats[vat_id] = _VatInfo(self.state, vat_id, _loads(raw))
        return info

    def _reload_caches(self) -> None:
        """In-memory views derived from kv state are stale after a buffer rollback."""
        self.state.reload()
        self._vats.clear()

    def flush(self) -> None:
        """Write the buffered flush unit to the store (one store crank, one crank hash)."""
        if self.panic_error is None:
            self.kv.flush(self.storage)

    # transcripts: changes are queued in the write buffer (rolled back with the crank)
    def transcript_add(self, vat_id: str, entry: str) -> None:
        self.kv.add_op("add_item", vat_id, entry)

    def transcript_init(self, vat_id: str, source: dict, manager_type: str) -> None:
        self.kv.add_op("init_transcript", vat_id)
        self.kv.add_op("add_item", vat_id, initialize_worker_entry(source, manager_type))

    def _span_view(self, vat_id: str):
        """The vat's current span as the kernel sees it now: the store's span with the
        pending (buffered) operations applied. Returns (start, end, incarnation,
        from_store, pending_items) or None (no transcript / terminated)."""
        bounds = self.storage.transcripts.get_current_span_bounds(vat_id)
        if bounds is None:
            view = None
        else:
            view = [bounds["startPos"], bounds["endPos"], bounds["incarnation"], True, []]
        for op in self.kv.pending_ops():
            if op[1] != vat_id:
                continue
            kind = op[0]
            if kind == "add_item":
                view[1] += 1
                view[4].append(op[2])
            elif kind == "init_transcript":
                view = [0, 0, 0, False, []]
            elif kind in ("rollover_incarnation", "rollover_span"):
                if view[0] != view[1]:
                    view = [view[1], view[1], view[2], False, []]
                if kind == "rollover_incarnation":
                    view[2] += 1
            elif kind == "stop_using_transcript":
                view = None
        return view

    def transcript_span(self, vat_id: str) -> tuple[int, list]:
        """(start position, items) of the vat's current span, pending items included."""
        view = self._span_view(vat_id)
        if view is None:
            return 0, []
        start, _end, _inc, from_store, pending = view
        items = self.storage.transcripts.read_span(vat_id) if from_store else []
        return start, items + pending

    def transcript_bounds(self, vat_id: str):
        view = self._span_view(vat_id)
        if view is None:
            return None
        return {"startPos": view[0], "endPos": view[1], "incarnation": view[2]}

    def _panic(self, message: str, cause: BaseException | None = None) -> KernelPanicError:
        if self.panic_error is None:
            err = KernelPanicError(f"kernel panic: {message}")
            if cause is not None:
                err.__cause__ = cause
            self.panic_error = err
            self.note(str(err))
        return self.panic_error

    def _check_usable(self) -> None:
        if self.panic_error is not None:
            raise self.panic_error
        if self._closed:
            raise KernelStateError("kernel was shut down")
        if self._running:
            raise KernelStateError("kernel is not re-entrant: run()/step() called from inside a crank")

    # ------------------------------------------------------------------ outside-crank writes
    def _outside_crank(self, fn, *args):
        """Host-initiated state changes: atomic like a crank, flushed at once (so they get
        their own crank hash, as SwingSet's queueToVatRoot & co. do)."""
        self._check_usable()
        kv = self.kv
        kv.begin()
        try:
            result = fn(*args)
            self.state.finish_crank()
        except BaseException:
            kv.rollback(0)
            kv.end()
            self._reload_caches()
            raise
        kv.end()
        self.flush()
        return result

    # ------------------------------------------------------------------ run loop
    def run(self, policy=None) -> int:
        self._check_usable()
        count = 0
        try:
            while True:
                r = self._crank()
                if r is None:
                    break
                count += 1
                if count % FLUSH_EVERY_CRANKS == 0:
                    self.flush()
                if policy is not None:
                    if r.vat_created and hasattr(policy, "vat_created") and not policy.vat_created():
                        break
                    if r.failed:
                        keep = policy.crank_failed() if hasattr(policy, "crank_failed") else True
                    elif r.delivered_to is None:
                        keep = policy.empty_crank() if hasattr(policy, "empty_crank") else True
                    else:
                        keep = policy.crank_complete(r.computrons)
                    if not keep:
                        break
        finally:
            self.flush()
        return count

    def step(self) -> int:
        self._check_usable()
        try:
            return 0 if self._crank() is None else 1
        finally:
            self.flush()

    def _crank(self):
        state = self.state
        if state.queue_length() == 0:
            return None
        kv = self.kv
        self._running = True
        try:
            kv.begin()
            item = state.dequeue()
            result = CrankResult()
            self._process(item, result)
            state.bump_crank_number()
            state.finish_crank()
            kv.end()
        except KernelPanicError:
            raise
        except _FailpointEscape as f:
            # A test/host failpoint fired inside the crank: the crank is abandoned (nothing
            # is flushed) and the kernel is unusable, but this is not a kernel panic.
            self._panic(f"failpoint raised inside a crank: {f.original}")
            raise f.original from None
        except BaseException as e:
            raise self._panic(f"{type(e).__name__} in crank: {e}", e) from e
        finally:
            # After a panic nothing is flushed: the store keeps the state of the last
            # flush, uncommitted work must not be committed, and every later
            # run()/step() raises the same panic.
            self._running = False
        if self._failpoint is not None:
            self._failpoint("kernel.after_crank")
        return result

    # ------------------------------------------------------------------ routing
    def _process(self, item: dict, result: CrankResult) -> None:
        t = item["type"]
        if t == "send":
            self._process_send(item, result)
        elif t == "notify":
            self._process_notify(item, result)
        elif t == "startVat":
            self._process_start_vat(item, result)
        elif t == "create-vat":
            self._process_create_vat(item, result)
        elif t == "upgrade-vat":
            self._process_upgrade_vat(item, result)
        elif t == "terminate-vat":
            self._process_terminate_vat(item, result)
        else:
            raise AssertionError(f"unknown run-queue item type {t!r}")

    def _process_send(self, item: dict, result: CrankResult) -> None:
        state = self.state
        target = item["target"]
        msg = item["msg"]
        if target[1] == "p":
            st = state.kp_state(target)
            if st == "unresolved":
                decider = state.kp_decider(target)
                if decider and decider not in state.terminated() and self.vat(decider).pipelining:
                    self._deliver_message(decider, target, item, result)
                    return
                # Wait for the resolution: the promise queue now holds the message's refs.
                state.queue_on_promise(target, msg)
                state.decref(target)
                return
            if st is None:
                raise AssertionError(f"send to unknown promise {target}")
            data = state.kp_data(target)
            if st == "fulfilled":
                obj = capdata_is_single_slot(data)
                if obj is None or obj[1] != "o":
                    self._reject_result(msg, error_capdata(
                        f"cannot deliver {self._method_name(msg)!r} to a promise that resolved to non-object data",
                        "TypeError"))
                    state.release_item(item)
                    return
                target = obj
            else:
                self._reject_result(msg, data)
                state.release_item(item)
                return
        owner = state.owner_of(target)
        if owner is None or owner in state.terminated():
            self._reject_result(msg, self._termination_rejection(owner))
            state.release_item(item)
            return
        self._deliver_message(owner, target, item, result)

    @staticmethod
    def _method_name(msg: dict) -> str:
        try:
            return unserialize(msg["methargs"], lambda s, i, p: None)[0]
        except Exception:  # noqa: BLE001 - only used in an error message
            return "?"

    def _reject_result(self, msg: dict, data: dict) -> None:
        kp = msg.get("result")
        if kp and self.state.kp_state(kp) == "unresolved":
            self.resolve_kernel_promise(kp, True, data)

    def _deliver_message(self, vat_id: str, target: str, item: dict, result: CrankResult) -> None:
        info = self.vat(vat_id)
        clist = info.clist
        msg = item["msg"]
        vtarget = clist.k2v(target)
        vmethargs = clist.capdata_k2v(msg["methargs"])
        kres = msg.get("result")
        vres = None
        if kres:
            if self.state.kp_decider(kres):
                raise AssertionError(f"result promise {kres} already has a decider")
            vres = clist.k2v(kres)
            self.state.set_decider(kres, vat_id)
        self._deliver(info, ["message", vtarget, {"methargs": vmethargs, "result": vres}], result)
        if not result.failed:
            self.state.release_item(item)

    def _process_notify(self, item: dict, result: CrankResult) -> None:
        state = self.state
        vat_id = item["vatID"]
        kp = item["kpid"]
        if vat_id in state.terminated():
            return
        info = self.vat(vat_id)
        clist = info.clist
        vpid = clist.k2v_existing(kp)
        if vpid is None:
            return  # the vat already forgot this promise (e.g. a second subscribe)
        st = state.kp_state(kp)
        if st == "unresolved" or st is None:
            raise AssertionError(f"notify for {st or 'deleted'} promise {kp} held by {vat_id}")
        vdata = clist.capdata_k2v(state.kp_data(kp))
        clist.forget(vpid, kp)  # the vat retires the vpid as it learns the resolution
        self._deliver(info, ["notify", [[vpid, st == "rejected", vdata]]], result)

    def _start_vat_delivery(self, info: _VatInfo) -> list:
        params = _loads(self.kv.get(f"{info.vat_id}.vatParameters"))
        return ["startVat", info.clist.capdata_k2v(params)]

    def _process_start_vat(self, item: dict, result: CrankResult) -> None:
        vat_id = item["vatID"]
        if vat_id in self.state.terminated():
            return
        info = self.vat(vat_id)
        self._deliver(info, self._start_vat_delivery(info), result)

    def _process_create_vat(self, item: dict, result: CrankResult) -> None:
        """Build a dynamic vat in its own crank. If its startVat fails, everything the
        crank did for it is rolled back (to savepoint ``deliver``: the event stays
        consumed) and vat-admin learns the error instead of a root object."""
        state = self.state
        vat_id = item["vatID"]
        state.sync_queue()  # the dequeue must survive a rollback to `deliver`
        deliver_savepoint = self.kv.savepoint()
        result.vat_created = True
        options = dict(item["options"])
        params = options.pop("parameters", None)
        if "vatParameters" in options:
            params = options.pop("vatParameters")
        options["dynamic"] = True
        options.setdefault("name", vat_id)
        if "critical" in options:
            options["critical"] = bool(options["critical"])
        error = None
        params_capdata = item.get("vatParameters")
        if params_capdata is None:  # older queue items carried plain parameters
            try:
                params_capdata = serialize({"parameters": params if params is not None else {}, "powers": {}})
            except PassableError as e:
                error = f"bad vat parameters: {e}"
        if error is None:
            state.add_dynamic_vat(vat_id)
            state.record_vat(vat_id, item["source"], options, params_capdata)
            for s in params_capdata["slots"]:
                state.incref(s)  # vatParameters hold their krefs
            root = state.add_kernel_object(vat_id)
            self.kv.create(f"{vat_id}.c.o+0", root)
            self.kv.create(f"{vat_id}.c.{root}", "R o+0")
            self.transcript_init(vat_id, item["source"], self.warehouse.recorded_manager_type(options))
            info = self.vat(vat_id)
            self._deliver(info, self._start_vat_delivery(info), result, terminate_on_failure=False)
            if result.failed:
                error = self._failure
        if error is not None:
            self.warehouse.evict(vat_id)
            self.kv.rollback(deliver_savepoint)
            self._reload_caches()
            result.failed = True
            args = [vat_id, {"error": error}]
        else:
            args = [vat_id, {"root": KRef(root)}]
        admin_root = self.kv.get("vatAdminRootKref")
        if admin_root:
            self.queue_to_kref(admin_root, "new_vat_callback", args)

    def _process_terminate_vat(self, item: dict, result: CrankResult) -> None:
        vat_id = item["vatID"]
        if vat_id in self.state.terminated():
            return
        reason = item["reason"]
        self.terminate_vat(vat_id, True, reason)

    def _fire_failpoint(self, name: str) -> None:
        fp = self._failpoint
        if fp is None:
            return
        try:
            fp(name)
        except BaseException as e:  # noqa: BLE001 - carried out of the crank as is
            raise _FailpointEscape(e) from e

    def _process_upgrade_vat(self, item: dict, result: CrankResult) -> None:
        """Vat upgrade (seed 004), all in one crank after a ``deliver`` savepoint:

        1. ``bringOutYourDead`` to the old incarnation (recorded in its span);
        2. ``shutdown-worker`` entry, the old worker stops (failpoint
           ``vat.upgrade.after_stop``);
        3. promises the vat decides are rejected (UpgradeDisconnection), its promise
           c-list entries dropped, its ephemeral exports abandoned (sends to them
           reject); durable objects, imports and the root stay;
        4. ``rollover_incarnation`` (new span at the same position, incarnation + 1),
           ``vNN.source`` / ``vNN.vatParameters`` replaced, ``initialize-worker``;
        5. ``startVat`` on a fresh worker: build_root_object with the same baggage,
           every durable kind must be redefined.

        Any failure in 1 or 5 rolls everything back to the savepoint (transcript
        operations included: they sit in the same buffer): the old incarnation is
        intact and comes back by replay on its next delivery, and whatever the new
        version sent is gone. The caller only learns "vat-upgrade failure"."""
        state = self.state
        kv = self.kv
        vat_id = item["vatID"]
        upgrade_id = item["upgradeID"]
        bundle_id = item["bundleID"]
        state.sync_queue()  # the dequeue must survive a rollback to `deliver`
        deliver_savepoint = kv.savepoint()
        error = None
        old_source = _loads(kv.get(f"{vat_id}.source") or "{}")
        if vat_id in state.terminated():
            error = "the vat is terminated"
        elif "bundleID" not in old_source:
            error = "kernel vats cannot be upgraded"
        bounds = self.transcript_bounds(vat_id) if error is None else None
        old_incarnation = bounds["incarnation"] if bounds else 0
        computrons = 0
        if error is None:
            info = self.vat(vat_id)
            self._deliver(info, ["bringOutYourDead"], result, terminate_on_failure=False)
            computrons += result.computrons
            if result.failed:
                error = f"bringOutYourDead failed: {self._failure}"
        if error is None:
            self.transcript_add(vat_id, shutdown_worker_entry())
            self.warehouse.evict(vat_id)
            self._fire_failpoint("vat.upgrade.after_stop")
            self._disconnect_incarnation(info, old_incarnation)
            kv.add_op("rollover_incarnation", vat_id)
            source = {"bundleID": bundle_id}
            kv.set(f"{vat_id}.source", _dumps(source))
            new_params = item.get("vatParameters")
            if new_params is not None:
                old = unserialize(_loads(kv.get(f"{vat_id}.vatParameters")), lambda sl, i, p: KRef(sl, i))
                fresh = unserialize(new_params, lambda sl, i, p: KRef(sl, i))
                powers = old.get("powers") if isinstance(old, dict) else {}
                capdata = serialize({"parameters": fresh.get("parameters"), "powers": powers or {}}, _kref_slot)
                kv.set(f"{vat_id}.vatParameters", _dumps(capdata))
                for slot in capdata["slots"]:
                    state.incref(slot)
            kv.add_op("add_item", vat_id, initialize_worker_entry(
                source, self.warehouse.recorded_manager_type(info.options)))
            result.failed = False
            self._deliver(info, self._start_vat_delivery(info), result, terminate_on_failure=False)
            computrons += result.computrons
            if result.failed:
                error = self._failure
        result.computrons = computrons
        if error is not None:
            self.warehouse.evict(vat_id)
            kv.rollback(deliver_savepoint)
            self._reload_caches()
            result.failed = True
            self.note(f"vat {vat_id} upgrade {upgrade_id} to {bundle_id[:23]}... failed, "
                      f"incarnation {old_incarnation} kept: {str(error)[:300]}")
            outcome = {"error": UPGRADE_FAILURE}
        else:
            self.note(f"vat {vat_id} upgraded to incarnation {old_incarnation + 1} ({bundle_id[:23]}...)")
            outcome = {"incarnationNumber": old_incarnation + 1}
        admin_root = kv.get("vatAdminRootKref")
        if admin_root:
            self.queue_to_kref(admin_root, "vat_upgrade_callback", [upgrade_id, outcome])

    def _disconnect_incarnation(self, info: _VatInfo, incarnation: int) -> None:
        """What an ending incarnation leaves behind: its promises (it forgets them) and its
        ephemeral exports (they die with its RAM)."""
        state = self.state
        kv = self.kv
        vat_id = info.vat_id
        clist = info.clist
        prefix = clist.prefix
        disconnect = error_capdata(f"vat {vat_id} upgraded: incarnation {incarnation} is gone",
                                   "UpgradeDisconnection")
        for key, value in kv.iter_prefix(prefix + "k"):
            kref = key[len(prefix):]
            vref = value[2:]
            if kref[1] == "p":
                st = state.kp_state(kref)
                if st == "unresolved":
                    if state.kp_decider(kref) == vat_id:
                        self.resolve_kernel_promise(kref, True, disconnect)
                    else:
                        state.remove_subscriber(kref, vat_id)
                clist.forget(vref, kref)
            elif kref[1] == "o" and vref[:2] == "o+" and vref != "o+0" and vref[:3] != "o+d":
                kv.delete(key)
                kv.delete(prefix + vref)
                kv.delete(f"{kref}.owner")  # abandoned: sends to it are rejected

    # ------------------------------------------------------------------ delivery
    def _deliver(self, info: _VatInfo, delivery: list, result: CrankResult,
                 terminate_on_failure: bool = True) -> None:
        vat_id = info.vat_id
        try:
            worker = self.warehouse.ensure_online(vat_id)
        except Exception as e:  # noqa: BLE001 - sorted out below
            if delivery[0] == "startVat":
                # first start: a worker that cannot be built is that vat's failure
                self._fail_delivery(info, f"cannot create worker: {type(e).__name__}: {e}", result,
                                    terminate_on_failure)
                return
            # an existing vat that cannot be brought back is a kernel failure
            raise self._panic(f"unable to re-create vat {vat_id} ({info.name}): {e}", e) from e
        sc = self._sc = []
        self._vat = info
        self._illegal = None
        self._exit = None
        self._kernel_error = None
        try:
            vres, trailing = worker.deliver(delivery, self._syscall_batch)
            if self._kernel_error is None and self.panic_error is None:
                for vsc in trailing:
                    self._syscall_one(vsc)
        except _KernelAbort:
            vres = None
        except KernelPanicError:
            raise
        except Exception as e:  # noqa: BLE001 - the worker died (crash, limits): that vat's failure
            vres = ["error", f"worker failed: {type(e).__name__}: {e}", None]
        finally:
            self._vat = None
        if self.panic_error is not None:
            raise self.panic_error
        if self._kernel_error is not None:
            err = self._kernel_error
            raise self._panic(f"kernel failure during a syscall of {vat_id}: {type(err).__name__}: {err}", err)
        result.delivered_to = vat_id
        result.computrons = DELIVERY_COMPUTRONS + SYSCALL_COMPUTRONS * len(sc)
        if vres[0] != "ok" or self._illegal is not None:
            problem = self._illegal if self._illegal is not None else vres[1]
            self._fail_delivery(info, problem, result, terminate_on_failure)
            return
        self.transcript_add(vat_id, transcript_entry(delivery, sc, result.computrons))
        if self._exit is not None:
            failure, info_capdata = self._exit
            self._exit = None
            self.terminate_vat(vat_id, failure, info_capdata)

    def _fail_delivery(self, info: _VatInfo, problem: str, result: CrankResult, terminate: bool) -> None:
        """Abort the crank: undo everything since `start` (the message returns to the queue
        head), then terminate the vat."""
        result.failed = True
        self._failure = problem
        if not terminate:
            return
        self.warehouse.evict(info.vat_id)
        self.kv.rollback(0)
        self._reload_caches()
        self.note(f"vat {info.vat_id} ({info.name}) failed: {problem}")
        self.terminate_vat(info.vat_id, True, error_capdata(f"vat terminated: {problem}", "VatTerminated"))

    # ------------------------------------------------------------------ syscalls
    def _syscall_batch(self, batch: list):
        r = None
        for vsc in batch:
            r = self._syscall_one(vsc)
        return r

    def _syscall_one(self, vsc):
        info = self._vat
        if self._illegal is not None:
            r = ["error", "vat is being terminated (earlier illegal syscall)"]
            self._sc.append({"s": vsc, "r": r})
            return r
        try:
            r = self._syscall(info, vsc)
        except IllegalSyscall as e:
            self._illegal = f"illegal syscall: {e}"
            r = ["error", str(e)]
        except _KernelAbort:
            raise
        except KernelPanicError:
            raise _KernelAbort() from None  # already recorded in self.panic_error
        except Exception as e:  # noqa: BLE001 - a kernel bug: recorded, turned into a panic after the delivery
            self._kernel_error = e
            raise _KernelAbort() from e
        self._sc.append({"s": vsc, "r": r})
        return r

    def _syscall(self, info: _VatInfo, vsc):
        if type(vsc) is not list or not vsc:
            raise IllegalSyscall(f"malformed syscall {vsc!r:.80}")
        t = vsc[0]
        if t == "send":
            self._sys_send(info, vsc)
            return _OK
        if t == "subscribe":
            self._sys_subscribe(info, vsc)
            return _OK
        if t == "resolve":
            self._sys_resolve(info, vsc)
            return _OK
        if t == "vatstoreGet":
            return ["ok", self.kv.get(self._vs_key(info, vsc, 2))]
        if t == "vatstoreSet":
            key = self._vs_key(info, vsc, 3)
            if type(vsc[2]) is not str:
                raise IllegalSyscall("vatstoreSet value must be a str")
            self.kv.set(key, vsc[2])
            return _OK
        if t == "vatstoreDelete":
            self.kv.delete(self._vs_key(info, vsc, 2))
            return _OK
        if t == "vatstoreGetNextKey":
            prefix = f"{info.vat_id}.vs."
            nxt = self.kv.get_next_key(self._vs_key(info, vsc, 2))
            return ["ok", nxt[len(prefix):] if nxt is not None and nxt.startswith(prefix) else None]
        if t == "callNow":
            return self._sys_call_now(info, vsc)
        if t == "exit":
            if len(vsc) != 3:
                raise IllegalSyscall("exit takes (failure, info)")
            self._exit = (bool(vsc[1]), info.clist.capdata_v2k(vsc[2]))
            return _OK
        raise IllegalSyscall(f"unknown syscall {t!r}")

    @staticmethod
    def _vs_key(info: _VatInfo, vsc: list, length: int) -> str:
        if len(vsc) != length or type(vsc[1]) is not str:
            raise IllegalSyscall(f"malformed {vsc[0]} syscall")
        return f"{info.vat_id}.vs.{vsc[1]}"

    def _sys_send(self, info: _VatInfo, vsc: list) -> None:
        if len(vsc) != 3 or type(vsc[2]) is not dict:
            raise IllegalSyscall("malformed send syscall")
        clist = info.clist
        state = self.state
        target = clist.v2k(vsc[1])
        if target[1] == "d":
            raise IllegalSyscall("cannot send to a device node (use D())")
        msg = vsc[2]
        methargs = clist.capdata_v2k(msg.get("methargs"))
        vres = msg.get("result")
        kres = None
        if vres is not None:
            if type(vres) is not str or vres[:1] != "p":
                raise IllegalSyscall(f"send result must be a promise vref, not {vres!r:.40}")
            kres = clist.v2k(vres)
            if state.kp_state(kres) != "unresolved" or state.kp_decider(kres) != info.vat_id:
                raise IllegalSyscall(f"send result {vres} is not an unresolved promise decided by {info.vat_id}")
            state.set_decider(kres, "")  # in flight: the receiving vat will decide it
        state.enqueue({"type": "send", "target": target, "msg": {"methargs": methargs, "result": kres}})

    def _sys_subscribe(self, info: _VatInfo, vsc: list) -> None:
        if len(vsc) != 2 or type(vsc[1]) is not str or vsc[1][:1] != "p":
            raise IllegalSyscall("malformed subscribe syscall")
        kp = info.clist.v2k(vsc[1])
        state = self.state
        if state.kp_state(kp) == "unresolved":
            state.add_subscriber(kp, info.vat_id)
        else:
            state.enqueue({"type": "notify", "vatID": info.vat_id, "kpid": kp})

    def _sys_resolve(self, info: _VatInfo, vsc: list) -> None:
        if len(vsc) != 2 or type(vsc[1]) is not list:
            raise IllegalSyscall("malformed resolve syscall")
        clist = info.clist
        state = self.state
        for res in vsc[1]:
            if type(res) is not list or len(res) != 3 or type(res[0]) is not str or res[0][:1] != "p":
                raise IllegalSyscall(f"malformed resolution {res!r:.80}")
            vpid, rejected, data = res
            kp = clist.v2k(vpid)
            if state.kp_state(kp) != "unresolved" or state.kp_decider(kp) != info.vat_id:
                raise IllegalSyscall(f"{info.vat_id} cannot resolve {vpid} ({kp}): not its decider")
            kdata = clist.capdata_v2k(data)
            self.resolve_kernel_promise(kp, bool(rejected), kdata)
            clist.forget(vpid, kp)

    def _sys_call_now(self, info: _VatInfo, vsc: list):
        if len(vsc) != 4 or type(vsc[2]) is not str:
            raise IllegalSyscall("malformed callNow syscall")
        clist = info.clist
        kd = clist.v2k(vsc[1])
        if kd[:2] != "kd":
            raise IllegalSyscall(f"callNow target {vsc[1]} is not a device node")
        args_capdata = clist.capdata_v2k(vsc[3])
        device = self.devices.get(self.kv.get(f"{kd}.owner"))
        if device is None:
            return ["error", f"no device for {vsc[1]}"]
        try:
            args = unserialize(args_capdata, lambda slot, iface, _p: KRef(slot, iface))
            if type(args) is not list:
                raise DeviceError("device arguments must be a list")
            value = device.invoke(vsc[2], args)
            out = serialize(value, _kref_slot)
        except (DeviceError, PassableError, TypeError, ValueError, KeyError) as e:
            return ["error", f"{type(e).__name__}: {e}"]
        return ["ok", clist.capdata_k2v(out)]

    # ------------------------------------------------------------------ promises
    def resolve_kernel_promise(self, kp: str, rejected: bool, data: dict) -> None:
        state = self.state
        subscribers, policy = state.settle(kp, rejected, data)
        terminated = state.terminated()
        for vat_id in subscribers:
            if vat_id not in terminated:
                state.enqueue({"type": "notify", "vatID": vat_id, "kpid": kp})
        for msg in state.take_promise_queue(kp):
            # Back to the run-queue, targeting kp: routing now finds it settled. The
            # item takes its own references; the promise queue's are released.
            state.enqueue({"type": "send", "target": kp, "msg": msg})
            for r in msg_krefs(msg):
                state.decref(r)
        if policy:
            body = data["body"]
            if policy == "panic" and rejected:
                raise self._panic(f"{kp}.policy panic: rejected {body[:300]}")
            if policy == "logAlways" or (policy == "logFailure" and rejected):
                self.note(f"{kp} {'rejected' if rejected else 'fulfilled'}: {body[:300]}")

    # ------------------------------------------------------------------ termination
    def terminate_vat(self, vat_id: str, failure: bool, info_capdata: dict | None) -> None:
        """Terminate a vat (inside a crank or a host bracket): promises it decides are
        rejected, its c-list is emptied (imports released), its exports keep their dead
        owner (sends to them reject), its transcript is closed, a dynamic vat leaves
        ``vat.dynamicIDs`` and vat-admin is told (``done()`` settles). Its vatstore and
        transcript items are kept. A critical vat's termination is a kernel panic."""
        state = self.state
        if vat_id in state.terminated():
            return
        info = self.vat(vat_id)
        reason = info_capdata["body"] if info_capdata else ""
        if info.critical:
            raise self._panic(f"critical vat {vat_id} ({info.name}) terminated: {reason[:300]}")
        state.mark_terminated(vat_id)
        self.warehouse.evict(vat_id)
        rejection = info_capdata if failure and info_capdata else _VAT_TERMINATED
        kv = self.kv
        if rejection is not _VAT_TERMINATED:
            try:
                why = unserialize(rejection, lambda sl, i, p: KRef(sl, i))
            except Exception:  # noqa: BLE001 - only used as text
                why = reason
            why = str(why)
            if not why.startswith("vat terminated"):
                why = f"vat terminated: {why}"
            kv.set(f"{vat_id}.terminationReason", _dumps(error_capdata(why[:500], "VatTerminated")))
        prefix = info.clist.prefix
        entries = kv.iter_prefix(prefix + "k")
        for key, _v in entries:
            kp = key[len(prefix):]
            if kp[1] == "p" and state.kp_state(kp) == "unresolved" and state.kp_decider(kp) == vat_id:
                self.resolve_kernel_promise(kp, True, rejection)
        for key, value in entries:
            kref = key[len(prefix):]
            kv.delete(key)
            kv.delete(prefix + value[2:])
            if kref[1] == "p":
                if state.kp_state(kref) == "unresolved":
                    state.remove_subscriber(kref, vat_id)
                state.decref(kref)
            elif kref[1] == "o" and state.owner_of(kref) != vat_id:
                state.decref(kref)
        self.kv.add_op("stop_using_transcript", vat_id)
        self.note(f"vat {vat_id} ({info.name}) terminated{' with failure' if failure else ''}: {reason[:300]}")
        if info.dynamic:
            state.remove_dynamic_vat(vat_id)
            admin_root = kv.get("vatAdminRootKref")
            if admin_root and admin_root.startswith("ko") and state.owner_of(admin_root) not in state.terminated():
                try:
                    value = unserialize(info_capdata, lambda sl, i, p: KRef(sl, i)) if info_capdata else None
                except Exception:  # noqa: BLE001 - a reason vat-admin cannot read is passed as text
                    value = reason
                self.queue_to_kref(admin_root, "vat_terminated", [vat_id, bool(failure), value])

    def _termination_rejection(self, vat_id) -> dict:
        """What a message to a terminated vat's object is rejected with."""
        if vat_id:
            raw = self.kv.get(f"{vat_id}.terminationReason")
            if raw is not None:
                return _loads(raw)
        return _VAT_TERMINATED

    def host_terminate_vat(self, vat_name: str, reason: str) -> bool:
        """Host/governance remedy: terminate a vat now, as its own hashed flush unit (the
        same call at the same point on every node gives the same state). Effects that
        need cranks (notifies, vat-admin's ``done()``) run at the next run(). Returns
        False if the vat was already terminated. A critical vat is refused (terminating
        it would panic the kernel)."""
        self._check_usable()
        vat_id = self.find_vat(vat_name) if vat_name else None
        if vat_id is None or not self.state.vat_exists(vat_id):
            raise KeyError(f"no vat {vat_name!r}")
        if vat_id in self.state.terminated():
            return False
        if self.vat(vat_id).critical:
            raise KernelStateError(f"vat {vat_id} ({self.vat(vat_id).name}) is critical: "
                                   "terminating it would panic the kernel")
        capdata = error_capdata(f"vat terminated: {reason}", "VatTerminated")
        self._outside_crank(self.terminate_vat, vat_id, True, capdata)
        return True

    # ------------------------------------------------------------------ devices & host inputs
    def queue_to_kref(self, kref: str, method: str, args: list, result_policy: str | None = None):
        """Queue a message from outside any vat (devices, host). Returns the result kpid
        or None. Must run inside a crank bracket."""
        methargs = serialize([method, args], _kref_slot)
        kp = None
        if result_policy is not None:
            kp = self.state.add_kernel_promise(policy=result_policy)
        self.state.enqueue({"type": "send", "target": kref, "msg": {"methargs": methargs, "result": kp}})
        return kp

    def resolve_vat_bundle(self, source) -> str:
        if type(source) is not str or not source:
            raise DeviceError("create_vat needs a bundle ID or a bundle name")
        if source.startswith("b1-"):
            bundle_id = source
        else:
            bundle_id = self.kv.get(f"namedBundleID.{source}")
            if bundle_id is None:
                raise DeviceError(f"no bundle named {source!r}")
        if not self.storage.bundles.has_bundle(bundle_id):
            raise DeviceError(f"bundle {bundle_id[:19]}... is not installed")
        try:
            manifest, _files = self._read_bundle(bundle_id)
        except Exception as e:  # noqa: BLE001 - any invalid bundle is the caller's error
            raise DeviceError(f"bundle {bundle_id[:19]}... is not a valid bundle: {e}") from None
        if manifest.get("kind") != "vat":
            raise DeviceError(f"bundle {bundle_id[:19]}... is a {manifest.get('kind')} bundle, not a vat bundle")
        return bundle_id

    def vat_parameters_capdata(self, params, powers=None) -> dict:
        """{"parameters", "powers"} capdata with krefs. Objects may be passed (they are
        counted while recorded); promises may not (nothing would keep them alive)."""
        try:
            data = serialize({"parameters": params if params is not None else {}, "powers": powers or {}},
                             _kref_slot)
        except PassableError as e:
            raise DeviceError(f"bad vat parameters: {e}") from None
        if any(slot[1] == "p" for slot in data["slots"]):
            raise DeviceError("vat parameters cannot carry promises")
        return data

    def request_create_vat(self, bundle_id: str, options: dict) -> str:
        options = dict(options)
        params = options.pop("parameters", None)
        if "vatParameters" in options:
            params = options.pop("vatParameters")
        params_capdata = self.vat_parameters_capdata(params)
        vat_id = self.state.allocate_vat_id()
        self.state.enqueue({"type": "create-vat", "vatID": vat_id, "source": {"bundleID": bundle_id},
                            "options": options, "vatParameters": params_capdata})
        return vat_id

    def request_upgrade_vat(self, vat_id: str, bundle_id: str, options: dict) -> str:
        """Queue an upgrade (vat-admin device hook). Returns the upgrade ID."""
        unknown = sorted(set(options) - UPGRADE_OPTIONS)
        if unknown:
            raise DeviceError(f"upgrade: unknown options {unknown}")
        state = self.state
        if not state.vat_exists(vat_id):
            raise DeviceError(f"upgrade: no vat {vat_id}")
        params_capdata = None
        if "vatParameters" in options:
            params_capdata = self.vat_parameters_capdata(options["vatParameters"])
        upgrade_id = f"up{state.next_id('vat.upgrade.nextID', 1)}"
        state.enqueue({"type": "upgrade-vat", "vatID": vat_id, "upgradeID": upgrade_id,
                       "bundleID": bundle_id, "vatParameters": params_capdata})
        return upgrade_id

    def request_terminate_vat(self, vat_id: str, reason) -> None:
        """Queue a termination (vat-admin device hook: terminate_with_failure)."""
        if not self.state.vat_exists(vat_id):
            raise DeviceError(f"terminate: no vat {vat_id}")
        try:
            capdata = serialize(reason)
        except PassableError as e:
            raise DeviceError(f"terminate: the reason must be plain data: {e}") from None
        self.state.enqueue({"type": "terminate-vat", "vatID": vat_id, "reason": capdata})

    def device(self, name: str):
        dev_id = self.device_names.get(name)
        if dev_id is None:
            raise KernelStateError(f"this swingset has no {name!r} device")
        return self.devices[dev_id]

    def timer_poll(self, height: int, time_ms: int) -> int:
        return self._outside_crank(self.device("timer").poll, height, time_ms)

    def bridge_inbound(self, obj) -> bool:
        return self._outside_crank(self.device("bridge").inbound, obj)

    def deliver_inbound(self, peer: str, messages: list, ack: int) -> bool:
        return self._outside_crank(self.device("mailbox").deliver_inbound, peer, messages, ack)

    def mailbox_outbox(self) -> dict:
        return self.device("mailbox").outbox()

    # ------------------------------------------------------------------ host API
    def queue_to_vat_root(self, vat_name: str, method: str, args: list, result_policy: str = "ignore") -> str:
        if result_policy not in ("ignore", "logAlways", "logFailure", "panic"):
            raise ValueError(f"unknown result policy {result_policy!r}")
        if type(args) is not list:
            raise TypeError("args must be a list")
        vat_id = self.find_vat(vat_name)
        if vat_id is None:
            raise KeyError(f"no vat named {vat_name!r}")
        root = self.kv.get(f"{vat_id}.c.o+0")
        if root is None and vat_id in self.state.terminated():
            def dead():
                kp = self.state.add_kernel_promise(policy=result_policy)
                self.state.incref(kp)
                self.resolve_kernel_promise(kp, True, self._termination_rejection(vat_id))
                return kp

            return self._outside_crank(dead)
        if root is None:
            raise KeyError(f"vat {vat_name!r} has no root object")

        def queue():
            kp = self.queue_to_kref(root, method, args, result_policy)
            self.state.incref(kp)  # the host's interest: kp_status keeps working
            return kp

        return self._outside_crank(queue)

    def find_vat(self, name: str):
        """vatID for a static vat name, a vatID, or a dynamic vat's name (the first one
        created under it)."""
        state = self.state
        vat_id = state.vat_id_of(name)
        if vat_id is not None:
            return vat_id
        if state.vat_exists(name):
            return name
        for dyn in state.dynamic_vat_ids():
            if self.vat(dyn).name == name:
                return dyn
        for dead in sorted(state.terminated()):
            if self.vat(dead).dynamic and self.vat(dead).name == name:
                return dead
        return None

    def kp_status(self, kp: str):
        state = self.state.kp_state(kp)
        if state is None:
            raise KeyError(f"unknown promise {kp} (never existed or released)")
        if state == "unresolved":
            return state, None
        return state, self.state.kp_data(kp)

    def kp_release(self, kp: str) -> None:
        if self.state.kp_state(kp) is None:
            return
        self._outside_crank(self.state.decref, kp)

    def set_kernel_bundle_id(self, bundle_id: str) -> None:
        self._outside_crank(self.kv.set, "kernelBundleID", bundle_id)

    def get_status(self) -> dict:
        state = self.state
        kv = self.kv
        vats = []
        terminated = state.terminated()
        ids = [state.vat_id_of(n) for n in state.static_vat_names()] + state.dynamic_vat_ids()
        ids += sorted((v for v in terminated if v not in ids), key=lambda v: int(v[1:]))
        for vat_id in ids:
            options = _loads(kv.get(f"{vat_id}.options") or "{}")
            source = _loads(kv.get(f"{vat_id}.source") or "{}")
            bounds = self.transcript_bounds(vat_id)
            vats.append({
                "id": vat_id,
                "name": options.get("name") or vat_id,
                "dynamic": bool(options.get("dynamic")),
                "incarnation": bounds["incarnation"] if bounds else None,
                "bundleID": source.get("bundleID"),
                "kernelVat": source.get("kernelVat"),
                "transcriptLength": bounds["endPos"] if bounds else None,
                "critical": bool(options.get("critical")),
                "terminated": vat_id in terminated,
                "online": vat_id in self.warehouse.online,
                "managerType": self.warehouse.manager_type(options) if "bundleID" in source else "local",
            })
        return {
            "crankNumber": state.crank_number(),
            "runQueueLength": state.queue_length(),
            "vats": vats,
            "bundleID": self.kernel_bundle_id,
            "nextBundleID": kv.get("kernelBundleID"),
            "activityHash": self.storage.get_activity_hash(),
            "kernelVersion": KERNEL_VERSION,
            "stateSchemaVersion": STATE_SCHEMA_VERSION,
            "panic": str(self.panic_error) if self.panic_error else None,
            "maxVatsOnline": self.warehouse.max_online,
        }

    def run_queue_items(self, limit: int = 50) -> list:
        return self.state.peek_items(limit)

    def shutdown(self) -> None:
        if not self._closed:
            self.warehouse.shutdown()
            self._closed = True


def _kref_slot(v):
    if isinstance(v, KRef):
        return (v.kref, v.kref[1] == "p", v.iface)
    raise PassableError(f"cannot pass {type(v).__name__} from the kernel side")
