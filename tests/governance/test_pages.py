"""The governance pages: what each role sees and may do (enforced on the server), the vote and
proposal flows with their confirmation step, and the live events."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from console.governance import live as gov_live
from console.roles import ADMINS, OPERATORS, VOTERS
from kernelhost.chain.models import Transaction
from kernelhost.governance.models import Proposal, Vote
from kernelhost.governance.services import voter_link_ensure
from tests.governance.conftest import BUNDLE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.governance.urls")]


def text_proposal(real_chain, title="Signal", expedited=False):
    real_chain.tx("gov/submitProposal", proposer="val1", content={"kind": "text", "title": title},
                  **({"expedited": True} if expedited else {}))
    real_chain.block()
    return Proposal.objects.order_by("-number").first()


@pytest.fixture
def voter(role_user):
    def make(validator="val2", username="vo"):
        user = role_user(VOTERS, username=username)
        if validator:
            voter_link_ensure(user, validator)
        return user

    return make


@pytest.mark.parametrize("role", [OPERATORS, VOTERS, ADMINS])
def test_every_role_follows_proposals(client, role_user, real_chain, role):
    p = text_proposal(real_chain)
    real_chain.block()
    client.force_login(role_user(role))
    page = client.get("/governance/").content.decode()
    assert f'id="proposal-row-{p.number}"' in page
    assert "9 blocks" in page and "~18 s" in page  # blocks left and the estimate from 2 s blocks
    assert ("New proposal" in page) == (role == VOTERS)
    detail = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert "Live tally" in detail and "If voting ended now" in detail
    assert "Only voters vote" in detail if role != VOTERS else "Your vote" in detail


def test_list_filters_active(client, role_user, real_chain):
    text_proposal(real_chain, "old")
    real_chain.block(11)
    text_proposal(real_chain, "new")
    client.force_login(role_user(OPERATORS))
    page = client.get("/governance/?active=1").content.decode()
    assert 'class="proposals only-active"' in page and "Active (1)" in page
    assert 'class="inactive" data-status="rejected"' in page


def test_detail_shows_tally_votes_and_not_voted(client, voter, real_chain):
    p = text_proposal(real_chain)
    real_chain.tx("gov/vote", voter="val1", proposalId=p.number, option="yes")
    real_chain.tx("gov/vote", voter="val4", proposalId=p.number, option="veto")
    real_chain.block()
    client.force_login(voter())
    page = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert 'id="turnout">50.0%' in page
    assert 'id="yes-ratio">80.0%' in page and 'id="veto-ratio">20.0%' in page
    assert "Passes" in page  # if it ended now
    assert 'data-label="quorum 33.4%"' in page and 'data-label="threshold 50.0%"' in page
    assert 'data-label="veto 33.4%"' in page
    not_voted = page[page.index('id="not-voted"'):]
    assert "Bravo" in not_voted and "Charlie" in not_voted and "Alpha" not in not_voted
    assert 'id="my-power">30<' in page


def test_vote_flow_with_confirmation(client, voter, real_chain):
    p = text_proposal(real_chain)
    client.force_login(voter())
    confirm = client.post(f"/governance/proposals/{p.number}/vote/", {"option": "yes"})
    assert confirm.status_code == 200 and b"Confirm your vote" in confirm.content
    assert not Transaction.objects.filter(type="gov/vote").exists()
    done = client.post(f"/governance/proposals/{p.number}/vote/", {"option": "yes", "confirm": "yes"}, follow=True)
    assert b"counts once the next block includes it" in done.content
    assert b'id="pending-vote"' in done.content
    tx = Transaction.objects.get(type="gov/vote")
    assert tx.body == {"voter": "val2", "proposalId": p.number, "option": "yes"}
    real_chain.block()
    assert Vote.objects.get(proposal=p).option == "yes"
    # change the vote
    client.post(f"/governance/proposals/{p.number}/vote/", {"option": "no", "confirm": "yes"})
    real_chain.block()
    page = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert 'id="my-vote">No<' in page and "changed" in page


@pytest.mark.parametrize("role", [OPERATORS, ADMINS])
def test_only_voters_vote_or_propose(client, role_user, real_chain, role):
    p = text_proposal(real_chain)
    client.force_login(role_user(role))
    assert client.post(f"/governance/proposals/{p.number}/vote/", {"option": "yes", "confirm": "yes"}).status_code == 403
    assert client.get("/governance/proposals/new/").status_code == 403
    form = {"title": "forged", "confirm": "yes"}
    assert client.post("/governance/proposals/new/text/", form).status_code == 403
    assert not Transaction.objects.filter(status=Transaction.PENDING).exists()


def test_voter_without_power_is_told_why(client, voter, real_chain):
    p = text_proposal(real_chain)
    client.force_login(voter(validator=None))
    page = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert 'id="no-power"' in page and "not linked to a validator" in page
    response = client.post(f"/governance/proposals/{p.number}/vote/", {"option": "yes", "confirm": "yes"}, follow=True)
    assert b"You cannot vote" in response.content
    assert not Transaction.objects.exists() or not Transaction.objects.filter(type="gov/vote").exists()


def test_forms_need_csrf(voter, real_chain):
    p = text_proposal(real_chain)
    client = Client(enforce_csrf_checks=True)
    client.force_login(voter())
    assert client.post(f"/governance/proposals/{p.number}/vote/", {"option": "yes", "confirm": "yes"}).status_code == 403
    assert client.post("/governance/proposals/new/text/", {"title": "x", "confirm": "yes"}).status_code == 403
    assert not Transaction.objects.filter(type="gov/vote").exists()


def test_create_upgrade_validates_then_confirms(client, voter, real_chain):
    client.force_login(voter())
    form = {"bundle_id": BUNDLE, "height": 5, "name": "v2", "info": ""}
    page = client.post("/governance/proposals/new/kernelUpgrade/", form).content.decode()
    assert "Too soon: the height must be at least 23" in page
    bad = client.post("/governance/proposals/new/kernelUpgrade/", {**form, "height": 30, "bundle_id": "b1-zz"})
    assert b"bundle ID" in bad.content
    preview = client.post("/governance/proposals/new/kernelUpgrade/", {**form, "height": 30}).content.decode()
    assert 'id="proposal-preview"' in preview and "&quot;height&quot;: 30" in preview
    assert not Transaction.objects.exists()
    done = client.post("/governance/proposals/new/kernelUpgrade/", {**form, "height": 30, "confirm": "yes"})
    assert done.status_code == 302
    real_chain.block()
    p = Proposal.objects.get()
    assert (p.kind, p.proposer, p.content["height"], p.content["name"]) == ("kernelUpgrade", "val2", 30, "v2")


def test_resume_form_offers_the_recorded_panic(client, voter, real_chain):
    client.force_login(voter())
    real_chain.block(2)
    running = client.post("/governance/proposals/new/resumeKernel/", {"remedy": "retry"}).content.decode()
    assert "needs a paused kernel" in running
    real_chain.pause()
    page = client.get("/governance/proposals/new/resumeKernel/").content.decode()
    assert 'value="v3"' in page and 'value="4-0"' in page
    missing = client.post("/governance/proposals/new/resumeKernel/", {"remedy": "terminateVat", "vat_id": ""})
    assert b"Required for this remedy" in missing.content
    client.post("/governance/proposals/new/resumeKernel/",
                {"remedy": "skipAction", "action_id": "4-0", "expedited": "on", "confirm": "yes"})
    real_chain.block()
    p = Proposal.objects.get()
    assert (p.content["remedy"], p.expedited, p.paused_action_id) == ({"kind": "skipAction", "actionID": "4-0"}, True, "4-0")
    listing = client.get("/governance/").content.decode()
    assert 'id="paused-card"' in listing and "vat v3 panicked: boom" in listing
    assert f'href="/governance/proposals/{p.number}/"' in listing and 'id="propose-resume"' in listing
    detail = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert "Skip the poison action" in detail and "height 2: vat v3 panicked: boom" in detail


def test_cancel_form_lists_cancellable_plans(client, voter, real_chain):
    client.force_login(voter())
    assert b"kind-cancelUpgrade" not in client.get("/governance/proposals/new/").content
    real_chain.tx("gov/submitProposal", proposer="val1",
                  content={"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 40, "name": "v2"})
    real_chain.block()
    assert b"kind-cancelUpgrade" in client.get("/governance/proposals/new/").content
    assert b'value="v2"' in client.get("/governance/proposals/new/cancelUpgrade/").content


def test_passed_upgrade_page_and_plan(client, voter, real_chain):
    real_chain.tx("gov/submitProposal", proposer="val1",
                  content={"kind": "kernelUpgrade", "bundleID": BUNDLE, "height": 30, "name": "v2"})
    real_chain.block()
    real_chain.tx("gov/vote", voter="val1", proposalId=1, option="yes")
    real_chain.block(11)
    client.force_login(voter())
    page = client.get("/governance/proposals/1/").content.decode()
    assert "Final tally" in page and "scheduled" in page and "upgrade plan v2 scheduled at height 30" in page
    assert 'id="plan-card"' in client.get("/governance/").content.decode()
    actions = real_chain.block(30 - real_chain.node.height)
    assert [a.kind for a in actions] == ["upgradeKernel"]
    from kernelhost.governance.services import gov_record_upgrade_result

    gov_record_upgrade_result("v2", 31, "b1-old", BUNDLE, False, "kernel bundle raised on import")
    listing = client.get("/governance/").content.decode()
    assert 'id="upgrade-history"' in listing and "kernel bundle raised on import" in listing
    assert 'id="plan-card"' not in listing


def test_live_events_render_as_oob_fragments(client, voter, real_chain):
    p = text_proposal(real_chain)
    real_chain.tx("gov/vote", voter="val1", proposalId=p.number, option="yes")
    real_chain.block()
    sent = []
    assert gov_live.publish_governance(lambda topic, event: sent.append((topic, event))) == 2
    assert [t for t, _ in sent] == ["governance", f"proposal.{p.number}"]
    html = render_to_string("console/live/proposal.html", {"event": sent[1][1], "topic": sent[1][0]})
    for fragment in ('id="tally" class="card" hx-swap-oob="true"', 'id="votes" class="card" hx-swap-oob="true"',
                     'id="timeline" class="card" hx-swap-oob="true"', 'id="proposal-status" hx-swap-oob="true"',
                     f'hx-get="/governance/proposals/{p.number}/card/"'):
        assert fragment in html
    rows = render_to_string("console/live/governance.html", {"event": sent[0][1], "topic": "governance"})
    assert 'id="proposal-rows" hx-swap-oob="true"' in rows and f'id="proposal-row-{p.number}"' in rows
    client.force_login(voter())
    card = client.get(f"/governance/proposals/{p.number}/card/").content.decode()
    assert card.lstrip().startswith('<section id="vote-card"')


def test_events_are_json_safe(real_chain):
    import json

    text_proposal(real_chain)
    sent = []
    gov_live.publish_governance(lambda topic, event: sent.append(json.loads(json.dumps(event)) == event))
    assert sent == [True, True]


def test_node_publisher_adds_governance_after_blocks(real_chain, monkeypatch):
    text_proposal(real_chain)
    sent = []
    monkeypatch.setattr(gov_live.live, "publish", lambda topic, event: sent.append(topic))
    gov_live.node_publisher("dashboard", {"status": {}})
    assert sent == ["dashboard"]
    gov_live.node_publisher("blocks", {"block": {"height": 1}})
    assert sent == ["dashboard", "blocks", "governance", "proposal.1"]


def test_terminate_vat_remedy_refuses_critical_unknown_and_dead_vats(monkeypatch):
    from console.governance import forms as gov_forms

    vats = [{"id": "v1", "critical": True}, {"id": "v2", "critical": False},
            {"id": "v3", "critical": False, "terminated": True}]
    monkeypatch.setattr("kernelhost.status.node_status", lambda: {"vats": vats})
    assert "critical" in gov_forms._terminate_problem("v1")
    assert gov_forms._terminate_problem("v2") is None
    assert "already terminated" in gov_forms._terminate_problem("v3")
    assert "No live vat" in gov_forms._terminate_problem("v9")


def test_the_live_endpoints_serve_what_the_socket_would_push(client, role_user, real_chain):
    """Fetched by the pages when their websocket opens (static/console/console.js,
    data-live-resync), so what they serve must be the pushed fragment, for the current state."""
    p = text_proposal(real_chain)
    real_chain.tx("gov/vote", voter="val1", proposalId=p.number, option="veto")
    real_chain.block()
    client.force_login(role_user(OPERATORS))
    pushed = {}
    gov_live.publish_governance(lambda topic, event: pushed.setdefault(topic, event))
    detail = client.get(f"/governance/proposals/{p.number}/live/").content.decode()
    assert detail == render_to_string("console/live/proposal.html", {"event": pushed[f"proposal.{p.number}"]})
    assert 'id="tally" class="card" hx-swap-oob="true"' in detail and 'id="power-veto">40<' in detail
    listing = client.get("/governance/live/").content.decode()
    assert listing == render_to_string("console/live/governance.html", {"event": pushed["governance"]})
    assert f'id="proposal-row-{p.number}"' in listing
    assert client.get("/governance/proposals/999/live/").status_code == 404
    page = client.get(f"/governance/proposals/{p.number}/").content.decode()
    assert f'data-live-resync hx-get="/governance/proposals/{p.number}/live/"' in page
