"""The action queue: chain -> kernel work that stays in chain state until a committed kernel
block consumed it (so a kernel rollback or a paused kernel loses nothing)."""

from __future__ import annotations

from kernelhost.chain.models import Action, NodeState

# Kinds the host knows how to deliver.
SWINGSET_SEND = "SWINGSET_SEND"
DELIVER_INBOUND = "DELIVER_INBOUND"
INSTALL_BUNDLE = "INSTALL_BUNDLE"
VBANK_BALANCE_UPDATE = "VBANK_BALANCE_UPDATE"


def enqueue_action(node: NodeState, *, action_id: str, kind: str, body: dict, height: int) -> Action:
    # The counter lives on the block's NodeState row object and is written once when the
    # block saves it (a failed tx never reaches this: enqueueing is a tx's last step).
    seq = node.next_action_seq
    node.next_action_seq = seq + 1
    return Action.objects.create(seq=seq, action_id=action_id, kind=kind, body=body, queued_height=height)


def pending_actions(limit: int | None = None) -> list[dict]:
    rows = Action.objects.filter(state=Action.PENDING).order_by("seq").values("seq", "action_id", "kind", "body")
    if limit is not None:
        rows = rows[:limit]
    return [{"seq": r["seq"], "actionID": r["action_id"], "kind": r["kind"], "body": r["body"]} for r in rows]


def finish_action(action_id: str, *, height: int, state: str, result: dict) -> bool:
    """Mark a pending action consumed/skipped. False if it was not pending (a second
    consumption would be a bug: the caller reports it instead of applying it twice)."""
    return bool(Action.objects.filter(action_id=action_id, state=Action.PENDING)
                .update(state=state, consumed_height=height, result=result))
