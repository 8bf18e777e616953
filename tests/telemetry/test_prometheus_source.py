import logging
import threading

import pytest

from cluster.clock import FakeClock
from cluster.nodestate import METRIC_NAMES, Summary, age_out
from telemetry.sources.prometheus import (
    AGENT_SELECTOR,
    PrometheusError,
    PrometheusSettings,
    PrometheusSource,
    assemble,
    decode,
    summary_queries,
)

NOW = 1_800_000_000.0


def sample(name: str, value: str, *, at: float = NOW, **labels: str) -> dict:
    return {
        "metric": {"__name__": f"ai_scheduler_node_{name}", "instance": "10.0.0.5:9477", **labels},
        "value": [at, value],
    }


def agent_vector(node: str = "worker-1", *, cpi: tuple[str, str, str] = ("1.5", "0.1", "1.7")) -> list[dict]:
    return [
        *(sample("cpi", v, node=node, stat=s) for s, v in zip(("mean", "std", "p95"), cpi, strict=True)),
        sample("state_timestamp_seconds", str(NOW - 10), node=node),
        sample("window_seconds", "30", node=node),
        sample("source_up", "1", node=node, source="perf"),
        sample("source_up", "0", node=node, source="resctrl"),
    ]


def test_assemble_rebuilds_the_agents_node_state() -> None:
    raw = assemble(agent_vector(), {})
    assert raw["worker-1"] == {
        "version": 1,
        "node": "worker-1",
        "timestamp": "2027-01-15T07:59:50Z",
        "window_seconds": 30.0,
        "metrics": {"cpi": {"mean": 1.5, "std": 0.1, "p95": 1.7}},
        "sources": {"perf": True, "resctrl": False},
    }


def test_assemble_keeps_the_newest_of_duplicate_series() -> None:
    older = sample("cpi", "9.0", at=NOW - 5, node="worker-1", stat="mean")
    raw = assemble([*agent_vector(), older], {})
    assert raw["worker-1"]["metrics"]["cpi"]["mean"] == 1.5


def test_custom_queries_replace_the_agents_gauge_and_bound_the_timestamp() -> None:
    custom = {
        "cpi": {
            stat: [{"metric": {"instance": "w1", "hostname": "worker-1"}, "value": [NOW, v]}]
            for stat, v in (("mean", "2.0"), ("std", "0.5"), ("p95", "2.5"))
        }
    }
    raw = assemble(agent_vector(), custom, node_label="hostname")
    assert raw["worker-1"]["metrics"]["cpi"] == {"mean": 2.0, "std": 0.5, "p95": 2.5}
    assert raw["worker-1"]["timestamp"] == "2027-01-15T07:59:50Z"  # the agent's, older than the query time


