"""The foundation seen through a real browser: login per role, navigation, live socket."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from console.live import publish as publish_in_loop_thread
from console.roles import ADMINS, OPERATORS, VOTERS


def publish(topic, event):
    """Publish from a plain thread, as the node runner does (Playwright owns this thread's loop)."""
    worker = threading.Thread(target=publish_in_loop_thread, args=(topic, event))
    worker.start()
    worker.join()


pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED_NAV = {
    OPERATORS: ["Dashboard", "Run-queue", "Vats", "Chain-sends", "Governance", "Blocks"],
    VOTERS: ["Dashboard", "Run-queue", "Vats", "Chain-sends", "Governance", "Blocks"],
    ADMINS: ["Dashboard", "Run-queue", "Vats", "Chain-sends", "Governance", "Bundles", "Blocks", "Audit log"],
}


def test_anonymous_user_is_sent_to_login(page, asgi_server):
    page.goto(f"{asgi_server}/vats/")
    expect(page).to_have_url(f"{asgi_server}/accounts/login/?next=/vats/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


@pytest.mark.parametrize("role", [OPERATORS, VOTERS, ADMINS])
def test_each_role_sees_its_navigation(role, role_user, login, asgi_server):
    user = role_user(role)
    page = login(user.username)
    expect(page.get_by_role("heading", name="Node health")).to_be_visible()
    expect(page.locator("#main-nav a")).to_have_text(EXPECTED_NAV[role])
    expect(page.locator(".who")).to_contain_text(role)


def test_wrong_password_shows_an_error(role_user, login):
    role_user(OPERATORS)
    page = login("op", password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("didn't match")


def test_dashboard_goes_live_and_shows_pushed_events(role_user, login):
    page = login(role_user(OPERATORS).username)
    expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
    expect(page.locator("#chain-height")).to_have_text("—")
    status = {"chain": {"height": 4242, "appHash": "ab" * 32, "blockIntervalS": 1.5},
              "kernel": {"state": "running", "crankNumber": 77, "runQueueLength": 3, "bundleID": "b1-" + "0" * 128},
              "vats": [], "actionQueueLength": 2, "pendingChainSends": 1}
    publish("dashboard", status)
    expect(page.locator("#chain-height")).to_have_text("4242", timeout=10_000)
    expect(page.locator("#crank-number")).to_have_text("77")
    expect(page.locator("#block-interval")).to_have_text("1.50 s")


def test_paused_banner_appears_live(role_user, login):
    page = login(role_user(VOTERS).username)
    expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
    expect(page.locator("#banner [role=alert]")).to_have_count(0)
    publish("banner", {"kernel": {"state": "paused", "pausedHeight": 9, "pausedReason": "vat v3 panicked"}})
    expect(page.locator("#banner [role=alert]")).to_contain_text("vat v3 panicked", timeout=10_000)
