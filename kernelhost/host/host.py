"""Block directives: INIT, BEGIN_BLOCK, END_BLOCK, COMMIT_BLOCK, AFTER_COMMIT (DESIGN §2).

Two atomicity domains commit one after the other: the swing-store at COMMIT_BLOCK (point A),
then the chain (point B). Everything the kernel side did to the chain during block h (the
chain-sends, with their results) is written to `host.chainSends` in the same swing-store
commit, and the export-data deltas of h are kept by the swing-store itself. If the node dies
between A and B, the chain re-executes h: BEGIN_BLOCK(h) finds host.height == h and the host
*replays* — it re-applies the recorded sends, checks each result, re-sends the export deltas,
and runs nothing in the kernel.

Height rules (like cosmic-swingset's blockNeedsExecution): h == saved+1 executes, h == saved
replays, anything else is "decohered" and stops the node; so is a second BEGIN_BLOCK for a
height this process already began. Errors are sticky.

Paused mode (seed 000): a kernel panic in END_BLOCK rolls the swing-store back to its last
commit, rolls back the chain-sends of the kernel phase (a chain savepoint) and records
KERNEL_PAUSED; the block still commits with the chain's own transactions. While paused no
directive reaches the kernel (it is not even loaded). Governance host actions (resume,
upgrade) run at the start of the next block's END_BLOCK, before any kernel work, so a
failed upgrade can be undone with a swing-store rollback that loses nothing else; a block
that ran a host action does no other kernel work.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from kernelhost.chain.types import HostAction
from kernelhost.failpoints import FailpointError, failpoint

from . import kernelport
from .budget import BlockBudget, block_budget
from .delivery import deliver_action
from .errors import DecoheredError, HostError, ReplayMismatchError
from .ports import ChainPort
from .upgrade import UpgradeFailed, upgrade_kernel

log = logging.getLogger(__name__)

HEIGHT_KEY = "host.height"
BEGIN_HEIGHT_KEY = "host.beginHeight"
CHAIN_SENDS_KEY = "host.chainSends"
BOOTSTRAPPED_KEY = "host.bootstrapped"
EXECUTE = "execute"
REPLAY = "replay"
# The kernel fires kernel.after_crank itself when it accepts a `failpoint` option; a
# controller without that hook gets it fired by the host between step() calls.
KERNEL_FAILPOINT_OPTION = "failpoint"
BOOTSTRAP_CRANK_LIMIT = 1_000_000
DEFAULT_WORKERS = object()  # Host(worker_factory=...) default: kernelhost.workers subprocess workers


@dataclass
class BlockStats:
    """Non-consensus figures of one block, for the block record and the console."""

    height: int = 0
    mode: str = ""
    cranks: int = 0
    kernel_s: float = 0.0
    swingstore_commit_s: float = 0.0
    chain_sends: int = 0
    actions_done: int = 0
    export_records: int = 0
    panicked: str | None = None
    host_actions: list = field(default_factory=list)


class Host:
    def __init__(self, store, *, devices_extra: dict | None = None, controller_options: dict | None = None,
                 worker_factory=DEFAULT_WORKERS) -> None:
        """`store` must have been opened with `export_callback=host.on_export` — use
        `Host.open()`, which does both.

        `worker_factory`: the controller's factory for non-local vats. By default the
        subprocess workers of `kernelhost.workers` (dynamic vats run there: the kernel's
        default when a factory is given); None runs every vat in this process. The choice
        is node-local, never consensus (the transcript records "default")."""
        self.store = store
        self.controller = None
        if worker_factory is DEFAULT_WORKERS:
            from kernelhost.workers import make_worker_factory

            worker_factory = make_worker_factory()
        self._worker_factory = worker_factory
        self._controller_options = dict(controller_options or {})
        self._devices_extra = dict(devices_extra or {})
        self._decohered: str | None = None
        self._mode: str | None = None
        self._height: int | None = None
        self._began: int | None = None  # height this process last began (BEGIN twice guard)
        self._chain: ChainPort | None = None
        self._sends: list[dict] = []
        self._exports: dict[str, str | None] = {}
        self.stats = BlockStats()
        self.current_action: str | None = None
        self.saved_height = 0
        # Outside a block nobody is ready to take export-data (seed 003's guard).
        store.host.set_export_callback_allowed(False)

    @classmethod
    def open(cls, path, **kwargs) -> Host:
        from kernelhost.swingstore import open_swingstore

        holder: list[Host] = []
        store = open_swingstore(path, export_callback=lambda records: holder[0].on_export(records))
        try:
            host = cls(store, **kwargs)
        except BaseException:
            store.close()
            raise
        holder.append(host)
        host.init()
        return host

    # -- INIT ---------------------------------------------------------------------------

    def init(self) -> None:
        self.saved_height = int(self.store.host.kv.get(HEIGHT_KEY) or 0)

    def close(self) -> None:
        if self.controller is not None:
            try:
                self.controller.shutdown()
            except Exception:  # noqa: BLE001 - closing anyway
                log.exception("controller shutdown failed")
            self.controller = None
        self.store.close()

    # -- the export callback ------------------------------------------------------------

    def on_export(self, records) -> None:
        # The swing-store only calls this while allowed (it raises otherwise). Later records
        # for a key win, exactly as the store merges its block deltas.
        for key, value in records:
            self._exports[key] = value

    # -- BEGIN_BLOCK ----------------------------------------------------------------------

    def _check_coherent(self) -> None:
        if self._decohered:
            raise DecoheredError(self._decohered)

    def _decohere(self, message: str, cls=DecoheredError):
        self._decohered = message
        log.error("node stopped: %s", message)
        raise cls(message)

    def begin_block(self, height: int, time_ms: int) -> str:
        """Returns "execute" or "replay"."""
        self._check_coherent()
        if self._mode is not None:
            self._decohere(f"BEGIN_BLOCK({height}) while block {self._height} is still open")
        saved = self.saved_height
        if height == saved + 1:
            mode = EXECUTE
        elif height == saved:
            mode = REPLAY
        else:
            self._decohere(f"decohered: Unimplemented reset state from {saved} to {height} "
                           f"(swing-store committed block {saved}, chain asks for block {height})")
        if mode == EXECUTE and self._began == height:
            self._decohere(f"decohered: BEGIN_BLOCK({height}) seen twice: this process already began executing "
                           f"block {height} and did not commit it")
        self._mode, self._height, self._began = mode, height, height
        self._time_ms = time_ms
        self.stats = BlockStats(height=height, mode=mode)
        # Clear the previous block's sends now, not after a restart only (SwingSet #8652:
        # stale sends would be replayed twice after a later crash).
        self._sends = []
        self._exports = {}
        if mode == EXECUTE:
            self.store.host.kv.set(BEGIN_HEIGHT_KEY, str(height))
        self.store.host.set_export_callback_allowed(True)
        return mode

    # -- END_BLOCK ------------------------------------------------------------------------

    def _expect(self, directive: str, height: int) -> None:
        self._check_coherent()
        if self._mode is None or height != self._height:
            self._decohere(f"decohered: {directive}({height}) but the open block is {self._height}")

    def end_block(self, height: int, chain: ChainPort) -> BlockStats:
        self._expect("END_BLOCK", height)
        self._chain = chain
        try:
            if self._mode == REPLAY:
                self._replay(chain)
            else:
                self._execute(chain, height)
        finally:
            self._chain = None
        return self.stats

    def _record(self, chain: ChainPort, send: dict) -> dict:
        result = chain.apply_send(send)
        self._sends.append({"send": send, "result": result})
        return result

    def chain_send(self, send: dict) -> dict:
        """The bridge device's call into the chain (synchronous; recorded)."""
        if self._chain is None:
            raise HostError(f"chain-send {send.get('type')!r} outside END_BLOCK")
        # A vat is blocked in a device call: the middle of a delivery. The kernel has no
        # failpoint hook of its own, so the host fires this one here.
        failpoint("kernel.mid_delivery")
        return self._record(self._chain, send)

    def _replay(self, chain: ChainPort) -> None:
        raw = self.store.host.kv.get(CHAIN_SENDS_KEY)
        saved = json.loads(raw) if raw else []
        for number, entry in enumerate(saved):
            send = entry["send"]
            result = chain.apply_send(send)
            if result != entry["result"]:
                self._decohere(
                    f"fatal: replaying chain-send #{number} {send.get('type')} {json.dumps(send, sort_keys=True)[:200]}"
                    f" resulted in {json.dumps(result, sort_keys=True)}; expected "
                    f"{json.dumps(entry['result'], sort_keys=True)}", ReplayMismatchError)
            self._sends.append(entry)
        deltas = self.store.host.get_export_deltas()
        chain.apply_export_records([(k, v) for k, v in deltas])
        self.stats.chain_sends = len(self._sends)
        self.stats.export_records = len(deltas)

    def _execute(self, chain: ChainPort, height: int) -> None:
        host_actions = chain.pending_host_actions()
        started = time.perf_counter()
        if host_actions:
            # One per block: a failed upgrade rolls the swing-store back to its last commit,
            # which must not take another action's effects with it.
            self._run_host_action(chain, host_actions[0])
        elif not chain.kernel_paused():
            self._kernel_phase(chain, height)
        self.stats.kernel_s = time.perf_counter() - started
        self._flush_exports()
        records = sorted(self._exports.items())
        chain.apply_export_records(records)
        self.stats.export_records = len(records)
        self.stats.chain_sends = len(self._sends)

    # -- the kernel phase -----------------------------------------------------------------

    def ensure_controller(self):
        if self.controller is None:
            options = dict(self._controller_options)
            options.setdefault(KERNEL_FAILPOINT_OPTION, failpoint)
            devices = {"bridge": self.chain_send, **self._devices_extra}
            self.controller = kernelport.controller_module().make_controller(
                self.store.kernel, devices=devices, worker_factory=self._worker_factory, options=options)
        return self.controller

    def _kernel_phase(self, chain: ChainPort, height: int) -> None:
        mark = len(self._sends)
        panics = kernelport.panic_types()
        panic = None
        with chain.savepoint() as savepoint:
            try:
                self._run_kernel(chain, height)
            except panics as exc:
                savepoint.rollback()
                panic = exc
        if panic is not None:
            self._pause(chain, panic, mark)  # after the savepoint is gone: this send stays

    def _run_kernel(self, chain: ChainPort, height: int) -> None:
        controller = self.ensure_controller()
        if hasattr(controller, "timer_poll"):
            controller.timer_poll(height, self._time_ms)
        kv = self.store.host.kv
        if kv.get(BOOTSTRAPPED_KEY) is None:
            # The bootstrap block (as in cosmic-swingset): genesis work runs to the end, so
            # the vats are wired before the first action (a balance update needs the bank
            # handler registered). The key commits with the kernel's work, so a panic that
            # rolls the bootstrap back makes the next kernel block a bootstrap block again.
            self._run(controller, BlockBudget(BOOTSTRAP_CRANK_LIMIT))
            kv.set(BOOTSTRAPPED_KEY, str(height))
        params = chain.params()
        budget = block_budget(chain.crank_budget(), params)
        self._run(controller, budget)  # last block's leftover work first
        for action in chain.pending_actions(limit=budget.cranks + 1):
            if not budget.left():
                break  # unfinished work stays queued for the next block
            self.current_action = action["actionID"]
            result = deliver_action(controller, action, params)
            self._record(chain, {"type": "ACTION_DONE", "actionID": action["actionID"], "result": result})
            self.stats.actions_done += 1
            tx = action["body"].get("tx")
            if tx is not None:
                self._record(chain, {"type": "TX_RESULT", "tx": tx, "data": result})
            self._run(controller, budget)
        self.current_action = None
        self._resolve_swingset_results(chain, controller)

    def _run(self, controller, budget: BlockBudget) -> None:
        """Run the kernel under the block's budget (shared by the leftover work and every
        action's work). `controller.run(budget)` batches the kernel's writes into one flush
        unit per call; its activity hash is restart-safe (kernel write buffer: the skip
        rule depends only on stored state). The crank that crosses the computron budget
        completes (cranks are atomic); what is left waits in the run-queue for the next
        block."""
        if not budget.left():
            return
        if getattr(controller, "fires_failpoints", False):
            self.stats.cranks += controller.run(budget)
            return
        # A controller without the kernel's failpoint hook (a stand-in): one crank per
        # step(), so the host can fire kernel.after_crank between cranks.
        while budget.left():
            done = controller.step()
            if not done:
                return
            budget.empty_crank()
            self.stats.cranks += done
            failpoint("kernel.after_crank")

    def _resolve_swingset_results(self, chain: ChainPort, controller) -> None:
        """swingset/send results: once the kernel settles a send's result promise, the
        transaction's result data shows it (status fulfilled/rejected and the value)."""
        for tx, kpid in chain.unresolved_swingset_sends():
            try:
                status, value = controller.kp_status(kpid)
            except (KeyError, ValueError, LookupError):
                status, value = "unknown", None
            if status != "unresolved":
                self._record(chain, {"type": "TX_RESULT", "tx": tx,
                                     "data": {"status": status, "value": _jsonable(value)}})
                if status != "unknown" and hasattr(controller, "kp_release"):
                    controller.kp_release(kpid)  # the host's interest in the result ends here

    def _pause(self, chain: ChainPort, exc: BaseException, mark: int) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        log.error("kernel panic in block %s (action %s): %s — kernel paused", self._height, self.current_action,
                  reason)
        # Back to the last commit: the kernel's uncommitted work of this block and the
        # export records it produced are gone; its chain-sends were rolled back with the
        # savepoint, so forget their records too.
        self.store.host.rollback()
        self.store.host.kv.set(BEGIN_HEIGHT_KEY, str(self._height))
        self._drop_controller()
        del self._sends[mark:]
        self._exports = {}
        self.stats.panicked = reason
        self._record(chain, {"type": "KERNEL_PAUSED", "reason": reason, "actionID": self.current_action})
        self.current_action = None

    def _drop_controller(self) -> None:
        controller, self.controller = self.controller, None
        if controller is not None:
            try:
                controller.shutdown()
            except Exception:  # noqa: BLE001 - a panicked kernel may not shut down cleanly
                log.debug("shutdown after panic failed", exc_info=True)

    # -- host actions (governance) ----------------------------------------------------------

    def _run_host_action(self, chain: ChainPort, action: HostAction) -> None:
        self.stats.host_actions.append(action.as_dict())
        done = {"type": "HOST_ACTION_DONE", "action": action.as_dict(), "ok": True, "reason": "",
                "oldBundleID": None, "newBundleID": None}
        if action.kind == "upgradeKernel":
            done.update(self._upgrade(action.params.get("bundleID")))
            self._record(chain, done)
            return
        if action.kind != "resumeKernel":
            done.update(ok=False, reason=f"unknown host action {action.kind!r}")
            self._record(chain, done)
            return
        if not chain.kernel_paused():
            done.update(ok=False, reason="kernel is not paused")
            self._record(chain, done)
            return
        remedy = action.params.get("remedy", "retry")
        if remedy == "upgradeKernel":
            done.update(self._upgrade(action.params.get("bundleID")))
        elif remedy == "terminateVat":
            done.update(self._terminate_vat(action.params.get("vatID")))
        elif remedy == "skipAction":
            result = self._record(chain, {"type": "ACTION_SKIPPED", "actionID": action.params.get("actionID"),
                                          "reason": f"resumeKernel proposal {action.proposal_id}"})
            if not result.get("ok"):
                done.update(ok=False, reason=result.get("error", "cannot skip"))
        elif remedy != "retry":
            done.update(ok=False, reason=f"unknown remedy {remedy!r}")
        if done["ok"]:
            self._record(chain, {"type": "KERNEL_RESUMED", "remedy": remedy})
        self._record(chain, done)

    def _upgrade(self, bundle_id) -> dict:
        try:
            old, new = upgrade_kernel(self, bundle_id)
        except UpgradeFailed as exc:
            self._undo_kernel_work()
            return {"ok": False, "reason": str(exc), "oldBundleID": exc.old_bundle_id, "newBundleID": None}
        return {"ok": True, "reason": "", "oldBundleID": old, "newBundleID": new}

    def _terminate_vat(self, vat_id) -> dict:
        """Remedy terminateVat: remove the culprit, then resume. Only a NON-critical vat can
        be terminated (the controller refuses a critical one with ValueError: terminating it
        would panic the kernel again on every node); the resume then fails and the kernel
        stays paused (use skipAction or upgradeKernel). The termination is its own hashed
        flush unit, committed with this block; the poison action is re-delivered from the
        next block and goes splat against the dead vat instead of reaching the critical one."""
        if not isinstance(vat_id, str) or not vat_id:
            return {"ok": False, "reason": "terminateVat needs a vatID"}
        try:
            controller = self.ensure_controller()
            terminate = getattr(controller, "terminate_vat", None)
            if terminate is None:
                self._drop_controller()  # still paused: the kernel stays unloaded
                return {"ok": False, "reason": "this kernel cannot terminate vats (no controller.terminate_vat)"}
            terminated = terminate(vat_id, "terminated by governance (resumeKernel remedy)")
        except FailpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - KeyError (unknown vat), ValueError (critical) -> governance
            self._undo_kernel_work()
            reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            return {"ok": False, "reason": f"{type(exc).__name__}: {reason}"}
        if not terminated:
            self._undo_kernel_work()
            return {"ok": False, "reason": f"vat {vat_id} was already terminated: nothing removed"}
        return {"ok": True}

    def _undo_kernel_work(self) -> None:
        """Forget every uncommitted kernel change of this block (none but the host action's:
        host actions run first)."""
        self.store.host.rollback()
        self.store.host.kv.set(BEGIN_HEIGHT_KEY, str(self._height))
        self._drop_controller()
        self._exports = {}

    def _flush_exports(self) -> None:
        """Hand pending export records to the callback while it is still allowed: work done
        outside a crank (a kernel upgrade's schema migration) would otherwise only flush at
        commit(), after the guard closed (seed 003, problem 2)."""
        kernel = self.store.kernel
        if not kernel.in_crank:
            kernel.start_crank()
            kernel.end_crank()

    # -- COMMIT_BLOCK / AFTER_COMMIT ----------------------------------------------------------

    def commit_block(self, height: int) -> None:
        self._expect("COMMIT_BLOCK", height)
        self.store.host.set_export_callback_allowed(False)
        if self._mode == REPLAY:
            # Already committed (point A happened before the crash); committing again would
            # replace the durable export deltas of h with an empty set.
            return
        kv = self.store.host.kv
        kv.set(HEIGHT_KEY, str(height))
        kv.set(CHAIN_SENDS_KEY, json.dumps(self._sends, separators=(",", ":")))
        failpoint("host.before_swingstore_commit")
        started = time.perf_counter()
        self.store.host.commit()  # point A
        self.stats.swingstore_commit_s = time.perf_counter() - started
        self.saved_height = height
        failpoint("host.after_swingstore_commit")

    def after_commit(self, height: int) -> BlockStats:
        self._expect("AFTER_COMMIT", height)
        self._mode = None
        return self.stats

    def abort_block(self) -> None:
        """The chain failed before committing the open block: nothing of it may stay in
        memory, and the swing-store goes back to its last commit unless it already passed
        point A (then the chain will replay the block after a restart)."""
        if self._mode == EXECUTE and self.saved_height != self._height:
            self.store.host.rollback()
            self._drop_controller()
        self._mode = None
        self._sends = []
        self._exports = {}
        self.store.host.set_export_callback_allowed(False)

    @property
    def chain_sends(self) -> list[dict]:
        return list(self._sends)


def _jsonable(value):
    """A kernel value as JSON for a tx result: object references by their kref, errors by
    their message (deterministic: no ids, no addresses)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return {"error": f"{getattr(value, 'name', type(value).__name__)}: {value}"}
    kref = getattr(value, "kref", None)
    if kref is not None:
        return {"kref": kref, "iface": getattr(value, "iface", None)}
    return {"repr": type(value).__name__}
