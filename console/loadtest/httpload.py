"""`bench http`: the node pages under concurrent readers while the node runs.

    run_http_load(seconds=60, users=20, tps=5) -> {"requests", "rps", "p50Ms", "p95Ms", "serverErrors",
                                                   "failures", "pages": {...}, "verdict", ...}

A `Stack` (real `serve` / `runnode` processes on a throwaway node, DEBUG off) makes blocks
while `manage.py loadgen` keeps a light stream of transactions coming (`tps`), and locust
(loadtest/locustfile.py, in its own process, loopback only) runs `users` logged-in operators
that read the dashboard, the run-queue and the transcript of the busiest vat (at random
positions) with no think time, for `seconds`. Figures per page and in total come from
locust's CSV statistics; `verdict` is "pass" when no request failed (no 5xx, no redirect to
the login page, every page showed its own heading) and nothing was logged as an error.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from pathlib import Path

from console.loadtest.stack import REPO, Stack, StackError

LOCUSTFILE = REPO / "loadtest" / "locustfile.py"
WARM_BLOCKS = 3
FAILURE_MESSAGE = re.compile(r"""CatchResponseError\(['"](.*)['"]\)""")


def run_http_load(*, seconds: float = 60, users: int = 20, tps: float = 5, block_time_ms: int = 1000,
                  write=None, session_key: str | None = None) -> dict:
    """`session_key` replaces the operator's login (a test proves a bad one fails the run)."""
    write = write or (lambda _text: None)
    with Stack(block_time_ms=block_time_ms) as stack:
        stack.start()
        _wait_height(stack, WARM_BLOCKS, timeout=60)
        cookie = session_key or stack.session_cookie()
        vat, length = stack.busiest_vat()
        write(f"stack up ({stack.mode} mode) on {stack.url}; {users} users for {seconds:.0f}s, "
              f"transcript of {vat} ({length} entries)\n")
        loadgen = None
        if tps > 0:
            loadgen = stack.popen("loadgen", "loadgen", "--tps", str(tps), "--duration", str(seconds + 5),
                                  "--wait", "0", "--json", "--quiet")
        rss_before = stack.rss_mb()
        height_before = stack.blocks()[-1][0]
        prefix = stack.dir / "locust"
        env = {**stack.env, "KC_SESSION": cookie, "KC_VAT": vat, "KC_TRANSCRIPT_LENGTH": str(length)}
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", stack.url,
                   "--users", str(users), "--spawn-rate", str(max(users, 1)), "--run-time", f"{int(seconds)}s",
                   "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
        started = time.monotonic()
        locust = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=seconds + 120)
        elapsed = time.monotonic() - started
        if loadgen is not None:
            loadgen.wait(timeout=60)
        rss_after = stack.rss_mb()
        blocks = [b for b in stack.blocks() if b[0] > height_before]
        errors = stack.logged_errors()
        alive = {name: code for name, code in stack.alive().items() if name != "loadgen"}
        stack.stop()
        if locust.returncode != 0 or not Path(f"{prefix}_stats.csv").exists():
            raise StackError(f"locust exited {locust.returncode}:\n{locust.stdout[-2000:]}\n{locust.stderr[-4000:]}")
        stats = _read_stats(Path(f"{prefix}_stats.csv"))
        failures = _read_failures(Path(f"{prefix}_failures.csv"))
    write(f"done in {elapsed:.0f}s\n")
    total = stats.pop("Aggregated")
    server_errors = sum(n for error, n in failures.items() if error.startswith("HTTP 5"))
    problems = []
    if server_errors:
        problems.append(f"{server_errors} responses were 5xx")
    if total["failures"] - server_errors:
        problems.append(f"{total['failures'] - server_errors} responses were not the page (see failureKinds)")
    if errors:
        problems.append(f"{len(errors)} error lines logged")
    if any(code is not None for code in alive.values()):
        problems.append(f"processes exited during the run: {alive}")
    return {
        "workload": "http", "mode": stack.mode, "users": users, "seconds": seconds, "tps": tps,
        "requests": total["requests"], "rps": total["rps"], "p50Ms": total["p50Ms"], "p95Ms": total["p95Ms"],
        "p99Ms": total["p99Ms"], "failures": total["failures"], "serverErrors": server_errors,
        "failureKinds": failures, "pages": stats, "blocksDuringRun": len(blocks),
        "rssMb": {k: [round(rss_before[k], 1), round(rss_after[k], 1)] for k in rss_before},
        "errorsLogged": len(errors), "errorSamples": errors[:5],
        "verdict": "pass" if not problems and total["requests"] > 0 else "fail", "problems": problems,
    }


def _wait_height(stack: Stack, height: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        blocks = stack.blocks()
        if blocks and blocks[-1][0] >= height:
            return
        if time.monotonic() > deadline:
            raise StackError(f"the node did not reach height {height} in {timeout:.0f}s:\n{stack.log_tail('server')}")
        time.sleep(0.5)


def _read_stats(path: Path) -> dict[str, dict]:
    """Locust's per-name rows (and "Aggregated"), in our units."""
    rows = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = {
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1), "p50Ms": _ms(row["50%"]), "p95Ms": _ms(row["95%"]),
                "p99Ms": _ms(row["99%"]), "maxMs": _ms(row["Max Response Time"]),
            }
    return rows


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else round(float(value), 1)


def _read_failures(path: Path) -> dict[str, int]:
    """Failure kinds and counts; the locustfile's messages ("HTTP 500", "HTTP 200 without ...")
    come back wrapped by locust as `CatchResponseError('HTTP 500')`."""
    if not path.exists():
        return {}
    kinds: dict[str, int] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            wrapped = FAILURE_MESSAGE.fullmatch(row["Error"])
            error = wrapped.group(1) if wrapped else row["Error"]
            kinds[error] = kinds.get(error, 0) + int(row["Occurrences"])
    return kinds
