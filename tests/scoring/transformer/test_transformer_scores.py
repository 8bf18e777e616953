"""From predicted P99 and harm to scores and a pick: one cost on a log scale, clamped; near-ties by the heuristic,
then by name."""

import numpy as np
import pytest

from scoring.transformer import scores
from training.synthetic import training_set


@pytest.mark.parametrize(
    ("slowdown", "score"),
    [
        pytest.param(1 / 1.5, 100.0, id="a quiet core 1.5x the reference's is a perfect score"),
        pytest.param(1.0, 88.81, id="a quiet reference core scores a little less"),
        pytest.param(0.5, 100.0, id="faster still is clamped"),
        pytest.param(37.5**0.5 / 1.5, 50.0, id="the geometric middle"),
        pytest.param(25.0, 0.0, id="saturation scores 0"),
        pytest.param(1e9, 0.0, id="beyond saturation is clamped"),
        pytest.param(np.nan, 0.0, id="a NaN is the worst, never the best"),
    ],
)
def test_score(slowdown: float, score: float) -> None:
    assert scores.score(np.array([slowdown]))[0] == pytest.approx(score, abs=0.01)


@pytest.mark.parametrize(
    ("relative_p99", "harm", "expected"),
    [
        pytest.param(2.0, 0.0, 2.0, id="no neighbour harmed: the pod's own P99 factor"),
        pytest.param(1.0, np.log(2.0), 2.0, id="doubling one neighbour's P99 costs as much as doubling its own"),
        pytest.param(1.5, np.log(3.0), 4.5, id="both multiply"),
    ],
)
def test_the_cost_combines_own_p99_and_harm(relative_p99: float, harm: float, expected: float) -> None:
    assert scores.cost(np.array([relative_p99]), np.array([harm]))[0] == pytest.approx(expected)


def test_scores_fall_as_slowdown_rises() -> None:
    values = scores.score(np.linspace(1, 30, 50))
    assert (np.diff(values) <= 0).all()


@pytest.mark.parametrize(
    ("values", "hint", "best"),
    [
        pytest.param([90.0, 80.0, 70.0], [0.0, 100.0, 100.0], 0, id="a clear winner ignores the hint"),
        pytest.param([90.0, 89.9, 70.0], [10.0, 60.0, 100.0], 1, id="a near-tie goes to the heuristic"),
        pytest.param([90.0, 90.0, 90.0], [50.0, 50.0, 50.0], 0, id="a full tie goes to the first name"),
    ],
)
def test_pick(values: list[float], hint: list[float], best: int) -> None:
    names = ["a", "b", "c"]
    assert scores.pick(np.array(values), np.array(hint), lambda k: names[k]) == best


def test_the_noisy_cap_halves_per_sensitive_neighbour_on_the_worst_noisy_dimension() -> None:
    sensitive = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [2, 0, 3, 0]])
    assert scores.noisy_cap((True, False, False, False), sensitive).tolist() == [100.0, 50.0, 25.0]
    assert scores.noisy_cap((False,) * 4, sensitive).tolist() == [100.0] * 3


@pytest.mark.parametrize(
    ("final", "preference", "expected"),
    [
        pytest.param([90.0, 80.0], None, [90.0, 80.0], id="nothing preferred leaves the model's scores as they are"),
        pytest.param(
            [96.0, 94.0],
            (np.array([40.0, 100.0]), 2),
            [80.0, 95.71],
            id="a crowded node loses to a slightly noisier one",
        ),
        pytest.param(
            [100.0, 60.0], (np.array([40.0, 100.0]), 2), [82.86, 71.43], id="a much quieter node keeps the pod anyway"
        ),
    ],
)
def test_soft_preferences_weigh_against_interference_as_in_the_heuristic(final, preference, expected) -> None:
    got = scores.with_preference(np.array(final), preference)
    assert got == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    ("best", "harm", "lead"),
    [
        pytest.param(0, [0.5, 0.0], "lowest predicted interference:", id="the quietest node"),
        pytest.param(
            1,
            [0.5, 0.0],
            "lowest predicted cost with the harm to latency-critical neighbours:",
            id="a slower node that harms no neighbour says so",
        ),
    ],
)
def test_the_reason_says_when_the_harm_to_neighbours_decided(best: int, harm: list[float], lead: str) -> None:
    text = scores.reason(
        slowdown=np.array([1.1, 1.4]), best=best, regime="quiet", capped=False, noisy=(False,) * 4, harm=np.array(harm)
    )
    assert text.startswith(lead)


def test_the_burst_calibration_starts_where_the_training_draws_end() -> None:
    """`TRAINED_FRESH_PODS` is the 99th percentile, per node, of the pods placed since the NodeState in the shipped
    recipe's simulated clusters; a recipe that shows more of them (stacks) moves it, and the constant must follow."""

    def fresh_per_node(stacks: float) -> np.ndarray:
        simset = training_set(7, decisions=600, stacks=stacks)
        return np.concatenate(
            [
                np.bincount(plan.pod_node[fresh], minlength=len(plan.cores))
                for plan, fresh in zip(simset.plans, simset.data.fresh, strict=True)
            ]
        )

    assert np.quantile(fresh_per_node(0.0), 0.99) == scores.TRAINED_FRESH_PODS
    assert np.quantile(fresh_per_node(0.3), 0.99) > scores.TRAINED_FRESH_PODS
