import math

import pytest

from agent.window import Window, percentile, summarise
from cluster.nodestate import Summary


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([0.5], Summary(0.5, 0.0, 0.5), id="one sample is its own mean and p95 with no spread"),
        pytest.param([1.0] * 30, Summary(1.0, 0.0, 1.0), id="a saturated fraction stays exactly 1"),
        pytest.param([1.0, 2.0, 3.0, 4.0], Summary(2.5, math.sqrt(1.25), 3.85), id="p95 interpolates between ranks"),
        pytest.param([3.0, 1.0, 2.0], Summary(2.0, math.sqrt(2 / 3), 2.9), id="order of samples does not matter"),
    ],
)
def test_summarise(values: list[float], expected: Summary) -> None:
    summary = summarise(values)
    assert summary is not None
    assert summary.mean == pytest.approx(expected.mean)
    assert summary.std == pytest.approx(expected.std)
    assert summary.p95 == pytest.approx(expected.p95)


def test_no_samples_is_no_summary_not_zero() -> None:
    assert summarise([]) is None
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.95)


def test_percentile_matches_numpy_linear_on_a_hundred_values() -> None:
    ordered = [float(v) for v in range(100)]
    assert percentile(ordered, 0.95) == pytest.approx(94.05)


def test_window_keeps_only_the_last_seconds_per_metric() -> None:
    window = Window(3)
    for at, value in [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]:
        window.add(at, {"cpu_utilization": value / 100})
    window.add(4.0, {"cpi": 1.5})
    summary = window.summary(4.0)
    assert summary["cpu_utilization"].mean == pytest.approx(0.3)  # samples at 2, 3 and 4
    assert summary["cpi"] == Summary(1.5, 0.0, 1.5)
    assert "psi_io_some" not in summary
    assert window.summary(10.0) == {}


def test_window_rejects_a_non_positive_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        Window(0)
