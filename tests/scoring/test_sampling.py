"""percentageOfNodesToScore: how many feasible nodes a large cluster's tiers score, and which, as kube-scheduler."""

from dataclasses import replace

import numpy as np
import pytest

from cluster.snapshot import Snapshot
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.sampling import Ring, nodes_to_find, take
from tests.builders import make_node, make_pod


@pytest.mark.parametrize(
    ("percentage", "nodes", "wanted"),
    [
        # kube-scheduler's TestNumFeasibleNodesToFind (schedule_one_test.go)
        (0, 10, 10),
        (40, 10, 10),
        (0, 1000, 420),
        (40, 1000, 400),
        (70, 1000, 700),
        (0, 6000, 300),
        (40, 6000, 2400),
        # the floors: never fewer than 100 nodes once there are 100, never under 5 % when adaptive
        (0, 100, 100),
        (0, 250, 120),
        (10, 500, 100),
        (0, 5000, 500),
        (100, 5000, 5000),
    ],
)
def test_nodes_to_find_follows_upstream(percentage: int, nodes: int, wanted: int) -> None:
    assert nodes_to_find(percentage, nodes) == wanted


def test_a_percentage_outside_0_to_100_is_refused_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="percentage_of_nodes_to_score is 101"):
        Ring(101)


def test_take_keeps_the_first_feasible_nodes_in_ring_order_from_the_start() -> None:
    scanned = np.arange(300, dtype=np.int64)
    feasible = scanned[scanned % 3 != 0]  # 200 feasible of 300; 300 nodes want 300 * 48 // 100 = 144
    sample = take(scanned, feasible, 250, 0)
    # from 250: 250..299 hold 34 feasible nodes (250, 251, 253, ...), then 0..164 the other 110
    assert len(sample.feasible) == 144
    assert {250, 251, 299, 1, 164} <= set(sample.feasible.tolist())
    assert not {249, 252, 166, 167} & set(sample.feasible.tolist())
    assert sample.processed == 50 + 165
    assert np.all(np.diff(sample.feasible) > 0)


def test_take_scores_every_feasible_node_when_there_are_too_few() -> None:
    scanned = np.arange(1000, dtype=np.int64)
    feasible = np.arange(0, 1000, 5, dtype=np.int64)  # 200 feasible, 420 wanted
    sample = take(scanned, feasible, 17, 0)
    assert np.array_equal(sample.feasible, feasible) and sample.processed == 1000


def test_the_ring_gives_every_node_its_turn() -> None:
    ring = Ring(0)
    scanned = np.arange(1000, dtype=np.int64)
    seen = [ring.take(scanned, scanned, 1000) for _ in range(3)]
    assert [len(s) for s in seen] == [420, 420, 420]
    assert seen[0][0] == 0 and seen[1][0] == 420 and seen[2][0] == 0  # the third wraps: 840..999 and 0..259
    assert len(np.unique(np.concatenate(seen))) == 1000


def test_the_ring_moves_over_a_pre_filtered_subset_as_upstream() -> None:
    ring = Ring(0)
    scanned = np.arange(0, 2000, 10, dtype=np.int64)  # a pre-filter kept 200 of 2,000 nodes: 100 wanted
    first = ring.take(scanned, scanned, 2000)
    second = ring.take(scanned, scanned, 2000)
    assert list(first[:2]) == [0, 10] and len(first) == 100
    assert second[0] == 1000 and len(second) == 100  # the start moved by the 100 nodes examined


def _cluster(nodes: int) -> Snapshot:
    return Snapshot.build([make_node(f"n{i:03d}") for i in range(nodes)], [])


def test_the_chain_scores_kube_schedulers_share_of_a_large_cluster() -> None:
    snapshot = _cluster(250)
    sampled = Decider(heuristic=HeuristicTier(), percentage_of_nodes_to_score=0)
    first, second = (sampled.decide(make_pod(f"p{i}", cpu="1"), snapshot) for i in range(2))
    assert len(first.scores) == 120 and len(second.scores) == 120
    assert not set(first.scores) & set(second.scores)  # the second pod's scan starts where the first stopped
    every = Decider(heuristic=HeuristicTier()).decide(make_pod("p", cpu="1"), snapshot)
    assert len(every.scores) == 250


def test_a_small_cluster_is_scored_whole() -> None:
    decision = Decider(heuristic=HeuristicTier(), percentage_of_nodes_to_score=0).decide(make_pod(), _cluster(99))
    assert len(decision.scores) == 99


def test_a_feasible_nominated_node_is_decided_whatever_the_sample() -> None:
    snapshot = _cluster(250)
    decider = Decider(heuristic=HeuristicTier(), percentage_of_nodes_to_score=0)
    pod = replace(make_pod("p", cpu="1"), nominated_node_name="n200")  # past the first scan's 120 nodes
    decision = decider.decide(pod, snapshot)
    assert decision.node == "n200" and list(decision.scores) == ["n200"]
    after = decider.decide(make_pod("q", cpu="1"), snapshot).scores
    assert len(after) == 120 and "n000" in after  # the nominated pod's decision left the ring where it was
