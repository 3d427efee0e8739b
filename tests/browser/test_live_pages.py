"""Node pages in a real browser: events pushed after a block change the page without a reload.

The node runs in this process (a plain thread, as the embedded runner does) and publishes
through console.live.publish to the live ASGI server's channel layer.
"""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from console.live import publish as publish_in_loop_thread
from console.roles import OPERATORS
from tests.consoleweb.conftest import NODE_URLS, TEST_GENESIS, long_transcript_store, make_node

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_thread(target, *args, **kwargs):
    """Run node work off Playwright's thread (it owns an event loop there), like the runner."""
    errors: list = []

    def run():
        try:
            target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)
    if errors:
        raise errors[0]


def publish(topic, event):
    in_thread(publish_in_loop_thread, topic, event)


@pytest.fixture
def live_node(settings, tmp_path):
    settings.ROOT_URLCONF = NODE_URLS
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    kit = make_node(settings.SWINGSTORE_PATH)
    kit.run(blocks=2)
    return kit


@pytest.fixture
def operator_page(role_user, login):
    return login(role_user(OPERATORS).username)


def go_live(page, url):
    page.goto(url)
    expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
    return page


def test_runqueue_page_shows_pushed_queue_without_reload(live_node, operator_page, asgi_server):
    page = go_live(operator_page, f"{asgi_server}/runqueue/?vat=v6")
    expect(page.locator("#runqueue-empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    live_node.queue_directly(("counter", "increment", [7]), ("bob", "hello", []), ("counter", "read", []))
    publish("runqueue", {"height": 2, "runQueueLength": 3, "actionQueueLength": 0})

    expect(page.locator("#rq-length")).to_have_text("3", timeout=10_000)
    rows = page.locator("#runqueue-table tbody tr")
    expect(rows).to_have_count(2, timeout=10_000)  # the ?vat=v6 filter is kept by the refresh
    expect(rows.first).to_contain_text("increment")
    assert page.evaluate("window.__sameDocument") is True


def test_swingset_send_updates_dashboard_blocks_and_vat_live(live_node, operator_page, asgi_server):
    dashboard = go_live(operator_page, f"{asgi_server}/")
    before = int(dashboard.locator("#crank-number").inner_text())
    expect(dashboard.locator("#chart-cranks")).to_be_visible()
    blocks = go_live(dashboard.context.new_page(), f"{asgi_server}/blocks/")
    expect(blocks.locator("details.block")).to_have_count(2)
    vat = go_live(dashboard.context.new_page(), f"{asgi_server}/vats/v6/")
    expect(vat.locator("#vat-transcript-length")).to_contain_text("2 entries")
    for p in (dashboard, blocks, vat):
        p.evaluate("window.__sameDocument = true")

    live_node.send("counter", "increment", 5)
    in_thread(live_node.run, blocks=1, publish=publish_in_loop_thread)

    expect(dashboard.locator("#chain-height")).to_have_text("3", timeout=10_000)
    expect(dashboard.locator("#crank-number")).not_to_have_text(str(before))
    expect(dashboard.locator("#last-block-cranks")).to_have_text("1", timeout=10_000)
    expect(blocks.locator("#blocks-latest")).to_contain_text("block 3", timeout=10_000)
    expect(blocks.locator("#block-3")).to_contain_text("swingset/send", timeout=10_000)
    expect(vat.locator("#vat-transcript-length")).to_contain_text("3 entries", timeout=10_000)
    expect(vat.locator("#recent-deliveries details").first).to_contain_text("increment")
    for p in (dashboard, blocks, vat):
        assert p.evaluate("window.__sameDocument") is True


def test_panicking_vat_pauses_the_kernel_and_the_banner_appears_live(settings, tmp_path, operator_page, asgi_server):
    settings.ROOT_URLCONF = NODE_URLS
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    kit = make_node(settings.SWINGSTORE_PATH, TEST_GENESIS)
    kit.run(blocks=1)
    page = go_live(operator_page, f"{asgi_server}/chainsends/")
    expect(page.locator("#banner [role=alert]")).to_have_count(0)

    kit.send("bomb", "explode")
    in_thread(kit.run, blocks=1, publish=publish_in_loop_thread)

    expect(page.locator("#banner [role=alert]")).to_contain_text("boom", timeout=10_000)
    expect(page.locator("#chainsends-current")).to_contain_text("KERNEL_PAUSED")


def test_transcript_of_100000_entries_opens_and_pages_in_the_browser(settings, operator_page, asgi_server):
    settings.ROOT_URLCONF = NODE_URLS
    settings.SWINGSTORE_PATH = long_transcript_store(100_000, rollover_at=(40_000,), upgrade_at=(70_000,))
    page = operator_page
    page.goto(f"{asgi_server}/vats/v1/transcript/?start=69990&limit=20")
    expect(page.locator("details.tx-entry")).to_have_count(20)
    expect(page.locator("#span-70000")).to_contain_text("Upgrade: incarnation 1 begins")
    page.locator("#entry-69995 summary").click()
    expect(page.locator("#entry-69995 .entry-body")).to_contain_text("vatstoreSet")
    page.locator("#page-next").click()
    expect(page).to_have_url(re.compile(r"start=70010"))
    expect(page.locator("details.tx-entry").first).to_have_attribute("id", "entry-70010")
    page.locator("#page-last").click()
    expect(page.locator("details.tx-entry").last).to_have_attribute("id", "entry-99999")
