"""`bench blocks`: block latency under load (median and p99 block time and commit time).

Runs on a throwaway database created next to the configured one (Django's test-database
machinery: `test_<name>` on PostgreSQL when DATABASE_URL is set, a SQLite file in a temp
directory otherwise, with the same WAL/synchronous settings), and a fresh swing-store from
the demo genesis, so a real node's data is never touched. Each block carries `txs`
transactions: 80% bank sends (each also queues a balance update for the kernel) and 20%
swingset sends that query a balance through the bridge device (a chain-send each).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connections


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ms(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values) * 1000, 2), "p99_ms": round(_pct(values, 0.99) * 1000, 2)}


def run_blocks_bench(blocks: int = 200, txs: int = 50) -> dict:
    connection = connections["default"]
    tmp = Path(tempfile.mkdtemp(prefix="kc-bench-blocks-"))
    if connection.vendor == "sqlite":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(tmp / "bench-chain.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    old_path = settings.SWINGSTORE_PATH
    settings.SWINGSTORE_PATH = str(tmp / "bench-swingstore.sqlite")
    try:
        return _run(blocks, txs, connection.vendor)
    finally:
        settings.SWINGSTORE_PATH = old_path
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _run(blocks: int, txs: int, vendor: str) -> dict:
    from kernelhost.chain.models import NodeState
    from kernelhost.chain.services.blocks import execute_block, next_block
    from kernelhost.chain.services.node_genesis import init_node
    from kernelhost.chain.services.txs import submit_tx
    from kernelhost.host.host import Host

    init_node(settings.SWINGSTORE_PATH)
    host = Host.open(settings.SWINGSTORE_PATH)
    block_s, commit_s, ss_commit_s, chain_commit_s, cranks = [], [], [], [], 0
    started = time.perf_counter()
    try:
        for _ in range(blocks):
            for i in range(txs):
                if i % 5 == 4:
                    submit_tx({"type": "swingset/send", "vat": "bank-watcher", "method": "query_balance",
                               "args": ["alice", "ucon"]})
                else:
                    src, dst = ("alice", "bob") if i % 2 else ("bob", "alice")
                    submit_tx({"type": "bank/send", "from": src, "to": dst, "amount": "1", "denom": "ucon"})
            node = NodeState.objects.get(pk=1)
            outcome = execute_block(host, next_block(time_ms=node.last_block_time_ms + 1000, max_txs=txs))
            block_s.append(outcome.block_s)
            commit_s.append(outcome.commit_s)
            ss_commit_s.append(outcome.swingstore_commit_s)
            chain_commit_s.append(outcome.chain_commit_s)
            cranks += outcome.cranks
    finally:
        host.close()
    run_s = time.perf_counter() - started
    return {
        "workload": "blocks", "blocks": blocks, "txs_per_block": txs, "database": vendor,
        "block": _ms(block_s), "commit": _ms(commit_s), "swingstore_commit": _ms(ss_commit_s),
        "chain_commit": _ms(chain_commit_s), "cranks": cranks, "run_s": round(run_s, 2),
        "txs_per_s": round(blocks * txs / run_s, 1),
    }
