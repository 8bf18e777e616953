"""The breaker in the chain: opens after the threshold, keeps requests off the endpoint, half-opens, closes."""

import logging
import threading

import pytest

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from runtime.assemble import build_decider
from scoring.decide import Decider
from scoring.tiers import Tier
from telemetry.stats import Stats
from tests.llm.conftest import TOKEN, SteppedClock, llm_settings
from tests.llm.fake_llm import FakeLLM, Reply

REDIS = "default/redis-latency"


def chain(fake_llm: FakeLLM, clock: SteppedClock, stats: Stats) -> Decider:
    settings = llm_settings(
        fake_llm.url,
        token=TOKEN,
        llm={"max_retries": 0},
        circuit_breaker={"failure_threshold": 3, "timeout": 30},
        cache={"enabled": False},
    )
    return build_decider(settings, clock=clock, stats=stats)


def gauge(stats: Stats) -> float | None:
    return stats.registry.get_sample_value("ai_scheduler_circuit_breaker_state", {"tier": "llm"})


def test_open_after_the_threshold_half_open_after_the_timeout_then_closed(
    fake_llm: FakeLLM,
    stepped: SteppedClock,
    snapshot: Snapshot,
    sample_pods: dict[str, Pod],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stats = Stats()
    decider = chain(fake_llm, stepped, stats)
    pod = sample_pods[REDIS]
    assert gauge(stats) == 0
    fake_llm.script(Reply.error(500))
    for _ in range(3):
        assert decider.decide(pod, snapshot).fallbacks["llm"].startswith("server_error")
    assert len(fake_llm.requests) == 3
    assert gauge(stats) == 2 and stats.summary()["breaker_trips"] == 1

    for _ in range(5):  # open: the endpoint hears nothing, every pod goes to the next tier at once
        decision = decider.decide(pod, snapshot)
        assert decision.tier is Tier.HEURISTIC and decision.node is not None
        assert decision.fallbacks["llm"].startswith("breaker_open")
    assert len(fake_llm.requests) == 3
    assert stats.summary()["llm_rejections"] == {"server_error": 3, "breaker_open": 5}

    stepped.advance(30)  # the open period is over: one trial call
    fake_llm.script(Reply.good("n2"))
    decision = decider.decide(pod, snapshot)
    assert (decision.tier, decision.node) == (Tier.LLM, "worker-2")
    assert len(fake_llm.requests) == 4 and gauge(stats) == 0
    assert decider.decide(pod, snapshot).tier is Tier.LLM  # closed again: calls flow
    transitions = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert transitions == [
        "LLM circuit breaker closed -> open",
        "LLM circuit breaker open -> half-open",
        "LLM circuit breaker half-open -> closed",
    ]
    assert TOKEN not in caplog.text


def test_half_open_admits_one_trial_and_a_failed_trial_reopens(
    fake_llm: FakeLLM, stepped: SteppedClock, snapshot: Snapshot, sample_pods: dict[str, Pod]
) -> None:
    stats = Stats()
    decider = chain(fake_llm, stepped, stats)
    pod = sample_pods[REDIS]
    fake_llm.script(Reply.error(503))
    for _ in range(3):
        decider.decide(pod, snapshot)
    stepped.advance(30)
    fake_llm.script(Reply(status=500, delay=0.3, body=b"{}"))
    trial = threading.Thread(target=decider.decide, args=(pod, snapshot))
    trial.start()
    while len(fake_llm.requests) < 4:  # the trial has reached the endpoint
        threading.Event().wait(0.01)
    other = decider.decide(pod, snapshot)
    assert other.fallbacks["llm"].startswith("breaker_open") and "trial in flight" in other.fallbacks["llm"]
    trial.join(5)
    assert len(fake_llm.requests) == 4
    assert gauge(stats) == 2 and stats.summary()["breaker_trips"] == 2
    assert decider.decide(pod, snapshot).fallbacks["llm"].startswith("breaker_open")
    assert len(fake_llm.requests) == 4
