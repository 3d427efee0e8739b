"""The node's publisher (settings.NODE_EVENT_PUBLISHER): what the console does with each event
the runner sends after a block commits."""

from __future__ import annotations

from console import live
from console.bundles.services import refresh_submitted_uploads
from console.governance.live import BLOCK_TOPIC, publish_governance


def publish_node_event(topic: str, event: dict) -> None:
    live.publish(topic, event)
    if topic == BLOCK_TOPIC:
        # Tallies and countdowns change with every block, not only with votes; uploads
        # submitted as installBundle txs learn here whether the block installed them.
        publish_governance()
        refresh_submitted_uploads()
