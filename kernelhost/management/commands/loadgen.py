"""`manage.py loadgen --tps N --duration S [--mix bank,swingset,gov] [--seed S] [--wait S]`:
submit a realistic transaction mix at a steady rate to a running node's mempool, then wait
(bounded) for inclusion; prints submitted / included / failed counts."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Load generator: a seeded mix of bank, swingset and gov transactions at a steady rate."

    def add_arguments(self, parser):
        parser.add_argument("--tps", type=float, required=True, help="transactions per second")
        parser.add_argument("--duration", type=float, required=True, help="seconds of load")
        parser.add_argument("--mix", default="bank,swingset,gov", help="categories: bank,swingset,gov")
        parser.add_argument("--seed", type=int, default=1, help="same seed => same transactions")
        parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for inclusion at the end")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object at the end")
        parser.add_argument("--quiet", action="store_true", help="no progress line")

    def handle(self, *args, tps, duration, mix, seed, wait, as_json, quiet, **options):
        from kernelhost.sim.loadgen import run_load
        from kernelhost.sim.workload import parse_mix

        try:
            categories = parse_mix(mix)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if tps <= 0 or duration <= 0 or wait < 0:
            raise CommandError("--tps and --duration must be positive, --wait not negative")

        def write(text):
            if not quiet:
                self.stderr.write(text, ending="")
                self.stderr.flush()

        report = run_load(tps=tps, duration_s=duration, mix=categories, seed=seed, wait_s=wait, write=write)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self.stdout.write(
                f"submitted {report.submitted}  included {report.included} (ok {report.ok}, failed {report.failed})  "
                f"rejected {report.rejected}  errors {report.errors}  pending {report.pending}  "
                f"in {report.blocks} blocks  at {report.achieved_tps:.1f} tx/s")
            if report.behind:
                self.stdout.write(f"{report.behind} of {report.planned} planned transactions were not submitted: "
                                  f"the node could not take {tps:g} tx/s")
            if report.failed_codes:
                self.stdout.write("failed by code: " + ", ".join(f"{k}: {v}" for k, v in
                                                                 sorted(report.failed_codes.items())))
        if report.pending:
            self.stderr.write(f"{report.pending} transactions still had no result after waiting {wait:.0f}s")
