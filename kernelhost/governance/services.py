"""Governance writes: genesis, the end-block hook, upgrade results, the state hash, voter links.

Everything here runs inside the chain's block transaction (except `voter_link_ensure`, which
is console bookkeeping) and is deterministic: rows are visited in proposal-number order, new
numbers come from chain state, and nothing reads a clock or a database id.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction

from kernelhost.chain.types import HostAction
from kernelhost.governance import content as content_mod
from kernelhost.governance import selectors
from kernelhost.governance.models import AppliedUpgrade, GovParamsRecord, Proposal, UpgradePlan, Vote, VoterLink
from kernelhost.governance.params import params_from_dict
from kernelhost.governance.txs import paused_info

RESUME_KERNEL = "resumeKernel"
UPGRADE_KERNEL = "upgradeKernel"
# History name of a kernel switch made by a resumeKernel upgradeKernel remedy (no plan).
REMEDY_UPGRADE_NAME = "resume-remedy"


def gov_init_genesis(params: dict | None = None) -> None:
    """A fresh governance state at genesis: no proposals, plans or history, and the
    parameters given (defaults for the names not given). Voter links are console state and stay."""
    values = params_from_dict(params).to_dict()
    for model in (Vote, Proposal, UpgradePlan, AppliedUpgrade):
        model.objects.all().delete()
    GovParamsRecord.objects.update_or_create(key="params", defaults={"values": values})


def gov_end_block(ctx) -> list[HostAction]:
    """Tally the proposals whose voting ends at this height, execute the passed ones, and hand
    the host what it must do to the kernel: an `upgradeKernel` for the plan at this height
    (first), then a `resumeKernel` for a resume proposal that passed in this block (the host
    runs it at the next block)."""
    height = int(ctx.height)
    params = selectors.params_get()
    powers = selectors.validators_with_power()
    actions: list[HostAction] = []
    _reconcile_resumes(ctx, height)
    resume_taken = Proposal.objects.filter(kind=content_mod.RESUME_KERNEL,
                                           execution_status=Proposal.EXEC_PENDING).first()
    ending = Proposal.objects.filter(status=Proposal.VOTING, voting_end_height__lte=height).order_by("number")
    resumes: list[HostAction] = []
    for proposal in ending:
        result = selectors.tally_now(proposal, powers=powers, params=params)
        if proposal.expedited and not result.passed:
            # x/gov: a failed expedited proposal becomes a regular one with the regular period
            # counted from its start. Its votes are kept (deleting them is a known x/gov
            # defect) and may still be changed until the new end.
            proposal.expedited = False
            proposal.converted = True
            proposal.expedited_tally = result.to_dict()
            proposal.voting_end_height = proposal.submit_height + params.voting_period_blocks
            proposal.save(update_fields=["expedited", "converted", "expedited_tally", "voting_end_height"])
            if proposal.voting_end_height > height:
                continue
            result = selectors.tally_now(proposal, powers=powers, params=params)
        proposal.final_tally = result.to_dict()
        proposal.outcome = result.outcome
        proposal.outcome_reason = result.reason
        proposal.decided_height = height
        if not result.passed:
            proposal.status = Proposal.REJECTED
        else:
            proposal.status = Proposal.PASSED
            action = _execute(proposal, ctx, height, resume_taken)
            if action is not None:
                resume_taken = proposal
                resumes.append(action)
        proposal.save()
    for plan in UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED, height=height).order_by("seq"):
        actions.append(HostAction(kind=UPGRADE_KERNEL, params={"name": plan.name, "height": plan.height,
                                                               "bundleID": plan.bundle_id, "info": plan.info},
                                  proposal_id=plan.proposal_number, plan_name=plan.name))
    return actions + resumes


def _execute(proposal: Proposal, ctx, height: int, resume_taken: Proposal | None) -> HostAction | None:
    """Carry out a passed proposal's content. A failure marks it FAILED, as x/gov does when a
    passed proposal's messages fail, with the reason."""
    content = proposal.content
    kind = proposal.kind

    def done(message: str) -> None:
        proposal.execution_status, proposal.execution_message = Proposal.EXEC_DONE, message
        proposal.execution_height = height

    def fail(message: str) -> None:
        proposal.status = Proposal.FAILED
        proposal.execution_status, proposal.execution_message = Proposal.EXEC_FAILED, message
        proposal.execution_height = height

    if kind == content_mod.TEXT:
        done("text proposal: nothing to execute")
    elif kind == content_mod.KERNEL_UPGRADE:
        name, plan_height = content["name"], content["height"]
        if plan_height <= height:
            fail(f"upgrade height {plan_height} is not after the current height {height}")
        elif name in selectors.applied_plan_names():
            fail(f"an upgrade named {name} has already been applied")
        else:
            replaced = []
            for old in UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED).order_by("seq"):
                old.status, old.status_height = UpgradePlan.SUPERSEDED, height
                old.reason = f"replaced by proposal #{proposal.number}"
                old.save()
                replaced.append(old.name)
            UpgradePlan.objects.create(seq=_next_seq(UpgradePlan), name=name, height=plan_height,
                                       bundle_id=content["bundleID"], info=content.get("info", ""),
                                       proposal_number=proposal.number, status_height=height)
            note = f" (replacing {', '.join(replaced)})" if replaced else ""
            done(f"upgrade plan {name} scheduled at height {plan_height}{note}")
    elif kind == content_mod.CANCEL_UPGRADE:
        plans = list(UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED, name=content["name"]).order_by("seq"))
        for plan in plans:
            plan.status, plan.status_height = UpgradePlan.CANCELLED, height
            plan.reason = f"cancelled by proposal #{proposal.number}"
            plan.save()
        done(f"upgrade plan {content['name']} cancelled" if plans
             else f"no scheduled upgrade named {content['name']}: nothing to cancel")
    elif kind == content_mod.RESUME_KERNEL:
        paused_height = paused_info(ctx)[0]
        if not getattr(ctx, "kernel_paused", False):
            fail("the kernel is not paused any more")
        elif resume_taken is not None:
            fail(f"proposal #{resume_taken.number} already resumes the kernel")
        elif proposal.paused_height is not None and paused_height is not None and paused_height != proposal.paused_height:
            fail(f"the kernel was resumed and paused again at height {paused_height}; "
                 f"this proposal answered the pause at height {proposal.paused_height}")
        else:
            proposal.execution_status = Proposal.EXEC_PENDING
            proposal.execution_message = f"the kernel resumes at height {height + 1} ({content_mod.remedy_text(content['remedy'])})"
            proposal.execution_height = height + 1
            remedy = content["remedy"]
            params = {"remedy": remedy["kind"], **{k: v for k, v in sorted(remedy.items()) if k != "kind"}}
            return HostAction(kind=RESUME_KERNEL, params=params,
                              proposal_id=proposal.number, plan_name=None)
    return None


