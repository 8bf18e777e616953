"""The sustained-load driver of the fresh-placement estimate: the cache keeps a telemetry period and a look-back."""

from benchmark import estimate_log
from runtime.cache import LOOKBACK_SECONDS


def test_the_cache_keeps_the_placements_an_estimator_may_count_not_the_whole_age_window() -> None:
    result = estimate_log.run(nodes=20, rate=10.0, seconds=150.0, period=30.0, repeat=3)
    assert result["placements_within_age_limit"] == 1500
    assert 0 < result["counted_on_nodes"] <= result["placements_kept"] <= 10 * (30 + LOOKBACK_SECONDS) < 1500


def test_bad_sizes_are_refused(capsys) -> None:
    assert estimate_log.main(["--rate", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
