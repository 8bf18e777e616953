"""The agent's Prometheus endpoint: the latest NodeState as `ai_scheduler_node_<metric>{node, stat}` gauges.

A custom collector renders whatever state the sampling loop last handed over, so a metric that becomes
unknown disappears from the scrape instead of repeating its last value. Beside the contract's gauges it
exports what the scheduler's Prometheus source needs to rebuild the same NodeState: the state's
timestamp, its window and which sources were read. Never computes anything itself.
"""

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from cluster.nodestate import METRICS, SOURCES, STATS, NodeState

PREFIX = "ai_scheduler_node_"
TIMESTAMP = f"{PREFIX}state_timestamp_seconds"
WINDOW = f"{PREFIX}window_seconds"
SOURCE_UP = f"{PREFIX}source_up"


class NodeStateCollector:
    """A prometheus_client collector over the latest NodeState (none before the first window)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: NodeState | None = None

    def update(self, state: NodeState) -> None:
        with self._lock:
            self._state = state

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            state = self._state
        if state is None:
            return
        node = state.node
        for name, spec in METRICS.items():
            family = GaugeMetricFamily(
                f"{PREFIX}{name}", f"{name} over the window ({spec.unit})", labels=["node", "stat"]
            )
            summary = state.metrics.get(name)
            if summary is not None:
                for stat in STATS:
                    family.add_metric([node, stat], getattr(summary, stat))
            yield family
        sources = GaugeMetricFamily(SOURCE_UP, "1 when the source was read on this node", labels=["node", "source"])
        for source in SOURCES:
            sources.add_metric([node, source], 1.0 if state.sources.get(source) else 0.0)
        yield sources
        if state.timestamp is not None:
            yield _gauge(TIMESTAMP, "end of the NodeState window, Unix seconds", node, state.timestamp)
        if state.window_seconds is not None:
            yield _gauge(WINDOW, "length of the NodeState window, seconds", node, state.window_seconds)


def _gauge(name: str, documentation: str, node: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["node"])
    family.add_metric([node], value)
    return family


def serve(collector: NodeStateCollector, *, port: int, address: str = "0.0.0.0") -> tuple[WSGIServer, threading.Thread]:
    """Serve the collector (and the agent's own process metrics) on http://address:port/metrics."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return start_http_server(port, addr=address, registry=registry)
