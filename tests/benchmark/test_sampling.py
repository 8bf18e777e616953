"""The sampling benchmark compares a tier's sampled picks with its own full scoring of the same cluster."""

from pathlib import Path

from benchmark import perf_runs, sampling
from cluster.manifests import load_pods, load_snapshot


def _inputs(tmp_path: Path, nodes: int, pods: int):
    snapshot, incoming = perf_runs.write_synthetic(tmp_path, nodes, pods_per_node=2, pending=pods)
    return load_snapshot(snapshot), load_pods(str(incoming))


def test_scoring_every_node_gives_up_nothing(tmp_path: Path) -> None:
    snapshot, pods = _inputs(tmp_path, 150, 20)
    result = sampling.compare("heuristic", snapshot, pods, 100)
    assert result["pods"] == 20 and 100 < result["nodes_scored_median"] <= 150  # a few nodes are tainted
    assert result["best_share"] == 1.0 and result["points_lost_max"] == 0.0


def test_the_adaptive_share_scores_100_of_150_nodes_and_says_what_it_gave_up(tmp_path: Path) -> None:
    snapshot, pods = _inputs(tmp_path, 150, 20)
    result = sampling.compare("heuristic", snapshot, pods, 0)
    assert result["nodes_scored_median"] == 100
    assert 0.0 <= result["points_lost_p50"] <= result["points_lost_p95"] <= result["points_lost_max"] <= 100.0
    assert result["p99_factor_p95"] >= 1.0
