"""Governance parameters: block-based periods and x/gov's tally ratios.

Pure (no Django). Ratios are decimal strings, as in x/gov's `Params`, and are compared as exact
fractions, never floats, so every node reaches the same result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction


class ParamsError(ValueError):
    pass


@dataclass(frozen=True)
class GovParams:
    voting_period_blocks: int = 10
    expedited_voting_period_blocks: int = 4
    quorum: str = "0.334"
    threshold: str = "0.5"
    expedited_threshold: str = "0.667"
    veto_threshold: str = "0.334"
    # Blocks between the end of an upgrade proposal's (regular) voting period and the plan's
    # height, so a cancelUpgrade proposal submitted after it passes can still be voted on.
    # None means voting_period_blocks + 2.
    min_upgrade_lead_blocks: int | None = None
    # Only validators (voters) may submit proposals: there is no deposit to deter spam.
    proposer_must_be_validator: bool = True

    @property
    def upgrade_lead_blocks(self) -> int:
        if self.min_upgrade_lead_blocks is None:
            return self.voting_period_blocks + 2
        return self.min_upgrade_lead_blocks

    def ratio(self, name: str) -> Fraction:
        return Fraction(Decimal(getattr(self, name)))

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> GovParams:
        for name in ("voting_period_blocks", "expedited_voting_period_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParamsError(f"{name} must be a positive whole number of blocks, not {value!r}")
        if self.expedited_voting_period_blocks >= self.voting_period_blocks:
            raise ParamsError("expedited_voting_period_blocks must be shorter than voting_period_blocks")
        for name in ("quorum", "threshold", "expedited_threshold", "veto_threshold"):
            raw = getattr(self, name)
            try:
                value = Fraction(Decimal(str(raw)))
            except (InvalidOperation, ValueError):
                raise ParamsError(f"{name} must be a decimal string such as '0.5', not {raw!r}") from None
            if not isinstance(raw, str) or not 0 < value <= 1:
                raise ParamsError(f"{name} must be a decimal string in (0, 1], not {raw!r}")
        if self.ratio("expedited_threshold") <= self.ratio("threshold"):
            raise ParamsError("expedited_threshold must be greater than threshold")
        lead = self.min_upgrade_lead_blocks
        if lead is not None and (not isinstance(lead, int) or isinstance(lead, bool) or lead < 1):
            raise ParamsError(f"min_upgrade_lead_blocks must be a positive whole number or null, not {lead!r}")
        if not isinstance(self.proposer_must_be_validator, bool):
            raise ParamsError("proposer_must_be_validator must be true or false")
        return self


DEFAULT_PARAMS = GovParams()
_NAMES = {f.name for f in fields(GovParams)}


def params_from_dict(values: dict | None) -> GovParams:
    """Defaults overridden by `values`; unknown names are an error, not silently ignored."""
    values = dict(values or {})
    unknown = sorted(set(values) - _NAMES)
    if unknown:
        raise ParamsError(f"unknown governance parameters: {', '.join(unknown)}")
    return replace(DEFAULT_PARAMS, **values).validate()
