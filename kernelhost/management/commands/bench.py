"""`manage.py bench WORKLOAD --json`: one JSON line of figures (DESIGN §5).

    bench swingstore [--path DIR]
    bench pingpong [--n 500] [--worker local|subprocess] [--path DIR]
    bench blocks [--blocks 200] [--txs 50]
    bench replay [--vats 100] [--deliveries 1000] [--worker local|subprocess] [--path DIR]
    bench live [--clients 200] [--blocks 50]

`live` runs the console's live-update benchmark (`console.node.bench_live.run_live_bench`),
loaded by name: kernelhost never imports the console.
"""

from __future__ import annotations

import json
import tempfile

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

WORKLOADS = ["swingstore", "pingpong", "blocks", "replay", "live"]
LIVE_BENCH = "console.node.bench_live.run_live_bench"
DEFAULT_BLOCKS = {"blocks": 200, "live": 50}


class Command(BaseCommand):
    help = "Run a benchmark workload (swingstore, pingpong, blocks, replay, live) and print one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("workload", choices=WORKLOADS)
        parser.add_argument("--json", action="store_true", help="print one JSON line (the only format)")
        parser.add_argument("--path", help="directory for the throwaway store (default: a temp dir)")
        parser.add_argument("--n", type=int, default=500, help="pingpong: number of pings")
        parser.add_argument("--worker", default="local", choices=["local", "subprocess"],
                            help="pingpong, replay: where the vats run")
        parser.add_argument("--blocks", type=int, default=None, help="blocks (default 200), live (default 50)")
        parser.add_argument("--txs", type=int, default=50, help="blocks: transactions per block")
        parser.add_argument("--vats", type=int, default=100, help="replay: number of counter vats")
        parser.add_argument("--deliveries", type=int, default=1000, help="replay: deliveries before the restart")
        parser.add_argument("--clients", type=int, default=200, help="live: websocket clients")

    def handle(self, *args, workload, path, n, worker, blocks, txs, vats, deliveries, clients, **options):
        blocks = DEFAULT_BLOCKS.get(workload) if blocks is None else blocks
        if workload in ("swingstore", "pingpong", "replay"):
            path = path or tempfile.mkdtemp(prefix=f"kc-bench-{workload}-")
        if workload == "swingstore":
            from kernelhost.swingstore.bench import run_swingstore_bench

            result = run_swingstore_bench(path)
        elif workload == "pingpong":
            from kernelhost.kernel_bench import run_pingpong

            result = run_pingpong(n, worker, path)
        elif workload == "replay":
            if vats < 1 or deliveries < 1:
                raise CommandError("--vats and --deliveries must be >= 1")
            from kernelhost.kernel_bench import run_replay

            result = run_replay(vats, deliveries, path, worker=worker)
        elif workload == "live":
            if clients < 1 or blocks < 1:
                raise CommandError("--clients and --blocks must be >= 1")
            try:
                run_live_bench = import_string(LIVE_BENCH)
            except ImportError as exc:
                raise CommandError(f"the live benchmark needs the console ({LIVE_BENCH}): {exc}") from exc
            result = run_live_bench(clients=clients, blocks=blocks)
        else:
            if blocks < 1 or txs < 0:
                raise CommandError("--blocks must be >= 1 and --txs >= 0")
            from kernelhost.chain.bench import run_blocks_bench

            result = run_blocks_bench(blocks, txs)
        self.stdout.write(json.dumps(result, sort_keys=True, default=str))
