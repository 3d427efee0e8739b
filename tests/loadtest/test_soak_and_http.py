"""`bench soak` and `bench http` in reduced form (issue 10): the same commands as the README's
reliability rows, on a throwaway node of real processes (serve / runnode, loadgen, websocket
clients, locust), with the database and channel layer of this test run (PostgreSQL and Redis
in CI). The figures' judgement (`verdict`) is tested on its own below, so a soak that loses
transactions, logs errors, starves viewers or grows in memory cannot pass.

Full runs: `python manage.py bench soak --minutes 10 --tps 50 --json` and
`python manage.py bench http --seconds 60 --users 20 --json`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console.loadtest import httpload, soak
from console.loadtest.stack import REPO, Stack

pytestmark = pytest.mark.slow


def bench(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(REPO / "manage.py"), "bench", *args, "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_soak_reduced_keeps_every_transaction_viewer_and_process():
    figures = bench("soak", "--minutes", "0.5", "--tps", "8", "--clients", "10")
    assert figures["problems"] == [] and figures["verdict"] == "pass", figures
    tx = figures["tx"]
    assert tx["submitted"] >= 200 and tx["included"] == tx["submitted"] and tx["pending"] == 0, tx
    assert figures["blocks"] >= 10
    assert figures["blockIntervalMs"]["p99"] is not None
    assert figures["ws"]["connected"] == 10 and figures["ws"]["minShare"] >= soak.MIN_EVENT_SHARE
    processes = ["node+server"] if figures["mode"] == "embedded" else ["node", "server"]
    for name in processes:
        assert figures["rssMb"][name]["samples"] >= 10
        assert figures["rssMb"][name]["end"] > 20  # a real process was measured, not a placeholder
    assert figures["errorsLogged"] == 0


def test_http_reduced_serves_every_page_without_errors():
    figures = bench("http", "--seconds", "10", "--users", "4", "--tps", "2")
    assert figures["verdict"] == "pass", figures
    assert figures["serverErrors"] == 0 and figures["failures"] == 0
    assert set(figures["pages"]) == {"dashboard", "run-queue", "transcript"}
    for page in figures["pages"].values():
        assert page["requests"] > 0 and page["p95Ms"] is not None
    assert figures["blocksDuringRun"] >= 3  # the node kept making blocks under the load


def test_http_load_counts_a_login_redirect_as_a_failure():
    """Without a valid session every page is a redirect: the run must fail, not count them as served."""
    figures = httpload.run_http_load(seconds=4, users=2, tps=0, session_key="not-a-session")
    assert figures["verdict"] == "fail"
    assert figures["requests"] > 0 and figures["failures"] == figures["requests"]
    assert set(figures["failureKinds"]) == {"HTTP 302"}
    assert figures["serverErrors"] == 0


def _samples(values, step=10.0):
    return [(i * step, v) for i, v in enumerate(values)]


def test_rss_summary_measures_growth_after_warmup():
    summary = soak.rss_summary(_samples([50, 80, 100, 100, 101, 102, 110]), warmup_s=20)
    assert summary["start"] == 50 and summary["afterWarmup"] == 100 and summary["end"] == 110
    assert summary["growthMb"] == 10 and summary["growthPct"] == 10.0
    assert summary["slopeMbPerMin"] > 0


def _verdict(**overrides):
    args = dict(minutes=1, tps=5, clients=2, block_time_ms=1000, mode="redis", warmup_s=20,
                samples={"node": _samples([60, 70, 70, 70, 71]), "server": _samples([80, 90, 90, 91, 91]),
                         "workers": _samples([10, 200, 400, 600, 800])},
                report={"submitted": 10, "included": 10, "pending": 0, "errors": 0},
                blocks=[(h, 50.0, 1000.0 + h) for h in range(1, 11)],
                received=[{h: 0.0 for h in range(1, 11)}] * 2, errors=[], died={}, exit_codes={},
                viewers_since=0.0)
    args.update(overrides)
    return soak._figures(**args)


def test_soak_verdict_passes_a_clean_run_and_ignores_worker_growth():
    figures = _verdict()
    assert figures["verdict"] == "pass", figures["problems"]
    assert figures["blockIntervalMs"]["p50"] == 1000.0


@pytest.mark.parametrize(("override", "problem"), [
    ({"report": {"submitted": 10, "included": 9, "pending": 1, "errors": 0}}, "pending"),
    ({"errors": ["server: ERROR boom"]}, "error lines"),
    ({"died": {"node": 1}}, "exited"),
    ({"exit_codes": {"server": -9, "node": 0}}, "killed"),
    ({"received": [{h: 0.0 for h in range(1, 11)}, {1: 0.0}]}, "missed"),
    ({"samples": {"node": _samples([60, 70, 70, 80, 90]), "server": _samples([80, 90, 90, 91, 91])}}, "memory"),
])
def test_soak_verdict_fails_on_each_kind_of_trouble(override, problem):
    figures = _verdict(**override)
    assert figures["verdict"] == "fail"
    assert any(problem in p for p in figures["problems"]), figures["problems"]


def test_stack_cleans_up_its_directory():
    with Stack() as stack:
        directory = stack.dir
        assert (directory / "swingstore.sqlite").exists()
    assert not directory.exists()
