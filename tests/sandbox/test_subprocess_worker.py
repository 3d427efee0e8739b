"""Subprocess vat workers: real processes, real limits.

Each test starts at least one worker process (about 0.1 s each)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import pytest

from kernelhost.kernel.marshal import methargs, serialize
from kernelhost.kernel.worker import LocalWorker
from kernelhost.swingstore.bundleformat import make_bundle_from_files
from kernelhost.workers import (
    SubprocessWorker,
    WorkerDied,
    WorkerLimits,
    make_worker_factory,
    vat_setup_from_bundle,
)
from kernelhost.workers.bench import roundtrip_bench

pytestmark = pytest.mark.slow

START_VAT = ["startVat", serialize({"parameters": {}})]


def message(method: str, args: list, result: str | None = "p-1") -> list:
    return ["message", "o+0", {"methargs": methargs(method, args), "result": result}]


class Kernel:
    """A stand-in for the kernel's side of a delivery: records every syscall in the order
    the kernel sees it and answers reads from a dict."""

    def __init__(self):
        self.seen: list = []
        self.store: dict[str, str] = {}

    def handler(self, batch: list) -> list:
        self.apply(batch[:-1])
        vsc = batch[-1]
        self.seen.append(vsc)
        if vsc[0] == "vatstoreGet":
            return ["ok", self.store.get(vsc[1])]
        if vsc[0] == "vatstoreGetNextKey":
            later = sorted(k for k in self.store if k > vsc[1])
            return ["ok", later[0] if later else None]
        return ["error", f"no device for {vsc[0]}"]

    def apply(self, syscalls: list) -> None:
        for vsc in syscalls:
            self.seen.append(vsc)
            if vsc[0] == "vatstoreSet":
                self.store[vsc[1]] = vsc[2]
            elif vsc[0] == "vatstoreDelete":
                self.store.pop(vsc[1], None)

    def deliver(self, worker, delivery):
        result, trailing = worker.deliver(delivery, self.handler)
        self.apply(trailing)
        return result


@pytest.fixture(params=[True, False], ids=["forked", "fresh"])
def start_worker(request, kernel_bundle, vat_bundle):
    """Every worker test runs on a worker forked by the fork server and on one started afresh."""
    workers = []

    def start(limits: WorkerLimits | None = None, setup: dict | None = None, **kw) -> SubprocessWorker:
        data, bundle_id = kernel_bundle
        kw.setdefault("fork_server", request.param)
        w = SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id,
                             setup=setup or vat_setup_from_bundle(vat_bundle), limits=limits, **kw)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.shutdown()


def test_a_vat_runs_in_a_subprocess_and_makes_the_same_syscalls_as_a_local_worker(start_worker, vat_bundle):
    deliveries = [START_VAT, message("ping", [41], "p-1"), message("remember", ["colour", "blue"], "p-2"),
                  ["message", "o+0", {"methargs": _methargs_with_presence("tell", "o-5", "hi"), "result": "p-3"}],
                  message("ping", [1], "p-4")]
    remote, local = Kernel(), Kernel()
    w = start_worker()
    files = {p: t.encode() for p, t in vat_setup_from_bundle(vat_bundle)["files"].items()}
    lw = LocalWorker(files=files, entry="main")
    remote_results = [remote.deliver(w, d) for d in deliveries]
    local_results = [local.deliver(lw, d) for d in deliveries]
    assert remote_results == local_results
    assert all(r[0] == "ok" for r in remote_results), remote_results
    assert remote.seen == local.seen
    kinds = [vsc[0] for vsc in remote.seen]
    assert "resolve" in kinds and "vatstoreSet" in kinds and "vatstoreGet" in kinds
    sends = [vsc for vsc in remote.seen if vsc[0] == "send"]
    assert [s[1] for s in sends] == ["o-5", "o-5"]
    # the resolution of ping(41) carries 42
    first_resolve = next(vsc for vsc in remote.seen if vsc[0] == "resolve")
    assert first_resolve[1][0][0] == "p-1" and "42" in first_resolve[1][0][2]["body"]


def _methargs_with_presence(method: str, vref: str, word: str) -> dict:
    from kernelhost.kernel.far import Presence

    target = Presence(vref, "Alleged: listener")
    return methargs(method, [target, word], lambda v: (vref, False, "Alleged: listener"))


def test_reads_flush_the_batch_first_so_the_kernel_sees_program_order(start_worker):
    w = start_worker(setup={"mode": "echo"})
    k = Kernel()
    k.store["a"] = "1"
    script = [["send", "o-1", {"n": 1}], ["subscribe", "p-1"], ["vatstoreGet", "a"],
              ["vatstoreSet", "b", "2"], ["vatstoreGetNextKey", "a"], ["exit", False, {}]]
    batches = []

    def handler(batch):
        batches.append([vsc[0] for vsc in batch])
        return k.handler(batch)

    result, trailing = w.deliver(["echo", script], handler)
    k.apply(trailing)
    assert k.seen == script
    # one round trip per read; the no-answer syscalls rode along
    assert batches == [["send", "subscribe", "vatstoreGet"], ["vatstoreSet", "vatstoreGetNextKey"]]
    assert [vsc[0] for vsc in trailing] == ["exit"]
    assert result == ["ok", [["ok", "1"], ["ok", "b"]], None]


def test_the_worker_sees_only_pythonhashseed_and_cannot_reach_the_source_tree(start_worker):
    w = start_worker()
    info = w.probe()
    assert info["env"] == {"PYTHONHASHSEED": "0"}
    assert info["flags"]["hash_randomization"] == 0
    assert info["kernelhostImportable"] is False
    assert not any("site-packages" in p or p in ("", ".") for p in info["sysPath"])
    assert info["supervisor"].startswith("_kernelbundle.")  # loaded from the bundle
    assert info["cwd"] != os.getcwd()
    assert "Too many open files" in info["openFile"]  # RLIMIT_NOFILE: nothing can be opened
    assert info["limits"]["RLIMIT_FSIZE"] == [0, 0]
    assert info["limits"]["RLIMIT_AS"][0] == WorkerLimits().memory_bytes
    # a fixed hash seed: the same in every worker
    assert start_worker().probe()["hashOfKernel"] == info["hashOfKernel"]


def test_vat_code_in_the_worker_is_sandboxed(start_worker):
    bad = make_bundle_from_files({"main.py": b"import os\ndef build_root_object(p, v, b):\n    pass\n"},
                                 kind="vat", entry="main", api_version=1)
    w = start_worker(setup=vat_setup_from_bundle(bad))
    result = Kernel().deliver(w, START_VAT)
    assert result[0] == "error" and "import of 'os' is not allowed" in result[1]


def test_vat_print_reaches_the_log_callback(start_worker):
    lines = []
    w = start_worker(log=lines.append)
    k = Kernel()
    k.deliver(w, START_VAT)
    assert k.deliver(w, message("chatty", []))[0] == "ok"
    assert lines == ["hello from the vat\n"]


def test_sigkill_mid_delivery_raises_worker_died(start_worker):
    w = start_worker(WorkerLimits(cpu_seconds=None, wall_seconds=30))
    k = Kernel()
    k.deliver(w, START_VAT)
    timer = threading.Timer(0.3, os.kill, (w.pid, signal.SIGKILL))
    timer.start()
    started = time.monotonic()
    with pytest.raises(WorkerDied) as info:
        k.deliver(w, message("spin", []))
    timer.join()
    assert time.monotonic() - started < 10
    assert "SIGKILL" in info.value.reason
    assert info.value.returncode == -signal.SIGKILL
    with pytest.raises(WorkerDied, match="worker is dead"):
        k.deliver(w, message("ping", [1]))


def test_an_infinite_loop_is_stopped_by_the_cpu_limit(start_worker):
    w = start_worker(WorkerLimits(cpu_seconds=1, wall_seconds=30))
    k = Kernel()
    k.deliver(w, START_VAT)
    started = time.monotonic()
    with pytest.raises(WorkerDied) as info:
        k.deliver(w, message("spin", []))
    assert time.monotonic() - started < 10
    assert "CPU time limit" in info.value.reason and "SIGXCPU" in info.value.reason


def test_the_cpu_budget_is_per_delivery(start_worker):
    # RLIMIT_CPU counts a process's whole life; the worker re-arms it before each delivery,
    # so several deliveries that together burn more than the budget all succeed.
    n = 200_000
    t0 = time.process_time()
    total = 0
    for i in range(n):
        total += i
    per_iteration = max(time.process_time() - t0, 1e-6) / n
    n = int(0.25 / per_iteration)  # about a quarter of a second each, here
    w = start_worker(WorkerLimits(cpu_seconds=1, wall_seconds=60))
    k = Kernel()
    k.deliver(w, START_VAT)
    for i in range(6):
        assert k.deliver(w, message("burn", [n], f"p-{i + 1}"))[0] == "ok"
    assert w.alive
    assert w.probe()["limits"]["RLIMIT_CPU"][0] >= 2  # the soft limit moved with usage


def test_a_wall_clock_limit_stops_a_worker_that_does_not_answer(start_worker):
    w = start_worker(WorkerLimits(cpu_seconds=None, wall_seconds=0.5))
    k = Kernel()
    k.deliver(w, START_VAT)
    os.kill(w.pid, signal.SIGSTOP)  # alive but silent (and using no CPU)
    with pytest.raises(WorkerDied, match="wall-clock limit"):
        k.deliver(w, message("ping", [1]))


def test_allocating_4_gib_is_stopped_by_the_memory_limit(start_worker):
    w = start_worker(WorkerLimits(memory_bytes=512 * 1024 * 1024))
    k = Kernel()
    k.deliver(w, START_VAT)
    with pytest.raises(WorkerDied) as info:
        k.deliver(w, message("hog", []))
    assert "out of memory" in info.value.reason


def test_a_syscall_handler_exception_stops_the_worker_and_propagates(start_worker):
    w = start_worker(setup={"mode": "echo"})

    class Panic(Exception):
        pass

    def handler(batch):
        raise Panic("kernel panic")

    with pytest.raises(Panic):
        w.deliver(["echo", [["vatstoreGet", "x"]]], handler)
    assert not w.alive
    with pytest.raises(WorkerDied):
        w.deliver(["echo", []], handler)


def test_a_corrupt_kernel_bundle_is_refused(kernel_bundle, vat_bundle):
    data, bundle_id = kernel_bundle
    other = bundle_id[:-4] + ("0000" if not bundle_id.endswith("0000") else "1111")
    from kernelhost.swingstore.bundleformat import BundleError

    with pytest.raises((WorkerDied, BundleError)):
        SubprocessWorker(kernel_bundle=data, kernel_bundle_id=other, setup={"mode": "echo"})
    # with the supervisor named explicitly the parent does not validate: the worker refuses
    with pytest.raises(WorkerDied, match="does not match its bundle ID"):
        SubprocessWorker(kernel_bundle=data, kernel_bundle_id=other, setup={"mode": "echo"},
                         supervisor_module="kernel.supervisor")


def test_shutdown_is_clean_and_idempotent(start_worker):
    w = start_worker(setup={"mode": "echo"})
    pid = w.pid
    w.shutdown()
    w.shutdown()
    assert not w.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_factory_builds_workers_from_a_kernel_spec(kernel_bundle, vat_bundle):
    data, bundle_id = kernel_bundle
    logs = []
    factory = make_worker_factory(limits=WorkerLimits(cpu_seconds=5), log=lambda vat, text: logs.append((vat, text)))
    w = factory({"vatID": "v7", "managerType": "subprocess", "name": "alice", "source": {"bundleID": "b1-x"},
                 "entry": "main", "vatBundle": vat_bundle, "kernelBundleID": bundle_id, "kernelBundle": data,
                 "options": {}})
    try:
        k = Kernel()
        assert k.deliver(w, START_VAT) == ["ok", None, None]
        assert k.deliver(w, message("chatty", []))[0] == "ok"
        assert logs == [("v7", "hello from the vat\n")]
    finally:
        w.shutdown()
    with pytest.raises(WorkerDied, match="kernel vats"):
        factory({"vatID": "v1", "vatBundle": None, "kernelBundleID": bundle_id, "kernelBundle": data})


def test_roundtrip_bench_reports_figures():
    figures = roundtrip_bench(200)
    assert figures["n"] == 200
    assert figures["roundtrips_per_s"] > 500
    assert figures["us_per_roundtrip"] > 0


def test_kernel_modules_are_compiled_once_per_bundle_and_keyed_by_content(kernel_bundle):
    """Workers get the kernel bundle's code objects from the node (compiled once) instead of
    compiling every module each; a caller naming the wrong ID must not get (or poison) them."""
    import marshal
    import zipfile

    from kernelhost.workers.subprocess_worker import precompiled_bundle

    data, bundle_id = kernel_bundle
    codes = marshal.loads(precompiled_bundle(data, bundle_id))
    sources = {n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith(".py")}
    assert set(codes) == sources
    assert all(code.co_filename == "<kernel-bundle>/" + name for name, code in codes.items())
    assert precompiled_bundle(data, bundle_id) is precompiled_bundle(data, bundle_id)  # cached
    other = bundle_id[:-4] + ("0000" if not bundle_id.endswith("0000") else "1111")
    assert precompiled_bundle(data, other) is None


def test_a_worker_runs_the_same_with_or_without_precompiled_modules(kernel_bundle, vat_bundle):
    """Another interpreter path turns precompiling off (marshal is per interpreter version):
    both workers must load the same supervisor and answer the same probe."""
    import os
    import sys

    data, bundle_id = kernel_bundle
    probes = []
    for python in (None, os.path.realpath(sys.executable)):
        worker = SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id, setup={"mode": "echo"},
                                  python=python)
        try:
            info = worker.probe()
        finally:
            worker.shutdown()
        probes.append({k: info[k] for k in ("supervisor", "hashOfKernel", "kernelhostImportable", "flags")})
    assert probes[0] == probes[1]
