"""`node_status()`: the status JSON of DESIGN §3 (`nodestatus --json`, /api/status, live
dashboard). Reads the chain database and, read-only, the swing-store's host keys; kernel
figures come from the snapshot the runner stored with the last committed block."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings

from kernelhost.chain import selectors
from kernelhost.chain.models import Block


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _host_keys() -> tuple[int | None, list]:
    """(host.height, host.chainSends) from the swing-store, or (None, []) without one."""
    from kernelhost.swingstore import SwingStoreError, open_swingstore

    try:
        store = open_swingstore(settings.SWINGSTORE_PATH, readonly=True)
    except SwingStoreError:
        return None, []
    try:
        with store.read_transaction():
            height = store.host.kv.get("host.height")
            sends = store.host.kv.get("host.chainSends")
        return (int(height) if height else 0), (json.loads(sends) if sends else [])
    finally:
        store.close()


def _block_interval_s(recent: list[dict]) -> float | None:
    times = [b["time_ms"] for b in recent]
    if len(times) < 2:
        return None
    return round((times[0] - times[-1]) / (len(times) - 1) / 1000, 3)


def _upgrade_plan() -> dict | None:
    try:
        from kernelhost.governance.selectors import scheduled_plan
    except ImportError:
        return None
    plan = scheduled_plan()
    if plan is None:
        return None
    return {"name": plan.name, "height": plan.height, "bundleID": plan.bundle_id, "status": plan.status}


def node_status() -> dict:
    node = selectors.node_state()
    if node is None:
        raise FileNotFoundError("the node is not initialised (run `manage.py initnode`)")
    saved_height, saved_sends = _host_keys()
    recent = list(Block.objects.filter(state=Block.COMMITTED).order_by("-height")[:11]
                  .values("height", "time_ms", "kernel_status"))
    snapshot = next((b["kernel_status"] for b in recent if b["kernel_status"]), {}) or {}
    vats = snapshot.get("vats") or []
    return {
        "chain": {
            "chainID": node.chain_id,
            "height": node.height,
            "appHash": node.app_hash,
            "lastBlockTime": _iso(node.last_block_time_ms),
            "blockIntervalS": _block_interval_s(recent),
        },
        "kernel": {
            "state": node.kernel_state,
            "bundleID": node.kernel_bundle_id or snapshot.get("bundleID"),
            "savedHeight": saved_height,
            "crankNumber": snapshot.get("crankNumber"),
            "runQueueLength": snapshot.get("runQueueLength"),
            "activityHash": snapshot.get("activityHash"),
            "pausedReason": node.paused_reason,
            "pausedHeight": node.paused_height,
            "pausedActionID": node.paused_action_id,
        },
        "vats": vats,
        "actionQueueLength": selectors.action_queue_length(),
        # Sends the swing-store committed that the chain has not (a crash between the two
        # commits): the next block replays them.
        "pendingChainSends": len(saved_sends) if saved_height and saved_height > node.height else 0,
        "upgradePlan": _upgrade_plan(),
    }
