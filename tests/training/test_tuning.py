"""The tuning clusters: training families only, seeds no shipped scenario uses, and an honest comparison."""

import math

import pytest

from sim import scenario as scenarios
from sim.dataset import EVAL_FAMILIES
from sim.outcomes import noisy_neighbours
from training.evaluate import families, tuning


def test_the_tuning_clusters_are_training_families_never_a_reported_scenario():
    scenes = tuning.clusters(seeds=(501,))
    assert {s.family for s in scenes} == {"kubeattention", "kubemarla", "datacenter"}
    reported = {scenarios.load(name).seed for name in scenarios.builtin()}
    assert tuning.reported_seeds() == reported and 1 in reported
    assert not reported & set(tuning.SEEDS)
    assert not {s.family for s in scenes} & {*scenarios.HELD_OUT_FAMILIES, *EVAL_FAMILIES}


@pytest.mark.parametrize(
    ("ours", "base", "expected"),
    [
        pytest.param([1.0, 4.0], [2.0, 2.0], 1.0, id="half and double cancel in the geometric mean"),
        pytest.param([1.0, math.nan], [2.0, 2.0], 0.5, id="a cluster with no latency-critical pod is left out"),
        pytest.param([math.nan], [2.0], math.nan, id="nothing comparable is undefined, not a win"),
    ],
)
def test_relative_pooled_p99(ours, base, expected):
    value = tuning.relative(ours, base)
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected)


def test_a_replay_reports_its_final_cluster_and_the_pooled_p99_of_its_critical_pods():
    (scene,) = tuning.clusters(seeds=(501,))[:1]
    replayed = families.trajectory(scene, families.rival_policies()["default"](), mode="burst", seed=0)
    placed = [o for o in replayed.outcomes if o is not None]
    assert len(replayed.critical) == sum(lc for _, lc in placed) > 0
    assert all(replayed.state.pod(key).node for key in replayed.critical)
    assert families.pooled_p99(replayed, seed=scene.seed) > 0


def test_the_share_beside_noisy_neighbours_counts_the_latency_critical_arrivals_on_such_nodes():
    """kube-scheduler's default is blind to interference: some of its latency-critical arrivals land beside an
    antagonist; the share is theirs over all the latency-critical arrivals, from the same ground truth as the
    benchmark's."""
    (scene,) = tuning.clusters(seeds=(501,))[:1]
    replayed = families.trajectory(scene, families.rival_policies()["default"](), mode="burst", seed=0)
    p99, share = families.critical_outcome(replayed, seed=scene.seed)
    beside = [
        key
        for key in replayed.critical
        if noisy_neighbours(replayed.state, replayed.state.pod(key).node, excluding=key)
    ]
    assert p99 == families.pooled_p99(replayed, seed=scene.seed)
    assert share == pytest.approx(len(beside) / len(replayed.critical))
    assert 0 < share < 1


def test_missing_weights_are_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert tuning.main(["--model", str(tmp_path / "absent.pt")]) == 2
    assert "absent.pt" in capsys.readouterr().err


def test_fewer_arrivals_keep_the_cluster_size_with_fewer_pods_arriving():
    dense, sparse = tuning.clusters(seeds=(501,)), tuning.clusters(seeds=(501,), arrivals=14)
    assert [len(s.arrivals) for s in dense] == [tuning.ARRIVALS] * 3
    assert [len(s.arrivals) for s in sparse] == [14] * 3
    assert [len(s.nodes) for s in sparse] == [len(s.nodes) for s in dense] == [tuning.NODES] * 3


def test_no_arrivals_is_refused_with_what_to_give(capsys):
    assert tuning.main(["--arrivals", "0"]) == 2
    assert "--arrivals must be at least 1, got 0" in capsys.readouterr().err
    assert tuning.main(["--lone", "2"]) == 2
    assert "--lone is a share of the noisy nodes, from 0 to 1, got 2" in capsys.readouterr().err
    assert tuning.main(["--noisy-nodes", "1.5"]) == 2
    assert "--noisy-nodes is a share of the nodes, from 0 to 1, got 1.5" in capsys.readouterr().err
    assert tuning.main(["--seeds", "601,1"]) == 2
    assert "--seeds 1: a shipped scenario uses it; choose others" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tuning.main(["--seeds", "601,x"])
    assert "expected comma-separated integers, got '601,x'" in capsys.readouterr().err


def test_fresh_seeds_draw_other_clusters():
    default = tuning.clusters(seeds=tuning.SEEDS[:1])
    fresh = tuning.clusters(seeds=(601,))
    assert [s.family for s in fresh] == [s.family for s in default]
    assert all(f.pods != d.pods for f, d in zip(fresh, default, strict=True)), "a fresh seed draws another cluster"
    assert [len(s.arrivals) for s in fresh] == [tuning.ARRIVALS] * len(fresh)


def test_lone_antagonists_reach_the_tuning_clusters_only_when_asked():
    plain, alone = tuning.clusters(seeds=(501,)), tuning.clusters(seeds=(501,), lone=1.0)
    assert [s.nodes for s in plain] == [s.nodes for s in alone]
    assert [s.pods for s in plain] != [s.pods for s in alone]


def test_the_oracle_replays_every_arrival_on_its_best_feasible_node():
    """The reference row: no regret at any decision, and fewer latency-critical pods beside a noisy neighbour
    than kube-scheduler's default, at a lower pooled P99, on a cluster where most nodes are quiet."""
    (scene,) = tuning.clusters(seeds=(501,), arrivals=14, noisy=0.25)[:1]
    best = families.trajectory(scene, families.Oracle(), mode="burst", seed=0)
    blind = families.trajectory(scene, families.rival_policies()["default"](), mode="burst", seed=0)
    assert len(best.outcomes) == 14 and None not in best.outcomes
    assert [r for r, _ in best.outcomes] == pytest.approx([0.0] * 14, abs=1e-9)
    assert max(r for r, _ in blind.outcomes) > 0.05
    (best_p99, best_share), (blind_p99, blind_share) = (families.critical_outcome(r, seed=0) for r in (best, blind))
    assert best_share < blind_share
    assert best_p99 < blind_p99


def test_the_share_of_nodes_hosting_antagonists_reaches_the_tuning_clusters_only_when_asked():
    own, quiet = tuning.clusters(seeds=(501,)), tuning.clusters(seeds=(501,), noisy=0.0)
    assert [s.nodes for s in own] == [s.nodes for s in quiet]
    assert all(not any("args" in p["spec"]["containers"][0] for p in s.pods) for s in quiet)
    assert any(any("args" in p["spec"]["containers"][0] for p in s.pods) for s in own)
