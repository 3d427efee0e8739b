"""Reads of governance state, for the chain's hooks and for the console."""

from __future__ import annotations

from dataclasses import dataclass

from kernelhost.governance import tally as tally_mod
from kernelhost.governance.models import AppliedUpgrade, GovParamsRecord, Proposal, UpgradePlan, Vote, VoterLink
from kernelhost.governance.params import GovParams, params_from_dict


def validators_with_power() -> dict[str, int]:
    """Validator address -> voting power, from the chain's validator set. A validator with no
    power (unbonded, not in the active set) maps to 0: known, but it cannot vote."""
    from kernelhost.chain.models import Validator

    return {address: max(int(power), 0) for address, power in Validator.objects.order_by("address").values_list("address", "power")}


def validator_names() -> dict[str, str]:
    from kernelhost.chain.models import Validator

    return dict(Validator.objects.order_by("address").values_list("address", "name"))


def params_get() -> GovParams:
    record = GovParamsRecord.objects.filter(key="params").first()
    return params_from_dict(record.values if record else None)


def tally_rules(params: GovParams, *, expedited: bool) -> tally_mod.TallyRules:
    return tally_mod.TallyRules(
        quorum=params.ratio("quorum"),
        threshold=params.ratio("expedited_threshold" if expedited else "threshold"),
        veto_threshold=params.ratio("veto_threshold"),
    )


def proposal_votes(proposal: Proposal) -> dict[str, str]:
    return dict(Vote.objects.filter(proposal=proposal).order_by("voter").values_list("voter", "option"))


def tally_now(proposal: Proposal, *, powers: dict[str, int] | None = None,
              params: GovParams | None = None) -> tally_mod.TallyResult:
    """The "if it ended now" tally (x/gov's tally query): current votes, current power, the
    rules the proposal is under right now. For a decided proposal, its stored final tally."""
    if proposal.status != Proposal.VOTING and proposal.final_tally:
        return tally_mod.TallyResult.from_dict(proposal.final_tally)
    params = params or params_get()
    powers = validators_with_power() if powers is None else powers
    return tally_mod.tally(proposal_votes(proposal), powers, tally_rules(params, expedited=proposal.expedited))


def earliest_upgrade_height(current_height: int, params: GovParams | None = None) -> int:
    """The lowest plan height a kernelUpgrade proposal submitted at `current_height` may name:
    its regular voting period (expedited ones may fall back to it) plus the lead that leaves
    room for a cancelUpgrade vote after it passes."""
    params = params or params_get()
    return current_height + params.voting_period_blocks + params.upgrade_lead_blocks


def proposals_list(*, active_only: bool = False):
    qs = Proposal.objects.all().order_by("-number")
    if active_only:
        qs = qs.filter(status=Proposal.VOTING)
    return qs


def scheduled_plan() -> UpgradePlan | None:
    return UpgradePlan.objects.filter(status=UpgradePlan.SCHEDULED).order_by("-seq").first()


def applied_upgrades():
    return AppliedUpgrade.objects.all().order_by("-seq")


def applied_plan_names() -> set[str]:
    return set(AppliedUpgrade.objects.filter(ok=True).values_list("name", flat=True))


def voter_validator(user) -> str | None:
    """The validator a console user votes for, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    link = VoterLink.objects.filter(user=user).first()
    return link.validator_address if link else None


@dataclass(frozen=True)
class VotingPower:
    validator: str | None
    power: int
    total_power: int
    reason: str  # why the power is zero, empty when it is not

    @property
    def can_vote(self) -> bool:
        return self.power > 0


def voting_power_for_user(user, powers: dict[str, int] | None = None) -> VotingPower:
    powers = validators_with_power() if powers is None else powers
    total = sum(p for p in powers.values() if p > 0)
    validator = voter_validator(user)
    if validator is None:
        return VotingPower(None, 0, total, "Your account is not linked to a validator, so it has no voting power. "
                                           "Ask an admin to link it to the validator you operate.")
    if validator not in powers:
        return VotingPower(validator, 0, total, f"Your account is linked to {validator}, which is not a validator on this chain.")
    power = powers[validator]
    if power <= 0:
        return VotingPower(validator, 0, total, f"Validator {validator} holds no voting power right now "
                                                "(not bonded or not in the active set).")
    return VotingPower(validator, power, total, "")


def kernel_bundle_problem(bundle_id: str) -> str | None:
    """Why `bundle_id` cannot be a kernel upgrade target (not installed on chain, not a kernel
    bundle), or None when it can. Asks the chain app's record of installed bundles."""
    try:
        from kernelhost.chain import selectors as chain_selectors
    except ImportError:  # pragma: no cover - before the chain app exists
        return None
    lookup = getattr(chain_selectors, "kernel_bundle_problem", None)
    return lookup(bundle_id) if lookup else None
