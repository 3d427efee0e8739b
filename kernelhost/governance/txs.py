"""Governance transactions: `gov/submitProposal` and `gov/vote`.

`apply_gov_tx(tx_type, body, ctx)` is the hook the chain calls while executing a block. A bad
transaction gets a non-zero code and a reason and changes nothing; it never raises.

Result codes are the chain's (kernelhost.chain.types): 0 ok, ERR_INVALID (2) for a malformed
body or content, ERR_GOV (20) for a refusal by governance rules. `data["error"]` names the
reason for machines (the E_* names below); the message explains it to people.
"""

from __future__ import annotations

from django.db import transaction

from kernelhost.chain.types import ERR_GOV, ERR_INVALID, OK, TxResult
from kernelhost.governance import content as content_mod
from kernelhost.governance import selectors
from kernelhost.governance.models import Proposal, UpgradePlan, Vote
from kernelhost.governance.tally import OPTIONS

SUBMIT_PROPOSAL = "gov/submitProposal"
VOTE = "gov/vote"

# data["error"] values; the ones in _MALFORMED get ERR_INVALID, the others ERR_GOV.
E_UNKNOWN_TX = "unknown_tx"
E_INVALID = "invalid"  # malformed body or content
E_BAD_OPTION = "bad_option"
E_NOT_A_VOTER = "not_a_voter"  # proposer/voter is not a validator or holds no power
E_KERNEL_NOT_PAUSED = "kernel_not_paused"  # resumeKernel while the kernel runs
E_UPGRADE_TOO_SOON = "upgrade_too_soon"  # plan height leaves no room for a cancel vote
E_BUNDLE = "bundle"  # bundle not installed, or not a kernel bundle
E_PLAN_NAME = "plan_name"  # name already applied, or nothing to cancel
E_UNKNOWN_PROPOSAL = "unknown_proposal"
E_VOTING_CLOSED = "voting_closed"
_MALFORMED = {E_UNKNOWN_TX, E_INVALID, E_BAD_OPTION}

class GovTxError(Exception):
    def __init__(self, error: str, message: str):
        super().__init__(message)
        self.error = error


def apply_gov_tx(tx_type: str, body: dict, ctx) -> TxResult:
    try:
        if not isinstance(body, dict):
            raise GovTxError(E_INVALID, "the transaction body must be an object")
        if tx_type == SUBMIT_PROPOSAL:
            handler = _submit_proposal
        elif tx_type == VOTE:
            handler = _vote
        else:
            raise GovTxError(E_UNKNOWN_TX, f"unknown governance transaction type {tx_type!r}")
        with transaction.atomic():
            data, message = handler(body, ctx)
        return TxResult(code=OK, message=message, data=data)
    except GovTxError as exc:
        code = ERR_INVALID if exc.error in _MALFORMED else ERR_GOV
        return TxResult(code=code, message=str(exc), data={"error": exc.error})


def _require_validator(address, role: str, powers: dict[str, int]) -> str:
    if not isinstance(address, str) or not address:
        raise GovTxError(E_INVALID, f"{role} must be a validator address")
    if address not in powers:
        raise GovTxError(E_NOT_A_VOTER, f"{role} {address} is not a validator, so it has no voting power")
    if powers[address] <= 0:
        raise GovTxError(E_NOT_A_VOTER, f"{role} {address} holds no voting power (not bonded or not active)")
    return address


