"""Reads of chain state for the status JSON, the console and tests (no writes)."""

from __future__ import annotations

from .models import Action, Balance, Block, ExportDataEntry, NodeState, Transaction


def node_state() -> NodeState | None:
    return NodeState.objects.filter(pk=1).first()


def recent_blocks(limit: int = 20) -> list[dict]:
    return list(Block.objects.filter(state=Block.COMMITTED).order_by("-height")[:limit].values(
        "height", "time_ms", "tx_count", "app_hash", "cranks", "kernel_time_ms", "commit_ms", "chain_sends",
        "replayed"))


def app_hashes() -> dict[int, str]:
    return dict(Block.objects.filter(state=Block.COMMITTED).values_list("height", "app_hash"))


def balances() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for address, denom, amount in Balance.objects.order_by("address", "denom").values_list("address", "denom",
                                                                                          "amount"):
        out.setdefault(address, {})[denom] = str(int(amount))
    return out


def action_queue_length() -> int:
    return Action.objects.filter(state=Action.PENDING).count()


def actions_dump() -> list[dict]:
    return list(Action.objects.order_by("seq").values("seq", "action_id", "kind", "state", "queued_height",
                                                      "consumed_height"))


def tx_by_hash(tx_hash: str) -> Transaction | None:
    return Transaction.objects.filter(tx_hash=tx_hash).first()


def chain_dump() -> dict:
    """Consensus-relevant state as plain data (tests compare two nodes with it)."""
    node = node_state()
    return {
        "height": node.height if node else 0,
        "appHash": node.app_hash if node else "",
        "kernelState": node.kernel_state if node else None,
        "balances": balances(),
        "actions": actions_dump(),
        "exportDataKeys": ExportDataEntry.objects.count(),
        "txResults": list(Transaction.objects.exclude(height=None).order_by("height", "index")
                          .values_list("height", "index", "code", "data")),
    }


def bundle_installed(bundle_id: str) -> bool:
    """Installed in the swing-store as of the last block, per the export-data mirror."""
    return ExportDataEntry.objects.filter(key=f"bundle.{bundle_id}").exists()


def kernel_bundle_problem(bundle_id: str) -> str | None:
    """Why `bundle_id` cannot be a kernel upgrade target, or None. Consensus data only (the
    export-data mirror and installBundle results), so every node answers the same."""
    if not bundle_installed(bundle_id):
        return f"bundle {bundle_id} is not installed"
    kinds = {d.get("kind") for d in Transaction.objects.filter(type="swingset/installBundle", code=0)
             .values_list("data", flat=True) if d.get("bundleID") == bundle_id}
    kinds.discard(None)
    if kinds and "kernel" not in kinds:
        return f"bundle {bundle_id} is a {sorted(kinds)[0]} bundle, not a kernel bundle"
    return None
