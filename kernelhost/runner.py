"""The node runner: makes blocks from the mempool and drives the host through them.

One runner per node: with Redis configured it holds a Redis lock (renewed every block) and
runs as a long rq job on the "node" queue (`node_job`); `manage.py runnode` and `serve`
(embedded mode, in a thread) call the same `run_node`. Stopping is graceful: `stop` is
checked between blocks, never inside one.

After each commit the runner writes its heartbeat and publishes live events through the
callable named by settings.NODE_EVENT_PUBLISHER (kernelhost never imports the console).
Publishing is best effort: a failure is logged and the node goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from kernelhost.chain.models import Block, NodeState
from kernelhost.chain.services.blocks import BlockOutcome, execute_block, next_block
from kernelhost.chain.services.node_genesis import node_initialised
from kernelhost.host.errors import DecoheredError
from kernelhost.host.host import Host
from kernelhost.models import RunnerHeartbeat

log = logging.getLogger(__name__)
RUNNER_NAME = "node"
LOCK_TTL_S = 60


class RunnerLockedError(RuntimeError):
    pass


class NodeNotInitialisedError(RuntimeError):
    pass


def resolve_publisher():
    path = getattr(settings, "NODE_EVENT_PUBLISHER", None)
    if not path:
        return None
    try:
        return import_string(path)
    except ImportError:
        log.warning("NODE_EVENT_PUBLISHER %r cannot be imported; live events are off", path)
        return None


@contextmanager
def runner_lock(name: str = RUNNER_NAME):
    """Exactly one runner per node when Redis is there (several rq workers may pick up a
    node job; all but one give up). Embedded mode has one process, and the swing-store's
    own writer lock refuses a second runner on the same file anyway."""
    url = getattr(settings, "REDIS_URL", None)
    if not url:
        yield None
        return
    import redis

    client = redis.Redis.from_url(url)
    lock = client.lock(f"kernelconsole:runner:{name}", timeout=LOCK_TTL_S, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        raise RunnerLockedError(f"another node runner holds the lock for {name!r}")
    try:
        yield lock
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired locks cannot be released; nothing to do
            log.debug("runner lock release failed", exc_info=True)


def _heartbeat(state: str, started_at, detail: dict) -> None:
    try:
        RunnerHeartbeat.objects.update_or_create(
            name=RUNNER_NAME,
            defaults={"pid": os.getpid(), "hostname": socket.gethostname()[:255], "beat_at": timezone.now(),
                      "started_at": started_at, "state": state, "detail": detail})
    except Exception:  # noqa: BLE001 - bookkeeping must not stop the node
        log.exception("heartbeat failed")


def next_block_time_ms(node: NodeState, *, logical_clock: bool, block_interval_ms: int) -> int:
    if logical_clock:
        return node.genesis_time_ms + (node.height + 1) * block_interval_ms
    return int(time.time() * 1000)


def run_node(*, stop: threading.Event, block_time_ms: int = 2000, blocks: int | None = None,
             until_height: int | None = None, logical_clock: bool = False, publish=None,
             max_txs: int = 500, on_block=None) -> int:
    """Run until `stop` is set, `blocks` more blocks were made, or block `until_height` is
    committed. Returns the number of blocks made. Raises DecoheredError (after recording
    it in the heartbeat) when the node must stop for an operator."""
    if block_time_ms <= 0:
        raise ValueError("block time must be positive")
    publisher = publish if publish is not None else resolve_publisher()
    started_at = timezone.now()
    made = 0
    if not node_initialised(settings.SWINGSTORE_PATH):
        # Opening the swing-store would create an empty one: refuse before that.
        raise NodeNotInitialisedError("the node is not initialised: run `python manage.py initnode`")
    with runner_lock() as lock:
        host = Host.open(settings.SWINGSTORE_PATH)
        try:
            _heartbeat("running", started_at, {"height": _height()})
            vat_lengths: dict[str, int] = {}
            while not stop.is_set():
                node = NodeState.objects.get(pk=1)
                if (blocks is not None and made >= blocks) or (until_height is not None and node.height >= until_height):
                    break
                began = time.monotonic()
                block = next_block(time_ms=next_block_time_ms(node, logical_clock=logical_clock,
                                                              block_interval_ms=block_time_ms), max_txs=max_txs)
                outcome = execute_block(host, block)
                made += 1
                status = _kernel_status(host)
                if status is not None:
                    Block.objects.filter(height=outcome.height).update(kernel_status=status)
                if lock is not None:
                    lock.extend(LOCK_TTL_S, replace_ttl=True)
                _heartbeat("running", started_at, {"height": outcome.height, "kernel": outcome.kernel_state})
                _publish_block(publisher, outcome)
                vat_lengths = _publish_vats(publisher, outcome.height, status, vat_lengths)
                if on_block is not None:
                    on_block(outcome)
                if not logical_clock:
                    stop.wait(max(0.0, block_time_ms / 1000 - (time.monotonic() - began)))
        except DecoheredError as exc:
            _heartbeat("stopped", started_at, {"error": str(exc), "decohered": True})
            _publish_safely(publisher, "banner", {"level": "error", "message": f"node stopped: {exc}"})
            raise
        except BaseException as exc:
            _heartbeat("stopped", started_at, {"error": f"{type(exc).__name__}: {exc}"})
            raise
        else:
            _heartbeat("stopped", started_at, {"height": _height()})
        finally:
            host.close()
    return made


def _height() -> int:
    node = NodeState.objects.filter(pk=1).first()
    return node.height if node else 0


def _kernel_status(host: Host) -> dict | None:
    if host.controller is None:
        return None
    try:
        return host.controller.get_status()
    except Exception:  # noqa: BLE001 - a status snapshot is for display only
        log.debug("controller.get_status failed", exc_info=True)
        return None


def _publish_safely(publisher, topic: str, event: dict) -> None:
    if publisher is None:
        return
    try:
        publisher(topic, event)
    except Exception:  # noqa: BLE001 - publishing must never break the node
        log.exception("publishing %s failed", topic)


def _publish_block(publisher, outcome: BlockOutcome) -> None:
    if publisher is None:
        return
    try:
        from kernelhost.status import node_status

        status = node_status()
    except Exception:  # noqa: BLE001
        log.exception("node status for live events failed")
        return
    block = {"height": outcome.height, "appHash": outcome.app_hash, "txCount": outcome.tx_count,
             "cranks": outcome.cranks, "blockMs": round(outcome.block_s * 1000, 2),
             "commitMs": round(outcome.commit_s * 1000, 2), "mode": outcome.mode,
             "chainSends": len(outcome.chain_sends), "kernelState": outcome.kernel_state}
    _publish_safely(publisher, "dashboard", {"status": status, "block": block})
    _publish_safely(publisher, "blocks", {"block": block})
    _publish_safely(publisher, "chainsends", {"height": outcome.height,
                                               "sends": [e["send"] for e in outcome.chain_sends[:100]],
                                               "results": [e["result"] for e in outcome.chain_sends[:100]],
                                               "count": len(outcome.chain_sends)})
    kernel = status.get("kernel", {}) if status else {}
    _publish_safely(publisher, "runqueue", {"height": outcome.height,
                                             "runQueueLength": kernel.get("runQueueLength"),
                                             "actionQueueLength": status.get("actionQueueLength") if status else None})
    chain = status.get("chain", {}) if status else {}
    # The banner keeps "upgrade scheduled" (plan name/height/bundle) next to the kernel state,
    # with the chain height and interval so it can say how far away the plan is.
    _publish_safely(publisher, "banner", {"kernelState": outcome.kernel_state,
                                           "pausedHeight": kernel.get("pausedHeight"),
                                           "pausedReason": kernel.get("pausedReason"),
                                           "panicked": outcome.panicked,
                                           "height": chain.get("height", outcome.height),
                                           "blockIntervalS": chain.get("blockIntervalS"),
                                           "upgradePlan": status.get("upgradePlan") if status else None})


NODE_JOB_ID = "kernelconsole-node-runner"


def enqueue_node_job(block_time_ms: int | None = None):
    """Scaled mode: put the runner on the "node" queue (one job id, so enqueueing twice while
    it runs adds nothing; the Redis lock stops a second runner anyway)."""
    import django_rq

    queue = django_rq.get_queue("node")
    existing = queue.fetch_job(NODE_JOB_ID)
    if existing is not None and existing.get_status(refresh=True) in ("queued", "started"):
        return existing
    return queue.enqueue(node_job, block_time_ms, job_id=NODE_JOB_ID, job_timeout=-1)


def _publish_vats(publisher, height: int, status: dict | None, previous: dict[str, int]) -> dict[str, int]:
    """A "vat.<vatID>" event for each vat whose transcript grew in this block (its page
    refreshes); returns the lengths to compare with next block."""
    if status is None:
        return previous
    lengths = {v["id"]: v.get("transcriptLength") or 0 for v in status.get("vats") or [] if v.get("id")}
    for vat_id, length in sorted(lengths.items()):
        if previous and previous.get(vat_id) != length:
            _publish_safely(publisher, f"vat.{vat_id}", {"height": height, "vatID": vat_id,
                                                          "transcriptLength": length})
    return lengths


def node_job(block_time_ms: int | None = None) -> int:
    """rq entry point (queue "node"): run the node until the worker is stopped."""
    interval = block_time_ms or int(getattr(settings, "NODE_BLOCK_TIME_MS", 2000))
    return run_node(stop=threading.Event(), block_time_ms=interval)
