"""View models for the governance pages, as plain JSON-safe dicts: a page renders them, and
the live events carry the same dicts so a pushed fragment looks exactly like a loaded one."""

from __future__ import annotations

from fractions import Fraction

from kernelhost.chain.models import Action, Block, NodeState, Transaction
from kernelhost.governance import content as content_mod
from kernelhost.governance import selectors as gov
from kernelhost.governance.models import Proposal, UpgradePlan
from kernelhost.governance.tally import OPTIONS, TallyResult, pct

DISPLAY_ORDER = ("yes", "no", "veto", "abstain")  # against-votes side by side on the bars
OPTION_LABELS = {"yes": "Yes", "no": "No", "abstain": "Abstain", "veto": "No with veto"}
OUTCOME_LABELS = {
    "passed": "Passes", "rejected": "Rejected", "vetoed": "Vetoed", "no_quorum": "No quorum",
    "all_abstain": "Inconclusive (all abstain)", "no_power": "No voting power",
}
STATUS_BADGES = {Proposal.VOTING: "info", Proposal.PASSED: "ok", Proposal.REJECTED: "bad", Proposal.FAILED: "warn"}


def chain_clock() -> dict:
    """The committed height and the average block interval of the last blocks (for estimates)."""
    node = NodeState.objects.filter(pk=1).first()
    times = list(Block.objects.filter(state=Block.COMMITTED).order_by("-height").values_list("time_ms", flat=True)[:21])
    interval_s = None
    if len(times) >= 2:
        interval_s = (times[0] - times[-1]) / (len(times) - 1) / 1000
    return {
        "height": node.height if node else 0,
        "intervalS": interval_s,
        "kernelPaused": bool(node and node.kernel_state == NodeState.PAUSED),
        "pausedHeight": node.paused_height if node else None,
        "pausedReason": (node.paused_reason or "") if node else "",
        "pausedActionID": (node.paused_action_id or "") if node else "",
        "kernelBundleID": node.kernel_bundle_id if node else "",
    }


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 90:
        return f"~{seconds} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.1f} days"


def countdown(target_height: int | None, clock: dict) -> dict | None:
    if target_height is None:
        return None
    blocks = max(target_height - clock["height"], 0)
    estimate = duration_text(blocks * clock["intervalS"]) if clock["intervalS"] else ""
    return {"height": target_height, "blocks": blocks, "estimate": estimate}


def _p(value: Fraction) -> float:
    """A percentage for CSS widths (display only, never consensus)."""
    return round(float(value) * 100, 2)


def tally_view(result: TallyResult, params, *, expedited: bool) -> dict:
    threshold = params.ratio("expedited_threshold" if expedited else "threshold")
    quorum, veto_line = params.ratio("quorum"), params.ratio("veto_threshold")
    options = []
    for option in DISPLAY_ORDER:
        share = result.share(option)
        options.append({"key": option, "label": OPTION_LABELS[option], "power": getattr(result, option),
                        "pct": pct(share), "width": _p(share)})
    non_abstain = result.yes + result.no + result.veto
    yes_ratio, veto_ratio = result.yes_ratio, result.veto_ratio
    return {
        "options": options,
        "totalPower": result.total_power,
        "votedPower": result.voted_power, "notVotedPower": result.total_power - result.voted_power,
        "turnoutPct": pct(result.turnout), "turnoutWidth": _p(result.turnout),
        "quorumPct": pct(quorum), "quorumWidth": _p(quorum),
        "quorumReached": result.total_power > 0 and result.turnout >= quorum,
        "thresholdPct": pct(threshold), "thresholdWidth": _p(threshold),
        "yesRatioPct": pct(yes_ratio), "yesRatioWidth": _p(yes_ratio), "nonAbstain": non_abstain,
        "vetoThresholdPct": pct(veto_line), "vetoThresholdWidth": _p(veto_line),
        "vetoRatioPct": pct(veto_ratio), "vetoRatioWidth": _p(veto_ratio),
        "outcome": result.outcome, "outcomeLabel": OUTCOME_LABELS[result.outcome], "passes": result.passed,
        "reason": result.reason, "expedited": expedited,
    }


