"""The pingpong benchmark (DESIGN §5): the peer workload of SwingSet 0.33.

bootstrap asks alice to ping bob N times, alice awaiting each reply; a fresh
on-disk swing-store; one commit at the end. Each ping is two cranks (bob's
delivery, then the notify that wakes alice), plus a few for bootstrap.
"""

from __future__ import annotations

import time
from pathlib import Path

from kernelhost.controller import initialize_swingset, make_controller
from kernelhost.swingstore import open_swingstore

__all__ = ["run_pingpong", "pingpong_config", "run_replay", "replay_config"]

DEMO_VATS = Path(__file__).resolve().parent / "demo" / "vats"


def pingpong_config(worker: str = "local") -> dict:
    vat = {"managerType": worker}
    return {
        "bootstrap": "bootstrap",
        "devices": [],
        "vats": {
            "bootstrap": dict(vat, source=str(DEMO_VATS / "bootstrap"), critical=True),
            "alice": dict(vat, source=str(DEMO_VATS / "alice")),
            "bob": dict(vat, source=str(DEMO_VATS / "bob")),
        },
    }


def _store_file(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix in (".sqlite", ".db"):
        return p
    return p / "swingstore.sqlite"


def _worker_factory(worker: str):
    if worker == "local":
        return None
    try:
        from kernelhost.workers import make_worker_factory
    except ImportError as e:
        raise RuntimeError(f"worker type {worker!r} needs kernelhost.workers.make_worker_factory: {e}") from e
    return make_worker_factory()


def run_pingpong(n: int, worker: str = "local", path: str | Path = "var/bench") -> dict:
    """Run the workload on a fresh store under `path` (a directory, or a .sqlite file);
    returns the figures as a dict."""
    db = _store_file(path)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    factory = _worker_factory(worker)
    t0 = time.perf_counter()
    store = open_swingstore(db)
    try:
        initialize_swingset(store.kernel, pingpong_config(worker))
        controller = make_controller(store.kernel, worker_factory=factory)
        controller.run()  # start the vats, run bootstrap()
        kp = controller.queue_to_vat_root("bootstrap", "pingpong", [n], "panic")
        setup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        cranks = controller.run()
        store.host.commit()
        run_s = time.perf_counter() - t1
        state, value = controller.kp_status(kp)
        if state != "fulfilled" or value != n:
            raise RuntimeError(f"pingpong did not complete: {state} {value!r}")
        controller.shutdown()
    finally:
        store.close()
    return {
        "workload": "pingpong",
        "n": n,
        "worker": worker,
        "cranks": cranks,
        "run_s": round(run_s, 4),
        "cranks_per_s": round(cranks / run_s, 1) if run_s else None,
        "pings_per_s": round(n / run_s, 1) if run_s else None,
        "setup_s": round(setup_s, 4),
    }


def replay_config(vats: int) -> dict:
    """`vats` static counter vats (c000, c001, ...), no bootstrap."""
    counter = str(DEMO_VATS / "counter")
    return {"devices": [], "vats": {f"c{i:03d}": {"source": counter, "parameters": {"start": 0}}
                                    for i in range(vats)}}


def run_replay(vats: int = 100, deliveries: int = 1000, path: str | Path = "var/bench-replay",
               worker: str = "local") -> dict:
    """Restart cost with many vats: `deliveries` increments spread round-robin over `vats`
    counter vats, one commit, then a real restart (store closed and reopened, new
    controller). Measures the time from opening the store to the first delivery's answer
    (lazy loading: only that vat is replayed, so it must not grow with `vats`), then
    brings every other vat back with one message each and reports deliveries replayed
    per second."""
    if vats < 1 or deliveries < 0:
        raise ValueError("need vats >= 1 and deliveries >= 0")
    db = _store_file(path)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    factory = _worker_factory(worker)
    names = [f"c{i:03d}" for i in range(vats)]
    config = replay_config(vats)
    if worker != "local":
        for spec in config["vats"].values():
            spec["managerType"] = worker
    t0 = time.perf_counter()
    store = open_swingstore(db)
    try:
        initialize_swingset(store.kernel, config)
        controller = make_controller(store.kernel, worker_factory=factory)
        controller.run()
        for i in range(deliveries):
            controller.queue_to_vat_root(names[i % vats], "increment", [1])
        controller.run()
        store.host.commit()
        controller.shutdown()
    finally:
        store.close()
    setup_s = time.perf_counter() - t0

    expected = {name: deliveries // vats + (1 if i < deliveries % vats else 0) for i, name in enumerate(names)}
    t1 = time.perf_counter()
    store = open_swingstore(db)
    try:
        controller = make_controller(store.kernel, worker_factory=factory)
        kp = controller.queue_to_vat_root(names[0], "read", [])
        controller.run()
        first_s = time.perf_counter() - t1
        state, value = controller.kp_status(kp)
        if state != "fulfilled" or value != expected[names[0]]:
            raise RuntimeError(f"first delivery after restart answered {state} {value!r}")
        kernel = controller._kernel
        replayed_first = kernel.warehouse.replayed_deliveries
        t2 = time.perf_counter()
        kps = [(name, controller.queue_to_vat_root(name, "read", [])) for name in names[1:]]
        controller.run()
        rest_s = time.perf_counter() - t2
        for name, kp in kps:
            state, value = controller.kp_status(kp)
            if state != "fulfilled" or value != expected[name]:
                raise RuntimeError(f"{name} answered {state} {value!r} after restart, expected {expected[name]}")
        replayed = kernel.warehouse.replayed_deliveries - replayed_first
        controller.shutdown()
    finally:
        store.close()
    return {
        "workload": "replay",
        "vats": vats,
        "deliveries": deliveries,
        "worker": worker,
        "start_to_first_delivery_s": round(first_s, 4),
        "first_vat_replayed": replayed_first,
        "replayed_deliveries": replayed,
        "replay_all_s": round(rest_s, 4),
        "replayed_deliveries_per_s": round((replayed_first + replayed) / (first_s + rest_s), 1),
        "setup_s": round(setup_s, 4),
    }


if __name__ == "__main__":  # pragma: no cover - manual use
    # python -m kernelhost.kernel_bench 500 [local|subprocess]
    # python -m kernelhost.kernel_bench replay [vats] [deliveries] [local|subprocess]
    import json
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "replay":
        nv = int(sys.argv[2]) if len(sys.argv) > 2 else 100
        nd = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
        kind = sys.argv[4] if len(sys.argv) > 4 else "local"
        print(json.dumps(run_replay(nv, nd, "var/bench-replay", kind)))
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
        kind = sys.argv[2] if len(sys.argv) > 2 else "local"
        print(json.dumps(run_pingpong(count, kind, "var/bench")))
