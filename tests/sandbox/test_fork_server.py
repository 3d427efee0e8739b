"""The fork server: workers forked from one pre-loaded process per kernel bundle.

What a forked worker is (environment, limits, sandbox, deaths) is checked by every test of
test_subprocess_worker.py, which runs each on a forked and on a fresh worker; these tests
are about the server itself: who the workers' parent is, what happens when it dies, and that
starting and stopping workers leaves nothing behind in the node."""

from __future__ import annotations

import os
import signal
import time

import pytest

from kernelhost.workers import SubprocessWorker, WorkerDied, vat_setup_from_bundle
from kernelhost.workers.bench import worker_start_bench

from .test_subprocess_worker import START_VAT, Kernel, message

pytestmark = pytest.mark.slow


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def start(kernel_bundle, setup=None, **kw) -> SubprocessWorker:
    data, bundle_id = kernel_bundle
    return SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id, setup=setup or {"mode": "echo"}, **kw)


def test_workers_are_forked_by_one_server_that_is_the_nodes_child(kernel_bundle):
    a, b = start(kernel_bundle), start(kernel_bundle)
    fresh = start(kernel_bundle, fork_server=False)
    try:
        server = parent_of(a.pid)
        assert parent_of(b.pid) == server != os.getpid()
        assert parent_of(server) == os.getpid()
        assert parent_of(fresh.pid) == os.getpid()
        assert a.probe()["limits"]["RLIMIT_NPROC"] == [0, 0]  # the server may fork; its workers may not
    finally:
        for w in (a, b, fresh):
            w.shutdown()


def test_a_killed_server_is_replaced_and_its_running_workers_go_on(kernel_bundle, vat_bundle):
    old = start(kernel_bundle, setup=vat_setup_from_bundle(vat_bundle))
    k = Kernel()
    k.deliver(old, START_VAT)
    server = parent_of(old.pid)
    os.kill(server, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while parent_of(old.pid) == server and time.monotonic() < deadline:
        time.sleep(0.01)
    assert parent_of(old.pid) != server  # orphaned, but its pipes are the node's
    assert k.deliver(old, message("ping", [7], "p-2"))[0] == "ok"  # still serving
    assert old.ping("y") == "y"
    new = start(kernel_bundle)
    try:
        assert parent_of(new.pid) not in (server, os.getpid())
        assert new.ping("x") == "x"
    finally:
        new.shutdown()
    # the orphan's exit status died with its server: it is still stopped and reported
    pid = old.pid
    old.kill()
    with pytest.raises(WorkerDied):
        old.ping(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the orphaned worker was not stopped")


def test_starting_and_stopping_workers_leaves_no_descriptors_or_processes(kernel_bundle):
    start(kernel_bundle).shutdown()  # the server is up
    before = sorted(os.listdir("/proc/self/fd"))
    pids = []
    for _ in range(25):
        w = start(kernel_bundle)
        pids.append(w.pid)
        w.shutdown()
    killed = start(kernel_bundle)
    pids.append(killed.pid)
    os.kill(killed.pid, signal.SIGKILL)
    with pytest.raises(WorkerDied, match="SIGKILL"):
        killed.ping(1)
    killed.shutdown()
    assert sorted(os.listdir("/proc/self/fd")) == before
    for pid in pids:  # reaped by the server, not zombies
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_worker_start_bench_reports_both_kinds(kernel_bundle):
    figures = worker_start_bench(3, kernel_bundle=kernel_bundle[0])
    assert figures["n"] == 3
    assert figures["forked_start_ms_median"] > 0 and figures["fresh_start_ms_median"] > 0
    assert figures["speedup"] == round(figures["fresh_start_ms_median"] / figures["forked_start_ms_median"], 1)


NODE_THAT_STARTS_A_WORKER = """
import sys, time
from kernelhost.controller.bundling import bundle_kernel_source
from kernelhost.swingstore.bundleformat import bundle_id_of
from kernelhost.workers import SubprocessWorker
data = bundle_kernel_source()
w = SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id_of(data), setup={"mode": "echo"})
assert w.ping("x") == "x"
print(w.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_node_leaves_no_fork_server_and_no_worker_behind(tmp_path):
    """The node is SIGKILLed (no cleanup runs): the fork server sees its socket close and
    exits, and the worker sees its pipes close and exits."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    node = subprocess.Popen([sys.executable, "-c", NODE_THAT_STARTS_A_WORKER], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(node.stdout.readline())
        server = parent_of(worker)
        assert parent_of(server) == node.pid
        os.kill(node.pid, signal.SIGKILL)
        node.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (alive(server) or alive(worker)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(server), "fork server outlived the node"
        assert not alive(worker), "worker outlived the node"
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
