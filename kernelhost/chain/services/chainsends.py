"""Chain-sends: everything the kernel side does to the chain during a block.

The host records each send with its result in the swing-store (host.chainSends) so a block
the swing-store committed but the chain did not can be re-applied on the chain alone (seed
003). A send is a JSON dict {"type": ..., ...}; its result is a JSON dict, errors included
(a refused give is a result, not an exception), so a replay can compare results exactly.

Bridge sends (made by the kernel's devices):
    VBANK_GIVE {address, denom, amount}    -> {ok, balance} | {ok: false, error}
    VBANK_GRAB {address, denom, amount}    -> {ok, balance} | {ok: false, error}
    VBANK_GET_BALANCE {address, denom}     -> {ok, amount}
    VSTORAGE_SET {path, value|null}        -> {ok}
    VSTORAGE_GET {path}                    -> {ok, value}
Host sends (made by the host about the kernel's work):
    ACTION_DONE {actionID, result}          the action left the queue (consumed)
    ACTION_SKIPPED {actionID, reason}       skipAction remedy
    TX_RESULT {tx: [height, index], data}   merge into a transaction's result data
    KERNEL_PAUSED {reason, actionID}        the kernel panicked in this block
    KERNEL_RESUMED {remedy}                 a resumeKernel host action succeeded
    HOST_ACTION_DONE {action, ok, reason, oldBundleID, newBundleID}
"""

from __future__ import annotations

from decimal import Decimal

from kernelhost.chain.models import Action, NodeState, StorageEntry, Transaction
from kernelhost.chain.txshapes import TxInvalid, parse_amount
from kernelhost.chain.types import BlockContext, HostAction

from . import actions, bank
from .govhooks import gov_record_execution, gov_record_upgrade_result


class ChainSendError(ValueError):
    """A send the chain cannot even interpret (a host bug, not a vat's mistake)."""


def _amount(send: dict) -> Decimal:
    return parse_amount(send.get("amount"))


def apply_chain_send(ctx: BlockContext, send: dict) -> dict:
    kind = send.get("type")
    handler = _HANDLERS.get(kind)
    if handler is None:
        return {"ok": False, "error": f"unknown chain-send type {kind!r}"}
    try:
        return handler(ctx, send)
    except TxInvalid as exc:
        return {"ok": False, "error": str(exc)}
    except KeyError as exc:
        return {"ok": False, "error": f"missing field {exc.args[0]!r}"}


def _give(ctx: BlockContext, send: dict) -> dict:
    address, denom = send["address"], send["denom"]
    if not bank.account_exists(address):
        return {"ok": False, "error": f"unknown account {address!r}"}
    return {"ok": True, "balance": str(bank.credit(address, denom, _amount(send)))}


def _grab(ctx: BlockContext, send: dict) -> dict:
    address, denom = send["address"], send["denom"]
    if not bank.account_exists(address):
        return {"ok": False, "error": f"unknown account {address!r}"}
    left = bank.debit(address, denom, _amount(send))
    if left is None:
        return {"ok": False, "error": "insufficient funds"}
    return {"ok": True, "balance": str(left)}


def _get_balance(ctx: BlockContext, send: dict) -> dict:
    return {"ok": True, "amount": str(bank.get_balance(send["address"], send["denom"]))}


def _storage_set(ctx: BlockContext, send: dict) -> dict:
    path, value = str(send["path"]), send.get("value")
    if value is None:
        StorageEntry.objects.filter(path=path).delete()
    else:
        StorageEntry.objects.update_or_create(path=path, defaults={"value": str(value)})
    return {"ok": True}


def _storage_get(ctx: BlockContext, send: dict) -> dict:
    value = StorageEntry.objects.filter(path=str(send["path"])).values_list("value", flat=True).first()
    return {"ok": True, "value": value}


def _action_done(ctx: BlockContext, send: dict) -> dict:
    if not actions.finish_action(send["actionID"], height=ctx.height, state=Action.CONSUMED,
                                 result=send.get("result") or {}):
        return {"ok": False, "error": f"action {send['actionID']} is not pending"}
    return {"ok": True}


def _action_skipped(ctx: BlockContext, send: dict) -> dict:
    if not actions.finish_action(send["actionID"], height=ctx.height, state=Action.SKIPPED,
                                 result={"skipped": send.get("reason", "")}):
        return {"ok": False, "error": f"action {send['actionID']} is not pending"}
    return {"ok": True}


def _tx_result(ctx: BlockContext, send: dict) -> dict:
    height, index = send["tx"]
    tx = Transaction.objects.filter(height=height, index=index).first()
    if tx is None:
        return {"ok": False, "error": f"no transaction at {height}/{index}"}
    tx.data = {**(tx.data or {}), **send["data"]}
    tx.awaiting_kernel = tx.data.get("status") == "unresolved"
    tx.save(update_fields=["data", "awaiting_kernel"])
    return {"ok": True}


def _kernel_paused(ctx: BlockContext, send: dict) -> dict:
    node: NodeState = ctx.node
    node.kernel_state = NodeState.PAUSED
    node.paused_height = ctx.height
    node.paused_reason = str(send.get("reason") or "kernel panic")[:2000]
    node.paused_action_id = send.get("actionID")
    node.save(update_fields=["kernel_state", "paused_height", "paused_reason", "paused_action_id"])
    return {"ok": True}


def _kernel_resumed(ctx: BlockContext, send: dict) -> dict:
    node: NodeState = ctx.node
    node.kernel_state = NodeState.RUNNING
    node.paused_height = None
    node.paused_reason = None
    node.paused_action_id = None
    node.save(update_fields=["kernel_state", "paused_height", "paused_reason", "paused_action_id"])
    return {"ok": True}


def _host_action_done(ctx: BlockContext, send: dict) -> dict:
    """Retire the first pending host action and tell governance how it went."""
    node: NodeState = ctx.node
    action = HostAction.from_dict(send["action"])
    pending = list(node.pending_host_actions or [])
    if not pending or pending[0] != action.as_dict():
        return {"ok": False, "error": "host action is not the next pending one"}
    node.pending_host_actions = pending[1:]
    if send.get("ok") and send.get("newBundleID"):
        node.kernel_bundle_id = send["newBundleID"]
    node.save(update_fields=["pending_host_actions", "kernel_bundle_id"])
    if action.kind == "resumeKernel" and action.proposal_id is not None:
        gov_record_execution(action.proposal_id, bool(send.get("ok")),
                             "the kernel resumed" if send.get("ok") else f"resume failed: {send.get('reason')}",
                             ctx.height)
    if action.kind == "upgradeKernel" or action.params.get("remedy") == "upgradeKernel":
        gov_record_upgrade_result(action.plan_name, ctx.height, send.get("oldBundleID") or "",
                                  send.get("newBundleID") or action.params.get("bundleID") or "",
                                  bool(send.get("ok")), str(send.get("reason") or ""))
    return {"ok": True}


_HANDLERS = {
    "VBANK_GIVE": _give,
    "VBANK_GRAB": _grab,
    "VBANK_GET_BALANCE": _get_balance,
    "VSTORAGE_SET": _storage_set,
    "VSTORAGE_GET": _storage_get,
    "ACTION_DONE": _action_done,
    "ACTION_SKIPPED": _action_skipped,
    "TX_RESULT": _tx_result,
    "KERNEL_PAUSED": _kernel_paused,
    "KERNEL_RESUMED": _kernel_resumed,
    "HOST_ACTION_DONE": _host_action_done,
}