def _reconcile_resumes(ctx, height: int) -> None:
    """A resume handed to the host is done once the kernel runs again; if the host reported
    nothing and the kernel is still paused a block after it was due, the resume failed."""
    paused = bool(getattr(ctx, "kernel_paused", False))
    paused_height = paused_info(ctx)[0]
    for proposal in Proposal.objects.filter(execution_status=Proposal.EXEC_PENDING).order_by("number"):
        due = proposal.execution_height or height
        if not paused:
            _set_execution(proposal, True, f"the kernel resumed at height {due}", due)
        elif paused_height is not None and proposal.paused_height is not None and paused_height != proposal.paused_height:
            _set_execution(proposal, True, f"the kernel resumed at height {due} and paused again at {paused_height}", due)
        elif height > due:
            _set_execution(proposal, False, "the kernel is still paused after the resume was due", due)


def _set_execution(proposal: Proposal, ok: bool, message: str, height: int) -> None:
    proposal.execution_status = Proposal.EXEC_DONE if ok else Proposal.EXEC_FAILED
    proposal.execution_message = message
    proposal.execution_height = height
    if not ok:
        proposal.status = Proposal.FAILED
    proposal.save(update_fields=["execution_status", "execution_message", "execution_height", "status"])


def gov_record_execution(proposal_id: int, ok: bool, message: str, height: int) -> None:
    """The host's report on a resumeKernel it ran (optional: without it the next end-block
    infers the result from the pause state)."""
    proposal = Proposal.objects.filter(number=proposal_id).first()
    if proposal is not None:
        _set_execution(proposal, ok, message or ("resumed" if ok else "resume failed"), height)


