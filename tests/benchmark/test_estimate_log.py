"""The sustained-load driver of the fresh-placement estimate: the cache keeps exactly the placements it counts."""

from benchmark import estimate_log


def test_the_cache_keeps_only_the_placements_no_node_state_has_measured() -> None:
    result = estimate_log.run(nodes=20, rate=10.0, seconds=90.0, period=30.0, repeat=3)
    assert result["placements_within_age_limit"] == 900
    assert 0 < result["placements_kept"] == result["counted_on_nodes"] <= 10 * 30


def test_bad_sizes_are_refused(capsys) -> None:
    assert estimate_log.main(["--rate", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
