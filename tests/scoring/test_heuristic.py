"""The heuristic tier's strategies, its tie-breaking, and the score plugins it weighs."""

import numpy as np
import pytest

from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier, Strategy
from scoring.plugins.node_affinity import NodeAffinity
from scoring.plugins.taint_toleration import TaintToleration
from tests.builders import make_node, make_pod


def run(tier, pod, nodes, existing=()):
    snapshot = Snapshot.build(nodes, existing)
    result = tier.score(PodInfo.of(pod, snapshot), snapshot, np.arange(len(snapshot)))
    return snapshot.names[result.feasible[result.best]], result


def test_equal_nodes_tie_break_by_name_for_reproducible_results():
    nodes = [make_node(n) for n in ("c", "a", "b")]
    for strategy in (Strategy.RESOURCE_BALANCED, Strategy.LEAST_LOADED):
        assert run(HeuristicTier(strategy=strategy), make_pod(cpu="1"), nodes)[0] == "a"


def test_least_loaded_picks_the_lowest_requested_share():
    nodes = [make_node("a", cpu="4"), make_node("b", cpu="4")]
    existing = [make_pod("x", cpu="3", memory="1Gi", node="a")]
    node, result = run(HeuristicTier(strategy=Strategy.LEAST_LOADED), make_pod(cpu="1"), nodes, existing)
    assert node == "b"
    assert result.reason.startswith("least loaded")


def test_round_robin_rotates_over_feasible_nodes_in_name_order():
    tier = HeuristicTier(strategy=Strategy.ROUND_ROBIN)
    nodes = [make_node(n) for n in ("b", "a", "c")]
    assert [run(tier, make_pod(), nodes)[0] for _ in range(4)] == ["a", "b", "c", "a"]


def test_resource_balanced_reports_every_plugin():
    _, result = run(HeuristicTier(), make_pod(cpu="1"), [make_node("a"), make_node("b")])
    assert set(result.plugin_scores) == {
        "TaintToleration",
        "NodeAffinity",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
        "NodeResourcesBalancedAllocation",
        "ImageLocality",
        "InterferenceAware",
    }
    assert all(0 <= s <= 100 for scores in result.plugin_scores.values() for s in scores)


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        pytest.param([], [100, 50, 0], id="fewer intolerable PreferNoSchedule taints score higher"),
        pytest.param(
            [{"key": "k1", "operator": "Exists", "effect": "PreferNoSchedule"}],
            [100, 100, 0],
            id="a tolerated taint does not count",
        ),
        pytest.param(
            [{"key": "k1", "operator": "Exists", "effect": "NoSchedule"}],
            [100, 50, 0],
            id="a toleration for another effect does not help",
        ),
    ],
)
def test_taint_toleration_score(tolerations, expected):
    taint = lambda key: {"key": key, "value": "v", "effect": "PreferNoSchedule"}  # noqa: E731
    nodes = [make_node("a"), make_node("b", taints=[taint("k1")]), make_node("c", taints=[taint("k1"), taint("k2")])]
    snapshot = Snapshot.build(nodes)
    pod = make_pod(spec={"tolerations": tolerations})
    scores = TaintToleration().score(PodInfo.of(pod, snapshot), snapshot, np.arange(3))
    assert scores.tolist() == expected


def test_node_affinity_preferred_terms_are_summed_and_normalised():
    preferred = [
        {"weight": 2, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 6, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
    ]
    pod = make_pod(spec={"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}})
    nodes = [
        make_node("n1", labels={"disk": "ssd"}),
        make_node("n2", labels={"zone": "a"}),
        make_node("n3", labels={"disk": "ssd", "zone": "a"}),
        make_node("n4"),
    ]
    snapshot = Snapshot.build(nodes)
    scores = NodeAffinity().score(PodInfo.of(pod, snapshot), snapshot, np.arange(4))
    assert scores.tolist() == [25, 75, 100, 0]
