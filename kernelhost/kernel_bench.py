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

__all__ = ["run_pingpong", "pingpong_config"]

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


if __name__ == "__main__":  # pragma: no cover - manual use: python -m kernelhost.kernel_bench 500
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    kind = sys.argv[2] if len(sys.argv) > 2 else "local"
    print(json.dumps(run_pingpong(count, kind, "var/bench")))
