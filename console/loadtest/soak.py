"""`bench soak`: the node and the console under the load generator for minutes, with many
dashboard viewers on websockets; does memory stay flat, do blocks keep coming, is anything lost?

    run_soak(minutes=10, tps=50, clients=100) -> {"blocks", "tx", "blockIntervalMs", "rssMb", "ws",
                                                  "errorsLogged", "verdict", ...}

A `Stack` (real `serve` / `runnode` processes on a throwaway node) runs with `clients`
websocket clients (a separate process, logged in, subscribed to the dashboard) while
`manage.py loadgen` submits at `tps` for the whole run. Every `sample_s` the resident memory
of the node and the ASGI server is read (psutil). After the run:

- blocks: committed during the load; block interval (commit to commit) p50/p99 and block
  execution (proposal to commit) p99, from the chain database;
- tx: the load generator's counts (submitted, included, ok, failed, pending, errors);
- storeMb: the swing-store's (and a SQLite chain database's) size at the start and the end,
  next to which the node's memory is read: its SQLite page cache (64 MiB at most) and its
  key-value read caches (bounded by entry count) fill as the store grows;
- rssMb: per process start / after warm-up / end / max, growth after warm-up (MB and %) and
  the least-squares slope over the samples after warm-up (MB/min); warm-up is the first
  `warmup_fraction` of the run (caches, the first vat workers, connection pools fill);
- ws: dashboard events received per client against blocks committed while connected;
- errorsLogged: ERROR/CRITICAL lines and tracebacks in the processes' logs.

`verdict` is "pass" when nothing was lost (no pending tx, no submit errors), no error was
logged, every process kept running and stopped when asked, every client saw at least
MIN_EVENT_SHARE of the blocks, and node and server memory is flat after warm-up (growth
within RSS_FLAT_PCT percent).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import signal
import statistics
import time

from console.loadtest.stack import Stack
from console.node.bench_live import run_ws_clients

RSS_FLAT_PCT = 10.0
MIN_EVENT_SHARE = 0.9


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


def _slope_per_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 3:
        return None
    xs, ys = [t for t, _ in samples], [v for _, v in samples]
    return round(statistics.linear_regression(xs, ys).slope * 60, 3)


def rss_summary(samples: list[tuple[float, float]], warmup_s: float) -> dict:
    """Memory figures of one process from (elapsed s, MB) samples."""
    values = [v for _, v in samples if not math.isnan(v)]
    if not values:
        return {"samples": 0}
    after = [(t, v) for t, v in samples if t >= warmup_s and not math.isnan(v)] or samples[-1:]
    base, end = after[0][1], values[-1]
    return {"samples": len(values), "start": round(values[0], 1), "afterWarmup": round(base, 1),
            "end": round(end, 1), "max": round(max(values), 1), "growthMb": round(end - base, 1),
            "growthPct": round((end - base) / base * 100, 1) if base else None,
            "slopeMbPerMin": _slope_per_min(after)}


def run_soak(*, minutes: float = 10, tps: float = 50, clients: int = 100, block_time_ms: int = 1000,
             sample_s: float | None = None, warmup_fraction: float = 0.2, seed: int = 1,
             write=None) -> dict:
    write = write or (lambda _text: None)
    duration_s = minutes * 60
    sample_s = sample_s or max(1.0, min(10.0, duration_s / 30))
    warmup_s = duration_s * warmup_fraction
    with Stack(block_time_ms=block_time_ms) as stack:
        stack.start()
        write(f"stack up ({stack.mode} mode) on {stack.url}; connecting {clients} websocket clients\n")
        cookie = stack.session_cookie()
        viewers = _Viewers(stack, cookie, clients)
        height_before = _last_height(stack)
        store_before = stack.store_mb()
        load = _LoadGen(stack, tps, duration_s, seed)
        started = time.monotonic()
        samples: dict[str, list[tuple[float, float]]] = {}
        died: dict[str, int] = {}
        try:
            while load.running():
                elapsed = time.monotonic() - started
                for role, mb in stack.rss_mb().items():
                    samples.setdefault(role, []).append((elapsed, mb))
                died.update({k: v for k, v in stack.alive().items() if v is not None})
                if died:
                    break
                rss = " ".join(f"{k} {v[-1][1]:.0f} MB" for k, v in samples.items())
                write(f"\r[soak {elapsed:6.0f}s / {duration_s:.0f}s] height {_last_height(stack)}  rss {rss}   ")
                time.sleep(sample_s)
            report = load.result()
            time.sleep(2 * block_time_ms / 1000)  # the last events reach the viewers
            received = viewers.stop()
        finally:
            viewers.close()
            load.close()
        blocks = [b for b in stack.blocks() if b[0] > height_before]
        store = {k: [v, stack.store_mb().get(k)] for k, v in store_before.items()}
        errors = stack.logged_errors()
        exit_codes = stack.stop()
    write("\n")
    return _figures(minutes=minutes, tps=tps, clients=clients, block_time_ms=block_time_ms, mode=stack.mode,
                    warmup_s=warmup_s, samples=samples, report=report, blocks=blocks, received=received,
                    errors=errors, died=died, exit_codes=exit_codes, viewers_since=viewers.connected_at,
                    store_mb=store)


def _figures(*, minutes, tps, clients, block_time_ms, mode, warmup_s, samples, report, blocks, received, errors,
             died, exit_codes, viewers_since, store_mb=None) -> dict:
    intervals = [(b[2] - a[2]) * 1000 for a, b in zip(blocks, blocks[1:], strict=False)]
    rss = {role: rss_summary(s, warmup_s) for role, s in samples.items()}
    if mode == "embedded":  # one process holds both: say so rather than report it twice
        rss["node+server"] = rss.pop("server")
        rss.pop("node", None)
    seen = [b[0] for b in blocks if b[2] >= viewers_since]
    shares = [len(set(seen) & set(per_client)) / len(seen) for per_client in received] if seen else []
    ws = {"clients": clients, "connected": len(received), "blocksWhileConnected": len(seen),
          "minShare": round(min(shares), 3) if shares else None,
          "meanShare": round(statistics.fmean(shares), 3) if shares else None}
    growth_ok = all((r.get("growthPct") or 0) <= RSS_FLAT_PCT for k, r in rss.items() if k != "workers")
    lost = (report.get("pending", 0) or 0) + (report.get("errors", 0) or 0)
    problems = []
    if lost:
        problems.append(f"{lost} transactions pending or refused by the database")
    if errors:
        problems.append(f"{len(errors)} error lines logged")
    if died:
        problems.append(f"processes exited during the run: {died}")
    killed = sorted(name for name, code in (exit_codes or {}).items() if code == -signal.SIGKILL)
    if killed:
        problems.append(f"did not stop within a minute of SIGINT/SIGTERM and were killed: {killed}")
    if not shares or min(shares) < MIN_EVENT_SHARE:
        problems.append("a websocket client missed more than 10% of the blocks")
    if not growth_ok:
        problems.append(f"memory grew more than {RSS_FLAT_PCT:.0f}% after warm-up")
    return {
        "workload": "soak", "minutes": minutes, "tps": tps, "mode": mode, "blockTimeMs": block_time_ms,
        "blocks": len(blocks), "heights": [blocks[0][0], blocks[-1][0]] if blocks else None,
        "tx": {k: report.get(k) for k in ("submitted", "included", "ok", "failed", "rejected", "errors",
                                          "pending", "achievedTps")},
        "blockIntervalMs": {"p50": _pct(intervals, 0.5), "p99": _pct(intervals, 0.99),
                            "max": round(max(intervals), 1) if intervals else None},
        "blockExecMs": {"p50": _pct([b[1] for b in blocks], 0.5), "p99": _pct([b[1] for b in blocks], 0.99)},
        "rssMb": rss, "warmupS": round(warmup_s, 1), "storeMb": store_mb or {}, "ws": ws,
        "errorsLogged": len(errors), "errorSamples": errors[:5], "exitCodes": exit_codes,
        "verdict": "pass" if not problems else "fail", "problems": problems,
    }


def _last_height(stack: Stack) -> int:
    blocks = stack.blocks()
    return blocks[-1][0] if blocks else 0


class _LoadGen:
    """`manage.py loadgen` in its own process for the whole run."""

    def __init__(self, stack: Stack, tps: float, duration_s: float, seed: int) -> None:
        self.stack = stack
        self.process = stack.popen("loadgen", "loadgen", "--tps", str(tps), "--duration", str(duration_s),
                                   "--seed", str(seed), "--wait", "60", "--json", "--quiet")
        self.stack.processes.pop("loadgen")  # not a server: stop() must not signal it

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self) -> dict:
        self.process.wait()
        lines = (self.stack.dir / "loadgen.log").read_text().splitlines()
        for line in reversed(lines):
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError("loadgen printed no report:\n" + "\n".join(lines[-20:]))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class _Viewers:
    """`count` dashboard websocket clients in a child process (bench_live's client)."""

    def __init__(self, stack: Stack, cookie: str, count: int) -> None:
        url = f"ws://127.0.0.1:{stack.port}/ws/live/?topics=dashboard"
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=run_ws_clients, args=(url, cookie, stack.port, count, child), daemon=True)
        self.process.start()
        if not self.conn.poll(180):
            raise RuntimeError("websocket clients did not connect in time")
        status = self.conn.recv()
        if status != "ready":
            raise RuntimeError(f"websocket clients failed: {status}\nserver log:\n{stack.log_tail('server')}")
        self.connected_at = time.time()

    def stop(self) -> list[dict[int, float]]:
        self.conn.send("stop")
        received = self.conn.recv() if self.conn.poll(120) else []
        self.process.join(timeout=30)
        return received if isinstance(received, list) else []

    def close(self) -> None:
        if self.process.is_alive():
            self.process.kill()

