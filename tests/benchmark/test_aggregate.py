"""Means and 95 % intervals across seeds."""

import pytest

from benchmark.aggregate import across_seeds, interval, t_quantile


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        pytest.param(1, 12.706, id="two seeds"),
        pytest.param(4, 2.776, id="five seeds"),
        pytest.param(30, 2.042, id="thirty-one seeds"),
    ],
)
def test_t_quantiles_match_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_one_seed_has_a_point_interval_and_more_seeds_a_symmetric_one() -> None:
    assert interval([2.0]) == {"mean": 2.0, "lo": 2.0, "hi": 2.0, "n": 1}
    spread = interval([1.0, 2.0, 3.0])
    assert spread["mean"] == pytest.approx(2.0) and spread["n"] == 3
    assert spread["mean"] - spread["lo"] == pytest.approx(spread["hi"] - spread["mean"])
    assert spread["hi"] == pytest.approx(2.0 + 4.303 / 3**0.5, abs=1e-3)


def test_across_seeds_groups_by_policy_and_adds_per_profile_p99() -> None:
    def summary(p99: float) -> dict:
        return {"latency_ms": {"all": {"p99_ms": p99}, "redis": {"p99_ms": p99 / 2}}, "noisy_share": 0.5}

    runs = [{"policy": "default", "summary": summary(2.0)}, {"policy": "default", "summary": summary(4.0)}]
    metrics = across_seeds(runs)["default"]
    assert metrics["p99_ms"]["mean"] == pytest.approx(3.0) and metrics["p99_ms[redis]"]["mean"] == pytest.approx(1.5)
    assert metrics["noisy_share"] == pytest.approx({"mean": 0.5, "lo": 0.5, "hi": 0.5, "n": 2})
    assert "pods_per_second" not in metrics