def content_view(p: Proposal, clock: dict) -> dict:
    c = p.content
    view = {"kind": p.kind, "kindLabel": content_mod.KIND_LABELS.get(p.kind, p.kind),
            "description": c.get("description", "")}
    if p.kind == content_mod.KERNEL_UPGRADE:
        plan = UpgradePlan.objects.filter(proposal_number=p.number).order_by("-seq").first()
        view.update(bundleID=c["bundleID"], height=c["height"], name=c["name"], info=c.get("info", ""),
                    countdown=countdown(c["height"], clock),
                    plan={"status": plan.status, "reason": plan.reason, "statusHeight": plan.status_height}
                    if plan else None)
    elif p.kind == content_mod.RESUME_KERNEL:
        remedy = c["remedy"]
        view.update(remedy=remedy, remedyKind=remedy["kind"],
                    remedyLabel=content_mod.REMEDY_LABELS.get(remedy["kind"], remedy["kind"]),
                    remedyText=content_mod.remedy_text(remedy), pausedHeight=p.paused_height,
                    pausedReason=p.paused_reason, pausedActionID=p.paused_action_id)
    elif p.kind == content_mod.CANCEL_UPGRADE:
        plan = UpgradePlan.objects.filter(name=c["name"]).order_by("-seq").first()
        view.update(name=c["name"], plan={"status": plan.status, "height": plan.height} if plan else None)
    return view


def proposal_row(p: Proposal, clock: dict, params, powers: dict[str, int]) -> dict:
    result = gov.tally_now(p, powers=powers, params=params)
    quorum = params.ratio("quorum")
    return {
        "number": p.number, "title": p.title, "kind": p.kind,
        "kindLabel": content_mod.KIND_LABELS.get(p.kind, p.kind),
        "status": p.status, "statusLabel": p.get_status_display(), "badge": STATUS_BADGES.get(p.status, "info"),
        "active": p.status == Proposal.VOTING, "expedited": p.expedited, "converted": p.converted,
        "outcome": p.outcome, "votingEndHeight": p.voting_end_height,
        "countdown": countdown(p.voting_end_height, clock) if p.status == Proposal.VOTING else None,
        "decidedHeight": p.decided_height,
        "turnoutPct": pct(result.turnout), "turnoutWidth": _p(result.turnout),
        "quorumPct": pct(quorum), "quorumWidth": _p(quorum),
        "quorumReached": result.total_power > 0 and result.turnout >= quorum,
        "ifEndedNow": OUTCOME_LABELS[result.outcome],
    }


def proposals_view() -> dict:
    clock, params, powers = chain_clock(), gov.params_get(), gov.validators_with_power()
    rows = [proposal_row(p, clock, params, powers) for p in gov.proposals_list()]
    return {"rows": rows, "activeCount": sum(r["active"] for r in rows), "clock": clock}


def _timeline(p: Proposal, clock: dict, params) -> list[dict]:
    steps = [{"label": "Submitted", "height": p.submit_height, "detail": f"by {p.proposer}", "done": True}]
    if p.converted:
        steps.append({"label": "Expedited vote failed; converted to a regular proposal",
                      "height": p.submit_height + params.expedited_voting_period_blocks,
                      "detail": (p.expedited_tally or {}).get("reason", ""), "done": True})
    if p.status == Proposal.VOTING:
        cd = countdown(p.voting_end_height, clock)
        steps.append({"label": "Voting ends", "height": p.voting_end_height, "done": False,
                      "detail": f"in {cd['blocks']} blocks {cd['estimate']}".strip()})
    else:
        steps.append({"label": f"Voting ended: {p.get_status_display().lower()}", "height": p.decided_height,
                      "detail": p.outcome_reason, "done": True})
    if p.execution_status:
        steps.append({"label": f"Execution: {p.execution_status}", "height": p.execution_height,
                      "detail": p.execution_message, "done": p.execution_status != Proposal.EXEC_PENDING})
    if p.kind == content_mod.KERNEL_UPGRADE and p.status in (Proposal.VOTING, Proposal.PASSED):
        plan = UpgradePlan.objects.filter(proposal_number=p.number).order_by("-seq").first()
        if plan is None or plan.status == UpgradePlan.SCHEDULED:
            cd = countdown(p.content["height"], clock)
            steps.append({"label": "Kernel upgrade", "height": p.content["height"], "done": False,
                          "detail": f"in {cd['blocks']} blocks {cd['estimate']}".strip()})
        else:
            steps.append({"label": f"Kernel upgrade {plan.status}", "height": plan.status_height, "done": True,
                          "detail": plan.reason})
    return steps


