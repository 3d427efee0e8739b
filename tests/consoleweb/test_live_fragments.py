"""The runner's real events, rendered by the real consumer: each node topic pushes the
out-of-band fragments its page expects (ids present, values from the event)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.asgi import application
from console.live import group_name, publish
from console.roles import OPERATORS

pytestmark = pytest.mark.django_db(transaction=True)


def headers_for(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://127.0.0.1")]


@pytest.fixture
def runner_events(node) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    node.send("counter", "increment", 4)
    node.run(blocks=1, publish=lambda topic, event: events.append((topic, event)))
    return events


def receive_all(user, topics: str, events) -> str:
    """Connect as `user` to `topics`, send every event the way publish() does (to every
    topic's group, subscribed or not), and return what the browser would receive."""
    headers = headers_for(user)

    async def scenario():
        comm = WebsocketCommunicator(application, f"/ws/live/?topics={topics}", headers=headers)
        connected, _ = await comm.connect()
        assert connected
        layer = get_channel_layer()
        for topic, event in events:
            await layer.group_send(group_name(topic), {"type": "live.event", "topic": topic, "event": event})
        out = []
        while not await comm.receive_nothing(timeout=0.3):
            out.append(await comm.receive_from())
        await comm.disconnect()
        return "\n".join(out)

    return run_in_fresh_loop(scenario)


def run_in_fresh_loop(coroutine_function):
    """asyncio.run in a worker thread: the browser tests (Playwright) leave an event loop in
    the main thread, where async_to_sync refuses to run."""
    result: list = []

    def target():
        try:
            result.append(("ok", asyncio.run(coroutine_function())))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            result.append(("error", exc))

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=60)
    kind, value = result[0]
    if kind == "error":
        raise value
    return value


def test_runner_events_render_their_fragments(role_user, runner_events):
    assert {t for t, _ in runner_events} == {"dashboard", "blocks", "chainsends", "runqueue", "banner"}
    user = role_user(OPERATORS)
    html = receive_all(user, "dashboard", runner_events)
    assert 'id="chain-height">5<' in html and 'id="live-tick-dashboard"' in html and 'id="banner"' in html
    html = receive_all(user, "blocks", runner_events)
    assert 'id="blocks-latest"' in html and "block <strong>5</strong>" in html and 'id="live-tick-blocks"' in html
    html = receive_all(user, "chainsends", runner_events)
    assert 'id="chainsends-current"' in html and "ACTION_DONE" in html and "TX_RESULT" in html
    html = receive_all(user, "runqueue", runner_events)
    assert 'id="rq-length" hx-swap-oob="true">0<' in html and 'id="rq-height" hx-swap-oob="true">5<' in html
    html = receive_all(user, "banner", runner_events)
    assert 'role="alert"' not in html  # running: no alert


def test_a_page_receives_only_its_topics(role_user, runner_events):
    html = receive_all(role_user(OPERATORS), "runqueue", runner_events)
    assert "live-tick-runqueue" in html
    assert "live-tick-dashboard" not in html and "chainsends-current" not in html and "blocks-latest" not in html


def test_pause_banner_from_the_runner_event_shape(role_user):
    event = {"kernelState": "paused", "pausedHeight": 7, "pausedReason": "vat v3 panicked", "panicked": "x"}
    html = receive_all(role_user(OPERATORS), "banner", [("banner", event)])
    assert 'role="alert"' in html and "Kernel paused at height 7: vat v3 panicked" in html
    html = receive_all(role_user(OPERATORS, username="op9"), "banner", [("banner", {"level": "error",
                                                                                  "message": "node stopped: x"})])
    assert "node stopped: x" in html


def test_publish_is_a_noop_without_listeners():
    publish("vat.v6", {"height": 1})  # nobody subscribed: nothing to render, nothing raised
