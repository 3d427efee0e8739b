"""Governance actions from the console: each one becomes a chain transaction in the mempool
(the console never writes governance state itself); the block that includes it decides."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from console.audit import FAILED, OK, audit_record
from kernelhost.chain.services.txs import submit_tx
from kernelhost.chain.txshapes import TxInvalid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    ok: bool
    tx_hash: str = ""
    error: str = ""


def _submit(tx: dict, *, user, action: str, target: str, detail: dict) -> Submitted:
    """Submit and write the audit entry (who, what, outcome; the tx hash when accepted)."""
    try:
        row = submit_tx(tx)
    except TxInvalid as exc:
        audit_record(user, action, target=target, outcome=FAILED, detail={**detail, "error": str(exc)})
        return Submitted(False, error=str(exc))
    log.info("console submitted %s tx %s", tx["type"], row.tx_hash[:12])
    audit_record(user, action, target=target, outcome=OK, detail={**detail, "txHash": row.tx_hash})
    return Submitted(True, tx_hash=row.tx_hash)


def vote_submit(*, validator: str, number: int, option: str, user=None) -> Submitted:
    return _submit({"type": "gov/vote", "voter": validator, "proposalId": number, "option": option},
                   user=user, action="gov.vote", target=f"proposal #{number}",
                   detail={"validator": validator, "option": option})


def proposal_submit(*, proposer: str, content: dict, expedited: bool, user=None) -> Submitted:
    tx = {"type": "gov/submitProposal", "proposer": proposer, "content": content}
    if expedited:
        tx["expedited"] = True
    detail = {"validator": proposer, "kind": content.get("kind"), "expedited": bool(expedited)}
    if content.get("bundleID"):
        detail["bundleID"] = content["bundleID"]
    return _submit(tx, user=user, action="gov.propose", target=str(content.get("title", ""))[:200], detail=detail)
