"""The end-block hook: tally at the end of the period, expedited fallback, upgrade plans and
their cancellation, resumes, upgrade results, and the state hash."""

from __future__ import annotations

import pytest

from kernelhost.governance import selectors
from kernelhost.governance.models import AppliedUpgrade, Proposal, UpgradePlan
from kernelhost.governance.services import gov_record_upgrade_result, gov_state_hash, voter_link_ensure
from tests.governance.conftest import BUNDLE, OTHER_BUNDLE

pytestmark = pytest.mark.django_db

TEXT = {"kind": "text", "title": "Signal"}


def proposal(number=1) -> Proposal:
    return Proposal.objects.get(number=number)


@pytest.mark.parametrize(
    ("votes", "status", "outcome"),
    [
        ({"val1": "yes", "val2": "no"}, "passed", "passed"),
        ({"val2": "yes"}, "rejected", "no_quorum"),
        ({"val1": "abstain", "val3": "abstain"}, "rejected", "all_abstain"),
        ({"val1": "veto", "val2": "yes", "val3": "yes"}, "rejected", "vetoed"),
        ({"val1": "no", "val2": "yes", "val4": "yes"}, "rejected", "rejected"),
    ],
)
def test_tally_at_end_of_period(chain, votes, status, outcome):
    chain.submit(TEXT)
    for voter, option in votes.items():
        assert chain.vote(voter, 1, option).code == 0
    chain.run_until(10)
    assert proposal().status == "voting"  # not decided before the period ends
    chain.end_block()
    p = proposal()
    assert (p.status, p.outcome, p.decided_height) == (status, outcome, 11)
    assert p.final_tally["totalPower"] == 100


def test_live_tally_any_time_and_power_at_end(chain):
    chain.submit(TEXT)
    chain.vote("val3", 1, "yes")
    live = selectors.tally_now(proposal())
    assert (live.outcome, live.yes) == ("no_quorum", 20)
    chain.vote("val2", 1, "yes")
    assert selectors.tally_now(proposal()).outcome == "passed"
    chain.powers["val2"] = 0  # val2 unbonds before the end: its vote no longer counts
    chain.run_until(11)
    assert proposal().outcome == "no_quorum"
    assert selectors.tally_now(proposal()).to_dict() == proposal().final_tally


def test_expedited_passes_early(chain):
    chain.submit(TEXT, expedited=True)
    assert proposal().voting_end_height == 5
    for voter in ("val1", "val2"):
        chain.vote(voter, 1, "yes")
    chain.vote("val4", 1, "no")  # 70 / 80 = 87.5% > 66.7%
    chain.run_until(5)
    p = proposal()
    assert (p.status, p.decided_height, p.converted) == ("passed", 5, False)


def test_expedited_falls_back_to_regular_period_keeping_votes(chain):
    chain.submit(TEXT, expedited=True)
    chain.vote("val1", 1, "yes")
    chain.vote("val2", 1, "no")  # 40 / 70 = 57%: not enough for expedited, enough for regular
    chain.run_until(5)
    p = proposal()
    assert (p.status, p.expedited, p.converted, p.voting_end_height) == ("voting", False, True, 11)
    assert p.expedited_tally["outcome"] == "rejected"
    chain.height = 8
    assert chain.vote("val3", 1, "yes").code == 0  # voting goes on under regular rules
    chain.run_until(11)
    p = proposal()
    assert (p.status, p.decided_height, p.final_tally["yes"]) == ("passed", 11, 60)


def test_upgrade_plan_lifecycle(chain):
    chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 30, "name": "v2"})
    for voter in ("val1", "val2"):
        chain.vote(voter, 1, "yes")
    chain.run_until(11)
    plan = selectors.scheduled_plan()
    assert (plan.name, plan.height, plan.bundle_id, plan.proposal_number) == ("v2", 30, BUNDLE, 1)
    assert "scheduled at height 30" in proposal().execution_message
    seen = chain.run_until(30)
    assert [(h, a.kind, a.plan_name, a.params["bundleID"]) for h, a in seen] == [(30, "upgradeKernel", "v2", BUNDLE)]
    gov_record_upgrade_result("v2", 30, OTHER_BUNDLE, BUNDLE, True, "")
    gov_record_upgrade_result("v2", 30, OTHER_BUNDLE, BUNDLE, True, "")  # replayed block: idempotent
    assert UpgradePlan.objects.get().status == "applied"
    assert list(AppliedUpgrade.objects.values_list("name", "height", "ok")) == [("v2", 30, True)]
    assert "upgraded at height 30" in proposal().execution_message
    # the name is used up
    chain.height = 31
    again = chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 60, "name": "v2"})
    assert "already been applied" in again.message


def test_failed_upgrade_recorded(chain):
    chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 25, "name": "bad"})
    chain.vote("val1", 1, "yes")
    chain.run_until(25)
    gov_record_upgrade_result("bad", 25, OTHER_BUNDLE, BUNDLE, False, "kernel bundle raised on import")
    plan = UpgradePlan.objects.get()
    assert (plan.status, plan.reason) == ("failed", "kernel bundle raised on import")
    assert AppliedUpgrade.objects.get().ok is False
    assert selectors.scheduled_plan() is None


