"""The atheris harnesses in fuzz/ (coverage-guided fuzzing), in reduced form for `make test`.

Each harness runs as a real subprocess for FUZZ_ATHERIS_RUNS inputs (default 2000) against a
copy of its seed corpus: it must exit 0, report that it executed exactly that many inputs,
grow coverage beyond the seeds, and reach both outcomes of its target (accepted and refused).
A planted crash proves a harness really reports an unexpected exception (non-zero exit and a
crash file). Longer runs: see fuzz/README.md.

    FUZZ_ATHERIS_RUNS=20000 .venv/bin/python -m pytest tests/hostile/test_atheris.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FUZZ_COUNTS

ROOT = Path(__file__).resolve().parents[2]
FUZZ_DIR = ROOT / "fuzz"
RUNS = int(os.environ.get("FUZZ_ATHERIS_RUNS", "2000"))
# the target's two outcomes, as counted in the harness's "harness stats:" line
OUTCOMES = {"txs": ("submitted", "refused"), "marshal": ("decoded", "refused"),
            "bundles": ("accepted", "refused"), "import": ("imported", "refused")}
STATUS = re.compile(r"^#(\d+)\s+(INITED|NEW|REDUCE|pulse)\s+cov: (\d+) ft: (\d+)", re.M)


def run_harness(target: str, tmp_path: Path, runs: int, extra_env: dict | None = None, seed_files=None):
    seeds = tmp_path / "seeds"
    shutil.copytree(FUZZ_DIR / "seeds" / target, seeds)
    for name, data in (seed_files or {}).items():
        (seeds / name).write_bytes(data)
    corpus = tmp_path / "corpus"
    crashes = tmp_path / "crashes"
    corpus.mkdir()
    crashes.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FUZZ_PLANT_CRASH", "DATABASE_URL", "REDIS_URL")}
    env.update(extra_env or {})
    proc = subprocess.run(
        [sys.executable, str(FUZZ_DIR / f"fuzz_{target}.py"), f"-atheris_runs={runs}", "-seed=1",
         f"-artifact_prefix={crashes}/", str(corpus), str(seeds)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc, proc.stdout + proc.stderr, crashes


@pytest.mark.parametrize("target", sorted(OUTCOMES))
def test_harness_runs_and_grows_coverage(target, tmp_path):
    proc, out, crashes = run_harness(target, tmp_path, RUNS)
    assert proc.returncode == 0, out[-4000:]
    assert not list(crashes.iterdir()), out[-4000:]
    done = re.search(r"^Done (\d+) (?:runs )?in (\d+) second", out, re.M)
    assert done and int(done.group(1)) == RUNS, out[-2000:]
    statuses = [(int(n), kind, int(cov), int(ft)) for n, kind, cov, ft in STATUS.findall(out)]
    inited = [s for s in statuses if s[1] == "INITED"]
    assert inited, out[-2000:]
    final_cov, final_ft = statuses[-1][2], statuses[-1][3]
    assert final_ft > inited[0][3], f"no new features beyond the seeds: {statuses[-1]} vs {inited[0]}"
    assert final_cov >= inited[0][2]
    stats = dict(re.findall(r"(\S+)=(\d+)", re.search(r"^harness stats: (.*)$", out, re.M).group(1)))
    for outcome in OUTCOMES[target]:
        assert int(stats.get(outcome, 0)) > 0, f"{target}: no input was {outcome}: {stats}"
    FUZZ_COUNTS[f"atheris {target}"] += RUNS


def test_a_planted_crash_is_reported(tmp_path):
    marker = "PLANTED-CRASH-7f3a"
    proc, out, crashes = run_harness("marshal", tmp_path, RUNS, {"FUZZ_PLANT_CRASH": marker},
                                     {"planted": f'#["{marker}"]'.encode()})
    assert proc.returncode != 0, out[-2000:]
    assert "PlantedCrash" in out and "Uncaught Python exception" in out, out[-2000:]
    found = [p for p in crashes.iterdir() if p.name.startswith("crash-")]
    assert found and marker.encode() in found[0].read_bytes(), out[-2000:]
