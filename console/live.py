"""Publishing live events to browsers.

The node (runner thread or rq worker) calls `publish(topic, event)` after a block commits.
Consumers subscribed to the topic render the topic's fragment template with the event and push
it as htmx out-of-band swaps, so a page never polls while its websocket is up.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

# Topics a browser may subscribe to; per-vat topics are "vat.<vatID>".
STATIC_TOPICS = ("dashboard", "runqueue", "chainsends", "blocks", "governance", "bundles", "banner")
_VAT_TOPIC = re.compile(r"^vat\.v[0-9]{1,6}$")
_PROPOSAL_TOPIC = re.compile(r"^proposal\.[0-9]{1,9}$")
_JOB_TOPIC = re.compile(r"^job\.[0-9a-f-]{1,64}$")


def is_valid_topic(topic: str) -> bool:
    return (
        topic in STATIC_TOPICS
        or bool(_VAT_TOPIC.match(topic))
        or bool(_PROPOSAL_TOPIC.match(topic))
        or bool(_JOB_TOPIC.match(topic))
    )


def group_name(topic: str) -> str:
    # Channel-layer group names allow only [A-Za-z0-9._-]; topics are validated to fit.
    return f"live.{topic}"


# The in-memory layer's queues belong to the server's event loop; a publisher in another
# thread (the embedded node runner) must hand its send to that loop rather than run its own.
_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def publish(topic: str, event: dict) -> None:
    """Send an event to every browser subscribed to `topic`. Never raises: a console that is
    down must not stop the node."""
    if not is_valid_topic(topic):
        raise ValueError(f"unknown live topic {topic!r}")
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        # Render once here rather than once per subscribed socket: with hundreds of browsers
        # on the dashboard the per-client render dominated the commit-to-screen latency.
        message = {"type": "live.html", "html": render_fragment(topic, event)}
        loop = _server_loop
        if loop is not None and loop.is_running() and _is_in_memory_layer(layer):
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group_name(topic), message), loop)
            future.result(timeout=5)
        else:
            async_to_sync(layer.group_send)(group_name(topic), message)
    except Exception:  # noqa: BLE001 - publishing is best effort by design
        log.exception("could not publish live event on %s", topic)


def render_fragment(topic: str, event: dict) -> str:
    """The htmx out-of-band fragment a topic's subscribers receive for `event`."""
    return render_to_string(f"console/live/{topic.split('.')[0]}.html", {"event": event, "topic": topic})


def _is_in_memory_layer(layer) -> bool:
    # The in-memory layer's queues belong to the server's event loop; a Redis layer can be
    # used from any thread's loop.
    return isinstance(layer, InMemoryChannelLayer)
