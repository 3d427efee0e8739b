"""Roles are enforced on the server, not just hidden in navigation."""

from __future__ import annotations

import pytest

from console.roles import ADMINS, OPERATORS, VOTERS, role_required

pytestmark = pytest.mark.django_db


def test_anonymous_redirected_to_login(client):
    response = client.get("/vats/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/vats/"


def test_user_without_role_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x")
    client.force_login(user)
    assert client.get("/").status_code == 403


@pytest.mark.parametrize("role", [OPERATORS, VOTERS, ADMINS])
def test_each_role_sees_the_dashboard(client, role_user, role):
    client.force_login(role_user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert b"Node health" in response.content


def test_bundles_link_only_for_admins(client, role_user):
    client.force_login(role_user(OPERATORS))
    assert b'href="/bundles/"' not in client.get("/").content
    client.force_login(role_user(ADMINS))
    assert b'href="/bundles/"' in client.get("/").content


def test_role_required_refuses_forged_request(rf, role_user):
    from django.core.exceptions import PermissionDenied

    @role_required(ADMINS)
    def privileged(request):
        return "done"

    request = rf.post("/anything")
    request.user = role_user(VOTERS)
    with pytest.raises(PermissionDenied):
        privileged(request)
    request.user = role_user(ADMINS)
    assert privileged(request) == "done"


def test_logout_requires_post_with_csrf(role_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(role_user(OPERATORS))
    assert client.post("/accounts/logout/").status_code == 403
