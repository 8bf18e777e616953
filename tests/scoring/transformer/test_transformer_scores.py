"""From predicted slowdown to scores and a pick: a log scale, clamped; near-ties by the heuristic, then by name."""

import numpy as np
import pytest

from scoring.transformer import scores


@pytest.mark.parametrize(
    ("slowdown", "score"),
    [
        pytest.param(1.0, 100.0, id="no slowdown is a perfect score"),
        pytest.param(0.5, 100.0, id="below 1 is clamped"),
        pytest.param(5.0, 50.0, id="the geometric middle"),
        pytest.param(25.0, 0.0, id="saturation scores 0"),
        pytest.param(1e9, 0.0, id="beyond saturation is clamped"),
        pytest.param(np.nan, 0.0, id="a NaN is the worst, never the best"),
    ],
)
def test_score(slowdown: float, score: float) -> None:
    assert scores.score(np.array([slowdown]))[0] == pytest.approx(score)


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
