"""InterferenceAware: worst pressure decides, unknown is typical, declarations count at once."""

import numpy as np
import pytest

from cluster.nodestate import NodeState, Summary
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.medians import known_medians
from scoring.plugins.interference_aware import InterferenceAware
from scoring.pressure import telemetry_pressure
from tests.builders import make_node, make_pod

LATENCY_CRITICAL = {"ai-scheduler.io/workload-class": "latency-critical"}


def state(node: str, **metrics: float) -> NodeState:
    return NodeState(node, timestamp=0.0, metrics={k: Summary(v, 0.0, v) for k, v in metrics.items()})


def score(pod, states, existing=()):
    nodes = [make_node(s.node, cpu="16", memory="64Gi") for s in states]
    snapshot = Snapshot.build(nodes, existing, states={s.node: s for s in states})
    return InterferenceAware().score(PodInfo.of(pod, snapshot), snapshot, np.arange(len(snapshot))).tolist()


def test_a_sensitive_pod_prefers_the_quiet_node():
    quiet = state("a", llc_miss_rate=0.06, memory_bandwidth_ratio=0.1, cpu_utilization=0.2)
    thrashed = state("b", llc_miss_rate=0.3, memory_bandwidth_ratio=0.1, cpu_utilization=0.2)
    a, b = score(make_pod(annotations=LATENCY_CRITICAL), [quiet, thrashed])
    assert a > b


def test_worst_pressure_decides_not_the_sum():
    one_bad = state("a", llc_miss_rate=0.35, memory_bandwidth_ratio=0.1, cpu_utilization=0.2)
    all_medium = state("b", llc_miss_rate=0.2, memory_bandwidth_ratio=0.55, cpu_utilization=0.5)
    a, b = score(make_pod(annotations=LATENCY_CRITICAL), [one_bad, all_medium])
    assert a == 0  # saturated in one dimension it cares about
    assert b == 50  # three half-pressures do not add up to a saturated node


def test_pressure_only_counts_in_dimensions_the_pod_is_sensitive_to():
    pod = make_pod(annotations={**LATENCY_CRITICAL, "ai-scheduler.io/sensitivity": "io"})
    a, b = score(pod, [state("a", llc_miss_rate=0.35, psi_io_some=1.0), state("b", llc_miss_rate=0.05, psi_io_some=30)])
    assert a > b


def test_a_node_with_unknown_telemetry_scores_as_the_typical_node_not_as_perfect():
    known = [state(f"k{i}", llc_miss_rate=v) for i, v in enumerate((0.1, 0.2, 0.3))]
    blind = NodeState("blind")
    blind_score, *known_scores = score(make_pod(annotations=LATENCY_CRITICAL), [*known, blind])  # "blind" sorts first
    assert blind_score == known_scores[1]  # the median node's score
    assert blind_score < max(known_scores)


def test_no_telemetry_anywhere_is_neutral():
    assert score(make_pod(annotations=LATENCY_CRITICAL), [NodeState("a"), NodeState("b")]) == [100, 100]


def test_a_declared_noisy_neighbour_counts_before_telemetry_catches_up():
    noisy = make_pod("membw-hog", node="b", annotations={"ai-scheduler.io/noisy": "membw"})
    scores = score(make_pod(annotations=LATENCY_CRITICAL), [state("a"), state("b")], [noisy])
    assert scores == [100, 50]


def test_a_noisy_pod_stays_away_from_sensitive_pods():
    victim = make_pod("redis", node="a", annotations={**LATENCY_CRITICAL, "ai-scheduler.io/sensitivity": "membw"})
    bystander = make_pod("web", node="b", annotations={"ai-scheduler.io/sensitivity": "io"})
    hog = make_pod(annotations={"ai-scheduler.io/workload-class": "batch", "ai-scheduler.io/noisy": "membw"})
    assert score(hog, [state("a"), state("b"), state("c")], [victim, bystander]) == [50, 100, 100]


@pytest.mark.parametrize("klass", ["batch", "throughput", "best-effort"])
def test_pods_that_are_neither_sensitive_nor_noisy_are_indifferent(klass):
    pod = make_pod(annotations={"ai-scheduler.io/workload-class": klass})
    assert score(pod, [state("a", llc_miss_rate=0.35), state("b", llc_miss_rate=0.05)]) == [100, 100]


def test_bandwidth_without_a_ratio_uses_the_nominal_peak():
    metrics = np.full((1, 11, 3), np.nan)
    metrics[0, 6] = (10.0, 0.0, 10.0)  # memory_bandwidth_gbps
    assert telemetry_pressure(metrics)[0, 1] == pytest.approx((0.5 - 0.25) / 0.6)


@pytest.mark.parametrize("seed", range(20))
def test_the_cluster_median_that_fills_unknown_readings_in_is_numpys_median_of_the_known_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.round(rng.lognormal(size=(int(rng.integers(1, 40)), 6)), 1)  # rounded: ties in the middle ranks
    known = rng.random(values.shape) < [0.0, 0.05, 0.5, 0.9, 1.0, 1.0]
    expected = [np.median(values[known[:, j], j]) if known[:, j].any() else np.nan for j in range(values.shape[1])]
    np.testing.assert_array_equal(known_medians(values, known), expected)


def test_no_node_has_no_median() -> None:
    assert np.isnan(known_medians(np.empty((0, 3)), np.empty((0, 3), dtype=bool))).all()
