"""`manage.py bench WORKLOAD --json`: one JSON line of figures (DESIGN §5).

    bench swingstore [--path DIR]
    bench pingpong [--n 500] [--worker local|subprocess] [--path DIR]
    bench blocks [--blocks 200] [--txs 50]
    bench replay [--vats 100] [--deliveries 1000] [--worker local|subprocess] [--path DIR]
    bench workers [--n 30]        (subprocess worker start: forked vs fresh)
    bench live [--clients 200] [--blocks 50]
    bench soak [--minutes 10] [--tps 50] [--clients 100]
    bench http [--seconds 60] [--users 20] [--tps 5]

`live`, `soak` and `http` run the console's benchmarks (`console.node.bench_live`,
`console.loadtest`), loaded by name: kernelhost never imports the console.
"""

from __future__ import annotations

import json
import tempfile

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

WORKLOADS = ["swingstore", "pingpong", "blocks", "replay", "workers", "live", "soak", "http"]
CONSOLE_BENCHES = {"live": "console.node.bench_live.run_live_bench", "soak": "console.loadtest.soak.run_soak",
                   "http": "console.loadtest.httpload.run_http_load"}
DEFAULT_BLOCKS = {"blocks": 200, "live": 50}
DEFAULT_CLIENTS = {"live": 200, "soak": 100}


class Command(BaseCommand):
    help = ("Run a benchmark workload (swingstore, pingpong, blocks, replay, workers, live, soak, http); "
            "print one JSON line.")

    def add_arguments(self, parser):
        parser.add_argument("workload", choices=WORKLOADS)
        parser.add_argument("--json", action="store_true", help="print one JSON line (the only format)")
        parser.add_argument("--path", help="directory for the throwaway store (default: a temp dir)")
        parser.add_argument("--n", type=int, default=None,
                            help="pingpong (default 500): pings; workers (default 30): starts of each kind")
        parser.add_argument("--worker", default="local", choices=["local", "subprocess"],
                            help="pingpong, replay: where the vats run")
        parser.add_argument("--blocks", type=int, default=None, help="blocks (default 200), live (default 50)")
        parser.add_argument("--txs", type=int, default=50, help="blocks: transactions per block")
        parser.add_argument("--vats", type=int, default=100, help="replay: number of counter vats")
        parser.add_argument("--deliveries", type=int, default=1000, help="replay: deliveries before the restart")
        parser.add_argument("--clients", type=int, default=None, help="live (default 200), soak (default 100): "
                            "websocket clients on the dashboard")
        parser.add_argument("--minutes", type=float, default=10, help="soak: minutes under load")
        parser.add_argument("--tps", type=float, default=None, help="soak (default 50), http (default 5): "
                            "load generator rate")
        parser.add_argument("--seconds", type=float, default=60, help="http: seconds of HTTP load")
        parser.add_argument("--users", type=int, default=20, help="http: concurrent simulated users")

    def handle(self, *args, workload, path, n, worker, blocks, txs, vats, deliveries, clients, minutes, tps,
               seconds, users, **options):
        blocks = DEFAULT_BLOCKS.get(workload) if blocks is None else blocks
        clients = DEFAULT_CLIENTS.get(workload) if clients is None else clients
        if workload in ("swingstore", "pingpong", "replay"):
            path = path or tempfile.mkdtemp(prefix=f"kc-bench-{workload}-")
        if workload == "swingstore":
            from kernelhost.swingstore.bench import run_swingstore_bench

            result = run_swingstore_bench(path)
        elif workload == "pingpong":
            from kernelhost.kernel_bench import run_pingpong

            result = run_pingpong(500 if n is None else n, worker, path)
        elif workload == "workers":
            if n is not None and n < 1:
                raise CommandError("--n must be >= 1")
            from kernelhost.workers.bench import worker_start_bench

            result = worker_start_bench(30 if n is None else n)
        elif workload == "replay":
            if vats < 1 or deliveries < 1:
                raise CommandError("--vats and --deliveries must be >= 1")
            from kernelhost.kernel_bench import run_replay

            result = run_replay(vats, deliveries, path, worker=worker)
        elif workload == "live":
            if clients < 1 or blocks < 1:
                raise CommandError("--clients and --blocks must be >= 1")
            result = self._console_bench(workload)(clients=clients, blocks=blocks)
        elif workload == "soak":
            tps = 50 if tps is None else tps
            if minutes <= 0 or tps <= 0 or clients < 1:
                raise CommandError("--minutes and --tps must be positive, --clients >= 1")
            result = self._console_bench(workload)(minutes=minutes, tps=tps, clients=clients,
                                                   write=self._progress)
        elif workload == "http":
            tps = 5 if tps is None else tps
            if seconds <= 0 or users < 1 or tps < 0:
                raise CommandError("--seconds must be positive, --users >= 1, --tps >= 0")
            result = self._console_bench(workload)(seconds=seconds, users=users, tps=tps, write=self._progress)
        else:
            if blocks < 1 or txs < 0:
                raise CommandError("--blocks must be >= 1 and --txs >= 0")
            from kernelhost.chain.bench import run_blocks_bench

            result = run_blocks_bench(blocks, txs)
        self.stdout.write(json.dumps(result, sort_keys=True, default=str))

    def _console_bench(self, workload: str):
        name = CONSOLE_BENCHES[workload]
        try:
            return import_string(name)
        except ImportError as exc:
            raise CommandError(f"the {workload} benchmark needs the console ({name}): {exc}") from exc

    def _progress(self, text: str) -> None:
        """Progress goes to stderr: stdout holds only the JSON line."""
        self.stderr.write(text, ending="")
        self.stderr.flush()