def test_cancel_upgrade_removes_plan(chain):
    chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 30, "name": "v2"})
    chain.vote("val1", 1, "yes")
    chain.run_until(11)
    assert chain.submit({"kind": "cancelUpgrade", "name": "v2"}).code == 0
    chain.vote("val1", 2, "yes")
    chain.run_until(22)  # the cancel vote ends before the plan's height: the lead leaves room
    assert UpgradePlan.objects.get().status == "cancelled"
    assert "cancelled" in proposal(2).execution_message
    assert [a for _, a in chain.run_until(31)] == []


def test_new_plan_supersedes_old(chain):
    chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 40, "name": "v2"})
    chain.submit({"kind": "kernelUpgrade", "bundleID": OTHER_BUNDLE, "height": 45, "name": "v3"})
    for n in (1, 2):
        chain.vote("val1", n, "yes")
    chain.run_until(11)
    assert dict(UpgradePlan.objects.values_list("name", "status")) == {"v2": "superseded", "v3": "scheduled"}


def test_resume_passes_and_emits_action(chain):
    chain.height, chain.paused_height = 3, 2
    chain.submit({"kind": "resumeKernel", "remedy": {"kind": "terminateVat", "vatID": "v3"}}, expedited=True)
    chain.submit({"kind": "resumeKernel", "remedy": {"kind": "retry"}}, expedited=True)
    for n in (1, 2):
        chain.vote("val1", n, "yes")
        chain.vote("val2", n, "yes")
    seen = chain.run_until(7)
    assert [(h, a.kind, a.proposal_id, a.params) for h, a in seen] == [
        (7, "resumeKernel", 1, {"remedy": "terminateVat", "vatID": "v3"})]
    assert (proposal(1).status, proposal(1).execution_status) == ("passed", "pending")
    assert proposal(2).status == "failed"
    assert "#1 already resumes" in proposal(2).execution_message
    chain.paused_height = None  # the host resumed the kernel at height 8
    chain.end_block()
    assert (proposal(1).execution_status, proposal(1).execution_message) == ("done", "the kernel resumed at height 8")


def test_host_reports_resume_result(chain):
    from kernelhost.governance.services import gov_record_execution

    chain.paused_height = 1
    chain.submit({"kind": "resumeKernel", "remedy": {"kind": "upgradeKernel", "bundleID": BUNDLE}})
    chain.vote("val1", 1, "yes")
    chain.run_until(11)
    gov_record_execution(1, False, "the fixed kernel failed to start", 12)
    gov_record_upgrade_result(None, 12, OTHER_BUNDLE, BUNDLE, False, "the fixed kernel failed to start")
    p = proposal()
    assert (p.status, p.execution_status, p.execution_message) == ("failed", "failed", "the fixed kernel failed to start")
    assert list(AppliedUpgrade.objects.values_list("name", "ok")) == [("resume-remedy", False)]


def test_resume_fails_if_kernel_already_running(chain):
    chain.paused_height = 1
    chain.submit({"kind": "resumeKernel", "remedy": "retry"})
    chain.vote("val1", 1, "yes")
    chain.paused_height = None
    assert chain.run_until(11) == []
    assert (proposal().status, proposal().execution_message) == ("failed", "the kernel is not paused any more")


def test_resume_still_paused_marked_failed(chain):
    chain.paused_height = 1
    chain.submit({"kind": "resumeKernel", "remedy": "retry"})
    chain.vote("val1", 1, "yes")
    chain.run_until(13)  # due at 12, still paused at the same height at 13
    assert proposal().execution_status == "failed"


def _scenario(chain):
    chain.submit(TEXT)
    chain.submit({"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 30, "name": "v2"}, expedited=True)
    chain.vote("val1", 1, "yes")
    chain.vote("val2", 2, "no")
    chain.run_until(12)
    return gov_state_hash()


def test_state_hash_deterministic_and_id_free(chain, django_user_model):
    first = _scenario(chain)
    assert len(first) == 64
    # Same history again after wiping: database ids differ, the hash must not.
    Proposal.objects.all().delete()
    voter_link_ensure(django_user_model.objects.create_user("v1"), "val1")  # console state: not hashed
    chain.height = 1
    assert _scenario(chain) == first
    chain.vote("val3", 1, "yes")  # closed: rejected, nothing changes
    assert gov_state_hash() == first
    chain.submit(TEXT)
    assert gov_state_hash() != first


def test_voter_link_and_power(chain, django_user_model):
    user = django_user_model.objects.create_user("alice")
    assert "not linked" in selectors.voting_power_for_user(user).reason
    voter_link_ensure(user, "val0")
    assert "holds no voting power" in selectors.voting_power_for_user(user).reason
    voter_link_ensure(user, "val2")
    vp = selectors.voting_power_for_user(user)
    assert (vp.validator, vp.power, vp.total_power, vp.can_vote) == ("val2", 30, 100, True)


def test_genesis_resets_state_and_sets_params(chain):
    from kernelhost.governance.services import gov_init_genesis

    chain.submit(TEXT)
    gov_init_genesis({"voting_period_blocks": 6, "expedited_voting_period_blocks": 2})
    assert not Proposal.objects.exists()
    assert selectors.params_get().voting_period_blocks == 6
    assert chain.submit(TEXT).data == {"proposalId": 1, "votingEndHeight": 7}
    with pytest.raises(ValueError):
        gov_init_genesis({"quorum": "2"})
