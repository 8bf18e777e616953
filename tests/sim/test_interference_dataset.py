"""Training data: labels agree with the oracle's object path, telemetry gaps are NaN, splits hold out, it is fast."""

import json
import time

import numpy as np
import pytest

from cluster import nodestate
from sim import dataset, generators, interference, oracle, scenario
from sim.pods import workload

NOW = 1_767_603_600.0


@pytest.fixture(scope="module")
def data() -> dataset.TrainingSet:
    return dataset.generate(np.random.default_rng(21), decisions=400)


def test_shapes_masks_and_labels(data: dataset.TrainingSet) -> None:
    d, n = data.nodes.shape
    assert d == len(data) == 400 and data.metrics.shape == (d, n, 11, 3) and data.sources.shape == (d, n, 4)
    assert not (data.candidates & ~data.nodes).any()
    real = data.slowdown[data.nodes]
    assert np.all(real >= 1.0 - 1e-6) and np.isnan(data.slowdown[~data.nodes]).all()
    assert np.all(data.p99_ms[data.nodes] > 0)
    assert set(data.family) == set(generators.FAMILIES)


@pytest.mark.parametrize(
    ("source", "metrics"),
    [
        pytest.param(0, ("cpi", "llc_miss_rate", "llc_mpki"), id="no perf means no PMU metrics"),
        pytest.param(2, ("psi_cpu_some", "psi_memory_some", "psi_io_some"), id="no PSI means no pressure metrics"),
        pytest.param(3, ("cpu_throttling_ratio",), id="no cgroup stats means no throttling ratio"),
    ],
)
def test_unknown_metrics_are_nan(data: dataset.TrainingSet, source: int, metrics: tuple[str, ...]) -> None:
    columns = [list(nodestate.METRIC_NAMES).index(m) for m in metrics]
    lacking = data.nodes & ~data.sources[..., source]
    assert lacking.any(), "the families include nodes without every counter"
    assert np.isnan(data.metrics[lacking][:, columns]).all()
    assert not np.isnan(data.metrics[data.nodes & data.sources[..., source]][:, columns]).any()


@pytest.mark.parametrize("family", [pytest.param(f, id=f"a {f} cluster") for f in sorted(generators.FAMILIES)])
def test_labels_match_the_oracle_on_the_same_cluster_built_from_json(family: str) -> None:
    """The vectorised path and the object path (scenario JSON → ClusterState → oracle) agree."""
    for seed in range(3):
        labelled = dataset.generate(np.random.default_rng(seed), decisions=1, families=[family])
        plan = generators.plan(np.random.default_rng(seed), generators.FAMILIES[family], arrivals=1)
        built = scenario.parse({"name": "check", "seed": seed, **generators.entries(plan)})
        pod = built.arrivals[0].pod
        assert workload(pod).profile.name == labelled.profile[0]
        predictions = oracle.predict(built.state(), pod)
        names = sorted(predictions)
        assert labelled.slowdown[0, : len(names)] == pytest.approx([predictions[n].slowdown for n in names], rel=1e-4)
        fitting = set(oracle.candidates(built.state(), pod))
        assert {n for k, n in enumerate(names) if labelled.candidates[0, k]} == fitting


def test_labels_follow_the_calibration_they_are_given() -> None:
    """Training labels use `TRAINING_CALIBRATION`: the vectorised path takes the constants it is given, as the
    oracle does, and they differ from the world's."""
    calibrated = interference.TRAINING_CALIBRATION
    labelled = dataset.generate(np.random.default_rng(2), decisions=1, families=["kubemarla"], calibration=calibrated)
    world = dataset.generate(np.random.default_rng(2), decisions=1, families=["kubemarla"])
    plan = generators.plan(np.random.default_rng(2), generators.FAMILIES["kubemarla"], arrivals=1)
    built = scenario.parse({"name": "check", "seed": 2, **generators.entries(plan)})
    predictions = oracle.predict(built.state(), built.arrivals[0].pod, calibration=calibrated)
    names = sorted(predictions)
    assert labelled.slowdown[0, : len(names)] == pytest.approx([predictions[n].slowdown for n in names], rel=1e-4)
    assert not np.allclose(labelled.slowdown[0, : len(names)], world.slowdown[0, : len(names)], rtol=1e-3)


def test_an_example_materialises_as_contract_json(data: dataset.TrainingSet) -> None:
    example = data.example(3, now=NOW)
    for name, state in example["node_states"].items():
        warnings: list[str] = []
        nodestate.parse(json.dumps(state), node=name, now=NOW, max_age_seconds=120, warn=warnings.append)
        assert warnings == []
    assert workload(example["pod"]).profile.name == data.profile[3]
    assert example["pod"]["spec"]["schedulerName"] == "ai-llama-scheduler"
    assert set(example["candidates"]) <= set(example["slowdown"]) == set(example["node_states"])


def test_the_same_seed_gives_the_same_data() -> None:
    first, again = (dataset.generate(np.random.default_rng(5), decisions=30) for _ in range(2))
    other = dataset.generate(np.random.default_rng(6), decisions=30)
    assert np.array_equal(first.metrics, again.metrics, equal_nan=True)
    assert np.array_equal(first.slowdown, again.slowdown, equal_nan=True)
    assert not np.array_equal(first.metrics, other.metrics, equal_nan=True)


@pytest.mark.parametrize(
    ("by", "held_out", "column"),
    [
        pytest.param("profile", dataset.EVAL_PROFILES, "profile", id="by workload profile, default held-out set"),
        pytest.param("family", dataset.EVAL_FAMILIES, "family", id="by scenario family, default held-out set"),
        pytest.param("profile", ("redis",), "profile", id="by a chosen profile"),
    ],
)
def test_splits_hold_out_whole_groups(
    data: dataset.TrainingSet, by: str, held_out: tuple[str, ...], column: str
) -> None:
    train, test = dataset.split(data, by=by, held_out=held_out)
    assert len(train) + len(test) == len(data) and len(test) > 0
    assert set(getattr(test, column)) <= set(held_out)
    assert not set(getattr(train, column)) & set(held_out)


def test_arrivals_can_be_restricted_and_bad_names_are_refused() -> None:
    only = dataset.generate(np.random.default_rng(1), decisions=20, profiles=["memcached"])
    assert set(only.profile) == {"memcached"}
    with pytest.raises(ValueError, match="unknown family or profile 'mongodb'"):
        dataset.generate(np.random.default_rng(1), decisions=1, profiles=["mongodb"])
    with pytest.raises(ValueError, match="split by 'profile' or 'family'"):
        dataset.split(only, by="node")


def test_it_is_fast_enough_for_a_hundred_thousand_examples() -> None:
    """About 8k (pod, node) examples here; 100k take a dozen times as long."""
    started = time.perf_counter()
    sample = dataset.generate(np.random.default_rng(2), decisions=1000)
    elapsed = time.perf_counter() - started
    assert sample.examples > 7000
    assert elapsed * 100_000 / sample.examples < 120
