"""The calibration table: rows aligned with their labels, sensitive pods only, bins that count what they hold."""

import math

import numpy as np
import pytest

from cluster.needs import Dimension, parse_needs
from scoring.transformer.model import Predicted
from sim.dataset import Randomisation
from training import synthetic
from training.evaluate import calibration
from training.evaluate.calibration import Row


class Replaying:
    """A predictor that answers each call with the next decision's labels times `factor`."""

    fill = np.zeros(1, dtype=np.float32)

    def __init__(self, labels: list[np.ndarray], factor: float = 1.0) -> None:
        self.labels = iter(labels)
        self.factor = factor

    def predict(self, tokens: np.ndarray) -> Predicted:
        labels = next(self.labels)
        assert len(labels) == len(tokens)
        return Predicted(labels * self.factor, np.zeros(len(tokens)))


@pytest.fixture(scope="module")
def decisions():
    simset = synthetic.SimSet(11, decisions=40, randomise=Randomisation())
    return [simset.decision(i) for i in range(len(simset))]


def sensitive(decisions, dimension=Dimension.CPU):
    return [d for d in decisions if d is not None and dimension in parse_needs(d.pod).needs.sensitivity]


def test_rows_pair_each_candidate_with_its_own_label_for_sensitive_pods_only(decisions):
    chosen = sensitive(decisions)
    assert 0 < len(chosen) < len([d for d in decisions if d is not None])
    table = calibration.rows(Replaying([d.relative_p99 for d in chosen], factor=2.0), decisions)
    assert table
    assert all(r.predicted == pytest.approx(2.0 * r.labelled) for r in table)
    assert {round(r.labelled, 6) for r in table} <= {round(float(x), 6) for d in chosen for x in d.relative_p99}


def test_a_bin_counts_its_rows_and_the_models_log_error_over_them():
    table = [
        Row(cpu=0.65, llc=0.1, labelled=4.0, predicted=2.0),
        Row(cpu=0.62, llc=0.2, labelled=2.0, predicted=2.0),
        Row(cpu=0.65, llc=0.6, labelled=3.0, predicted=3.3),
        Row(cpu=0.10, llc=0.1, labelled=1.0, predicted=1.1),
    ]
    by_range = {(b.cpu, b.llc): b for b in calibration.bins(table)}
    hog = by_range[((0.6, 0.7), (0.0, 0.3))]
    assert hog.rows == 2
    assert hog.mean_log_error == pytest.approx(math.log(0.5) / 2)
    assert hog.labelled_median == pytest.approx(3.0)
    assert by_range[((0.6, 0.7), (0.3, 1.01))].rows == 1
    assert sum(b.rows for b in by_range.values()) == len(table)


def test_the_command_refuses_missing_weights_with_a_message(tmp_path, capsys):
    assert calibration.main(["--model", str(tmp_path / "none.pt")]) == 2
    assert "none.pt" in capsys.readouterr().err


def test_rows_skip_nodes_that_do_not_measure_cpu_and_cache(decisions):
    chosen = sensitive(decisions)
    measured = sum(
        1
        for d in chosen
        for index in d.feasible
        if {"cpu_utilization", "llc_occupancy_ratio"} <= set(d.snapshot.states[index].metrics)
    )
    assert measured < sum(len(d.feasible) for d in chosen)
    table = calibration.rows(Replaying([d.relative_p99 for d in chosen]), decisions)
    assert len(table) == measured
