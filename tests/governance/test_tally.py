"""The pure tally: x/gov's rules in their order, table-driven, and a property test against a
straightforward reference written with integer cross-multiplication instead of fractions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelhost.governance.params import DEFAULT_PARAMS, ParamsError, params_from_dict
from kernelhost.governance.tally import (
    ALL_ABSTAIN,
    NO_POWER,
    NO_QUORUM,
    OPTIONS,
    PASSED,
    REJECTED,
    VETOED,
    TallyRules,
    tally,
)

RULES = TallyRules(quorum=Fraction(334, 1000), threshold=Fraction(1, 2), veto_threshold=Fraction(334, 1000))
EXPEDITED = TallyRules(quorum=Fraction(334, 1000), threshold=Fraction(667, 1000), veto_threshold=Fraction(334, 1000))
POWERS = {"a": 40, "b": 30, "c": 20, "d": 10}


@pytest.mark.parametrize(
    ("name", "votes", "rules", "outcome"),
    [
        ("nobody voted", {}, RULES, NO_QUORUM),
        ("turnout 30% is below quorum", {"b": "yes"}, RULES, NO_QUORUM),
        ("turnout exactly at quorum counts", {"b": "yes", "d": "yes"}, TallyRules(Fraction(2, 5), Fraction(1, 2), Fraction(1, 3)), PASSED),
        ("quorum of abstains still fails as all-abstain", {"a": "abstain", "b": "abstain"}, RULES, ALL_ABSTAIN),
        ("veto above a third", {"a": "veto", "b": "yes", "d": "yes"}, RULES, VETOED),
        ("veto checked before threshold", {"a": "yes", "b": "yes", "c": "veto", "d": "veto"}, TallyRules(Fraction(1, 3), Fraction(1, 2), Fraction(1, 4)), VETOED),
        ("veto counts as no for the threshold", {"a": "yes", "c": "veto", "d": "no"}, RULES, PASSED),
        ("yes over half of non-abstain passes", {"a": "yes", "b": "no", "c": "abstain"}, RULES, PASSED),
        ("exactly half is not above threshold", {"b": "yes", "c": "no", "d": "no"}, RULES, REJECTED),
        ("abstain does not dilute yes", {"d": "yes", "a": "abstain"}, RULES, PASSED),
        ("no wins", {"a": "no", "b": "yes"}, RULES, REJECTED),
        ("expedited needs two thirds", {"a": "yes", "b": "yes", "c": "no", "d": "no"}, EXPEDITED, PASSED),
        ("expedited 60% fails", {"a": "yes", "c": "yes", "b": "no"}, EXPEDITED, REJECTED),
        ("same 60% passes regular rules", {"a": "yes", "c": "yes", "b": "no"}, RULES, PASSED),
        ("votes of non-validators are ignored", {"zed": "yes", "d": "no"}, RULES, NO_QUORUM),
    ],
)
def test_tally_table(name, votes, rules, outcome):
    result = tally(votes, POWERS, rules)
    assert result.outcome == outcome, f"{name}: {result.reason}"
    assert result.total_power == 100
    assert result.reason


def test_no_power_fails():
    assert tally({"a": "yes"}, {"a": 0}, RULES).outcome == NO_POWER


def test_inactive_validator_vote_not_counted():
    result = tally({"a": "yes", "z": "yes"}, {"a": 50, "z": 0, "b": 50}, RULES)
    assert (result.yes, result.voted_power, result.total_power) == (50, 50, 100)
    assert result.turnout == Fraction(1, 2)


def test_ratios_and_roundtrip():
    result = tally({"a": "yes", "b": "no", "c": "abstain", "d": "veto"}, POWERS, RULES)
    assert result.yes_ratio == Fraction(40, 80)
    assert result.veto_ratio == Fraction(10, 100)
    assert result.share("abstain") == Fraction(20, 100)
    assert type(result).from_dict(result.to_dict()) == result


def test_unknown_option_rejected():
    with pytest.raises(ValueError):
        tally({"a": "maybe"}, POWERS, RULES)


def test_params_defaults_and_validation():
    assert DEFAULT_PARAMS.upgrade_lead_blocks == DEFAULT_PARAMS.voting_period_blocks + 2
    assert params_from_dict({"voting_period_blocks": 6}).upgrade_lead_blocks == 8
    for bad in ({"quorum": "1.5"}, {"quorum": 0.3}, {"expedited_threshold": "0.4"}, {"voting_period_blocks": 0},
                {"expedited_voting_period_blocks": 10}, {"nonsense": 1}, {"min_upgrade_lead_blocks": -1}):
        with pytest.raises(ParamsError):
            params_from_dict(bad)


def reference_tally(votes, powers, q, t, v):
    """x/gov's rules with ratios as (numerator, denominator) integer pairs."""
    sums = {o: 0 for o in OPTIONS}
    for voter, option in votes.items():
        if powers.get(voter, 0) > 0:
            sums[option] += powers[voter]
    total = sum(p for p in powers.values() if p > 0)
    voted = sum(sums.values())
    if total == 0:
        return NO_POWER
    if voted * q[1] < q[0] * total:
        return NO_QUORUM
    if voted - sums["abstain"] == 0:
        return ALL_ABSTAIN
    if sums["veto"] * v[1] > v[0] * voted:
        return VETOED
    if sums["yes"] * t[1] > t[0] * (voted - sums["abstain"]):
        return PASSED
    return REJECTED


ratio = st.tuples(st.integers(1, 1000), st.just(1000))


@settings(max_examples=400, deadline=None)
@given(
    powers=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 1000), max_size=8),
    votes=st.dictionaries(st.sampled_from("abcdefghxy"), st.sampled_from(OPTIONS), max_size=10),
    q=ratio, t=ratio, v=ratio,
)
def test_tally_matches_reference(powers, votes, q, t, v):
    rules = TallyRules(Fraction(*q), Fraction(*t), Fraction(*v))
    result = tally(votes, powers, rules)
    assert result.outcome == reference_tally(votes, powers, q, t, v)
    assert result.voted_power <= result.total_power
    assert result.passed == (result.outcome == PASSED)
