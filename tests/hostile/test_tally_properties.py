"""Governance tally against a reference, beyond tests/governance/test_tally.py (which checks
outcomes for small powers and thresholds in thousandths): the same reference implementation
(x/gov order: no power, quorum, all-abstain, veto, threshold) with arbitrary ratios including
0 and 1, huge and negative powers, the per-option sums, and metamorphic properties."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from kernelhost.governance.tally import NO, OPTIONS, PASSED, YES, TallyResult, TallyRules, pct, tally
from tests.governance.test_tally import reference_tally

from .conftest import FUZZ_SETTINGS, tried

VOTERS = "abcdefghij"
powers_st = st.dictionaries(st.sampled_from(VOTERS), st.one_of(st.integers(-5, 1000), st.integers(0, 10**30)),
                            max_size=10)
votes_st = st.dictionaries(st.sampled_from(VOTERS + "xyz"), st.sampled_from(OPTIONS), max_size=13)
ratio_st = st.integers(1, 10**6).flatmap(lambda den: st.tuples(st.integers(0, den), st.just(den)))


def reference_sums(votes, powers):
    sums = dict.fromkeys(OPTIONS, 0)
    for voter, option in votes.items():
        if powers.get(voter, 0) > 0:
            sums[option] += powers[voter]
    return sums


@FUZZ_SETTINGS
@given(powers=powers_st, votes=votes_st, q=ratio_st, t=ratio_st, v=ratio_st)
def test_tally_matches_reference_with_any_ratio_and_power(powers, votes, q, t, v):
    tried("governance tally vs reference")
    result = tally(votes, powers, TallyRules(Fraction(*q), Fraction(*t), Fraction(*v)))
    assert result.outcome == reference_tally(votes, powers, q, t, v), result.reason
    sums = reference_sums(votes, powers)
    assert (result.yes, result.no, result.abstain, result.veto) == tuple(sums[o] for o in OPTIONS)
    assert result.total_power == sum(p for p in powers.values() if p > 0)
    assert TallyResult.from_dict(result.to_dict()) == result
    assert result.reason


@FUZZ_SETTINGS
@given(powers=powers_st, votes=votes_st, q=ratio_st, t=ratio_st, v=ratio_st, data=st.data())
def test_tally_metamorphic_properties(powers, votes, q, t, v, data):
    tried("governance tally (metamorphic)")
    rules = TallyRules(Fraction(*q), Fraction(*t), Fraction(*v))
    base = tally(votes, powers, rules)
    # insertion order of either mapping does not matter
    assert tally(dict(reversed(list(votes.items()))), dict(reversed(list(powers.items()))), rules) == base
    # votes of accounts without power change nothing
    outsider = data.draw(st.sampled_from(OPTIONS))
    assert tally({**votes, "outsider": outsider}, powers, rules) == base
    # turning a "no" into a "yes" never makes a passing proposal fail
    noes = sorted(k for k, o in votes.items() if o == NO)
    if noes and base.outcome == PASSED:
        flipped = {**votes, data.draw(st.sampled_from(noes)): YES}
        assert tally(flipped, powers, rules).outcome == PASSED


@FUZZ_SETTINGS
@given(num=st.integers(0, 10**9), den=st.integers(1, 10**9))
def test_pct_rounds_half_up_to_one_decimal(num, den):
    tried("governance tally (pct)")
    expected = (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    assert pct(Fraction(num, den)) == f"{expected}%"
