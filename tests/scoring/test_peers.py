"""The load-aware peers against their projects' own worked examples (upstream unit tests, cited per case).

Koordinator: v1.8.0-61-ga7a1b76b, `pkg/scheduler/plugins/loadaware/`. Trimaran: kubernetes-sigs/scheduler-plugins
v0.35.4-devel-37-g903da7df, `pkg/trimaran/`.
"""

import numpy as np
import pytest

from cluster import estimate
from cluster.nodestate import NodeState, Summary
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.plugins import load_variation_risk_balancing as lvrb
from scoring.plugins import target_load_packing as tlp
from scoring.plugins.load_aware import LoadAwareScheduling, weighted_score
from tests.builders import make_node, make_pod

GI = 2**30
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("cpu", "memory", "want"),
    [
        pytest.param(
            None,
            None,
            (250, 200 * 2**20),
            id="an empty pod is estimated at 250m and 200 MiB (TestEstimatePod: estimate empty pod)",
        ),
        pytest.param(
            "4",
            "8Gi",
            (3400, 6012954214),
            id="a 4-core 8Gi pod is estimated at 85 % and 70 % (TestEstimatePod: estimate guaranteed pod)",
        ),
    ],
)
def test_koordinator_default_estimator(cpu, memory, want):
    pod = make_pod(cpu=cpu, memory=memory)
    placed = estimate.Placed.of([(pod, 0.0)])
    got = (estimate.cpu_estimate(placed.cpu_request)[0], estimate.memory_estimate(placed.memory_request)[0])
    assert got == pytest.approx(want)


def load_aware_snapshot(cpu_usage: float | None, *, placed=(), existing=()) -> Snapshot:
    """One 96-core 512Gi node (the allocatable of Koordinator's TestScore) with its CPU usage as measured."""
    node = make_node("test-node-1", cpu="96", memory="512Gi")
    metrics = {} if cpu_usage is None else {"cpu_utilization": Summary(cpu_usage, 0.0, cpu_usage)}
    states = {"test-node-1": NodeState("test-node-1", timestamp=NOW, window_seconds=60, metrics=metrics)}
    snapshot = Snapshot.build([node], existing, states=states)
    return estimate.apply(snapshot, estimate.Placed.of(placed))


def load_aware(snapshot: Snapshot, pod) -> tuple[int, dict]:
    info, at = PodInfo.of(pod, snapshot), np.array([0])
    plugin = LoadAwareScheduling()
    return int(plugin.score(info, snapshot, at)[0]), plugin.filter(info, snapshot, at)


@pytest.mark.parametrize(
    ("usage", "want"),
    [
        pytest.param(0.0, 90, id="an empty node scores 90 for a 16-core 32Gi pod (TestScore: score empty node)"),
        pytest.param(32 / 96, 72, id="32 of 96 cores in use scores 72 (TestScore: score load node, memory from 10Gi)"),
        pytest.param(None, 0, id="a node without metrics scores 0 (TestScore: score node missing NodeMetrics)"),
    ],
)
def test_koordinator_load_aware_score(usage, want):
    # TestScore's "score load node" reports 10Gi of memory in use; memory here is the estimate of the pods on the
    # node (upstream's fallback when usage is not reported), so a 10Gi-requesting pod stands in for it.
    existing = [make_pod("used", node="test-node-1", memory=str(round(10 * GI / 0.7)))] if usage else []
    score, _ = load_aware(load_aware_snapshot(usage, existing=existing), make_pod(cpu="16", memory="32Gi"))
    assert score == want


def test_koordinator_weighted_score_is_integer_arithmetic():
    # TestScore "score load node": cpu (96000 - 45600) * 100 / 96000 = 52, memory (512 - 32.4) / 512 = 93 -> 72
    used = np.array([[45_600, round(32.4 * GI)]])
    assert weighted_score(used, np.array([[96_000, 512 * GI]])).tolist() == [72]


