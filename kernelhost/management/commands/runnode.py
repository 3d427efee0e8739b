"""`manage.py runnode [--blocks N | --until-height H] [--block-time-ms MS] [--logical-clock]`."""

from __future__ import annotations

import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Produce and execute blocks, continuing from wherever the node stands (after a crash too)."

    def add_arguments(self, parser):
        limit = parser.add_mutually_exclusive_group()
        limit.add_argument("--blocks", type=int, help="make N more blocks, then stop")
        limit.add_argument("--until-height", type=int, help="stop once block H is committed")
        parser.add_argument("--block-time-ms", type=int, default=2000)
        parser.add_argument("--logical-clock", action="store_true",
                            help="block h's time = genesis time + h x block-time-ms, no waiting between blocks")
        parser.add_argument("--max-txs", type=int, default=500, help="transactions per block at most")
        parser.add_argument("--quiet", action="store_true", help="no line per block")

    def handle(self, *args, blocks, until_height, block_time_ms, logical_clock, max_txs, quiet, **options):
        from kernelhost.host.errors import DecoheredError
        from kernelhost.runner import NodeNotInitialisedError, RunnerLockedError, run_node

        stop = threading.Event()
        # Ctrl-C / SIGTERM finish the current block, then stop.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())

        def report(outcome):
            if not quiet:
                self.stdout.write(json.dumps({"height": outcome.height, "appHash": outcome.app_hash,
                                              "mode": outcome.mode, "txs": outcome.tx_count,
                                              "cranks": outcome.cranks, "kernel": outcome.kernel_state}))
                self.stdout.flush()

        try:
            run_node(stop=stop, block_time_ms=block_time_ms, blocks=blocks, until_height=until_height,
                     logical_clock=logical_clock, max_txs=max_txs, on_block=report)
        except DecoheredError as exc:
            raise CommandError(f"node stopped: {exc}\nSee docs/arch-node.md, 'When the node stops'.") from None
        except (NodeNotInitialisedError, RunnerLockedError) as exc:
            raise CommandError(str(exc)) from None
