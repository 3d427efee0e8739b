"""Reads of chain data for the node pages: block history (the server-side metric history the
dashboard charts are drawn from, so a reload or a new tab shows the same curves), blocks
with their transactions, the action queue and per-block chain-send history."""

from __future__ import annotations

from django.db.models import Count, Q

from kernelhost.chain.models import Action, Block, NodeState, Transaction

CHART_BLOCKS = 60
BLOCKS_PAGE = 20


def node_state_get() -> NodeState | None:
    return NodeState.objects.filter(pk=1).first()


def latest_kernel_snapshot() -> dict:
    """The kernel status the runner stored with the most recent block that has one."""
    row = (Block.objects.filter(state=Block.COMMITTED).exclude(kernel_status={}).order_by("-height")
           .values("kernel_status").first())
    return (row or {}).get("kernel_status") or {}


def vats_online() -> dict[str, bool]:
    return {v.get("id"): bool(v.get("online")) for v in latest_kernel_snapshot().get("vats") or [] if v.get("id")}


def block_history(*, limit: int = CHART_BLOCKS) -> list[dict]:
    """The last `limit` committed blocks, oldest first, with the figures the charts plot:
    interval since the previous block, cranks, kernel time, queue lengths after the block."""
    rows = list(Block.objects.filter(state=Block.COMMITTED).order_by("-height")[: limit + 1]
                .values("height", "time_ms", "cranks", "kernel_time_ms", "commit_ms", "tx_count", "chain_sends",
                        "replayed", "kernel_status"))
    rows.reverse()
    pending = _action_queue_lengths([r["height"] for r in rows])
    out = []
    for previous, row in zip([None, *rows], rows, strict=False):
        status = row.pop("kernel_status") or {}
        row["intervalS"] = round((row["time_ms"] - previous["time_ms"]) / 1000, 3) if previous else None
        row["runQueueLength"] = status.get("runQueueLength")
        row["actionQueueLength"] = pending.get(row["height"])
        out.append(row)
    return out[-limit:]


def _action_queue_lengths(heights: list[int]) -> dict[int, int]:
    """Pending actions after each block, from when each action was queued and consumed
    (the action table is its own history; nothing extra is stored)."""
    if not heights:
        return {}
    low, high = min(heights), max(heights)
    spans = list(Action.objects.filter(queued_height__lte=high)
                 .filter(Q(consumed_height__isnull=True, state=Action.PENDING) | Q(consumed_height__gt=low))
                 .values_list("queued_height", "consumed_height"))
    return {h: sum(1 for queued, consumed in spans if queued <= h and (consumed is None or consumed > h))
            for h in heights}


def last_block() -> dict | None:
    return (Block.objects.filter(state=Block.COMMITTED).order_by("-height")
            .values("height", "time_ms", "cranks", "kernel_time_ms", "commit_ms", "tx_count", "chain_sends",
                    "replayed").first())


def blocks_page(*, before: int | None = None, limit: int = BLOCKS_PAGE) -> dict:
    """Recent committed blocks (newest first, keyset by height) with their transactions and
    results."""
    qs = Block.objects.filter(state=Block.COMMITTED).order_by("-height")
    if before is not None:
        qs = qs.filter(height__lt=before)
    blocks = list(qs[: limit + 1].values("height", "time_ms", "app_hash", "tx_count", "cranks", "kernel_time_ms",
                                          "commit_ms", "chain_sends", "replayed", "committed_at"))
    more = len(blocks) > limit
    blocks = blocks[:limit]
    heights = [b["height"] for b in blocks]
    txs: dict[int, list] = {h: [] for h in heights}
    for tx in (Transaction.objects.filter(height__in=heights).order_by("height", "index")
               .values("height", "index", "tx_hash", "type", "body", "status", "code", "message", "data")):
        txs[tx["height"]].append(tx)
    consumed = dict(Action.objects.filter(consumed_height__in=heights).values("consumed_height")
                    .annotate(n=Count("id")).values_list("consumed_height", "n"))
    for block in blocks:
        block["txs"] = txs.get(block["height"], [])
        block["failed"] = sum(1 for t in block["txs"] if t["code"] not in (0, None))
        block["actionsConsumed"] = consumed.get(block["height"], 0)
    return {"blocks": blocks, "next": heights[-1] if more and heights else None}


def action_queue(*, limit: int = 200) -> dict:
    qs = Action.objects.filter(state=Action.PENDING).order_by("seq")
    rows = list(qs[:limit].values("seq", "action_id", "kind", "body", "queued_height"))
    return {"items": rows, "length": qs.count()}


def chainsends_history(*, limit: int = 30) -> list[dict]:
    """Per committed block: how many chain-sends it made, and what the chain records of them
    (actions consumed or skipped at that height, swingset tx results settled)."""
    blocks = list(Block.objects.filter(state=Block.COMMITTED).order_by("-height")[:limit]
                  .values("height", "time_ms", "chain_sends", "chain_send_log", "cranks", "replayed"))
    heights = [b["height"] for b in blocks]
    per_height = {row["consumed_height"]: row for row in Action.objects.filter(consumed_height__in=heights)
                  .values("consumed_height").annotate(consumed=Count("id", filter=Q(state=Action.CONSUMED)),
                                                       skipped=Count("id", filter=Q(state=Action.SKIPPED)))}
    for block in blocks:
        row = per_height.get(block["height"], {})
        block["actionsConsumed"] = row.get("consumed", 0)
        block["actionsSkipped"] = row.get("skipped", 0)
    return blocks


def banner_status() -> dict | None:
    """The little of the node status the global banner needs (kernel paused, upgrade due),
    for pages that do not load the whole status."""
    node = node_state_get()
    if node is None:
        return None
    plan = None
    try:
        from kernelhost.governance.selectors import scheduled_plan
    except ImportError:
        scheduled_plan = None
    if scheduled_plan is not None:
        scheduled = scheduled_plan()
        if scheduled is not None:
            plan = {"name": scheduled.name, "height": scheduled.height, "bundleID": scheduled.bundle_id}
    return {"chain": {"height": node.height},
            "kernel": {"state": node.kernel_state, "pausedHeight": node.paused_height,
                       "pausedReason": node.paused_reason},
            "upgradePlan": plan}
