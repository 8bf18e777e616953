"""A slow LLM never holds up pods: calls run in parallel up to max_concurrency, the rest fall through at once."""

import threading
import time

from cluster.clock import SystemClock
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from runtime.assemble import build_decider
from scoring.decide import Decider
from scoring.tiers import Decision, Tier
from telemetry.stats import Stats
from tests.builders import make_pod
from tests.llm.conftest import llm_settings
from tests.llm.fake_llm import FakeLLM, Reply

PODS = 32
ANSWER_SECONDS = 1.0


def decide_at_once(decider: Decider, pods: list[Pod], snapshot: Snapshot) -> dict[int, Decision]:
    """Every pod decided on a thread of its own, all released together (as concurrent decision workers)."""
    decisions: dict[int, Decision] = {}
    start = threading.Barrier(len(pods))

    def decide(i: int) -> None:
        start.wait()
        decisions[i] = decider.decide(pods[i], snapshot)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(len(pods))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return decisions


def test_thirty_two_pods_with_a_one_second_llm_are_decided_in_well_under_thirty_two_seconds(
    fake_llm: FakeLLM, snapshot: Snapshot
) -> None:
    fake_llm.script(Reply.slow(ANSWER_SECONDS))
    stats = Stats()
    settings = llm_settings(fake_llm.url, llm={"max_concurrency": 8, "deadline_seconds": 5.0})
    decider = build_decider(settings, clock=SystemClock(), stats=stats)
    # 32 distinct shapes, so neither the cache nor single-flight can merge them.
    pods = [make_pod(f"p{i}", cpu=f"{100 + 10 * i}m", memory="64Mi") for i in range(PODS)]
    began = time.monotonic()
    decisions = decide_at_once(decider, pods, snapshot)
    wall = time.monotonic() - began

    assert len(decisions) == PODS and all(d.node is not None for d in decisions.values())
    assert wall < 8 * ANSWER_SECONDS, f"{PODS} pods took {wall:.2f}s"  # sequential would take 32 s
    by_llm = [d for d in decisions.values() if d.tier is Tier.LLM]
    fell_through = [d for d in decisions.values() if d.tier is Tier.HEURISTIC]
    assert len(by_llm) == 8 and fake_llm.max_in_flight <= 8  # every slot used, never more at once
    assert all(d.fallbacks["llm"].startswith("busy") for d in fell_through)
    assert max(d.latency_ms for d in fell_through) < 800 * ANSWER_SECONDS  # none waited for a slot
    assert stats.summary()["llm_rejections"] == {"busy": PODS - 8}
    print(f"\n{PODS} pods, LLM {ANSWER_SECONDS:g}s per answer, 8 slots: {wall:.2f}s wall")


def test_pods_asking_the_same_question_wait_for_one_call_but_never_more_than_max_concurrency_of_them(
    fake_llm: FakeLLM, snapshot: Snapshot
) -> None:
    fake_llm.script(Reply.slow(ANSWER_SECONDS))
    stats = Stats()
    settings = llm_settings(fake_llm.url, llm={"max_concurrency": 4, "deadline_seconds": 5.0})
    decider = build_decider(settings, clock=SystemClock(), stats=stats)
    # One shape: single-flight merges every question into one call, but only 4 pods may wait on it.
    pods = [make_pod(f"p{i}", cpu="100m", memory="64Mi") for i in range(PODS)]
    decisions = decide_at_once(decider, pods, snapshot)

    by_llm = [d for d in decisions.values() if d.tier is Tier.LLM]
    fell_through = [d for d in decisions.values() if d.tier is not Tier.LLM]
    assert len(decisions) == PODS and len(fake_llm.requests) == 1
    assert len(by_llm) == 4 and len(fell_through) == PODS - 4
    assert all(d.fallbacks["llm"] == "busy: 4 pods are already waiting for the LLM" for d in fell_through)
    assert max(d.latency_ms for d in fell_through) < 800 * ANSWER_SECONDS