def test_summary_queries_are_subqueries_over_the_window() -> None:
    queries = summary_queries('rate(pcm_llc_misses{job="pcm"}[1m])', window_seconds=30, step_seconds=5)
    assert queries == {
        "mean": 'avg_over_time((rate(pcm_llc_misses{job="pcm"}[1m]))[30s:5s])',
        "std": 'stddev_over_time((rate(pcm_llc_misses{job="pcm"}[1m]))[30s:5s])',
        "p95": 'quantile_over_time(0.95, (rate(pcm_llc_misses{job="pcm"}[1m]))[30s:5s])',
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b'{"status":"error","errorType":"bad_data","error":"parse error at char 3"}',
            "bad_data: parse error at char 3",
            id="a PromQL error keeps Prometheus's words",
        ),
        pytest.param(
            b'{"status":"success","data":{"resultType":"matrix","result":[]}}',
            "not an instant vector",
            id="a range result is refused",
        ),
        pytest.param(b"<html>proxy error</html>", "not JSON", id="a proxy's HTML page"),
        pytest.param(b'{"status":"success","data":[1]}', "'list', not an instant vector", id="data a list"),
        pytest.param(
            b'{"status":"success","data":{"resultType":"vector","result":["x"]}}',
            "elements are not series objects",
            id="a vector of strings",
        ),
        pytest.param(
            b'{"status":"success","data":{"resultType":"vector","result":[{"metric":"x","value":[1,"1"]}]}}',
            "elements are not series objects",
            id="labels a string",
        ),
    ],
)
def test_decode_errors(body: bytes, message: str) -> None:
    with pytest.raises(PrometheusError, match=message):
        decode(body, "up")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"queries": {"cpu_frequency": "x"}}, "unknown metric", id="frequency is no metric"),
        pytest.param({"interval_seconds": 0}, "interval_seconds", id="a zero poll interval"),
    ],
)
def test_settings_are_validated(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PrometheusSettings(url="http://p:9090", **settings)


class FakePrometheus:
    def __init__(self) -> None:
        self.answer: list[dict] | PrometheusError = agent_vector()
        self.queries: list[str] = []
        self.polled = threading.Event()

    def __call__(self, expression: str) -> list[dict]:
        self.queries.append(expression)
        self.polled.set()
        if isinstance(self.answer, PrometheusError):
            raise self.answer
        return self.answer


def test_poll_validates_every_value(caplog: pytest.LogCaptureFixture) -> None:
    prometheus = FakePrometheus()
    prometheus.answer = [*agent_vector("worker-1", cpi=("NaN", "0", "1")), *agent_vector("worker-2")]
    source = PrometheusSource(PrometheusSettings(url="http://p"), clock=FakeClock(), query=prometheus)
    with caplog.at_level(logging.WARNING):
        assert source.poll_once()
        assert source.poll_once()
    states = source.states()
    assert states["worker-1"].metrics == {}
    assert states["worker-2"].metrics == {"cpi": Summary(1.5, 0.1, 1.7)}
    assert prometheus.queries == [AGENT_SELECTOR, AGENT_SELECTOR]
    assert sum("worker-1: metric cpi has an invalid value" in r.getMessage() for r in caplog.records) == 1


def test_an_outage_keeps_old_states_which_then_age_out(caplog: pytest.LogCaptureFixture) -> None:
    prometheus = FakePrometheus()
    source = PrometheusSource(PrometheusSettings(url="http://p"), clock=FakeClock(), query=prometheus)
    assert source.poll_once()
    prometheus.answer = PrometheusError("cannot reach Prometheus at http://p: connection refused")
    with caplog.at_level(logging.INFO):
        assert not source.poll_once()
        assert not source.poll_once()
    kept = source.states()["worker-1"]
    assert kept.known
    assert age_out(kept, now=NOW - 10 + 121, max_age_seconds=120).known is False
    assert sum("poll failed" in r.getMessage() for r in caplog.records) == 1
    prometheus.answer = []
    with caplog.at_level(logging.INFO):
        assert source.poll_once()
    assert source.states() == {}  # a node gone from Prometheus is unknown
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_the_poller_thread_starts_and_stops() -> None:
    prometheus = FakePrometheus()
    source = PrometheusSource(
        PrometheusSettings(url="http://p", interval_seconds=15), clock=FakeClock(), query=prometheus
    )
    source.start()
    assert prometheus.polled.wait(timeout=5)
    source.stop()
    source.stop()
    assert "worker-1" in source.states()


def test_only_custom_queries_when_every_metric_is_mapped() -> None:
    prometheus = FakePrometheus()
    prometheus.answer = []
    queries = {name: f"my_{name}" for name in METRIC_NAMES}
    source = PrometheusSource(PrometheusSettings(url="http://p", queries=queries), clock=FakeClock(), query=prometheus)
    assert source.poll_once()
    assert AGENT_SELECTOR not in prometheus.queries and len(prometheus.queries) == 33


@pytest.mark.parametrize(
    ("vector", "nodes"),
    [
        pytest.param([*agent_vector()[:3], sample("state_timestamp_seconds", "+Inf", node="worker-1")], 1, id="+Inf"),
        pytest.param([*agent_vector()[:3], sample("state_timestamp_seconds", "NaN", node="worker-1")], 1, id="NaN"),
        pytest.param([sample("state_timestamp_seconds", "1e20", node="worker-1")], 0, id="the year 3e12 alone"),
    ],
)
def test_a_state_timestamp_no_clock_reads_leaves_the_node_unknown(vector: list[dict], nodes: int) -> None:
    """A foreign exporter's gauge under the agent's name: that node's metrics are unknown, the others' are kept."""
    prometheus = FakePrometheus()
    prometheus.answer = [*vector, *agent_vector("worker-2")]
    source = PrometheusSource(PrometheusSettings(url="http://p"), clock=FakeClock(), query=prometheus)
    assert source.poll_once()
    states = source.states()
    assert states["worker-1"].timestamp is None and len(states["worker-1"].metrics) == nodes
    assert not age_out(states["worker-1"], now=NOW, max_age_seconds=120).known
    assert age_out(states["worker-2"], now=NOW, max_age_seconds=120).known


def test_a_sample_time_past_a_float_fails_the_poll_not_the_poller() -> None:
    prometheus = FakePrometheus()
    prometheus.answer = [{"metric": {"__name__": "ai_scheduler_node_cpi", "node": "w"}, "value": [10**400, "1"]}]
    source = PrometheusSource(PrometheusSettings(url="http://p"), clock=FakeClock(), query=prometheus)
    assert not source.poll_once()


def test_the_poller_outlives_a_poll_that_crashes(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever a poll raises, the thread polls again: a dead poller leaves every node's telemetry to age out."""
    calls: list[str] = []
    polled_twice = threading.Event()

    def query(expression: str) -> list[dict]:
        calls.append(expression)
        if len(calls) == 1:
            raise RuntimeError("nobody foresaw this")
        polled_twice.set()
        return agent_vector()

    source = PrometheusSource(PrometheusSettings(url="http://p", interval_seconds=15), clock=FakeClock(), query=query)
    with caplog.at_level(logging.ERROR):
        source.start()
        try:
            assert polled_twice.wait(timeout=10)
        finally:
            source.stop()
    assert "worker-1" in source.states()
    assert any("poll crashed" in r.getMessage() for r in caplog.records)
