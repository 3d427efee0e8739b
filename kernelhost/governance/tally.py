"""The x/gov tally, as a pure function (no Django, no floats).

Rules, in the order of cosmos-sdk `x/gov/keeper/tally.go`:
1. no voting power at all            -> fails ("no_power")
2. turnout (all votes incl. abstain) / total power < quorum -> fails ("no_quorum")
3. every vote is abstain             -> fails ("all_abstain", inconclusive)
4. veto / all votes > veto threshold -> fails ("vetoed")
5. yes / (all votes - abstain) > threshold -> passes ("passed"), otherwise "rejected"

Only validators that hold power when the tally runs count; a vote from anyone else is ignored
(as x/gov ignores validators outside the active set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

YES, NO, ABSTAIN, VETO = "yes", "no", "abstain", "veto"
OPTIONS = (YES, NO, ABSTAIN, VETO)

PASSED = "passed"
REJECTED = "rejected"
VETOED = "vetoed"
NO_QUORUM = "no_quorum"
ALL_ABSTAIN = "all_abstain"
NO_POWER = "no_power"
OUTCOMES = (PASSED, REJECTED, VETOED, NO_QUORUM, ALL_ABSTAIN, NO_POWER)


@dataclass(frozen=True)
class TallyRules:
    quorum: Fraction
    threshold: Fraction
    veto_threshold: Fraction


@dataclass(frozen=True)
class TallyResult:
    yes: int
    no: int
    abstain: int
    veto: int
    total_power: int
    outcome: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def voted_power(self) -> int:
        return self.yes + self.no + self.abstain + self.veto

    @property
    def turnout(self) -> Fraction:
        return Fraction(self.voted_power, self.total_power) if self.total_power else Fraction(0)

    def share(self, option: str) -> Fraction:
        """An option's share of the total power (what the bars are drawn against)."""
        return Fraction(getattr(self, option), self.total_power) if self.total_power else Fraction(0)

    @property
    def yes_ratio(self) -> Fraction:
        """Yes among non-abstain votes: the figure compared with the threshold."""
        base = self.yes + self.no + self.veto
        return Fraction(self.yes, base) if base else Fraction(0)

    @property
    def veto_ratio(self) -> Fraction:
        return Fraction(self.veto, self.voted_power) if self.voted_power else Fraction(0)

    def to_dict(self) -> dict:
        """Canonical, JSON-safe: integers and exact ratio strings only."""
        return {"yes": self.yes, "no": self.no, "abstain": self.abstain, "veto": self.veto,
                "totalPower": self.total_power, "outcome": self.outcome, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping) -> TallyResult:
        return cls(yes=data["yes"], no=data["no"], abstain=data["abstain"], veto=data["veto"],
                   total_power=data["totalPower"], outcome=data["outcome"], reason=data["reason"])


def pct(value: Fraction) -> str:
    """Deterministic percentage text with one decimal (half rounded up)."""
    tenths = (value * 1000 + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def tally(votes: Mapping[str, str], powers: Mapping[str, int], rules: TallyRules) -> TallyResult:
    """`votes`: voter -> option; `powers`: validator -> voting power (<= 0 means inactive)."""
    sums = dict.fromkeys(OPTIONS, 0)
    for voter in sorted(votes):
        option = votes[voter]
        if option not in sums:
            raise ValueError(f"unknown vote option {option!r}")
        power = powers.get(voter, 0)
        if power > 0:
            sums[option] += power
    total = sum(p for p in powers.values() if p > 0)
    voted = sum(sums.values())

    def result(outcome: str, reason: str) -> TallyResult:
        return TallyResult(yes=sums[YES], no=sums[NO], abstain=sums[ABSTAIN], veto=sums[VETO],
                           total_power=total, outcome=outcome, reason=reason)

    if total == 0:
        return result(NO_POWER, "no validator holds voting power")
    turnout = Fraction(voted, total)
    if turnout < rules.quorum:
        return result(NO_QUORUM, f"turnout {pct(turnout)} is below the quorum of {pct(rules.quorum)}")
    non_abstain = voted - sums[ABSTAIN]
    if non_abstain == 0:
        return result(ALL_ABSTAIN, "every vote is abstain, so there is nothing to decide")
    veto = Fraction(sums[VETO], voted)
    if veto > rules.veto_threshold:
        return result(VETOED, f"veto {pct(veto)} of the votes is above the veto threshold of {pct(rules.veto_threshold)}")
    yes = Fraction(sums[YES], non_abstain)
    if yes > rules.threshold:
        return result(PASSED, f"yes {pct(yes)} of the non-abstain votes is above the threshold of {pct(rules.threshold)}")
    return result(REJECTED, f"yes {pct(yes)} of the non-abstain votes is not above the threshold of {pct(rules.threshold)}")
