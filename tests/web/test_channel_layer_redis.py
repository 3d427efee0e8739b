"""The Redis channel layer keeps an idle consumer alive (CI sets REDIS_URL).

channels_redis waits for a consumer's next message with a 5 s BZPOPMIN; redis-py 8 reads with
a 5 s socket timeout unless told otherwise, so a dashboard with no event for 5 s (a slow block,
a stopped node) lost its websocket to a TimeoutError. `bench soak` found it."""

from __future__ import annotations

import asyncio
import os

import pytest
from channels.layers import get_channel_layer

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it)"),
    pytest.mark.slow,
]


def test_a_consumer_waits_longer_than_the_blocking_pop_for_its_next_message():
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()

        async def send_later():
            await asyncio.sleep(layer.brpop_timeout + 2)  # longer than one BZPOPMIN
            await layer.send(channel, {"type": "live.html", "html": "late"})

        sender = asyncio.create_task(send_later())
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=layer.brpop_timeout * 4)
        finally:
            await sender
            await layer.flush()
        return message

    assert asyncio.run(scenario())["html"] == "late"



def test_hundreds_of_simultaneous_group_joins_do_not_run_out_of_connections(settings):
    """redis-py 8 pools raise MaxConnectionsError past 100 connections and channels-redis takes
    one per group_add, so 100 dashboards connecting at once broke (`bench soak`). 300 joins
    at once on the configured layer: all succeed, and a group_send reaches every member."""
    from channels_redis.core import RedisChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    assert config["hosts"][0]["max_connections"] >= 300

    async def scenario():
        layer = RedisChannelLayer(**config)
        names = [await layer.new_channel() for _ in range(300)]
        try:
            await asyncio.gather(*(layer.group_add("joins", name) for name in names))
            await layer.group_send("joins", {"type": "live.html", "html": "all"})
            got = await asyncio.gather(*(asyncio.wait_for(layer.receive(n), 20) for n in names))
            await asyncio.gather(*(layer.group_discard("joins", name) for name in names))
        finally:
            await layer.flush()
            await layer.close_pools()
        return got

    got = asyncio.run(scenario())
    assert [m["html"] for m in got] == ["all"] * 300