@pytest.mark.parametrize(
    ("usage", "placed_ago", "filtered"),
    [
        pytest.param(0.50, None, False, id="50 % measured plus the pod stays under the 65 % cpu threshold"),
        pytest.param(
            0.60, None, True, id="60 % measured plus a 16-core pod passes the default 65 % cpu threshold: filtered"
        ),
        pytest.param(0.40, 10.0, True, id="a 16-core pod assigned after the measurement counts toward the threshold"),
        pytest.param(0.40, 90.0, False, id="a pod assigned more than a report interval before the metric does not"),
        pytest.param(None, None, False, id="a node without metrics is not filtered"),
    ],
)
def test_koordinator_usage_threshold_filter(usage, placed_ago, filtered):
    placed = ()
    existing = ()
    if placed_ago is not None:
        earlier = make_pod("earlier", node="test-node-1", cpu="16")
        existing, placed = (earlier,), ((earlier, NOW + 5.0 if placed_ago < 60 else NOW - placed_ago),)
    _, failures = load_aware(load_aware_snapshot(usage, placed=placed, existing=existing), make_pod(cpu="16"))
    assert (failures == {0: ("node(s) cpu usage exceed threshold",)}) is filtered


@pytest.mark.parametrize(
    ("margin", "sensitivity", "avg", "stdev", "want"),
    [
        pytest.param(1, 1, 40, 36, 57, id="valid data scores 57 (TestComputeScore: valid data)"),
        pytest.param(1, 2, -40, 36, 65, id="a negative average is clipped to 0 (TestComputeScore: negative usedAvg)"),
        pytest.param(1, 2, 200, 36, 20, id="an average over capacity is clipped (TestComputeScore: large usedAvg)"),
        pytest.param(1, 2, 40, -36, 75, id="a negative stdev is clipped to 0 (TestComputeScore: negative usedStdev)"),
        pytest.param(1, 2, 40, 120, 25, id="a stdev over capacity is clipped (TestComputeScore: large usedStdev)"),
    ],
)
def test_trimaran_load_variation_risk(margin, sensitivity, avg, stdev, want):
    score = lvrb.risk_score(
        np.array([100.0]), np.array([10.0]), np.array([avg]), np.array([stdev]), margin=margin, sensitivity=sensitivity
    )
    assert round(float(score[0])) == want


def test_trimaran_risk_is_zero_without_capacity():
    # TestComputeScore: zero capacity
    assert lvrb.risk_score(np.array([0.0]), np.array([10.0]), np.array([40.0]), np.array([36.0]))[0] == 0


@pytest.mark.parametrize(
    ("utilization", "predicted", "want"),
    [
        pytest.param(0, 0, 40, id="a new node scores the 40 % target (TestTargetLoadPackingScoring: new node)"),
        pytest.param(50, 0, 33, id="a node at 50 % is past the target: 33 (TestTargetLoadPackingScoring: hot node)"),
        pytest.param(
            30, 1000, 0, id="past 100 % scores the minimum (TestTargetLoadPackingScoring: excess utilization)"
        ),
        pytest.param(20, 0, 70, id="below the target, busier scores higher: packing"),
    ],
)
def test_trimaran_target_load_packing(utilization, predicted, want):
    # the upstream cases run on a 1000m node; a pod without containers predicts 0
    score = tlp.packing_score(np.array([float(utilization)]), np.array([1000.0]), np.array([float(predicted)]))
    assert score.tolist() == [want]


def test_trimaran_predicts_one_and_a_half_requests_or_a_default_core():
    # PredictUtilisation with DefaultRequestsMultiplier "1.5" and DefaultRequestsMilliCores 1000
    assert tlp.predict_milli(np.array([0.0, 400.0])).tolist() == [1000, 600]


def test_target_load_packing_counts_pods_assigned_within_the_reporting_interval():
    node = make_node("n", cpu="10")
    state = NodeState("n", timestamp=NOW, metrics={"cpu_utilization": Summary(0.1, 0.0, 0.1)})
    recent = make_pod("recent", node="n", cpu="1")
    old = make_pod("old", node="n", cpu="1")
    snapshot = Snapshot.build([node], [recent, old], states={"n": state})
    snapshot = estimate.apply(snapshot, estimate.Placed.of([(recent, NOW - 30), (old, NOW - 90)]))
    pod = make_pod(cpu="1")
    score = tlp.TargetLoadPacking().score(PodInfo.of(pod, snapshot), snapshot, np.array([0]))
    # 10 % of 10 cores + 1.5 cores for the recent pod + 1.5 for the incoming one = 40 %: the target, 100
    assert score.tolist() == [100]
