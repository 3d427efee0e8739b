"""`manage.py bench WORKLOAD --json`: one JSON line of figures (DESIGN §5).

    bench swingstore [--path DIR]
    bench pingpong [--n 500] [--worker local|subprocess] [--path DIR]
    bench blocks [--blocks 200] [--txs 50]
"""

from __future__ import annotations

import json
import tempfile

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a benchmark workload (swingstore, pingpong, blocks) and print one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("workload", choices=["swingstore", "pingpong", "blocks"])
        parser.add_argument("--json", action="store_true", help="print one JSON line (the only format)")
        parser.add_argument("--path", help="directory for the throwaway store (default: a temp dir)")
        parser.add_argument("--n", type=int, default=500, help="pingpong: number of pings")
        parser.add_argument("--worker", default="local", choices=["local", "subprocess"])
        parser.add_argument("--blocks", type=int, default=200, help="blocks: how many blocks")
        parser.add_argument("--txs", type=int, default=50, help="blocks: transactions per block")

    def handle(self, *args, workload, path, n, worker, blocks, txs, **options):
        path = path or tempfile.mkdtemp(prefix=f"kc-bench-{workload}-")
        if workload == "swingstore":
            from kernelhost.swingstore.bench import run_swingstore_bench

            result = run_swingstore_bench(path)
        elif workload == "pingpong":
            from kernelhost.kernel_bench import run_pingpong

            result = run_pingpong(n, worker, path)
        else:
            if blocks < 1 or txs < 0:
                raise CommandError("--blocks must be >= 1 and --txs >= 0")
            from kernelhost.chain.bench import run_blocks_bench

            result = run_blocks_bench(blocks, txs)
        self.stdout.write(json.dumps(result, sort_keys=True))
