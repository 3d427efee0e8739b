"""`manage.py simulate [--seed S | --seeds N [--first F]] [--height H] [--jobs J]`: the
deterministic simulation (kernelhost/sim/simulation.py). Each seed picks a workload and a
failpoint crash schedule, runs the node through crash/restart cycles to height H and compares
every height's app hash (and balances, action queue, tx results) with an uncrashed run.
Exit status 1 if any seed failed; each failing seed prints the command that reproduces it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Deterministic simulation: seeded workload + failpoint crashes vs an uncrashed run, app hash per height."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--seed", type=int, help="run this one seed")
        which.add_argument("--seeds", type=int, help="run this many seeds (from --first on)")
        parser.add_argument("--first", type=int, default=1, help="first seed with --seeds (default 1)")
        parser.add_argument("--height", type=int, default=None, help="target height (default 12)")
        parser.add_argument("--max-crashes", type=int, default=None,
                            help="only the first K entries of each seed's crash schedule (0: no crashes)")
        parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel (each uses 2 processes)")
        parser.add_argument("--postgres", action="store_true",
                            help="a PostgreSQL database per node (needs DATABASE_URL); default SQLite files")
        parser.add_argument("--workdir", help="keep the nodes here (default: a temp dir, removed)")
        parser.add_argument("--keep", action="store_true", help="keep failing seeds' node directories")
        parser.add_argument("--plan", action="store_true", help="print the seed's plan and stop")
        parser.add_argument("--json", action="store_true", dest="as_json", help="one JSON object at the end")

    def handle(self, *args, seed, seeds, first, height, max_crashes, jobs, postgres, workdir, keep, plan, as_json, **options):
        from kernelhost.sim import nodeproc
        from kernelhost.sim.simulation import DEFAULT_HEIGHT, Simulator

        height = height or DEFAULT_HEIGHT
        if height < 2:
            raise CommandError("--height must be at least 2")
        if postgres and not nodeproc.postgres_available():
            raise CommandError("--postgres needs DATABASE_URL=postgres://...")
        wanted = [seed] if seed is not None else list(range(first, first + (seeds or 1)))
        sim = Simulator(Path(workdir) if workdir else None, postgres=postgres, keep=keep or bool(workdir))
        started = time.monotonic()
        try:
            sim.prepare()
            if plan:
                for s in wanted:
                    self.stdout.write(sim.plan(s, height, max_crashes).describe())
                return
            results = []

            def one(s):
                result = sim.run_seed(s, height, max_crashes)
                status = "ok  " if result.ok else "FAIL"
                self.stdout.write(f"{status} seed {s:>5}  {result.seconds:5.1f}s  restarts {result.restarts}  "
                                  f"fired {', '.join(result.fired_names) or '-'}")
                if not result.ok:
                    self.stdout.write(f"     {result.plan}")
                    for problem in result.problems:
                        self.stdout.write("     " + problem.replace("\n", "\n     "))
                    self.stdout.write(f"     reproduce: {result.command}")
                self.stdout.flush()
                return result

            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                results = list(pool.map(one, wanted))
        finally:
            sim.close()
        elapsed = time.monotonic() - started
        self._summary(results, elapsed, height, postgres, as_json)
        if any(not r.ok for r in results):
            raise CommandError(f"{sum(not r.ok for r in results)} of {len(results)} seeds failed")

    def _summary(self, results, elapsed, height, postgres, as_json):
        from kernelhost.failpoints import FAILPOINTS

        passed = [r for r in results if r.ok]
        covered: dict[str, int] = {}
        for r in results:
            for name in r.fired_names:
                covered[name] = covered.get(name, 0) + 1
        summary = {
            "seeds": len(results), "passed": len(passed), "failed": [r.seed for r in results if not r.ok],
            "height": height, "backend": "postgresql" if postgres else "sqlite",
            "crashes": sum(r.restarts for r in results), "replayedBlocks": sum(len(r.replayed) for r in results),
            "failpointsFired": dict(sorted(covered.items())),
            "failpointsNeverFired": sorted(set(FAILPOINTS) - set(covered)),
            "secondsTotal": round(elapsed, 1),
            "secondsPerSeed": round(sum(r.seconds for r in results) / max(1, len(results)), 1),
            "reproduce": [r.command for r in results if not r.ok],
        }
        if as_json:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(f"{len(passed)}/{len(results)} seeds passed (height {height}, {summary['backend']}), "
                          f"{summary['crashes']} crashes, {summary['replayedBlocks']} blocks replayed, "
                          f"{elapsed:.0f}s total, {summary['secondsPerSeed']}s per seed")
        self.stdout.write("failpoints fired: " + ", ".join(f"{k} x{v}" for k, v in summary["failpointsFired"].items()))
        if summary["failpointsNeverFired"]:
            self.stdout.write("never fired: " + ", ".join(summary["failpointsNeverFired"]))
        for command in summary["reproduce"]:
            self.stdout.write(f"failing: {command}")
