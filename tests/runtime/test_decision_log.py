"""Every decision of the production loop reaches the log whole, whichever tier made it: the transformer's
decisions carry a lazy per-node map (`regimes`, for `decide --json`) that once made every one of their
lines fail to format, so `scheduler.py stats` counted no transformer decisions at all."""

import io
import json

import pytest

from scoring.regimes import Regime
from sim.apiserver import Emulator
from telemetry import logs
from telemetry.review import review
from tests.e2e.cluster import bound, node, pod, scheduler, settings, wait_until

PODS = 6


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_each_transformer_decision_is_one_whole_log_line_that_the_review_counts(fmt: str, capsys) -> None:
    stream = io.StringIO()
    logs.setup(level="INFO", fmt=fmt, stream=stream)
    try:
        with Emulator(objects=[node(f"n{i}") for i in range(4)]) as emulator:
            # a generous budget: the first decisions of a cold process must not fall back on a slow CI machine
            with scheduler(emulator, settings(scoring={"latency_budget_ms": 5000})):
                for i in range(PODS):
                    emulator.store.create("pods", pod(f"p{i}"))
                wait_until(lambda: len(bound(emulator)) == PODS, timeout=60, what="every pod bound")
            placed = bound(emulator)
    finally:
        logs.setup(level="WARNING")
    lines = stream.getvalue().splitlines()
    assert "Logging error" not in capsys.readouterr().err

    decisions = [line for line in lines if "decision" in line and "transformer" in line and "regime" in line]
    assert len(decisions) == PODS
    if fmt == "json":
        records = [json.loads(line) for line in decisions]
        assert {r["pod"].split("/")[1]: r["node"] for r in records} == placed
        assert {r["regime"] for r in records} <= {str(regime) for regime in Regime}
        assert all("regimes" not in r and isinstance(r["predicted_slowdown"], float) for r in records)
    result = review(lines)
    assert result.total().decisions == {"transformer": PODS}
    assert result.total().mismatches() == []
