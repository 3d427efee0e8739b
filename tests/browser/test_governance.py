"""Governance in a real browser: voters in their own sessions vote through the confirmation
step, a block includes the votes, and every open proposal page moves its tally live."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from console.governance.live import publish_governance
from console.roles import OPERATORS, VOTERS
from kernelhost.governance.services import voter_link_ensure
from tests.conftest import PASSWORD
from tests.governance.conftest import BUNDLE, RealChain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def governance_urls(settings):
    settings.ROOT_URLCONF = "tests.governance.urls"


@pytest.fixture
def real_chain(transactional_db):
    return RealChain()


def publish_after_block():
    """Publish from a plain thread, as the node runner does (Playwright owns this thread's loop)."""
    worker = threading.Thread(target=publish_governance)
    worker.start()
    worker.join()


def log_in(page, server, username):
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def vote_in_page(page, label):
    page.get_by_label(label, exact=True).check()
    page.locator("#vote-form button[type=submit]").click()
    expect(page.locator("#vote-confirm")).to_contain_text(label)
    page.locator("#confirm-vote").click()
    expect(page.locator(".messages")).to_contain_text("counts once the next block includes it")


def test_voters_vote_and_watch_the_tally_move(browser, asgi_server, role_user, real_chain):
    real_chain.tx("gov/submitProposal", proposer="val1", content={"kind": "text", "title": "Ship it"})
    real_chain.block()
    sessions = {}
    for username, validator in (("alpha", "val1"), ("bravo", "val2"), ("charlie", "val3")):
        voter_link_ensure(role_user(VOTERS, username=username), validator)
        page = browser.new_context().new_page()
        sessions[username] = log_in(page, asgi_server, username)
        page.goto(f"{asgi_server}/governance/proposals/1/")
        expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
        expect(page.locator("#tally-outcome")).to_contain_text("No quorum")
    watcher = log_in(browser.new_context().new_page(), asgi_server, role_user(OPERATORS).username)
    watcher.goto(f"{asgi_server}/governance/")
    expect(watcher.locator("#ws-status")).to_have_text("live", timeout=10_000)

    vote_in_page(sessions["bravo"], "Yes")
    expect(sessions["bravo"].locator("#pending-vote")).to_contain_text("yes")
    real_chain.block()
    publish_after_block()
    for page in sessions.values():  # no reload: the websocket pushed the new tally
        expect(page.locator("#power-yes")).to_have_text("30", timeout=10_000)
        expect(page.locator("#turnout")).to_have_text("30.0%")
        expect(page.locator("#tally-outcome")).to_contain_text("below the quorum")
    expect(sessions["bravo"].locator("#my-vote")).to_have_text("Yes", timeout=10_000)  # card refreshed too
    expect(watcher.locator("#proposal-row-1")).to_contain_text("30.0%", timeout=10_000)

    vote_in_page(sessions["alpha"], "No with veto")
    vote_in_page(sessions["charlie"], "No")
    real_chain.block()
    publish_after_block()
    page = sessions["charlie"]
    expect(page.locator("#power-veto")).to_have_text("40", timeout=10_000)
    expect(page.locator("#power-no")).to_have_text("20")
    expect(page.locator("#tally-outcome")).to_contain_text("Vetoed")
    expect(page.locator("#not-voted")).to_contain_text("val4")
    expect(page.locator("#not-voted")).not_to_contain_text("val3")


def test_a_page_that_missed_a_push_catches_up_when_its_socket_opens(browser, asgi_server, role_user, real_chain):
    """A block is committed and published while the page is not subscribed (its socket is
    down, or not yet open after a vote's redirect): nothing is pushed to it again, so the
    page must fetch the current tally when its socket (re)opens."""
    import re

    real_chain.tx("gov/submitProposal", proposer="val1", content={"kind": "text", "title": "Late"})
    real_chain.block()
    voter_link_ensure(role_user(VOTERS, username="alpha"), "val1")
    page = log_in(browser.new_context().new_page(), asgi_server, "alpha")
    sockets = []

    def route(ws):
        # The first socket goes nowhere (Playwright answers it: open, silent); later ones,
        # the reconnects, reach the real server.
        if sockets:
            ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws/"), route)
    page.goto(f"{asgi_server}/governance/proposals/1/")
    expect(page.locator("#power-veto")).to_have_text("0")
    real_chain.tx("gov/vote", voter="val1", proposalId=1, option="veto")
    real_chain.block()
    publish_after_block()  # reaches no one: the page is not subscribed
    page.wait_for_timeout(300)
    expect(page.locator("#power-veto")).to_have_text("0")
    sockets[0].close(code=1012, reason="restart")  # the socket drops (a server restart): htmx reconnects
    expect(page.locator("#power-veto")).to_have_text("40", timeout=15_000)
    expect(page.locator("#ws-status")).to_have_text("live")
    expect(page.locator("#my-vote")).to_have_text("No with veto", timeout=10_000)
    assert len(sockets) >= 2


def test_a_block_does_not_clear_a_vote_being_filled_in(browser, asgi_server, role_user, real_chain):
    """Each pushed tally also refreshes the user's vote card; while the user has picked an
    option, the refresh must leave the card alone (it used to reset the choice, and the
    submit then said "Choose yes, no, abstain or no with veto")."""
    real_chain.tx("gov/submitProposal", proposer="val1", content={"kind": "text", "title": "Busy"})
    real_chain.block()
    voter_link_ensure(role_user(VOTERS, username="alpha"), "val1")
    page = log_in(browser.new_context().new_page(), asgi_server, "alpha")
    page.goto(f"{asgi_server}/governance/proposals/1/")
    expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.get_by_label("No", exact=True).check()
    real_chain.tx("gov/vote", voter="val2", proposalId=1, option="yes")
    real_chain.block()
    publish_after_block()
    expect(page.locator("#power-yes")).to_have_text("30", timeout=10_000)
    page.wait_for_load_state("networkidle")  # the card refresh, had it been made, has landed
    expect(page.get_by_label("No", exact=True)).to_be_checked()
    page.locator("#vote-form button[type=submit]").click()
    expect(page.locator("#vote-confirm")).to_contain_text("No")


def test_operator_sees_no_vote_form_and_voter_without_power_is_told(browser, asgi_server, role_user, real_chain):
    real_chain.tx("gov/submitProposal", proposer="val1", content={"kind": "text", "title": "Signal"})
    real_chain.block()
    operator = log_in(browser.new_context().new_page(), asgi_server, role_user(OPERATORS).username)
    operator.goto(f"{asgi_server}/governance/proposals/1/")
    expect(operator.locator("#vote-card")).to_contain_text("Only voters vote")
    expect(operator.locator("#vote-form")).to_have_count(0)
    unlinked = log_in(browser.new_context().new_page(), asgi_server, role_user(VOTERS, username="nolink").username)
    unlinked.goto(f"{asgi_server}/governance/proposals/1/")
    expect(unlinked.locator("#no-power")).to_contain_text("not linked to a validator")


def test_voter_proposes_an_upgrade_through_the_form(browser, asgi_server, role_user, real_chain):
    voter_link_ensure(role_user(VOTERS, username="alpha"), "val1")
    page = log_in(browser.new_context().new_page(), asgi_server, "alpha")
    page.goto(f"{asgi_server}/governance/")
    page.locator("#new-proposal").click()
    page.locator("#kind-kernelUpgrade").click()
    page.fill("#id_bundle_id", BUNDLE)
    page.fill("#id_height", "5")
    page.fill("#id_name", "v2")
    page.locator("#check-proposal").click()
    expect(page.locator("#field-height .errorlist")).to_contain_text("Too soon")
    page.fill("#id_height", "40")
    page.locator("#check-proposal").click()
    expect(page.locator("#proposal-preview")).to_contain_text('"height": 40')
    page.locator("#confirm-proposal").click()
    expect(page.locator(".messages")).to_contain_text("gets its number when a block includes it")
    real_chain.block()
    page.reload()
    expect(page.locator("#proposal-row-1")).to_contain_text("Kernel upgrade")
