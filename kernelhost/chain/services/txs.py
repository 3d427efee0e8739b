"""Submitting transactions to the mempool and executing them inside a block."""

from __future__ import annotations

import hashlib
import logging
import uuid

from django.conf import settings
from django.db import DatabaseError, transaction

from kernelhost.chain.models import Transaction
from kernelhost.chain.txshapes import (
    GOV_PREFIX,
    SWINGSET_PREFIX,
    TxInvalid,
    canonical_json,
    decode_bundle,
    split_tx,
    validate_tx,
)
from kernelhost.chain.types import ERR_INTERNAL, ERR_INVALID, ERR_KERNEL_PAUSED, OK, BlockContext, TxResult
from kernelhost.failpoints import FailpointError

from . import actions, bank
from .govhooks import apply_gov_tx

log = logging.getLogger(__name__)


def _max_bundle_bytes() -> int:
    return int(getattr(settings, "BUNDLE_MAX_BYTES", 8 * 1024 * 1024))


def submit_tx(tx: object) -> Transaction:
    """Validate the shape and put the transaction in the mempool. Raises TxInvalid."""
    tx_type, body = split_tx(tx)
    body = validate_tx(tx_type, body, max_bundle_bytes=_max_bundle_bytes())
    # The hash names the submission (two identical sends are two transactions); it is
    # public, but never part of the app hash.
    digest = hashlib.sha256(f"{canonical_json([tx_type, body])}\n{uuid.uuid4()}".encode()).hexdigest()
    return Transaction.objects.create(tx_hash=digest, type=tx_type, body=body)


def execute_tx(ctx: BlockContext, tx_type: str, body: dict, index: int) -> TxResult:
    """Run one transaction of block ctx.height. A failing transaction changes nothing:
    governance's work runs in a savepoint rolled back unless it succeeded; bank and swingset
    transactions check everything before their first write (saving two statements per tx)."""
    try:
        if not tx_type.startswith(GOV_PREFIX):
            return _dispatch(ctx, tx_type, body, index)
        with transaction.atomic():
            result = _dispatch(ctx, tx_type, body, index)
            if not result.ok:
                transaction.set_rollback(True)
            return result
    except TxInvalid as exc:
        return TxResult(exc.code, str(exc))
    except (DatabaseError, FailpointError):
        raise  # not the transaction's fault, and not deterministic: stop the block
    except Exception as exc:  # noqa: BLE001 - a bad transaction must never stop the node
        log.exception("tx %s at %s/%s failed", tx_type, ctx.height, index)
        return TxResult(ERR_INTERNAL, f"internal error: {type(exc).__name__}: {exc}")


def _dispatch(ctx: BlockContext, tx_type: str, body: dict, index: int) -> TxResult:
    if tx_type.startswith(GOV_PREFIX):
        return apply_gov_tx(tx_type, body, ctx)
    body = validate_tx(tx_type, body, max_bundle_bytes=_max_bundle_bytes())
    if tx_type == "bank/send":
        return _bank_send(ctx, body, index)
    if tx_type.startswith(SWINGSET_PREFIX):
        if ctx.kernel_paused:
            return TxResult(ERR_KERNEL_PAUSED, f"kernel is paused since block {ctx.node.paused_height}: "
                                               f"{ctx.node.paused_reason}")
        return _swingset(ctx, tx_type, body, index)
    return TxResult(ERR_INVALID, f"unknown transaction type {tx_type!r}")


def _bank_send(ctx: BlockContext, body: dict, index: int) -> TxResult:
    from decimal import Decimal

    result = bank.transfer(body["from"], body["to"], Decimal(body["amount"]), body["denom"])
    if result.ok:
        # Tell the kernel (VBANK_BALANCE_UPDATE). Queued even while the kernel is paused:
        # delivered, once, when it runs again.
        updated = [{"address": a, "denom": body["denom"], "amount": result.data["balances"][a]}
                   for a in sorted(result.data["balances"])]
        actions.enqueue_action(ctx.node, action_id=f"{ctx.height}-{index}-vbank", kind=actions.VBANK_BALANCE_UPDATE,
                               body={"updated": updated}, height=ctx.height)
    return result


def _swingset(ctx: BlockContext, tx_type: str, body: dict, index: int) -> TxResult:
    action_id = f"{ctx.height}-{index}"
    if tx_type == "swingset/send":
        actions.enqueue_action(ctx.node, action_id=action_id, kind=actions.SWINGSET_SEND,
                               body={**body, "tx": [ctx.height, index]}, height=ctx.height)
        return TxResult(OK, "queued for the kernel", {"actionID": action_id, "status": "queued"})
    if tx_type == "swingset/deliverInbound":
        actions.enqueue_action(ctx.node, action_id=action_id, kind=actions.DELIVER_INBOUND, body=body,
                               height=ctx.height)
        return TxResult(OK, "queued for the kernel", {"actionID": action_id})
    from kernelhost.swingstore.bundleformat import BundleError, bundle_id_of, validate_bundle

    data = decode_bundle(body)
    try:
        manifest = validate_bundle(data)
    except BundleError as exc:
        return TxResult(ERR_INVALID, f"invalid bundle: {exc}")
    bundle_id = bundle_id_of(data)
    actions.enqueue_action(ctx.node, action_id=action_id, kind=actions.INSTALL_BUNDLE,
                           body={"bundle": body["bundle"], "bundleID": bundle_id, "tx": [ctx.height, index]},
                           height=ctx.height)
    return TxResult(OK, "queued for installation", {"actionID": action_id, "bundleID": bundle_id,
                                                     "kind": getattr(manifest, "kind", None)})
