"""Web: every role tried against every privileged endpoint (forged requests refused, and
written to the audit log where the product audits them), anonymous access redirected, CSRF
enforced, websockets refused without a session / role / right origin, login throttling.
Anonymous requests to the JSON API (/api/) get 401 JSON instead of the redirect."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from console.models import AuditEntry
from console.roles import ADMINS, OPERATORS, VOTERS
from tests.conftest import PASSWORD

from .conftest import tried

pytestmark = pytest.mark.django_db

ROLES = (None, OPERATORS, VOTERS, ADMINS)  # None = logged in without any role
UPLOAD_ID = uuid.UUID(int=1)
BUNDLE_ID = "b1-" + "0" * 128

# (method, path, roles allowed, audit action or None) — every privileged endpoint.
PRIVILEGED = [
    ("POST", "/governance/proposals/1/vote/", {VOTERS}, "gov.vote"),
    ("GET", "/governance/proposals/new/", {VOTERS}, None),
    ("GET", "/governance/proposals/new/text/", {VOTERS}, "gov.propose"),
    ("POST", "/governance/proposals/new/text/", {VOTERS}, "gov.propose"),
    ("POST", "/bundles/upload/", {ADMINS}, "bundle.upload"),
    ("POST", f"/bundles/{BUNDLE_ID}/preflight/", {ADMINS}, "upgrade.preflight.start"),
    ("GET", f"/bundles/preflight/{UPLOAD_ID}/", {ADMINS}, "upgrade.preflight.view"),
    ("GET", f"/bundles/uploads/{UPLOAD_ID}/", {ADMINS}, "bundle.upload.view"),
    ("GET", f"/bundles/uploads/{UPLOAD_ID}/status/", {ADMINS}, "bundle.upload.view"),
    ("GET", "/audit/", {ADMINS}, "audit.view"),
]
PUBLIC = {"/accounts/login/", "/healthz", "/metrics", "/api/openapi.yaml"}
SAMPLE_KWARGS = {"vat_id": "v1", "number": "1", "kind": "text", "upload_id": str(UPLOAD_ID),
                 "run_id": str(UPLOAD_ID), "bundle_id": BUNDLE_ID}


def all_paths() -> list[str]:
    """Every URL of the console (the Django admin aside), with sample arguments."""
    out = []

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if not route.startswith("admin/"):
                    walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                path = "/" + route
                for name, value in SAMPLE_KWARGS.items():
                    for conv in ("str", "int", "uuid", "path", "slug"):
                        path = path.replace(f"<{conv}:{name}>", value)
                    path = path.replace(f"<{name}>", value)
                out.append(path)

    walk(get_resolver().url_patterns)
    return sorted(set(out))


def client_for(role_user, django_user_model, role, **kw) -> Client:
    client = Client(**kw)
    if role is None:
        client.force_login(django_user_model.objects.create_user("norole", password=PASSWORD))
    else:
        client.force_login(role_user(role))
    return client


def test_the_privileged_table_covers_every_post_endpoint():
    # every URL pattern that can change something is in PRIVILEGED (or is logout/login)
    covered = {path for _m, path, _r, _a in PRIVILEGED} | {"/accounts/login/", "/accounts/logout/"}
    post_capable = {"/governance/proposals/1/vote/", "/governance/proposals/new/text/", "/bundles/upload/",
                    f"/bundles/{BUNDLE_ID}/preflight/"}
    assert post_capable <= covered
    assert set(all_paths()) >= post_capable | {"/audit/"}


@pytest.mark.parametrize("path", all_paths())
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login_everywhere(client, path, method):
    tried("web: role x endpoint checks")
    response = getattr(client, method)(path)
    if path in PUBLIC or path == "/accounts/logout/":
        assert response.status_code != 500
        return
    if path.startswith("/api/"):  # an API client gets 401 JSON, not a login page
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json() == {"error": "authentication required"}
        return
    assert response.status_code == 302, (method, path, response.status_code)
    assert response["Location"].startswith("/accounts/login/?next=")


ROLE_IDS = {None: "no-role", OPERATORS: "operator", VOTERS: "voter", ADMINS: "admin"}
FORGED = [(role, *entry) for entry in PRIVILEGED for role in ROLES
          # admins hold the operator role too; allowed roles are covered by the feature tests
          if not ({role, OPERATORS} if role == ADMINS else {role}) & entry[2]]


@pytest.mark.parametrize("role,method,path,allowed,action", FORGED,
                         ids=[f"{ROLE_IDS[r]} {m} {p}" for r, m, p, _a, _b in FORGED])
def test_each_role_against_each_privileged_endpoint(role_user, django_user_model, role, method, path, allowed,
                                                    action):
    tried("web: role x endpoint checks")
    client = client_for(role_user, django_user_model, role)
    before = AuditEntry.objects.count()
    response = client.get(path) if method == "GET" else client.post(path, {"option": "yes", "title": "x"})
    assert response.status_code == 403, (role, method, path, response.status_code)
    if action:
        entry = AuditEntry.objects.order_by("-id").first()
        assert AuditEntry.objects.count() == before + 1
        assert (entry.action, entry.outcome, entry.target) == (action, AuditEntry.DENIED, path)
        assert entry.username == (role_user(role).username if role else "norole")
        assert entry.detail["method"] == method


@pytest.mark.parametrize("role,path,data", [
    (VOTERS, "/governance/proposals/1/vote/", {"option": "yes"}),
    (VOTERS, "/governance/proposals/new/text/", {"title": "t"}),
    (ADMINS, "/bundles/upload/", {"kind": "vat"}),
    (ADMINS, f"/bundles/{BUNDLE_ID}/preflight/", {}),
    (OPERATORS, "/accounts/logout/", {}),
], ids=["vote", "propose", "upload", "preflight", "logout"])
def test_csrf_is_enforced_for_the_allowed_role(role_user, role, path, data):
    tried("web: csrf checks")
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user(role))
    response = client.post(path, data)
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_logout_with_a_token_works():
    from django.middleware.csrf import _get_new_csrf_string

    tried("web: csrf checks")
    client = Client(enforce_csrf_checks=True)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_forged_upload_multipart_is_refused_before_anything_is_stored(role_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from console.models import BundleUpload

    client = Client()
    client.force_login(role_user(VOTERS))
    response = client.post("/bundles/upload/", {"kind": "vat", "file": SimpleUploadedFile("b.zip", b"PK" * 100)})
    assert response.status_code == 403
    assert BundleUpload.objects.count() == 0


# --- websockets -----------------------------------------------------------------------------
def _ws(headers, path="/ws/live/?topics=dashboard"):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from console.asgi import application

    async def scenario():
        comm = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await comm.connect()
        if connected:
            await comm.disconnect()
        return connected, code

    return async_to_sync(scenario)()


def _cookie(user=None, value=None):
    if value is None:
        client = Client()
        client.force_login(user)
        value = client.cookies["sessionid"].value
    return (b"cookie", f"sessionid={value}".encode())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [None, b"null", b"http://evil.example", b"http://127.0.0.1.evil.example",
                                    b"http://localhost@evil.example", b"http://evil.example:8000",
                                    b"file://", b"chrome-extension://abc"],
                         ids=["none", "null", "foreign", "suffix", "userinfo", "port", "file", "extension"])
def test_websocket_from_another_origin_is_refused(role_user, origin):
    tried("web: websocket checks")
    headers = [_cookie(role_user(OPERATORS))] + ([(b"origin", origin)] if origin is not None else [])
    connected, _code = _ws(headers)
    assert not connected


@pytest.mark.django_db(transaction=True)
def test_websocket_with_a_forged_or_stale_session_is_refused(role_user, django_user_model):
    tried("web: websocket checks")
    origin = (b"origin", b"http://127.0.0.1")
    assert _ws([_cookie(value="forged-session-key-" + "x" * 20), origin])[0] is False
    client = Client()
    client.force_login(role_user(OPERATORS))
    stale = client.cookies["sessionid"].value
    client.logout()
    assert _ws([_cookie(value=stale), origin])[0] is False
    nobody = django_user_model.objects.create_user("norole-ws", password=PASSWORD)
    assert _ws([_cookie(nobody), origin])[0] is False
    assert _ws([_cookie(role_user(OPERATORS)), origin])[0] is True  # the control case


# --- login throttling (django-axes) ---------------------------------------------------------
def _login(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_bad_passwords_lock_the_account_out_with_a_clear_message(role_user):
    tried("web: login throttling")
    user = role_user(OPERATORS)
    client = Client()
    for _ in range(4):
        assert _login(client, user.username, "wrong-password").status_code == 200  # the form, with an error
    locked = _login(client, user.username, "wrong-password")
    assert locked.status_code == 429
    assert b"locked" in locked.content and b"15 minutes" in locked.content
    refused = _login(client, user.username, PASSWORD)  # the right password no longer helps
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    # lockout is per (username, address): the same user elsewhere, another user here, still log in
    assert _login(Client(), user.username, PASSWORD, ip="10.0.0.2").status_code == 302
    other = role_user(VOTERS)
    assert _login(Client(), other.username, PASSWORD).status_code == 302


def test_four_bad_passwords_do_not_lock(role_user):
    tried("web: login throttling")
    user = role_user(OPERATORS)
    client = Client()
    for _ in range(4):
        _login(client, user.username, "wrong-password")
    assert _login(client, user.username, PASSWORD).status_code == 302
