"""Medians kept up to date row by row are the medians a full selection gives, to the bit."""

import numpy as np
import pytest

from scoring.medians import HALF_WINDOW, Middle, known_medians, rows_brought_up_to_date


def changes(seed: int, *, ties: bool) -> tuple[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """A start and a sequence of changes (rows, new values, new known flags) on [n, 4] columns."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))

    def draw(shape: tuple[int, ...]) -> np.ndarray:
        return rng.choice([0.0, 0.5, 1.0, 2.0], size=shape) if ties else rng.normal(size=shape)

    steps = []
    for _ in range(40):
        rows = np.unique(rng.integers(0, n, size=int(rng.integers(1, 4))))
        steps.append((rows, draw((len(rows), 4)), rng.random((len(rows), 4)) > 0.2))
    return n, steps


@pytest.mark.parametrize("ties", [False, True], ids=["distinct values", "many equal values"])
@pytest.mark.parametrize("seed", range(25))
def test_updated_medians_equal_a_fresh_selection(seed: int, ties: bool) -> None:
    n, steps = changes(seed, ties=ties)
    rng = np.random.default_rng(seed + 1000)
    values = rng.choice([0.0, 0.5, 1.0, 2.0], size=(n, 4)) if ties else rng.normal(size=(n, 4))
    known = rng.random((n, 4)) > 0.3
    known[:, 3] = False  # a column nobody measures stays NaN
    middle = Middle.of(values, known)
    np.testing.assert_array_equal(middle.medians, known_medians(values, known))
    for rows, new, flags in steps:
        old = (values[rows].copy(), known[rows].copy())
        values[rows], known[rows, :3] = new, flags[:, :3]
        middle = middle.updated(values, known, old, rows)
        assert middle.medians.tobytes() == known_medians(values, known).tobytes()


def test_a_middle_that_drifts_out_of_the_window_is_selected_again() -> None:
    """Every change pushes one value from the bottom to the top, so the median climbs one rank each time."""
    n = 6 * HALF_WINDOW
    values = np.arange(n, dtype=float)[:, None]
    known = np.ones((n, 1), dtype=bool)
    middle = Middle.of(values, known)
    for step in range(3 * HALF_WINDOW):
        rows = np.array([step])
        old = (values[rows].copy(), known[rows].copy())
        values[step, 0] = n + step
        middle = middle.updated(values, known, old, rows)
        assert middle.covers_middle()
        assert middle.medians[0] == np.median(values[:, 0])


def test_no_rows_and_no_known_values() -> None:
    empty = Middle.of(np.empty((0, 2)), np.empty((0, 2), dtype=bool))
    assert np.isnan(empty.medians).all()
    values = np.array([[1.0], [3.0]])
    unknown = Middle.of(values, np.zeros((2, 1), dtype=bool))
    assert np.isnan(unknown.medians).all()
    known = np.array([[False], [True]])
    became = unknown.updated(values, known, (values[[1]], np.zeros((1, 1), dtype=bool)), np.array([1]))
    assert became.medians[0] == 3.0


@pytest.mark.parametrize(
    ("after", "computed"),
    [(np.array([1.0, np.nan]), [[1, 3]]), (np.array([1.5, np.nan]), [slice(None)])],
    ids=["medians unmoved: the changed rows only", "a median moved: every row"],
)
def test_a_row_wise_value_is_computed_again_where_it_can_have_changed(after: np.ndarray, computed: list) -> None:
    values = np.arange(10.0).reshape(5, 2)
    asked: list = []

    def of(at: np.ndarray | slice) -> np.ndarray:
        asked.append(at.tolist() if isinstance(at, np.ndarray) else at)
        return values[at] * 10 + after[0]

    previous = values * 10 + 1.0
    value = rows_brought_up_to_date(previous, (np.array([1.0, np.nan]), after), np.array([1, 3]), of)
    assert asked == computed
    assert np.array_equal(value, values * 10 + after[0])
    assert previous[0, 0] == 1.0, "the previous value is left as it was"
