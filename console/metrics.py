"""Prometheus metrics, computed at scrape time from the node's status.

No per-vat labels: cardinality stays fixed however many vats the kernel creates.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from console.selectors.health import health_report
from console.selectors.node import node_status


class NodeCollector:
    def collect(self):
        healthy, report = health_report()
        up = GaugeMetricFamily("kernelconsole_dependency_up", "1 if the dependency answers", labels=["dependency"])
        for name, check in sorted(report["checks"].items()):
            up.add_metric([name], 1.0 if check["ok"] else 0.0)
        yield up
        status = node_status()
        if status is None:
            return
        chain, kernel = status.get("chain", {}), status.get("kernel", {})
        gauges = (
            ("kernelconsole_chain_height", "Last committed block height", chain.get("height")),
            ("kernelconsole_block_interval_seconds", "Interval between the last two blocks", chain.get("blockIntervalS")),
            ("kernelconsole_kernel_crank_number", "Kernel crank number", kernel.get("crankNumber")),
            ("kernelconsole_kernel_run_queue_length", "Items on the kernel run-queue", kernel.get("runQueueLength")),
            ("kernelconsole_action_queue_length", "Chain actions waiting for the kernel", status.get("actionQueueLength")),
            ("kernelconsole_pending_chain_sends", "Chain-sends saved for crash recovery", status.get("pendingChainSends")),
            ("kernelconsole_kernel_paused", "1 if the kernel is paused", 1 if kernel.get("state") == "paused" else 0),
            ("kernelconsole_vats", "Number of live vats", len(status.get("vats", []))),
        )
        for name, doc, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))


def render_metrics() -> bytes:
    registry = CollectorRegistry()
    registry.register(NodeCollector())
    return generate_latest(registry)
