"""The websocket consumer: login required, origin checked, topics isolated."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.asgi import application
from console.live import group_name
from console.roles import OPERATORS
from console.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    return [(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://127.0.0.1")]


async def connect(path: str, headers, app=application):
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_anonymous_socket_is_refused():
    async def scenario():
        comm, connected, code = await connect("/ws/live/?topics=dashboard", [(b"origin", b"http://127.0.0.1")])
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_foreign_origin_is_refused(role_user):
    headers = [h for h in session_headers(role_user(OPERATORS)) if h[0] != b"origin"] + [(b"origin", b"http://evil.example")]

    async def scenario():
        comm, connected, _ = await connect("/ws/live/?topics=dashboard", headers)
        assert not connected

    async_to_sync(scenario)()


def test_unknown_topic_is_refused(role_user):
    headers = session_headers(role_user(OPERATORS))

    async def scenario():
        comm, connected, code = await connect("/ws/live/?topics=secrets", headers)
        assert not connected and code == 4400

    async_to_sync(scenario)()


def test_topics_are_isolated_and_groups_emptied(role_user):
    headers = session_headers(role_user(OPERATORS))
    app = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))

    async def scenario():
        dash, ok1, _ = await connect("/ws/live/?topics=dashboard", headers, app)
        chain, ok2, _ = await connect("/ws/live/?topics=chainsends", headers, app)
        assert ok1 and ok2
        layer = get_channel_layer()
        await layer.group_send(group_name("dashboard"), {"type": "live.event", "topic": "dashboard",
                                                         "event": {"chain": {"height": 5}, "kernel": {}}})
        html = await dash.receive_from(timeout=3)
        assert 'id="chain-height">5<' in html and 'hx-swap-oob="true"' in html
        assert await chain.receive_nothing(timeout=0.3)
        await dash.disconnect()
        await chain.disconnect()
        groups = getattr(layer, "groups", None)  # the in-memory layer exposes its groups
        if groups is not None:
            assert not groups.get(group_name("dashboard"))
            assert not groups.get(group_name("chainsends"))

    async_to_sync(scenario)()
