"""Round-trip benchmark of the subprocess worker transport.

``roundtrip_bench(n)`` starts one worker (echo mode: no vat code), then measures
- ``ping``: n bare framed round trips (kernel -> worker -> kernel),
- ``deliver``: n deliveries, each making one read syscall (two round trips' worth of frames:
  deliver, syscall, result, done) and two batched no-answer syscalls,
and reports rates. DESIGN §5 puts a framed-JSON round trip at about 80 µs on the target
2-core machine.
"""

from __future__ import annotations

import statistics
import time

from kernelhost.swingstore.bundleformat import bundle_id_of

from .subprocess_worker import SubprocessWorker, WorkerLimits


def _source_kernel_bundle() -> bytes:
    from kernelhost.controller.bundling import bundle_kernel_source

    return bundle_kernel_source()


def roundtrip_bench(n: int = 10_000, *, kernel_bundle: bytes | None = None) -> dict:
    """Measure framed round trips per second to a subprocess worker."""
    data = kernel_bundle or _source_kernel_bundle()
    started = time.perf_counter()
    worker = SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id_of(data),
                              setup={"mode": "echo"}, limits=WorkerLimits(cpu_seconds=None, wall_seconds=60))
    setup_s = time.perf_counter() - started
    try:
        for i in range(min(n, 200)):  # warm up
            worker.ping(i)
        t0 = time.perf_counter()
        for i in range(n):
            worker.ping(i)
        ping_s = time.perf_counter() - t0

        def handler(batch):
            return ["ok", "value"]

        script = [["send", "o-1", {"methargs": {"body": "#[]", "slots": []}, "result": None}],
                  ["vatstoreGet", "key"], ["subscribe", "p-1"]]
        t0 = time.perf_counter()
        for _ in range(n):
            worker.deliver(["echo", script], handler)
        deliver_s = time.perf_counter() - t0
    finally:
        worker.shutdown()
    return {
        "workload": "roundtrip",
        "n": n,
        "setup_s": round(setup_s, 4),
        "ping_s": round(ping_s, 4),
        "roundtrips_per_s": round(n / ping_s, 1),
        "us_per_roundtrip": round(ping_s / n * 1e6, 2),
        "deliver_s": round(deliver_s, 4),
        "deliveries_per_s": round(n / deliver_s, 1),
        "us_per_delivery_with_one_read": round(deliver_s / n * 1e6, 2),
    }


def worker_start_bench(n: int = 30, *, kernel_bundle: bytes | None = None) -> dict:
    """Median time from asking for an echo worker to its first answer, forked by the fork
    server and started afresh (n of each, after one warm-up of each)."""
    data = kernel_bundle or _source_kernel_bundle()
    bundle_id = bundle_id_of(data)
    figures: dict = {"workload": "workers", "n": n}
    for label, forked in (("forked", True), ("fresh", False)):
        times = []
        for i in range(n + 1):
            started = time.perf_counter()
            worker = SubprocessWorker(kernel_bundle=data, kernel_bundle_id=bundle_id, setup={"mode": "echo"},
                                      fork_server=forked)
            worker.ping(i)
            elapsed = time.perf_counter() - started
            worker.shutdown()
            if i:  # the first of each starts the fork server / compiles the bundle
                times.append(elapsed)
        figures[f"{label}_start_ms_median"] = round(statistics.median(times) * 1000, 2)
        figures[f"{label}_start_ms_max"] = round(max(times) * 1000, 2)
    figures["speedup"] = round(figures["fresh_start_ms_median"] / figures["forked_start_ms_median"], 1)
    return figures


if __name__ == "__main__":  # python -m kernelhost.workers.bench [N]
    import json
    import sys

    print(json.dumps(roundtrip_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
