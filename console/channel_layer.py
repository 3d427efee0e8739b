"""The channel layer for Redis mode: channels-redis with a connection pool that waits.

redis-py 8 caps an asyncio ConnectionPool at 100 connections and raises MaxConnectionsError
for the next caller instead of waiting (redis/redis-py#2220 lowered the default from 2**31).
Every consumer's group_add and group_discard takes a connection for its round trip, so 100
dashboards connecting at once broke websocket connects with "Too many connections" (found
by `bench soak`), and the connections of the failed calls were not all given back. A
BlockingConnectionPool keeps a cap and makes the caller past it wait for a free connection.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

__all__ = ["WaitingRedisChannelLayer"]


class WaitingRedisChannelLayer(RedisChannelLayer):
    """`hosts` entries take BlockingConnectionPool's ``max_connections`` and ``timeout``
    (seconds a caller waits for a free connection) besides redis-py's connection options."""

    def create_pool(self, index):
        host = dict(self.hosts[index])
        address = host.pop("address", None)
        if address is None:  # sentinel or keyword hosts: channels-redis's own pools
            return super().create_pool(index)
        return BlockingConnectionPool.from_url(address, **host)
