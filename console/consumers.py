"""The one websocket consumer: a browser subscribes to the topics of the page it shows."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from console.live import group_name, is_valid_topic, register_server_loop, render_fragment
from console.roles import can_view_node

MAX_TOPICS = 8
CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_TOPIC = 4400


class LiveConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        register_server_loop(asyncio.get_running_loop())
        self.topics: list[str] = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await self._may_view(user):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        requested = [t for raw in query.get("topics", []) for t in raw.split(",") if t]
        if not requested or len(requested) > MAX_TOPICS or not all(map(is_valid_topic, requested)):
            await self.close(code=CLOSE_BAD_TOPIC)
            return
        self.topics = sorted(set(requested))
        for topic in self.topics:
            await self.channel_layer.group_add(group_name(topic), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for topic in self.topics:
            await self.channel_layer.group_discard(group_name(topic), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        # Browsers only listen; anything they send is ignored rather than trusted.
        return

    async def live_html(self, message: dict) -> None:
        """A fragment rendered once by console.live.publish, forwarded as is."""
        await self.send(text_data=message["html"])

    async def live_event(self, message: dict) -> None:
        """A raw event (sent by code that bypasses publish): render it for this socket."""
        await self.send(text_data=render_fragment(message["topic"], message["event"]))

    @database_sync_to_async
    def _may_view(self, user) -> bool:
        return can_view_node(user)
