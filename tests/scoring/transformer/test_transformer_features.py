"""Token features: unknown is typical (never zero), non-finite input is unknown, every path builds the same rows."""

from dataclasses import replace

import numpy as np
import pytest

from cluster.metrics import Telemetry
from cluster.nodestate import METRIC_NAMES
from scoring.decide import Decider
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.transformer import features
from scoring.transformer.features import FEATURE_NAMES, NodeInputs, PodInputs
from tests.scoring.transformer.helpers import QUIET, THRASHED, latency_critical, snapshot, state
from training.synthetic import SimSet

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


def rows(snap, pod=None):
    pod = pod or latency_critical()
    nodes = NodeInputs.of(snap, np.arange(len(snap)))
    return features.tokens(nodes, PodInputs.of(PodInfo.of(pod, snap)))


def test_feature_names_match_the_token_width() -> None:
    snap = snapshot([state("a", **QUIET), state("b", **THRASHED)])
    assert rows(snap).shape == (2, len(FEATURE_NAMES))
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_a_node_without_telemetry_takes_the_clusters_median_and_is_flagged_unknown() -> None:
    snap = snapshot([state("a", llc_miss_rate=0.1), state("b", llc_miss_rate=0.3), state("c", llc_miss_rate=0.2),
                     state("blind")])  # fmt: skip
    tokens = rows(snap)
    blind = snap.node_index("blind")
    assert tokens[blind, COLUMN["llc_miss_rate.known"]] == 0.0
    assert tokens[blind, COLUMN["llc_miss_rate.mean"]] == pytest.approx(0.2)
    assert tokens[blind, COLUMN["llc_miss_rate.vs_median"]] == 0.0
    assert tokens[snap.node_index("b"), COLUMN["llc_miss_rate.vs_median"]] == pytest.approx(0.1)


def test_a_metric_no_node_measures_is_left_for_the_training_mean() -> None:
    snap = snapshot([state("a", **QUIET), state("b", **QUIET)])
    unknown = COLUMN["cpu_throttling_ratio.mean"]
    assert np.isnan(rows(snap)[:, unknown]).all()
    fill = np.arange(len(FEATURE_NAMES), dtype=np.float32)
    nodes = NodeInputs.of(snap, np.arange(2))
    filled = features.tokens(nodes, PodInputs.of(PodInfo.of(latency_critical(), snap)), fill)
    assert np.isfinite(filled).all()
    assert (filled[:, unknown] == fill[unknown]).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0], ids=["NaN", "+inf", "-inf", "negative"])
def test_non_finite_or_negative_telemetry_is_unknown(bad: float) -> None:
    snap = snapshot([state("a", **QUIET), state("b", **THRASHED)])
    metrics = snap.metrics.copy()
    metrics[1, METRIC_NAMES.index("llc_miss_rate"), :] = bad
    broken = replace(snap, telemetry=Telemetry(snap.states, metrics, snap.telemetry.timestamps))
    tokens = rows(broken)
    assert tokens[1, COLUMN["llc_miss_rate.known"]] == 0.0
    assert tokens[1, COLUMN["llc_miss_rate.mean"]] == pytest.approx(QUIET["llc_miss_rate"])
    nodes = NodeInputs.of(broken, np.arange(2))
    fill = np.zeros(len(FEATURE_NAMES), np.float32)
    assert np.isfinite(features.tokens(nodes, PodInputs.of(PodInfo.of(latency_critical(), broken)), fill)).all()


def test_cpu_use_is_read_on_a_log_scale_so_light_loads_stay_apart() -> None:
    """0.4 % against 4 % (CPU use as the KubeMarla rig reads it on a quiet node and a busy one) differs by
    ln(43 / 7) = 1.8, as much as 20 % against 100 % does; as fractions it would be 0.036, 20 times less."""
    snap = snapshot([state("a", cpu_utilization=0.004), state("b", cpu_utilization=0.04),
                     state("c", cpu_utilization=0.2), state("d", cpu_utilization=1.0)])  # fmt: skip
    mean = rows(snap)[:, COLUMN["cpu_utilization.mean"]]
    assert mean[1] - mean[0] == pytest.approx(np.log(0.043 / 0.007), rel=1e-4)
    assert mean[3] - mean[2] == pytest.approx(np.log(1.003 / 0.203), rel=1e-4)
    assert mean[0] == pytest.approx(np.log(0.004 + features.LOG_FRACTION_OFFSET), rel=1e-5)


def test_resources_are_read_after_placing_the_pod() -> None:
    snap = snapshot([state("a", **QUIET)])
    tokens = rows(snap)
    assert tokens[0, COLUMN["cpu_after"]] == pytest.approx(0.5 / 16)
    assert tokens[0, COLUMN["slots_after"]] == pytest.approx(1 / 110)
    assert tokens[0, COLUMN["pod.class.latency-critical"]] == 1.0
    assert tokens[0, COLUMN["pod.sensitive.llc"]] == 1.0


def test_simulated_training_decisions_are_what_serving_would_see() -> None:
    simset = SimSet(5, decisions=12)
    decider = Decider(heuristic=HeuristicTier())
    checked = 0
    for decision in simset:
        info = PodInfo.of(decision.pod, decision.snapshot)
        assert sorted(decider.filter(info, decision.snapshot).feasible.tolist()) == sorted(decision.feasible.tolist())
        assert len(decision.slowdown) == len(decision.feasible)
        assert (decision.slowdown >= 1.0 - 1e-6).all()
        checked += 1
    assert checked >= 8
