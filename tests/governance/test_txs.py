"""gov/submitProposal and gov/vote: every rejection has a code and a reason and changes nothing."""

from __future__ import annotations

import pytest

from kernelhost.chain.types import ERR_GOV, ERR_INVALID
from kernelhost.governance import txs
from kernelhost.governance.models import Proposal, Vote
from tests.governance.conftest import BUNDLE

pytestmark = pytest.mark.django_db

TEXT = {"kind": "text", "title": "Signal", "description": "Do we agree?"}


def upgrade(height, name="v2", bundle=BUNDLE):
    return {"kind": "kernelUpgrade", "bundleID": bundle, "height": height, "name": name, "info": "fixes #4516"}


def test_submit_assigns_sequential_numbers(chain):
    first = chain.submit(TEXT)
    second = chain.submit(TEXT, proposer="val2")
    assert (first.code, second.code) == (0, 0)
    assert first.data == {"proposalId": 1, "votingEndHeight": 11}
    assert second.data["proposalId"] == 2
    assert list(Proposal.objects.order_by("number").values_list("number", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        ({"proposer": "val1", "content": {"kind": "poll"}}, txs.E_INVALID, "content kind must be one of"),
        ({"proposer": "val1", "content": {"kind": "text"}}, txs.E_INVALID, "title is required"),
        ({"proposer": "val1", "content": TEXT, "deposit": 5}, txs.E_INVALID, "does not take deposit"),
        ({"proposer": "val1", "content": TEXT, "expedited": "yes"}, txs.E_INVALID, "expedited must be"),
        ({"proposer": "mallory", "content": TEXT}, txs.E_NOT_A_VOTER, "is not a validator"),
        ({"proposer": "val0", "content": TEXT}, txs.E_NOT_A_VOTER, "holds no voting power"),
        ({"proposer": "val1", "content": upgrade(20)}, txs.E_UPGRADE_TOO_SOON, "must be at least 23"),
        ({"proposer": "val1", "content": upgrade(40, bundle="b1-" + "0" * 128)}, txs.E_BUNDLE, "not installed"),
        ({"proposer": "val1", "content": upgrade(40, bundle="b1-xyz")}, txs.E_INVALID, "bundle ID"),
        ({"proposer": "val1", "content": upgrade(40, name="../etc")}, txs.E_INVALID, "name must be"),
        ({"proposer": "val1", "content": {"kind": "resumeKernel", "remedy": {"kind": "retry"}}},
         txs.E_KERNEL_NOT_PAUSED, "needs a paused kernel"),
        ({"proposer": "val1", "content": {"kind": "cancelUpgrade", "name": "v9"}}, txs.E_PLAN_NAME,
         "no upgrade named v9"),
    ],
)
def test_submit_rejections(chain, body, code, reason):
    result = chain.tx("gov/submitProposal", body)
    assert result.data == {"error": code}
    assert result.code == (ERR_INVALID if code == txs.E_INVALID else ERR_GOV)
    assert reason in result.message
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(
    ("remedy", "reason"),
    [
        ({"kind": "reboot"}, "remedy kind must be one of"),
        ({"kind": "terminateVat"}, "terminateVat needs vatID"),
        ({"kind": "terminateVat", "vatID": "v1; drop"}, "terminateVat needs vatID"),
        ({"kind": "skipAction"}, "skipAction needs actionID"),
        ({"kind": "upgradeKernel", "bundleID": "nope"}, "remedy bundleID must be a bundle ID"),
        ({"kind": "retry", "vatID": "v1"}, "does not take vatID"),
    ],
)
def test_resume_remedy_validation(chain, remedy, reason):
    chain.paused_height = 1
    result = chain.submit({"kind": "resumeKernel", "remedy": remedy})
    assert (result.code, result.data) == (ERR_INVALID, {"error": txs.E_INVALID})
    assert reason in result.message


