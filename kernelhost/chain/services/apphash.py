"""The app hash: sha256 over a canonical JSON of the consensus state after a block.

Covered: chain id, height, block time, previous app hash, accounts, balances, validators,
pending actions and the action counter, chain storage, the export-data mirror (incremental
sum, see exportdata), the kernel's mode (running/paused, where, why, which action), the
kernel bundle id, host actions waiting for the next block, and governance's own state hash.
Never covered: database ids, wall-clock timestamps, execution figures (cranks, timings).
"""

from __future__ import annotations

import hashlib

from kernelhost.chain.models import Account, Action, Balance, NodeState, StorageEntry, Validator
from kernelhost.chain.txshapes import canonical_json

from .govhooks import gov_state_hash


def _digest(value) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def consensus_state(node: NodeState, *, height: int, time_ms: int, prev_app_hash: str) -> dict:
    balances = [[a, d, str(int(m))] for a, d, m in
                Balance.objects.order_by("address", "denom").values_list("address", "denom", "amount")]
    pending = [[s, i, k, b] for s, i, k, b in Action.objects.filter(state=Action.PENDING)
               .order_by("seq").values_list("seq", "action_id", "kind", "body")]
    return {
        "chainID": node.chain_id,
        "height": height,
        "timeMs": time_ms,
        "prev": prev_app_hash,
        "accounts": _digest(list(Account.objects.order_by("address").values_list("address", flat=True))),
        "balances": _digest(balances),
        "validators": _digest([list(v) for v in Validator.objects.order_by("address")
                               .values_list("address", "name", "power")]),
        "actions": {"next": node.next_action_seq, "pending": _digest(pending)},
        "storage": _digest([list(e) for e in StorageEntry.objects.order_by("path").values_list("path", "value")]),
        "exportData": node.export_data_acc,
        "kernel": {
            "state": node.kernel_state,
            "pausedHeight": node.paused_height,
            "pausedReason": node.paused_reason,
            "pausedActionID": node.paused_action_id,
            "bundleID": node.kernel_bundle_id,
            "pendingHostActions": node.pending_host_actions,
        },
        "gov": gov_state_hash(),
    }


def compute_app_hash(node: NodeState, *, height: int, time_ms: int, prev_app_hash: str) -> str:
    return _digest(consensus_state(node, height=height, time_ms=time_ms, prev_app_hash=prev_app_hash))
