"""The vat warehouse: which vats have a live worker, and how a vat comes back.

`ensure_online(vat_id)` returns the vat's worker, creating it on first use: it
builds the worker from the vat's recorded source (`vNN.source`, bundle from the
bundle store) and replays the *current transcript span* into it. Replay
re-delivers every recorded delivery with a syscall handler that answers from
the transcript and checks that the vat makes exactly the recorded syscalls;
any difference ("anachrophobia") is a `ReplayError`, which the kernel turns
into a panic. Replay never touches kernel state.

At most `max_online` workers live at once (kernel option ``maxVatsOnline``,
default 50): the least recently used one is shut down without touching the
store, and comes back by replay on its next delivery. Vat upgrade (kernel.py)
= `evict` + transcript ``shutdown-worker`` + ``rollover_incarnation`` + a new
worker on the new bundle. A heap-snapshot policy would bound replay length.

Transcript entry (JSON): ``{"d": delivery, "sc": [{"s": syscall, "r": result}],
"r": {"status": "ok", "computrons": N}}``; a span starts with a pseudo-delivery
``["initialize-worker", {"source": ..., "workerOptions": {"type": ...}}]``.
"""

from __future__ import annotations

from .errors import ReplayError
from .jsonfast import dumps as _dumps
from .jsonfast import loads as _loads
from .worker import LocalWorker

__all__ = ["VatWarehouse", "transcript_entry", "DEFAULT_MAX_VATS_ONLINE"]

DEFAULT_MAX_VATS_ONLINE = 50


def transcript_entry(delivery: list, syscalls: list, computrons: int) -> str:
    return _dumps({"d": delivery, "sc": syscalls, "r": {"status": "ok", "computrons": computrons}})


def shutdown_worker_entry() -> str:
    return _dumps({"d": ["shutdown-worker"], "sc": [], "r": {"status": "ok"}})


def initialize_worker_entry(source: dict, manager_type: str) -> str:
    return _dumps({"d": ["initialize-worker", {"source": source, "workerOptions": {"type": manager_type}}],
                   "sc": [], "r": {"status": "ok"}})


