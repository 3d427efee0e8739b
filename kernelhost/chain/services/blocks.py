"""One block, in order (DESIGN §2): the chain persists block h's tx list, then drives the
host through BEGIN_BLOCK, its own transactions, END_BLOCK, governance end-block, COMMIT_BLOCK
(swing-store commit, point A) and its own commit (point B), then AFTER_COMMIT."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from kernelhost.chain.models import Block, NodeState, Transaction
from kernelhost.chain.types import BlockContext
from kernelhost.failpoints import failpoint

from .apphash import compute_app_hash
from .govhooks import gov_end_block
from .hostport import DjangoChainPort
from .txs import execute_tx

log = logging.getLogger(__name__)
DEFAULT_MAX_TXS = 500


@dataclass
class BlockOutcome:
    height: int
    app_hash: str
    mode: str
    tx_count: int
    cranks: int
    block_s: float
    commit_s: float
    swingstore_commit_s: float
    chain_commit_s: float
    chain_sends: list
    kernel_state: str
    panicked: str | None


def _save_results(txs: list[Transaction]) -> None:
    """One prepared UPDATE run for every row (Django's bulk_update builds a CASE expression
    per row and field, which costs more than the statements it saves)."""
    if not txs:
        return
    data_field = Transaction._meta.get_field("data")
    rows = [(tx.status, tx.code, tx.message, data_field.get_db_prep_value(tx.data, connection), tx.pk) for tx in txs]
    table = connection.ops.quote_name(Transaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET status = %s, code = %s, message = %s, data = %s WHERE id = %s", rows)


def next_block(*, time_ms: int, max_txs: int = DEFAULT_MAX_TXS) -> Block:
    """The block to execute next: a proposed-but-uncommitted one if a crash left it (the
    same txs again, at the same time), else a new one from the mempool, committed before it
    runs so a crash re-executes exactly this block."""
    node = NodeState.objects.get(pk=1)
    height = node.height + 1
    existing = Block.objects.filter(height=height).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        node = NodeState.objects.select_for_update().get(pk=1)
        time_ms = max(time_ms, node.last_block_time_ms + 1)  # block times strictly increase
        pending = list(Transaction.objects.select_for_update().filter(status=Transaction.PENDING)
                       .order_by("id").values_list("id", flat=True)[:max_txs])
        for index, tx_id in enumerate(pending):
            Transaction.objects.filter(id=tx_id).update(status=Transaction.INCLUDED, height=height, index=index)
        block = Block.objects.create(height=height, time_ms=time_ms, tx_count=len(pending))
    failpoint("block.after_proposal")
    return block


def execute_block(host, block: Block) -> BlockOutcome:
    started = time.perf_counter()
    height = block.height
    try:
        with transaction.atomic():
            node = NodeState.objects.select_for_update().get(pk=1)
            if node.height != height - 1:
                raise RuntimeError(f"block {height} does not follow the chain height {node.height}")
            mode = host.begin_block(height, block.time_ms)
            ctx = BlockContext(height=height, time_ms=block.time_ms, node=node, replaying=mode == "replay")
            txs = list(Transaction.objects.filter(height=height).order_by("index"))
            for tx in txs:
                result = execute_tx(ctx, tx.type, tx.body, tx.index)
                tx.status, tx.code, tx.message, tx.data = Transaction.DONE, result.code, result.message, result.data
            _save_results(txs)  # before END_BLOCK's TX_RESULT sends read them
            stats = host.end_block(height, DjangoChainPort(ctx))
            host_actions = gov_end_block(ctx)
            if host_actions:
                node.pending_host_actions = list(node.pending_host_actions or []) + [a.as_dict() for a in host_actions]
            app_hash = compute_app_hash(node, height=height, time_ms=block.time_ms, prev_app_hash=node.app_hash)
            node.height, node.app_hash, node.last_block_time_ms = height, app_hash, block.time_ms
            node.save()
            commit_started = time.perf_counter()
            host.commit_block(height)  # point A: the swing-store commits first
            block.state, block.app_hash, block.committed_at = Block.COMMITTED, app_hash, timezone.now()
            block.cranks, block.kernel_time_ms = stats.cranks, round(stats.kernel_s * 1000, 3)
            block.chain_sends, block.replayed = stats.chain_sends, mode == "replay"
            block.chain_send_log = host.chain_sends[:Block.CHAIN_SEND_LOG_LIMIT]
            block.save()
            chain_commit_started = time.perf_counter()
        # point B: leaving atomic() committed the chain
    except BaseException:
        host.abort_block()
        raise
    chain_commit_s = time.perf_counter() - chain_commit_started
    failpoint("chain.after_commit")
    host.after_commit(height)
    commit_s = time.perf_counter() - commit_started
    Block.objects.filter(height=height).update(commit_ms=round(commit_s * 1000, 3))
    return BlockOutcome(height=height, app_hash=app_hash, mode=mode, tx_count=len(txs), cranks=stats.cranks,
                        block_s=time.perf_counter() - started, commit_s=commit_s,
                        swingstore_commit_s=stats.swingstore_commit_s, chain_commit_s=chain_commit_s,
                        chain_sends=host.chain_sends, kernel_state=node.kernel_state, panicked=stats.panicked)
