"""Deterministic simulation (issue 10): a handful of seeds, each a random workload over the demo
genesis and a random failpoint crash schedule, run through crash/restart cycles in
subprocesses and compared with an uncrashed run of the same seed at every height.

More seeds: `python manage.py simulate --seeds 200` (docs/arch-sim.md)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import CommandError, call_command

from kernelhost.failpoints import FAILPOINTS
from kernelhost.sim import nodeproc, simulation
from kernelhost.sim.simulation import Simulator

pytestmark = pytest.mark.slow

HEIGHT = 8
# Chosen so that together they schedule a kernel upgrade and fire every failpoint.
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = Simulator(tmp_path_factory.mktemp("sim"))
    simulator.prepare()
    yield simulator
    simulator.close()


@pytest.fixture(scope="module")
def results(sim):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda seed: sim.run_seed(seed, HEIGHT), SEEDS))


def test_seeds_survive_their_crash_schedules(results):
    for result in results:
        assert result.ok, f"{result.plan}\n" + "\n".join(result.problems) + f"\nreproduce: {result.command}"
        assert result.restarts >= 3, f"seed {result.seed}: only {result.restarts} crashes fired"


def test_the_seeds_cover_every_failpoint(results):
    fired = {name for result in results for name in result.fired_names}
    missing = set(FAILPOINTS) - fired
    assert not missing, f"never fired: {sorted(missing)}"
    assert any(result.replayed for result in results), "no crash fell between the two commits"


def test_a_divergence_fails_the_seed_and_prints_its_command(monkeypatch):
    """Fake a divergence in the crashed node's block 2 (a real one would come from the node):
    the seed fails, names the height, and prints the command that reproduces it."""
    real = nodeproc.app_hashes

    def tampered(node):
        hashes = real(node)
        if node.name == "crash" and 2 in hashes:
            hashes[2] = "0" * 64
        return hashes

    monkeypatch.setattr(simulation.nodeproc, "app_hashes", tampered)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 seeds failed"):
        call_command("simulate", "--seed", "5", "--height", "3", "--max-crashes", "1", stdout=out)
    text = out.getvalue()
    assert "FAIL seed     5" in text and "app hash differs from the uncrashed run at heights [2]" in text
    assert "reproduce: python manage.py simulate --seed 5 --height 3 --max-crashes 1" in text
    assert "0/1 seeds passed" in text


@pytest.mark.skipif(not nodeproc.postgres_available(), reason="PostgreSQL runs need DATABASE_URL (CI)")
def test_a_seed_on_postgresql(tmp_path):
    simulator = Simulator(tmp_path, postgres=True)
    try:
        result = simulator.run_seed(SEEDS[0], 5, max_crashes=3)
    finally:
        simulator.close()
    assert result.ok, "\n".join(result.problems) + f"\nreproduce: {result.command}"
    assert result.restarts >= 1