def test_resume_while_paused_records_the_pause(chain):
    chain.height, chain.paused_height = 5, 4
    result = chain.submit({"kind": "resumeKernel", "remedy": {"kind": "skipAction", "actionID": 17}})
    assert result.code == 0, result.message
    proposal = Proposal.objects.get(number=1)
    assert (proposal.paused_height, proposal.paused_reason, proposal.paused_action_id) == (4, "vat v3 panicked", "4-0")
    assert proposal.submit_time.startswith("2026-01-01T00:00:05")
    assert proposal.content["remedy"] == {"kind": "skipAction", "actionID": 17}
    assert proposal.title == "Resume the kernel: skip action 17"


def test_upgrade_at_earliest_height_accepted(chain):
    result = chain.submit(upgrade(23))
    assert result.code == 0, result.message
    assert chain.submit({"kind": "cancelUpgrade", "name": "v2"}).code == 0


def test_vote_and_change_vote(chain):
    chain.submit(TEXT)
    assert chain.vote("val2", 1, "yes").code == 0
    chain.height = 4
    changed = chain.vote("val2", 1, "no")
    assert changed.code == 0
    assert changed.data == {"proposalId": 1, "option": "no", "previous": "yes"}
    vote = Vote.objects.get()
    assert (vote.option, vote.first_height, vote.height, vote.changes) == ("no", 1, 4, 1)


@pytest.mark.parametrize(
    ("voter", "number", "option", "code", "reason"),
    [
        ("mallory", 1, "yes", txs.E_NOT_A_VOTER, "mallory is not a validator"),
        ("val0", 1, "yes", txs.E_NOT_A_VOTER, "holds no voting power"),
        ("val1", 1, "maybe", txs.E_BAD_OPTION, "option must be one of"),
        ("val1", 99, "yes", txs.E_UNKNOWN_PROPOSAL, "no proposal #99"),
        ("val1", "one", "yes", txs.E_INVALID, "proposalId must be"),
    ],
)
def test_vote_rejections(chain, voter, number, option, code, reason):
    chain.submit(TEXT)
    result = chain.vote(voter, number, option)
    assert (result.data["error"], reason in result.message) == (code, True), result.message
    assert not Vote.objects.exists()


def test_late_vote_rejected(chain):
    chain.submit(TEXT)
    chain.run_until(11)  # voting ends at 11, tallied at its end-block
    result = chain.vote("val1", 1, "yes")
    assert (result.code, result.data["error"]) == (ERR_GOV, txs.E_VOTING_CLOSED)
    assert "ended at height 11 (rejected)" in result.message


def test_vote_in_last_block_counts(chain):
    chain.submit(TEXT)
    chain.run_until(10)
    assert chain.height == 11
    assert chain.vote("val1", 1, "yes").code == 0
    chain.end_block()
    assert Proposal.objects.get().status == Proposal.PASSED


def test_unknown_tx_type(chain):
    result = chain.tx("gov/deposit", {})
    assert (result.code, result.data["error"]) == (ERR_INVALID, txs.E_UNKNOWN_TX)
    assert chain.tx("gov/vote", []).code == ERR_INVALID


def test_through_the_chain_tx_path(real_chain):
    """The chain's execute_tx dispatches gov/* here and keeps our code, message and data."""
    from kernelhost.chain.models import Transaction

    ok = real_chain.tx("gov/submitProposal", proposer="val1", content=TEXT)
    late = real_chain.tx("gov/vote", voter="val1", proposalId=7, option="yes")
    bad = real_chain.tx("gov/vote", voter="val1", proposalId=1, option="maybe")
    real_chain.block()
    rows = {t.tx_hash: t for t in Transaction.objects.all()}
    assert (rows[ok.tx_hash].code, rows[ok.tx_hash].data) == (0, {"proposalId": 1, "votingEndHeight": 11})
    assert (rows[late.tx_hash].code, rows[late.tx_hash].data) == (ERR_GOV, {"error": txs.E_UNKNOWN_PROPOSAL})
    assert (rows[bad.tx_hash].code, rows[bad.tx_hash].data) == (ERR_INVALID, {"error": txs.E_BAD_OPTION})