def proposal_view(p: Proposal) -> dict:
    clock, params, powers = chain_clock(), gov.params_get(), gov.validators_with_power()
    names = gov.validator_names()
    result = gov.tally_now(p, powers=powers, params=params)
    votes = []
    voted = set()
    for vote in p.votes.order_by("voter"):
        voted.add(vote.voter)
        power = powers.get(vote.voter, 0)
        votes.append({"voter": vote.voter, "name": names.get(vote.voter, ""), "option": vote.option,
                      "optionLabel": OPTION_LABELS.get(vote.option, vote.option), "power": power,
                      "powerPct": pct(Fraction(power, result.total_power)) if result.total_power else "0.0%",
                      "height": vote.height, "changed": vote.changes > 0})
    votes.sort(key=lambda v: (-v["power"], v["voter"]))
    not_voted = sorted(({"voter": a, "name": names.get(a, ""), "power": w} for a, w in powers.items()
                        if w > 0 and a not in voted), key=lambda v: (-v["power"], v["voter"]))
    return {
        "row": proposal_row(p, clock, params, powers),
        "number": p.number, "title": p.title, "proposer": p.proposer, "submitHeight": p.submit_height,
        "submitTime": p.submit_time, "content": content_view(p, clock),
        "tally": tally_view(result, params, expedited=p.expedited),
        "final": p.status != Proposal.VOTING,
        "expeditedTally": p.expedited_tally, "converted": p.converted,
        "votes": votes, "notVoted": not_voted, "timeline": _timeline(p, clock, params),
        "execution": {"status": p.execution_status, "message": p.execution_message, "height": p.execution_height},
        "outcomeReason": p.outcome_reason, "clock": clock,
    }


def pending_vote(validator: str | None, number: int) -> dict | None:
    """The user's vote transaction still in the mempool (or in a block not yet executed)."""
    if not validator:
        return None
    tx = (Transaction.objects.filter(type="gov/vote", status__in=(Transaction.PENDING, Transaction.INCLUDED),
                                     body__voter=validator, body__proposalId=number)
          .order_by("-id").first())
    return {"option": tx.body.get("option"), "txHash": tx.tx_hash} if tx else None


def vote_card(user, p: Proposal, *, is_voter: bool) -> dict:
    vp = gov.voting_power_for_user(user)
    current = p.votes.filter(voter=vp.validator).first() if vp.validator else None
    return {
        "isVoter": is_voter, "validator": vp.validator, "power": vp.power, "totalPower": vp.total_power,
        "powerPct": pct(Fraction(vp.power, vp.total_power)) if vp.total_power else "0.0%",
        "canVote": is_voter and vp.can_vote and p.status == Proposal.VOTING, "reason": vp.reason,
        "open": p.status == Proposal.VOTING,
        "current": current.option if current else None,
        "currentLabel": OPTION_LABELS.get(current.option) if current else None,
        "pending": pending_vote(vp.validator, p.number),
        "options": [{"key": o, "label": OPTION_LABELS[o]} for o in OPTIONS],
    }


def upgrades_view(clock: dict) -> dict:
    """The scheduled kernel upgrade plan (with its countdown) and the applied-upgrade history."""
    plan = gov.scheduled_plan()
    history = [{"name": a.name, "height": a.height, "old": a.old_bundle_id, "new": a.new_bundle_id, "ok": a.ok,
                "reason": a.reason} for a in gov.applied_upgrades()[:20]]
    return {
        "plan": {"name": plan.name, "height": plan.height, "bundleID": plan.bundle_id, "info": plan.info,
                 "proposal": plan.proposal_number, "countdown": countdown(plan.height, clock)} if plan else None,
        "history": history,
    }


def paused_view(clock: dict) -> dict | None:
    """While the kernel is paused: the panic, the action it was processing, the actions waiting
    to be delivered on resume, and the resume proposals answering this pause."""
    if not clock["kernelPaused"]:
        return None
    waiting = list(Action.objects.filter(state=Action.PENDING).order_by("seq")
                   .values("seq", "action_id", "kind", "queued_height")[:10])
    resumes = [{"number": p.number, "title": p.title, "status": p.status, "badge": STATUS_BADGES.get(p.status, "info")}
               for p in Proposal.objects.filter(kind=content_mod.RESUME_KERNEL, paused_height=clock["pausedHeight"])
               .order_by("-number")]
    return {"height": clock["pausedHeight"], "reason": clock["pausedReason"], "actionID": clock["pausedActionID"],
            "waiting": waiting, "waitingCount": Action.objects.filter(state=Action.PENDING).count(),
            "resumes": resumes}
