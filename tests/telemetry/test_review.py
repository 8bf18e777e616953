"""Log lines round-trip: what the scheduler logs (text or JSON), `scheduler.py stats` reads back."""

import io
import logging

import pytest

from telemetry import logs
from telemetry.review import review

SECRET = "hf_" + "x" * 34


@pytest.fixture
def logger():
    def make(fmt: str) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        logs.setup(level="INFO", fmt=fmt, secrets=[SECRET], stream=stream)
        return logging.getLogger("scheduler"), stream

    yield make
    logs.setup(level="WARNING")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_decisions_and_stats_round_trip(logger, fmt):
    log, stream = logger(fmt)
    attempts = [("llm", "w1", 900.0), ("heuristic", "w2", 1.5), ("heuristic", None, 0.8)]
    for i, (tier, node, latency) in enumerate(attempts):
        values = {"event": "decision", "pod": f"default/p{i}", "node": node, "tier": tier, "latency_ms": latency}
        values["reason"] = 'quiet node, balanced "resources" = fine'
        if tier == "heuristic":
            values["fallbacks"] = {"llm": "breaker open for 30 s"}
        log.info("decision", extra=logs.fields(**values))
    log.info("stats", extra=logs.fields(event="stats", llm_calls=7, cache_hit_rate=0.25, failed_bindings=1))
    log.info("something else happened")
    result = review(stream.getvalue().splitlines())
    assert result.decisions == {"llm": 1, "heuristic": 1}
    assert result.unschedulable == 1
    assert result.fallbacks == {"llm": 2}
    assert len(result.pods) == 3 and len(result.placed_pods) == 2
    assert sorted(result.latencies_ms) == [0.8, 1.5, 900.0]
    assert result.last_stats["llm_calls"] == 7
    rows = dict(result.table())
    assert rows["LLM cache hit rate"] == "0.25" and rows["failed bindings"] == "1"
    assert result.skipped == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_log(logger, fmt):
    log, stream = logger(fmt)
    log.warning("calling with token %s", SECRET)
    log.info("decision", extra=logs.fields(reason=f"auth {SECRET}"))
    try:
        raise RuntimeError(f"401 for token {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    log.info("another token shape hf_%s", "A" * 30)
    text = stream.getvalue()
    assert SECRET not in text and "hf_" + "A" * 30 not in text
    assert text.count(logs.REDACTED) >= 4
