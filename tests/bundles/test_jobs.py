"""The validation job, called directly: each step, the live progress, the submission, the
installation check, and every bad upload ending invalid with a clear message and no tx."""

from __future__ import annotations

import pytest

from console.bundles.jobs import validate_upload_job
from console.bundles.services import refresh_submitted_uploads, upload_create
from console.models import AuditEntry, BundleUpload
from kernelhost.chain.models import Action, ExportDataEntry, Transaction
from kernelhost.swingstore.bundleformat import bundle_id_of
from tests.bundles.conftest import BAD_UPLOADS, bad_upload, kernel_bundle, vat_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(role_user):
    from console.roles import ADMINS

    return role_user(ADMINS)


def upload(admin, data: bytes, kind: str = "vat", name: str = "bundle.zip") -> BundleUpload:
    return upload_create(user=admin, filename=name, data=data, kind=kind)


def run(u: BundleUpload) -> BundleUpload:
    validate_upload_job(str(u.id))
    u.refresh_from_db()
    return u


def test_valid_vat_bundle_is_validated_and_submitted(admin, published):
    data = vat_bundle()
    u = run(upload(admin, data))
    assert u.status == BundleUpload.SUBMITTED, u.message
    assert u.bundle_id == bundle_id_of(data)
    assert [s["state"] for s in u.steps] == ["ok", "ok", "ok", "running"]
    assert "defines build_root_object()" in u.steps[1]["detail"]
    tx = Transaction.objects.get(tx_hash=u.tx_hash)
    assert tx.type == "swingset/installBundle" and tx.status == Transaction.PENDING
    # progress went out live on the upload's own topic and the list's, step by step
    topics = {t for t, _ in published}
    assert topics == {f"job.{u.id}", "bundles"}
    progress = [e["progress"] for t, e in published if t == f"job.{u.id}"]
    assert progress == sorted(progress) and progress[-1] == 85
    assert [e["status"] for t, e in published if t == "bundles"][-1] == "submitted"
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "outcome"))
    assert actions == [("bundle.upload", "ok"), ("bundle.validate", "ok"), ("tx.submit", "ok")]


def test_submitted_upload_becomes_installed_when_the_chain_has_it(admin, published):
    u = run(upload(admin, vat_bundle()))
    assert refresh_submitted_uploads() == 0  # mempool: nothing to report yet
    Transaction.objects.filter(tx_hash=u.tx_hash).update(status=Transaction.DONE, height=7, index=0, code=0,
                                                         data={"actionID": "7-0", "bundleID": u.bundle_id})
    ExportDataEntry.objects.create(key=f"bundle.{u.bundle_id}", value=u.bundle_id)
    assert refresh_submitted_uploads() == 1
    u.refresh_from_db()
    assert u.status == BundleUpload.INSTALLED and u.progress == 100 and "block 7" in u.message
    assert published[-1][1]["status"] == "installed"
    assert AuditEntry.objects.filter(action="bundle.install", outcome="ok", target=u.bundle_id).exists()


def test_chain_or_kernel_refusal_marks_the_upload_invalid(admin, published):
    a = run(upload(admin, vat_bundle()))
    Transaction.objects.filter(tx_hash=a.tx_hash).update(status=Transaction.DONE, height=3, index=0, code=30,
                                                         message="kernel is paused since block 2: boom")
    b = run(upload(admin, kernel_bundle(), kind="kernel"))
    Transaction.objects.filter(tx_hash=b.tx_hash).update(status=Transaction.DONE, height=3, index=1, code=0,
                                                         data={"actionID": "3-1", "bundleID": b.bundle_id})
    Action.objects.create(seq=1, action_id="3-1", kind="INSTALL_BUNDLE", body={}, state=Action.CONSUMED,
                          queued_height=3, consumed_height=4, result={"error": "disk full"})
    assert refresh_submitted_uploads() == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == BundleUpload.INVALID
    assert "code 30" in a.message and "paused" in a.message
    assert "kernel refused" in b.message and "disk full" in b.message


def test_valid_kernel_bundle_is_imported_and_submitted(admin, published):
    u = run(upload(admin, kernel_bundle(), kind="kernel"))
    assert u.status == BundleUpload.SUBMITTED, u.message
    assert u.manifest["kind"] == "kernel" and u.manifest["apiVersion"] == 1
    assert "kernel imported" in u.steps[1]["detail"]


def test_an_installed_bundle_is_not_submitted_again(admin, published):
    data = vat_bundle()
    ExportDataEntry.objects.create(key=f"bundle.{bundle_id_of(data)}", value="x")
    u = run(upload(admin, data))
    assert u.status == BundleUpload.INSTALLED and "already installed" in u.message
    assert not Transaction.objects.exists()


def test_unsupported_kernel_api_version_is_refused(admin, published, monkeypatch):
    monkeypatch.setattr("console.bundles.jobs.SUPPORTED_KERNEL_API_VERSIONS", frozenset({99}))
    u = run(upload(admin, kernel_bundle(), kind="kernel"))
    assert u.status == BundleUpload.INVALID and "Kernel API version 1 is not supported" in u.message
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_is_refused_with_a_clear_message_and_nothing_submitted(admin, published, case):
    data, kind, words = bad_upload(case)
    u = run(upload(admin, data, kind=kind, name=f"{case}.zip"))
    assert u.status == BundleUpload.INVALID
    assert words in u.message, u.message
    assert not Transaction.objects.exists()  # nothing reached the chain
    assert not u.tx_hash
    failed = [s for s in u.steps if s["state"] == "failed"]
    assert len(failed) == 1 and words in failed[0]["detail"]
    assert all(s["state"] == "skipped" for s in u.steps[u.steps.index(failed[0]) + 1:])
    assert AuditEntry.objects.filter(action="bundle.validate", outcome="failed").count() == 1
    assert published[-1][1]["status"] == "invalid" and published[-1][1]["done"]


def test_a_finished_job_run_again_changes_nothing(admin, published):
    u = run(upload(admin, vat_bundle()))
    assert validate_upload_job(str(u.id)) == BundleUpload.SUBMITTED
    assert Transaction.objects.count() == 1
    assert validate_upload_job("00000000-0000-0000-0000-000000000000") == "missing"


def test_testload_timeout_is_reported(admin, published, monkeypatch):
    from console.bundles import testload

    monkeypatch.setattr(testload, "DEFAULT_TIMEOUT_S", 1)
    monkeypatch.setattr("console.bundles.jobs.run_test_load",
                        lambda data, kind: testload.run_test_load(data, kind, timeout=1))
    from tests.bundles.conftest import vat_from_source

    u = run(upload(admin, vat_from_source("while True:\n    pass\n")))
    assert u.status == BundleUpload.INVALID and "more than 1 s" in u.message
    assert not Transaction.objects.exists()
