"""The NodeState contract's rules (CONTRACTS §1), the same for every reader."""

import json
import math

import pytest

from cluster import nodestate

NOW = nodestate.parse_timestamp("2026-11-22T10:01:00Z")


def state(**overrides):
    body = {
        "version": 1,
        "node": "w1",
        "timestamp": "2026-11-22T10:00:00Z",
        "window_seconds": 30,
        "metrics": {"llc_miss_rate": {"mean": 0.31, "std": 0.04, "p95": 0.38}},
        "sources": {"perf": True, "resctrl": False, "psi": True, "cgroup": True},
    }
    body.update(overrides)
    return body


def parse(raw, **kwargs):
    warnings = []
    parsed = nodestate.parse(raw, node="w1", warn=warnings.append, **kwargs)
    return parsed, warnings


def test_the_contract_example_parses_without_warnings():
    parsed, warnings = parse(json.dumps(state()))
    assert warnings == []
    assert parsed.value("llc_miss_rate", "p95") == 0.38
    assert parsed.value("cpi") is None
    assert parsed.sources == {"perf": True, "resctrl": False, "psi": True, "cgroup": True}


@pytest.mark.parametrize(
    ("metric", "stats"),
    [
        pytest.param("llc_miss_rate", {"mean": math.nan, "std": 0, "p95": 0.1}, id="NaN"),
        pytest.param("llc_miss_rate", {"mean": 1.2, "std": 0, "p95": 0.1}, id="fraction above one"),
        pytest.param("psi_io_some", {"mean": 101, "std": 0, "p95": 100}, id="percent above a hundred"),
        pytest.param("cpi", {"mean": 0, "std": 0, "p95": 0}, id="cpi must be positive"),
        pytest.param("llc_mpki", {"mean": -1, "std": 0, "p95": 1}, id="negative"),
        pytest.param("llc_mpki", {"mean": 1, "std": -0.1, "p95": 1}, id="negative std"),
        pytest.param("memory_bandwidth_gbps", {"mean": 1, "p95": 2}, id="a missing stat"),
        pytest.param("memory_bandwidth_gbps", {"mean": "1", "std": 0, "p95": 2}, id="a string"),
        pytest.param("memory_bandwidth_gbps", {"mean": True, "std": 0, "p95": 2}, id="a boolean"),
    ],
)
def test_an_invalid_value_makes_only_that_metric_unknown_with_a_warning(metric, stats):
    metrics = {metric: stats, "cpu_utilization": {"mean": 0.5, "std": 0.1, "p95": 0.7}}
    parsed, warnings = parse(state(metrics=metrics))
    assert parsed.value(metric) is None
    assert parsed.value("cpu_utilization") == 0.5
    assert len(warnings) == 1 and "w1" in warnings[0] and metric in warnings[0]


def test_infinity_in_json_text_is_rejected():
    text = json.dumps(state()).replace("0.38", "Infinity")
    parsed, warnings = parse(text)
    assert parsed.value("llc_miss_rate") is None and warnings


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("{not json", "not valid JSON", id="unparsable"),
        pytest.param(json.dumps([1, 2]), "not a JSON object", id="not an object"),
        pytest.param(json.dumps(state(version=2)), "version 2", id="another version"),
        pytest.param(json.dumps(state(node="w9")), "names node 'w9'", id="another node's state"),
        pytest.param(json.dumps(state(timestamp="yesterday")), "not RFC 3339", id="bad timestamp"),
    ],
)
def test_a_bad_state_makes_every_metric_unknown(raw, fragment):
    parsed, warnings = parse(raw)
    assert not parsed.known
    assert any(fragment in w for w in warnings)


def test_staleness():
    fresh, _ = parse(state(), now=NOW, max_age_seconds=120)
    stale, warnings = parse(state(), now=NOW + 200, max_age_seconds=120)
    assert fresh.known
    assert not stale.known and "old" in warnings[0]


def test_absent_is_unknown_never_zero():
    parsed, warnings = parse(None)
    assert not parsed.known and warnings == []
    assert nodestate.unknown("w1").value("cpu_utilization") is None


def test_round_trip_through_json():
    parsed, _ = parse(state())
    again, warnings = parse(parsed.to_json())
    assert again == parsed and warnings == []
