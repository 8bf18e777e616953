import urllib.request

from prometheus_client import CollectorRegistry, generate_latest

from agent.exporter import NodeStateCollector, serve
from cluster.nodestate import NodeState, Summary

STATE = NodeState(
    node="worker-1",
    timestamp=1_800_000_030.0,
    window_seconds=30.0,
    metrics={"llc_miss_rate": Summary(0.31, 0.04, 0.38), "psi_io_some": Summary(2.5, 0.5, 3.25)},
    sources={"perf": True, "psi": True},
)


def _scrape(collector: NodeStateCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_gauges_carry_node_and_stat_labels() -> None:
    collector = NodeStateCollector()
    collector.update(STATE)
    text = _scrape(collector)
    assert 'ai_scheduler_node_llc_miss_rate{node="worker-1",stat="mean"} 0.31' in text
    assert 'ai_scheduler_node_llc_miss_rate{node="worker-1",stat="p95"} 0.38' in text
    assert 'ai_scheduler_node_psi_io_some{node="worker-1",stat="std"} 0.5' in text
    assert 'ai_scheduler_node_source_up{node="worker-1",source="resctrl"} 0.0' in text
    assert 'ai_scheduler_node_state_timestamp_seconds{node="worker-1"} 1.80000003e+09' in text
    assert 'ai_scheduler_node_window_seconds{node="worker-1"} 30.0' in text


def test_an_unknown_metric_has_no_sample_rather_than_zero() -> None:
    collector = NodeStateCollector()
    collector.update(STATE)
    collector.update(NodeState(node="worker-1", timestamp=STATE.timestamp, window_seconds=30.0))
    text = _scrape(collector)
    assert "ai_scheduler_node_llc_miss_rate{" not in text
    assert "# TYPE ai_scheduler_node_llc_miss_rate gauge" in text


def test_nothing_before_the_first_window() -> None:
    assert "ai_scheduler_node_" not in _scrape(NodeStateCollector())


def test_serves_over_http_with_the_process_metrics() -> None:
    collector = NodeStateCollector()
    collector.update(STATE)
    server, thread = serve(collector, port=0, address="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert 'ai_scheduler_node_llc_miss_rate{node="worker-1",stat="mean"} 0.31' in text
    assert "process_resident_memory_bytes" in text
