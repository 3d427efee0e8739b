"""The node's status as the console shows it, read without writing anything.

The status JSON has the shape `nodestatus --json` prints (DESIGN §3). Until a node has been
initialised there is nothing to read, and the page says so instead of failing.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def node_status() -> dict | None:
    try:
        from kernelhost.status import node_status as read_status
    except ImportError:
        return None
    try:
        return read_status()
    except FileNotFoundError:
        return None
