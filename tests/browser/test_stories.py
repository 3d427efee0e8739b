"""The two whole stories of issue 9 in Chromium, on a RUNNING node.

The node is the real runner (kernelhost.runner.run_node: real chain, host and kernel, 300 ms
blocks) in a background thread of this process, initialised by `manage.py initnode` on its own
swing-store (tests/browser/story_genesis.json: three validators, a critical "bomb" vat, the
non-critical agitator that provokes it, short voting periods). Every change a page shows arrives over its websocket from the runner's own
publisher (settings.NODE_EVENT_PUBLISHER); the tests only hold the runner between two blocks
where a user's action must land in the block the test then watches (see story_kit).

1. Kernel upgrade: an admin uploads a kernel bundle (a copy of kernelhost/kernel with a new
   KERNEL_VERSION) and watches it validated and installed; a voter proposes the upgrade at a
   height far enough ahead; three validators vote in their own sessions and every open
   proposal page moves its tally bars live; at the height the admin's dashboard shows the new
   kernel bundle ID.
2. Paused kernel: a swingset/send to the agitator vat makes the critical bomb vat fail — a
   kernel panic; the banner appears live; actions queue up; a resume proposal (remedy
   terminateVat of the agitator, and again with skipAction of the poison action) passes; the
   kernel runs again and the action queue drains to 0.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.roles import ADMINS, VOTERS
from kernelhost.chain.models import Action, NodeState
from kernelhost.governance.models import Proposal
from kernelhost.governance.services import voter_link_ensure

from .story_kit import (
    LIVE_TIMEOUT_MS,
    StoryNode,
    go_live,
    init_story_node,
    kernel_bundle_variant,
    readers_never_lock,
    session,
    submit,
    vote_in_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = LIVE_TIMEOUT_MS


@pytest.fixture
def voters(role_user):
    """voter1..3, each linked to validator val1..3 (powers 50, 30, 20)."""
    users = {}
    for n in (1, 2, 3):
        user = role_user(VOTERS, username=f"voter{n}")
        voter_link_ensure(user, f"val{n}")
        users[n] = user
    return users


@pytest.fixture
def story_node(settings, tmp_path, voters):
    """A node made by `initnode` on a tmp swing-store, its runner running in a thread (the
    voters exist before it starts: the test's own writes never meet a block)."""
    settings.ROOT_URLCONF = "console.urls"
    init_story_node(settings, tmp_path)
    with readers_never_lock():
        node = StoryNode().start()
        try:
            yield node
        finally:
            node.shutdown()


def test_story_admin_uploads_a_kernel_and_validators_vote_it_in(browser, asgi_server, role_user, voters,
                                                                 story_node, tmp_path):
    server = asgi_server
    node = story_node
    old_id = NodeState.objects.get(pk=1).kernel_bundle_id
    data, new_id = kernel_bundle_variant(tmp_path, "story2")
    assert new_id != old_id
    node.wait_for_height(2)  # bootstrap is done; blocks keep coming

    # The admin keeps the dashboard open in one tab and uploads in another.
    with node.held():
        role_user(ADMINS)
        admin = session(browser, server, "ad")
    dashboard = go_live(admin.context.new_page(), f"{server}/")
    expect(dashboard.locator("#kernel-bundle")).to_have_attribute("title", old_id)
    dashboard.evaluate("window.__sameDocument = true")

    with node.held():  # the upload and its validation job write; blocks wait meanwhile
        admin.goto(f"{server}/bundles/")
        admin.select_option("select[name=kind]", "kernel")
        admin.set_input_files("input[name=bundle]", files=[
            {"name": "kernel-story2.zip", "mimeType": "application/zip", "buffer": data}])
        admin.click("#upload-submit")
        admin.wait_for_url("**/bundles/uploads/*/")
        expect(admin.locator("#ws-status")).to_have_text("live", timeout=T)
        expect(admin.locator("#job-bundle-id code")).to_have_text(new_id)
        # validated in a sandboxed child process, then submitted as an installBundle tx
        expect(admin.locator("#job-status")).to_have_text("submitted", timeout=T)
        admin.evaluate("window.__sameDocument = true")
    # the running node includes it in a block; the page hears so over its websocket
    expect(admin.locator("#job-status")).to_have_text("installed", timeout=T)
    expect(admin.locator("#job-message")).to_contain_text("Installed at block")
    for step in ("format", "load", "submit"):
        expect(admin.locator(f"li[data-step={step}]")).to_have_class("step-ok")
    assert admin.evaluate("window.__sameDocument") is True

    # voter1 proposes the upgrade; the chain is held so the form's height check and the
    # block that includes the proposal see the same chain height.
    with node.held():
        v1 = session(browser, server, "voter1")
        v1.goto(f"{server}/governance/")
        v1.locator("#new-proposal").click()
        held_at = node.height
        v1.locator("#kind-kernelUpgrade").click()
        v1.fill("#id_bundle_id", new_id)
        v1.fill("#id_name", "story-v2")
        plan_height = int(v1.locator("#id_height").input_value())  # the form offers earliest + 3
        assert plan_height > held_at + 6 + 2
        v1.locator("#check-proposal").click()
        expect(v1.locator("#proposal-preview")).to_contain_text(f'"height": {plan_height}')
        v1.locator("#confirm-proposal").click()
        expect(v1.locator(".messages")).to_contain_text("gets its number when a block includes it")
        node.step(1)
        proposal = Proposal.objects.get()
        assert proposal.submit_height == held_at + 1
        url = f"{server}/governance/proposals/{proposal.number}/"

        # Three validators, three browser contexts, every page live on the proposal.
        pages = {1: go_live(v1, url)}
        for n in (2, 3):
            pages[n] = go_live(session(browser, server, f"voter{n}"), url)
        for page in pages.values():
            expect(page.locator("#power-yes")).to_have_text("0")
            expect(page.locator("#tally-outcome")).to_contain_text("No quorum")
            page.evaluate("window.__sameDocument = true")

        expected_yes = 0
        for n, power in ((3, 20), (2, 30), (1, 50)):
            vote_in_page(pages[n], "Yes")  # a form post: this page reloads, the others do not
            pages[n].evaluate("window.__sameDocument = true")
            node.step(1)  # the block that includes this vote
            expected_yes += power
            for page in pages.values():  # no reload: the tally arrives over each page's websocket
                expect(page.locator("#power-yes")).to_have_text(str(expected_yes), timeout=T)
                expect(page.locator("#bar-yes")).to_have_attribute("data-power", str(expected_yes), timeout=T)
                expect(page.locator("#turnout")).to_have_text(f"{expected_yes}.0%", timeout=T)
            expect(pages[n].locator("#my-vote")).to_have_text("Yes", timeout=T)
            expect(pages[n].locator(f"#not-voted [data-voter=val{n}]")).to_have_count(0, timeout=T)
            for page in pages.values():
                assert page.evaluate("window.__sameDocument") is True
        expect(pages[1].locator("#tally-outcome")).to_contain_text("Passes")

    # Blocks come on their own again: the vote ends, the plan waits for its height.
    expect(pages[2].locator("#status-badge")).to_have_text("Passed", timeout=T)
    expect(dashboard.locator("#kernel-bundle")).to_have_attribute("title", new_id, timeout=T)
    expect(dashboard.locator("#kernel-state")).to_have_text("running")
    assert dashboard.evaluate("window.__sameDocument") is True
    assert pages[2].evaluate("window.__sameDocument") is True
    node.check()
    state = NodeState.objects.get(pk=1)
    assert state.kernel_bundle_id == new_id and state.height > plan_height


@pytest.mark.parametrize("remedy", ["terminateVat", "skipAction"])
def test_story_vat_panics_the_kernel_and_a_resume_vote_revives_it(browser, asgi_server, voters, story_node, remedy):
    """The poison action is a swingset/send to the (non-critical) agitator, which makes the
    critical bomb fail: a kernel panic. terminateVat removes the culprit agitator (the
    re-delivered poison action then meets a dead vat); skipAction drops the poison action.
    The controller refuses to terminate a critical vat, so terminateVat names the agitator,
    not the bomb the panic message names."""
    server = asgi_server
    node = story_node
    node.wait_for_height(2)
    with node.held():
        voter = session(browser, server, "voter1")
    dashboard = go_live(voter, f"{server}/")
    expect(dashboard.locator("#kernel-state")).to_have_text("running", timeout=T)
    expect(dashboard.locator("#banner [role=alert]")).to_have_count(0)
    dashboard.evaluate("window.__sameDocument = true")

    with node.held():
        provoke = submit({"type": "swingset/send", "vat": "agitator", "method": "provoke", "args": []})
    expect(dashboard.locator("#banner [role=alert]")).to_contain_text("boom: the fuse is lit", timeout=T)
    expect(dashboard.locator("#kernel-state")).to_have_text("paused", timeout=T)

    # The chain goes on: bank transfers work and their balance updates wait for the kernel.
    with node.held():
        provoke.refresh_from_db()
        poison = provoke.data["actionID"]
        assert NodeState.objects.get(pk=1).paused_action_id == poison
        for amount in (5, 7):
            submit({"type": "bank/send", "from": "alice", "to": "bob", "amount": str(amount), "denom": "ucon"})
    expect(dashboard.locator("#actionqueue-length")).to_have_text("3", timeout=T)
    assert dashboard.evaluate("window.__sameDocument") is True

    # The banner links to governance: the panic, the action it was processing, the waiting ones.
    dashboard.locator("#banner [role=alert] a").click()
    expect(dashboard.locator("#paused-card")).to_contain_text(poison)
    expect(dashboard.locator("#paused-card")).to_contain_text("VBANK_BALANCE_UPDATE")
    if remedy == "terminateVat":  # the voter looks the culprit up on the vats page
        dashboard.goto(f"{server}/vats/")
        row = dashboard.locator("#vats-table tbody tr", has_text="agitator")
        culprit = row.locator("td").first.inner_text().strip()
        expect(row.locator("td").nth(3)).to_have_text("no")  # not critical
        dashboard.goto(f"{server}/governance/")

    with node.held():
        held_at = node.height
        dashboard.locator("#propose-resume").click()
        expect(dashboard.locator("#id_action_id")).to_have_value(poison)  # offered from the recorded panic
        if remedy == "terminateVat":
            dashboard.get_by_label("Terminate the culprit vat").check()
            dashboard.fill("#id_vat_id", culprit)
            target = culprit
        else:
            dashboard.get_by_label("Skip the poison action").check()
            target = poison
        dashboard.locator("#check-proposal").click()
        expect(dashboard.locator("#proposal-preview")).to_contain_text(f'"{remedy}"')
        expect(dashboard.locator("#proposal-preview")).to_contain_text(f'"{target}"')
        dashboard.locator("#confirm-proposal").click()
        expect(dashboard.locator(".messages")).to_contain_text("gets its number when a block includes it")
        node.step(1)
        proposal = Proposal.objects.get()
        assert proposal.kind == "resumeKernel" and proposal.submit_height == held_at + 1

        url = f"{server}/governance/proposals/{proposal.number}/"
        page = go_live(dashboard, url)
        expect(page.locator("#content")).to_contain_text(target)
        vote_in_page(page, "Yes")
        second = go_live(session(browser, server, "voter2"), url)
        vote_in_page(second, "Yes")
        node.step(1)
        expect(page.locator("#power-yes")).to_have_text("80", timeout=T)
        expect(second.locator("#power-yes")).to_have_text("80", timeout=T)
    dashboard = go_live(page.context.new_page(), f"{server}/")

    # The proposal passes, the host resumes the kernel, the queued actions drain.
    expect(page.locator("#status-badge")).to_have_text("Passed", timeout=T)
    expect(dashboard.locator("#kernel-state")).to_have_text("running", timeout=T)
    expect(dashboard.locator("#banner [role=alert]")).to_have_count(0, timeout=T)
    expect(dashboard.locator("#actionqueue-length")).to_have_text("0", timeout=T)
    expect(page.locator("#timeline")).to_contain_text("Execution: done", timeout=T)
    node.check()
    with node.held():
        assert NodeState.objects.get(pk=1).kernel_state == "running"
        assert not Action.objects.filter(state=Action.PENDING).exists()
        action = Action.objects.get(action_id=poison)
        if remedy == "skipAction":
            assert action.state == Action.SKIPPED
        else:  # re-delivered once, against the dead agitator: the send is rejected, the bomb untouched
            assert action.state == Action.CONSUMED
            provoke.refresh_from_db()
            assert provoke.data["status"] == "rejected", provoke.data
    if remedy == "terminateVat":
        dashboard.goto(f"{server}/vats/")
        expect(dashboard.locator(f"#vat-row-{culprit}")).to_contain_text("terminated")