def _submit_proposal(body: dict, ctx) -> tuple[dict, str]:
    unknown = sorted(set(body) - {"proposer", "content", "expedited"})
    if unknown:
        raise GovTxError(E_INVALID, f"gov/submitProposal does not take {', '.join(unknown)}")
    params = selectors.params_get()
    proposer = body.get("proposer")
    if params.proposer_must_be_validator:
        _require_validator(proposer, "proposer", selectors.validators_with_power())
    elif not isinstance(proposer, str) or not proposer:
        raise GovTxError(E_INVALID, "proposer must be an address")
    expedited = body.get("expedited", False)
    if not isinstance(expedited, bool):
        raise GovTxError(E_INVALID, "expedited must be true or false")
    try:
        content = content_mod.normalize_content(body.get("content"))
    except content_mod.ContentError as exc:
        raise GovTxError(E_INVALID, str(exc)) from None

    height = int(ctx.height)
    kind = content["kind"]
    paused_height, paused_reason, paused_action = None, "", ""
    if kind == content_mod.KERNEL_UPGRADE:
        _check_upgrade(content, height, params)
    elif kind == content_mod.RESUME_KERNEL:
        if not getattr(ctx, "kernel_paused", False):
            raise GovTxError(E_KERNEL_NOT_PAUSED, "the kernel is running: a resumeKernel proposal needs a paused kernel")
        remedy = content["remedy"]
        if remedy["kind"] == content_mod.REMEDY_UPGRADE_KERNEL:
            _check_kernel_bundle(remedy["bundleID"])
        paused_height, paused_reason, paused_action = paused_info(ctx)
    elif kind == content_mod.CANCEL_UPGRADE:
        name = content["name"]
        proposed = Proposal.objects.filter(status=Proposal.VOTING, kind=content_mod.KERNEL_UPGRADE,
                                           content__name=name).exists()
        if not proposed and not UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED, name=name).exists():
            raise GovTxError(E_PLAN_NAME, f"no upgrade named {name} is scheduled or being voted on")

    number = (Proposal.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    period = params.expedited_voting_period_blocks if expedited else params.voting_period_blocks
    proposal = Proposal.objects.create(
        number=number, kind=kind, title=content["title"], content=content, proposer=proposer,
        expedited=expedited, submit_height=height, submit_time=_block_time_text(ctx),
        voting_end_height=height + period, paused_height=paused_height, paused_reason=paused_reason,
        paused_action_id=paused_action,
    )
    data = {"proposalId": proposal.number, "votingEndHeight": proposal.voting_end_height}
    return data, f"proposal #{proposal.number} submitted; voting ends at height {proposal.voting_end_height}"


def _check_upgrade(content: dict, height: int, params) -> None:
    earliest = selectors.earliest_upgrade_height(height, params)
    if content["height"] < earliest:
        raise GovTxError(E_UPGRADE_TOO_SOON,
                         f"upgrade height {content['height']} is too soon: it must be at least {earliest} "
                         f"(voting period {params.voting_period_blocks} + {params.upgrade_lead_blocks} blocks "
                         "for a cancel vote)")
    if content["name"] in selectors.applied_plan_names():
        raise GovTxError(E_PLAN_NAME, f"an upgrade named {content['name']} has already been applied")
    _check_kernel_bundle(content["bundleID"])


def _check_kernel_bundle(bundle_id: str) -> None:
    problem = selectors.kernel_bundle_problem(bundle_id)
    if problem:
        raise GovTxError(E_BUNDLE, problem)


def paused_info(ctx) -> tuple[int | None, str, str]:
    """(height, reason, action id) of the kernel pause, from the block's node state."""
    node = getattr(ctx, "node", None)
    height = getattr(node, "paused_height", None)
    return ((int(height) if height is not None else None), str(getattr(node, "paused_reason", None) or ""),
            str(getattr(node, "paused_action_id", None) or ""))


def _block_time_text(ctx) -> str:
    block_time = getattr(ctx, "block_time", None)
    return block_time.isoformat() if block_time is not None else ""


def _vote(body: dict, ctx) -> tuple[dict, str]:
    unknown = sorted(set(body) - {"voter", "proposalId", "option"})
    if unknown:
        raise GovTxError(E_INVALID, f"gov/vote does not take {', '.join(unknown)}")
    option = body.get("option")
    if option not in OPTIONS:
        raise GovTxError(E_BAD_OPTION, f"option must be one of {', '.join(OPTIONS)}, not {option!r}")
    number = body.get("proposalId")
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool):
        raise GovTxError(E_INVALID, "proposalId must be a proposal number")
    proposal = Proposal.objects.filter(number=number).first()
    if proposal is None:
        raise GovTxError(E_UNKNOWN_PROPOSAL, f"there is no proposal #{number}")
    height = int(ctx.height)
    if proposal.status != Proposal.VOTING or height > proposal.voting_end_height:
        raise GovTxError(E_VOTING_CLOSED,
                         f"voting on proposal #{number} ended at height {proposal.voting_end_height}"
                         + (f" ({proposal.status})" if proposal.status != Proposal.VOTING else ""))
    voter = _require_validator(body.get("voter"), "voter", selectors.validators_with_power())
    vote = Vote.objects.filter(proposal=proposal, voter=voter).first()
    previous = vote.option if vote else None
    if vote is None:
        Vote.objects.create(proposal=proposal, voter=voter, option=option, first_height=height, height=height)
    else:
        vote.option, vote.height, vote.changes = option, height, vote.changes + (option != previous)
        vote.save(update_fields=["option", "height", "changes"])
    data = {"proposalId": number, "option": option, "previous": previous}
    verb = "voted" if previous is None else f"changed vote from {previous} to"
    return data, f"{voter} {verb} {option} on proposal #{number}"
