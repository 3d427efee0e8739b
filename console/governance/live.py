"""Live governance events: after each committed block, the proposals list ("governance") and
every proposal that is voting or was decided in the last block ("proposal.<n>").

The node publishes through settings.NODE_EVENT_PUBLISHER; `node_publisher` forwards to
console.live.publish and adds the governance events after each block's "blocks" event. `publish_governance()` can also be called directly after a block
commits (and is what tests call)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from console import live
from console.governance import selectors as views_sel
from kernelhost.governance.models import Proposal

log = logging.getLogger(__name__)
BLOCK_TOPIC = "blocks"


def publish_governance(publish: Callable[[str, dict], None] | None = None) -> int:
    """Publish the governance events for the committed state; returns how many were sent."""
    publish = publish or live.publish
    try:
        events = [("governance", views_sel.proposals_view())]
        height = events[0][1]["clock"]["height"]
        recent = Proposal.objects.filter(status=Proposal.VOTING) | Proposal.objects.filter(
            decided_height__gte=height - 1) | Proposal.objects.filter(execution_height__gte=height - 1)
        for proposal in recent.distinct().order_by("number"):
            events.append((f"proposal.{proposal.number}", views_sel.proposal_view(proposal)))
    except Exception:  # noqa: BLE001 - live updates are best effort; the node must go on
        log.exception("could not build governance live events")
        return 0
    for topic, event in events:
        publish(topic, event)
    return len(events)


def node_publisher(topic: str, event: dict) -> None:
    """A drop-in NODE_EVENT_PUBLISHER: forwards every event, and after the runner's "blocks"
    event (one per committed block) adds the governance events."""
    live.publish(topic, event)
    if topic == BLOCK_TOPIC:
        publish_governance()