class VatWarehouse:
    """Workers online, at most `max_online` of them (least recently used goes offline;
    that never touches the store: the vat comes back by replay on its next delivery)."""

    def __init__(self, kernel, *, kernel_vats: dict, worker_factory=None, read_bundle=None,
                 kernel_bundle=None, log=None, max_online: int = DEFAULT_MAX_VATS_ONLINE,
                 dynamic_manager_type: str | None = None, bundle_swaps: dict | None = None):
        self.kernel = kernel
        self.online: dict = {}  # vatID -> worker, least recently used first
        self.kernel_vats = kernel_vats
        self.worker_factory = worker_factory
        self.read_bundle = read_bundle
        self.kernel_bundle = kernel_bundle  # (id, bytes-getter) for subprocess workers
        self.log = log
        self.max_online = max(1, int(max_online))
        # Worker type of dynamic vats that do not ask for one: a node-local choice (the
        # same liveslots runs in both), so it is not recorded in consensus state.
        self.dynamic_manager_type = dynamic_manager_type or ("subprocess" if worker_factory else "local")
        self.bundle_swaps = dict(bundle_swaps or {})  # test-only: load bundle B where A is recorded
        self.replayed_deliveries = 0
        self.replayed_by_vat: dict = {}  # vatID -> deliveries replayed (this process)
        self.evictions = 0

    def ensure_online(self, vat_id: str):
        online = self.online
        w = online.get(vat_id)
        if w is None:
            w = self._create_worker(vat_id)
            try:
                self._replay(vat_id, w)
            except BaseException:
                w.shutdown()
                raise
            while len(online) >= self.max_online:
                self._evict_lru()
            online[vat_id] = w
        elif next(reversed(online)) != vat_id:
            del online[vat_id]  # most recently used goes last
            online[vat_id] = w
        return w

    def _evict_lru(self) -> None:
        vat_id = next(iter(self.online))
        self.evictions += 1
        self.evict(vat_id)

    def manager_type(self, options: dict) -> str:
        """The worker type a vat actually runs on (node-local, not consensus).

        A dynamic vat's own request for "local" is honoured only where the host runs dynamic
        vats locally anyway: otherwise vat code could choose to run inside the node, with
        no CPU or memory limit (one huge-integer expression would stall every block)."""
        mt = options.get("managerType")
        if options.get("dynamic") and (not mt or mt == "local"):
            return self.dynamic_manager_type
        if mt:
            return mt
        return self.kernel.kv.get("kernel.defaultManagerType") or "local"

    def recorded_manager_type(self, options: dict) -> str:
        """What the transcript's initialize-worker entry records (consensus: it must not
        depend on the node's worker_factory)."""
        mt = options.get("managerType")
        if mt:
            return mt
        if options.get("dynamic"):
            return "default"
        return self.kernel.kv.get("kernel.defaultManagerType") or "local"

    def _create_worker(self, vat_id: str):
        kv = self.kernel.kv
        source = _loads(kv.get(f"{vat_id}.source"))
        options = _loads(kv.get(f"{vat_id}.options"))
        log = self._vat_log(vat_id)
        if "kernelVat" in source:
            build_namespace = self.kernel_vats.get(source["kernelVat"])
            if build_namespace is None:
                raise ReplayError(f"{vat_id}: this kernel has no built-in vat {source['kernelVat']!r}")
            return LocalWorker(namespace_loader=build_namespace, log=log)
        bundle_id = source["bundleID"]
        bundle_id = self.bundle_swaps.get(bundle_id, bundle_id)
        try:
            manifest, files = self.read_bundle(bundle_id)
        except Exception as e:  # noqa: BLE001 - named in the error the kernel reports
            raise ReplayError(f"{vat_id}: cannot load its bundle {bundle_id}: {type(e).__name__}: {e}") from e
        entry = manifest["entry"]
        mtype = self.manager_type(options)
        if mtype == "local":
            return LocalWorker(files=files, entry=entry, log=log)
        if self.worker_factory is None:
            raise ReplayError(f"{vat_id} needs a {mtype!r} worker but the host gave no worker_factory")
        kid, get_kernel_bundle = self.kernel_bundle or (None, lambda: None)
        spec = {
            "vatID": vat_id, "managerType": mtype, "name": options.get("name"), "source": source,
            "entry": entry, "vatBundle": self._bundle_bytes(bundle_id), "kernelBundleID": kid,
            "kernelBundle": get_kernel_bundle(), "options": options,
        }
        return self.worker_factory(spec)

    def _bundle_bytes(self, bundle_id: str):
        return self.kernel.storage.bundles.get_bundle(bundle_id)

    def _vat_log(self, vat_id: str):
        log = self.log
        if log is None:
            return None
        return lambda text: log(f"{vat_id}: {text.rstrip()}")

    def _replay(self, vat_id: str, worker) -> None:
        start, items = self.kernel.transcript_span(vat_id)
        if not items:
            raise ReplayError(f"{vat_id} has an empty transcript span (no initialize-worker entry)")
        first = _loads(items[0])
        if first["d"][0] not in ("initialize-worker", "load-snapshot"):
            raise ReplayError(f"{vat_id}: transcript span starts with {first['d'][0]!r}")
        for offset, raw in enumerate(items[1:], start=1):
            entry = _loads(raw)
            replay_one(vat_id, worker, entry, start + offset)
        n = len(items) - 1
        self.replayed_deliveries += n
        self.replayed_by_vat[vat_id] = self.replayed_by_vat.get(vat_id, 0) + n

    def evict(self, vat_id: str) -> None:
        w = self.online.pop(vat_id, None)
        if w is not None:
            w.shutdown()

    def shutdown(self) -> None:
        for vat_id in sorted(self.online):
            self.evict(vat_id)


def _canon(vsc) -> str:
    return _dumps(vsc)


def replay_one(vat_id: str, worker, entry: dict, position: int) -> None:
    recorded = entry["sc"]
    i = 0

    def check(vsc):
        nonlocal i
        if i >= len(recorded):
            raise ReplayError(f"{vat_id} transcript position {position}: extra syscall {_canon(vsc)[:200]}")
        expected = recorded[i]
        i += 1
        if _canon(vsc) != _canon(expected["s"]):
            raise ReplayError(f"{vat_id} transcript position {position}: syscall #{i} differs: "
                              f"made {_canon(vsc)[:200]}, recorded {_canon(expected['s'])[:200]}")
        return expected["r"]

    failure: list = []

    def handler(batch):
        r = None
        try:
            for vsc in batch:
                r = check(vsc)
        except ReplayError as e:
            failure.append(e)
            raise
        return r

    result, trailing = worker.deliver(entry["d"], handler)
    if failure:
        raise failure[0]
    for vsc in trailing:
        check(vsc)
    if i != len(recorded):
        raise ReplayError(f"{vat_id} transcript position {position}: vat made {i} syscalls, "
                          f"{len(recorded)} recorded; missing {_canon(recorded[i]['s'])[:200]}")
    if result[0] != "ok":
        raise ReplayError(f"{vat_id} transcript position {position}: delivery failed on replay: {result[1]}")
