"""Decision latency per tier on a small synthetic snapshot: every pod decided, warm-up left out, absent tiers said."""

from pathlib import Path

from benchmark import perf_runs
from cluster.config import Settings


def test_each_tier_decides_every_pod_and_an_absent_tier_says_why(tmp_path: Path) -> None:
    snapshot, pods = perf_runs.write_synthetic(tmp_path, 20, pending=30)
    settings = Settings.model_validate({"scoring": {"model_path": str(tmp_path / "no-model.pt")}})
    results = perf_runs.decision_latency(snapshot, pods, ("default", "heuristic", "transformer"), settings)
    for tier in ("default", "heuristic"):
        assert results[tier]["n"] == 30 - perf_runs.WARMUP and results[tier]["placed"] == 30
        assert 0 < results[tier]["p50"] <= results[tier]["p99"] <= results[tier]["max"]
    assert "skipped" in results["transformer"]
