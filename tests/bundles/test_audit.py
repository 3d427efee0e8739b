"""Governance submissions from the console are written to the audit log too."""

from __future__ import annotations

import pytest

from console.governance.services import proposal_submit, vote_submit
from console.models import AuditEntry
from console.roles import VOTERS

pytestmark = pytest.mark.django_db


def test_proposal_and_vote_submissions_are_audited(role_user):
    user = role_user(VOTERS)
    content = {"kind": "kernelUpgrade", "title": "Kernel 2", "bundleID": "b1-" + "ab" * 64, "height": 50,
               "name": "k2"}
    assert proposal_submit(proposer="val1", content=content, expedited=False, user=user).ok
    assert vote_submit(validator="val1", number=1, option="yes", user=user).ok
    refused = vote_submit(validator="val1", number=1, option="yes" * 30000, user=user)
    assert not refused.ok
    rows = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.outcome, e.who) for e in rows] == [("gov.propose", "ok", user), ("gov.vote", "ok", user),
                                                           ("gov.vote", "failed", user)]
    assert rows[0].target == "Kernel 2" and rows[0].detail["bundleID"] == content["bundleID"]
    assert rows[1].target == "proposal #1" and rows[1].detail["option"] == "yes" and rows[1].detail["txHash"]
    assert "too large" in rows[2].detail["error"]


def test_submissions_without_a_user_are_still_audited():
    assert vote_submit(validator="val2", number=3, option="no").ok
    entry = AuditEntry.objects.get()
    assert entry.who is None and entry.detail["validator"] == "val2"
