"""Bundles in a real browser: an admin uploads a vat bundle and watches the validation job
move step by step over the websocket, to "submitted" and then "installed", without a reload."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from console.roles import ADMINS
from kernelhost.chain.models import ExportDataEntry, Transaction
from tests.bundles.conftest import vat_bundle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def patient_expect():
    """Job steps run on a background thread that a loaded CI machine may delay: wait for what
    the user would eventually see rather than for how fast it came."""
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(autouse=True)
def bundle_urls(settings):
    settings.ROOT_URLCONF = "tests.bundles.urls"


@pytest.fixture
def gated_test_load(monkeypatch):
    """Hold the job at its test-load step until the test says go, so the page is surely
    subscribed before the rest of the progress is published."""
    from console.bundles import jobs

    go = threading.Event()
    real = jobs.run_test_load

    def gated(data, kind):
        # A safety net only (the test or the teardown sets it): on a loaded machine the page's
        # first steps took longer than a 20 s gate, and the job ran on before it was looked at.
        go.wait(timeout=180)
        return real(data, kind)

    monkeypatch.setattr(jobs, "run_test_load", gated)
    yield go
    go.set()


def in_thread(func):
    """Run node-side work from a plain thread, as the runner does (Playwright owns this loop)."""
    worker = threading.Thread(target=func)
    worker.start()
    worker.join()


def test_admin_uploads_a_vat_bundle_and_watches_it_validated_live(page, asgi_server, login, role_user,
                                                                  gated_test_load):
    role_user(ADMINS)
    login("ad")
    page.goto(f"{asgi_server}/bundles/")
    page.select_option("select[name=kind]", "vat")
    page.set_input_files("input[name=bundle]", files=[
        {"name": "counter.zip", "mimeType": "application/zip", "buffer": vat_bundle()}])
    page.click("#upload-submit")
    page.wait_for_url("**/bundles/uploads/*/")
    expect(page.locator("#ws-status")).to_have_text("live", timeout=10_000)
    expect(page.locator("#job-status")).to_have_text("validating", timeout=10_000)
    expect(page.locator("li[data-step=format]")).to_have_class("step-ok")
    expect(page.locator("li[data-step=load]")).to_have_class("step-running")
    page.evaluate("window.__noReload = true")
    listing = page.context.new_page()  # the bundles list, open in a second tab, follows too
    listing.goto(f"{asgi_server}/bundles/")
    expect(listing.locator("#ws-status")).to_have_text("live", timeout=10_000)
    expect(listing.locator("#uploads tbody tr").first).to_contain_text("validating")

    gated_test_load.set()
    expect(page.locator("#job-status")).to_have_text("submitted", timeout=20_000)
    expect(page.locator("li[data-step=load]")).to_contain_text("defines build_root_object()")
    expect(page.locator("li[data-step=submit]")).to_have_class("step-ok")
    expect(page.locator("#job-progress")).to_have_attribute("aria-valuenow", "85")
    expect(listing.locator("#uploads tbody tr").first).to_contain_text("submitted", timeout=10_000)
    tx = Transaction.objects.get(type="swingset/installBundle")
    expect(page.locator("#job-tx")).to_contain_text(tx.tx_hash)

    # A block includes and installs it; the node's publisher then refreshes submitted uploads.
    from console.bundles.services import refresh_submitted_uploads

    bundle_id = page.locator("#job-bundle-id code").inner_text()
    Transaction.objects.filter(pk=tx.pk).update(status=Transaction.DONE, height=5, index=0, code=0,
                                                data={"actionID": "5-0", "bundleID": bundle_id})
    ExportDataEntry.objects.create(key=f"bundle.{bundle_id}", value=bundle_id)
    in_thread(refresh_submitted_uploads)
    expect(page.locator("#job-status")).to_have_text("installed", timeout=10_000)
    expect(page.locator("#job-message")).to_contain_text("Installed at block 5")
    assert page.evaluate("window.__noReload") is True  # every change arrived over the websocket
    expect(listing.locator("#uploads tbody tr").first).to_contain_text("Installed at block 5", timeout=10_000)

    page.goto(f"{asgi_server}/bundles/")
    expect(page.locator("#uploads")).to_contain_text("installed")
    page.click("#audit-link")
    expect(page.locator("#audit")).to_contain_text("tx.submit")
    expect(page.locator("#audit")).to_contain_text("bundle.validate")
