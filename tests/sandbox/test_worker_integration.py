"""Subprocess workers plugged into the real controller: static vat with managerType
"subprocess", transcript replay into a fresh worker after a restart, a dead worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from kernelhost.controller import KernelPanic, initialize_swingset, make_controller
from kernelhost.swingstore import open_swingstore
from kernelhost.workers import WorkerLimits, make_worker_factory

pytestmark = pytest.mark.slow

COUNTER = str(Path(__file__).resolve().parents[2] / "kernelhost" / "demo" / "vats" / "counter")


@pytest.fixture
def node():
    store = open_swingstore(None)
    initialize_swingset(store.kernel, {"vats": {"counter": {"source": COUNTER, "managerType": "subprocess"}}})
    workers = []
    base = make_worker_factory(limits=WorkerLimits(cpu_seconds=5, wall_seconds=30))

    def factory(spec):
        worker = base(spec)
        workers.append(worker)
        return worker

    controllers = []

    def start():
        c = make_controller(store.kernel, worker_factory=factory)
        controllers.append(c)
        c.run()
        return c

    yield start, workers
    for c in controllers:
        try:
            c.shutdown()
        except Exception:  # noqa: BLE001 - a panicked controller may refuse; the workers go below
            pass
    for w in workers:
        w.shutdown()
    store.close()


def call(c, method, args):
    kp = c.queue_to_vat_root("counter", method, args)
    c.run()
    return c.kp_status(kp)


def test_a_static_vat_runs_in_its_own_process_and_is_replayed_after_restart(node):
    start, workers = node
    c = start()
    assert call(c, "increment", [5]) == ("fulfilled", 5)
    assert call(c, "durable_increment", [2]) == ("fulfilled", 2)
    assert len(workers) == 1 and workers[0].pid != os.getpid() and workers[0].alive
    c.shutdown()
    assert not workers[0].alive
    c = start()
    # RAM state comes back by replaying the transcript into a new worker process
    assert call(c, "read", []) == ("fulfilled", 5)
    assert call(c, "durable_read", []) == ("fulfilled", 2)
    assert len(workers) == 2 and workers[1].pid != workers[0].pid


def test_a_killed_worker_terminates_its_vat_not_the_kernel(node):
    start, workers = node
    c = start()
    assert call(c, "increment", [1]) == ("fulfilled", 1)
    os.kill(workers[-1].pid, signal.SIGKILL)
    try:
        status = call(c, "read", [])
    except KernelPanic as exc:
        pytest.fail(f"kernel panicked: {exc}")
    assert status[0] == "rejected"
    assert not c.panicked
