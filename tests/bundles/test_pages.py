"""The bundle pages and the audit log: what each role sees and may do, enforced on the server
(forged POSTs refused and audited), CSRF on the upload form, the size limit, the list and
detail views over a real swing-store file."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from console.audit import audit_record
from console.models import AuditEntry, BundleUpload
from console.roles import ADMINS, OPERATORS, VOTERS
from kernelhost.chain.models import Transaction
from tests.bundles.conftest import vat_bundle

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.bundles.urls")]
ALL_ROLES = (OPERATORS, VOTERS, ADMINS)


def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def token_of(client: Client) -> str:
    page = client.get("/bundles/").content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if match:
        return match.group(1)
    client.get("/")  # any page sets the cookie
    return client.cookies["csrftoken"].value


def post_upload(client: Client, data: bytes, *, kind="vat", token: str | None = None, name="counter.zip"):
    payload = {"csrfmiddlewaretoken": token} if token else {}  # first, as in the page's form
    payload.update(kind=kind, bundle=SimpleUploadedFile(name, data, content_type="application/zip"))
    return client.post("/bundles/upload/", payload)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_role_sees_installed_bundles_only_admins_upload(client, role_user, role):
    client.force_login(role_user(role))
    page = client.get("/bundles/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Installed bundles" in html
    assert ('id="upload-form"' in html) == (role == ADMINS)
    assert ('id="uploads"' in html) == (role == ADMINS)
    assert client.get("/audit/").status_code == (200 if role == ADMINS else 403)


@pytest.mark.parametrize("role", [OPERATORS, VOTERS])
def test_forged_upload_from_non_admin_is_refused_and_audited(role_user, role):
    user = role_user(role)
    client = csrf_client(user)
    response = post_upload(client, vat_bundle(), token=token_of(client))
    assert response.status_code == 403
    assert not BundleUpload.objects.exists() and not Transaction.objects.exists()
    entry = AuditEntry.objects.get(action="bundle.upload")
    assert entry.outcome == "denied" and entry.who == user and entry.target == "/bundles/upload/"
    assert entry.detail["requires"] == [ADMINS]


@pytest.mark.parametrize("role", [OPERATORS, VOTERS])
def test_non_admins_cannot_follow_uploads(client, role_user, role):
    admin = role_user(ADMINS)
    from console.bundles.services import upload_create

    u = upload_create(user=admin, filename="x.zip", data=vat_bundle(), kind="vat")
    client.force_login(role_user(role))
    assert client.get(f"/bundles/uploads/{u.id}/").status_code == 403
    assert client.get(f"/bundles/uploads/{u.id}/status/").status_code == 403
    assert AuditEntry.objects.filter(action="bundle.upload.view", outcome="denied").count() == 2


def test_upload_without_csrf_token_is_refused(role_user):
    client = csrf_client(role_user(ADMINS))
    response = post_upload(client, vat_bundle())
    assert response.status_code == 403
    assert not BundleUpload.objects.exists()


def test_admin_upload_stores_it_and_redirects_to_its_progress_page(role_user, django_capture_on_commit_callbacks):
    admin = role_user(ADMINS)
    client = csrf_client(admin)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_upload(client, vat_bundle(), token=token_of(client))
    assert response.status_code == 302
    u = BundleUpload.objects.get()
    assert response["Location"] == f"/bundles/uploads/{u.id}/"
    assert (u.status, u.kind, u.size, u.uploaded_by, bytes(u.data)) == ("pending", "vat", len(vat_bundle()), admin,
                                                                        vat_bundle())
    assert len(callbacks) == 1  # the validation job, enqueued once the upload committed
    page = client.get(response["Location"]).content.decode()
    assert f'ws-connect="/ws/live/?topics=job.{u.id},banner"' in page
    assert 'id="job-status">pending' in page and "Format, hash, manifest" in page
    assert AuditEntry.objects.filter(action="bundle.upload", outcome="ok", who=admin).exists()


def test_upload_over_the_size_limit_is_refused_before_it_is_stored(role_user, settings):
    settings.BUNDLE_MAX_BYTES = 4096
    client = csrf_client(role_user(ADMINS))
    response = post_upload(client, b"PK" + b"\0" * 200_000, token=token_of(client))
    assert response.status_code == 302 and response["Location"] == "/bundles/"
    html = client.get("/bundles/").content.decode()
    assert "Upload refused: The file is larger than the limit of 4,096 bytes; it was not stored." in html
    assert not BundleUpload.objects.exists()
    assert AuditEntry.objects.filter(action="bundle.upload", outcome="failed").exists()


def test_upload_form_errors_are_shown(role_user):
    client = csrf_client(role_user(ADMINS))
    token = token_of(client)
    response = client.post("/bundles/upload/", {"kind": "plugin", "csrfmiddlewaretoken": token,
                                                "bundle": SimpleUploadedFile("a.zip", b"x")})
    assert response.status_code == 302
    assert "Select a valid choice" in client.get("/bundles/").content.decode()
    response = client.post("/bundles/upload/", {"kind": "vat", "csrfmiddlewaretoken": token})
    assert "This field is required" in client.get("/bundles/").content.decode()
    assert not BundleUpload.objects.exists()


def test_upload_only_by_post(role_user):
    client = csrf_client(role_user(ADMINS))
    assert client.get("/bundles/upload/").status_code == 405


def test_list_shows_where_each_bundle_is_used(client, role_user, swingstore_file):
    client.force_login(role_user(VOTERS))
    html = client.get("/bundles/").content.decode()
    for bundle_id in swingstore_file.values():
        assert f"?bundle={bundle_id}" in html
    row = html[html.index(f'id="bundle-{swingstore_file["kernel"][:19]}"'):]
    assert "<strong>the kernel</strong>" in row[:row.index("</tr>")]
    row = html[html.index(f'id="bundle-{swingstore_file["counter"][:19]}"'):]
    row = row[:row.index("</tr>")]
    assert "counter <code>v3</code> inc. 1" in row and "named counter" in row
    row = html[html.index(f'id="bundle-{swingstore_file["unused"][:19]}"'):]
    assert "not in use" in row[:row.index("</tr>")]


def test_detail_view_by_query_and_by_path(client, role_user, swingstore_file):
    client.force_login(role_user(VOTERS))
    counter = swingstore_file["counter"]
    for url in (f"/bundles/?bundle={counter}", f"/bundles/{counter}/"):
        html = client.get(url).content.decode()
        assert f'<code id="bundle-id">{counter}</code>' in html
        assert "incarnation 1" in html and "(incarnations 0, 1)" in html
        assert "<code>vat.py</code>" in html and "installed" in html
    kernel = client.get(f"/bundles/{swingstore_file['kernel']}/").content.decode()
    assert "<strong>the kernel</strong>" in kernel and "kernel/__init__.py" in kernel
    assert client.get("/bundles/b1-" + "0" * 128 + "/").status_code == 404
    assert client.get("/bundles/?bundle=nonsense").status_code == 404


def test_list_without_a_swing_store_says_so(client, role_user, settings, tmp_path):
    settings.SWINGSTORE_PATH = str(tmp_path / "missing.sqlite")
    client.force_login(role_user(ADMINS))
    html = client.get("/bundles/").content.decode()
    assert 'id="store-error"' in html and "No bundles installed" in html


def test_audit_log_newest_first_paginated_and_filtered(client, role_user):
    admin = role_user(ADMINS)
    for i in range(60):
        audit_record(admin, "gov.vote" if i % 2 else "bundle.upload", target=f"t{i}")
    client.force_login(admin)
    first = client.get("/audit/").content.decode()
    assert "t59" in first and "t10" in first and "t9<" not in first
    assert first.index("t59") < first.index("t58")
    assert "page 1 of 2 · 60 entries" in first
    second = client.get("/audit/?page=2").content.decode()
    assert "t0<" in second and "t59" not in second
    votes = client.get("/audit/?action=gov.vote").content.decode()
    assert "30 entries" in votes and "t58" not in votes


def test_audit_record_never_raises(role_user, monkeypatch):
    with pytest.raises(ValueError):
        audit_record(None, "x", outcome="maybe")
    monkeypatch.setattr(AuditEntry.objects, "create", lambda **kw: (_ for _ in ()).throw(RuntimeError("db down")))
    assert audit_record(None, "x") is None


def test_pushed_fragments_swap_the_upload_card_and_row(role_user):
    from django.template.loader import render_to_string

    from console.bundles.selectors import upload_view
    from console.bundles.services import upload_create

    u = upload_create(user=role_user(ADMINS), filename="c.zip", data=vat_bundle(), kind="vat")
    event = upload_view(u)
    card = render_to_string("console/live/job.html", {"event": event, "topic": f"job.{u.id}"})
    assert f'id="job-{u.id}" hx-swap-oob="true"' in card and 'id="job-status">pending' in card
    row = render_to_string("console/live/bundles.html", {"event": event, "topic": "bundles"})
    assert f'<tr id="upload-row-{u.id}" hx-swap-oob="true"' in row and "c.zip" in row


def test_an_uploaded_but_uninstalled_bundle_is_shown_to_admins_only(client, role_user, swingstore_file):
    from console.bundles.services import upload_create
    from tests.bundles.conftest import GOOD_VAT_SOURCE, vat_from_source

    admin = role_user(ADMINS)
    data = vat_from_source(GOOD_VAT_SOURCE + "# another\n")
    u = upload_create(user=admin, filename="x.zip", data=data, kind="vat")
    from kernelhost.swingstore.bundleformat import bundle_id_of

    BundleUpload.objects.filter(pk=u.pk).update(bundle_id=bundle_id_of(data))
    client.force_login(role_user(VOTERS))
    assert client.get(f"/bundles/{bundle_id_of(data)}/").status_code == 404
    client.force_login(admin)
    html = client.get(f"/bundles/{bundle_id_of(data)}/").content.decode()
    assert "not installed" in html and "x.zip" in html