def gov_record_upgrade_result(plan_name: str | None, height: int, old_bundle_id: str | None, new_bundle_id: str | None,
                              ok: bool, reason: str = "") -> None:
    """Record a kernel switch (from a plan, or from an upgradeKernel remedy) in the applied-
    upgrade history and settle its plan. Idempotent: re-executing a block updates the row."""
    height = int(height)
    plan_name = plan_name or REMEDY_UPGRADE_NAME
    with transaction.atomic():
        plan = UpgradePlan.objects.filter(name=plan_name, status=UpgradePlan.SCHEDULED).order_by("-seq").first()
        if plan is not None:
            plan.status = UpgradePlan.APPLIED if ok else UpgradePlan.FAILED
            plan.status_height, plan.reason = height, reason or ""
            plan.save()
            proposal = Proposal.objects.filter(number=plan.proposal_number).first()
            if proposal is not None:
                proposal.execution_message = (f"kernel upgraded at height {height}" if ok
                                              else f"kernel upgrade failed at height {height}: {reason}")
                proposal.save(update_fields=["execution_message"])
        values = {"old_bundle_id": old_bundle_id or "", "new_bundle_id": new_bundle_id or "", "ok": bool(ok),
                  "reason": reason or ""}
        row = AppliedUpgrade.objects.filter(name=plan_name, height=height).first()
        if row is None:
            AppliedUpgrade.objects.create(seq=_next_seq(AppliedUpgrade), name=plan_name, height=height, **values)
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.save()


def _next_seq(model) -> int:
    return (model.objects.order_by("-seq").values_list("seq", flat=True).first() or 0) + 1


def gov_state_snapshot() -> dict:
    """Consensus governance state as plain data: proposal numbers, heights, content, votes,
    plans, history. No database ids, no wall-clock times, every list in a fixed order."""
    proposals = []
    votes_by_proposal: dict[int, list] = {}
    for number, voter, option, first, last, changes in (
        Vote.objects.order_by("proposal__number", "voter")
        .values_list("proposal__number", "voter", "option", "first_height", "height", "changes")
    ):
        votes_by_proposal.setdefault(number, []).append([voter, option, first, last, changes])
    for p in Proposal.objects.order_by("number"):
        proposals.append({
            "number": p.number, "kind": p.kind, "title": p.title, "content": p.content, "proposer": p.proposer,
            "expedited": p.expedited, "converted": p.converted, "status": p.status,
            "submitHeight": p.submit_height, "votingEndHeight": p.voting_end_height,
            "expeditedTally": p.expedited_tally, "finalTally": p.final_tally, "outcome": p.outcome,
            "decidedHeight": p.decided_height, "execution": [p.execution_status, p.execution_message, p.execution_height],
            "paused": [p.paused_height, p.paused_reason, p.paused_action_id],
            "votes": votes_by_proposal.get(p.number, []),
        })
    plans = [[pl.seq, pl.name, pl.height, pl.bundle_id, pl.info, pl.proposal_number, pl.status, pl.status_height, pl.reason]
             for pl in UpgradePlan.objects.order_by("seq")]
    applied = [[a.seq, a.name, a.height, a.old_bundle_id, a.new_bundle_id, a.ok, a.reason]
               for a in AppliedUpgrade.objects.order_by("seq")]
    return {"params": selectors.params_get().to_dict(), "proposals": proposals, "plans": plans, "applied": applied}


def gov_state_hash() -> str:
    canonical = json.dumps(gov_state_snapshot(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def voter_link_ensure(user, validator_address: str) -> VoterLink:
    """Link a console user (a voter) to the validator whose power they vote with."""
    link, _ = VoterLink.objects.update_or_create(user=user, defaults={"validator_address": validator_address})
    return link
