"""The cache in the chain: replicas reuse one answer, identical questions fly once, stale nodes are re-asked."""

import threading

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from llm import prompt
from llm.cache import Cached, cache_key, constraints_digest
from llm.tier import LLMTier
from runtime.assemble import build_decider
from scoring.decide import Decider
from scoring.tiers import Tier
from telemetry.stats import Stats
from tests.builders import make_pod
from tests.llm.conftest import SteppedClock, llm_settings, request_for
from tests.llm.fake_llm import FakeLLM, Reply


def replica(i: int) -> Pod:
    return make_pod(
        f"api-5c8d-{i:05d}",
        cpu="100m",
        memory="64Mi",
        labels={"app": "api", "pod-template-hash": "5c8d"},
        annotations={"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/p99-target-ms": "2"},
    )


def chain(fake_llm: FakeLLM, clock: SteppedClock, stats: Stats, **llm: object) -> Decider:
    return build_decider(llm_settings(fake_llm.url, llm=dict(llm)), clock=clock, stats=stats)


def test_replicas_are_served_from_the_cache_without_a_second_request(
    fake_llm: FakeLLM, stepped: SteppedClock, snapshot: Snapshot
) -> None:
    fake_llm.script(Reply.good("n1"))
    stats = Stats()
    decider = chain(fake_llm, stepped, stats)
    nodes = []
    for i in range(4):  # as `decide` and the loop do: each placement counts for the next
        decision = decider.decide(replica(i), snapshot)
        assert decision.tier is Tier.LLM
        nodes.append(decision.node)
        snapshot = snapshot.with_pod(replica(i), decision.node)
        assert decision.to_json()["llm"]["source"] == ("answer" if i == 0 else "cache")
    assert len(fake_llm.requests) == 1
    assert nodes == ["worker-1"] * 4
    summary = stats.summary()
    assert (summary["cache_hits"], summary["cache_misses"], summary["llm_calls"]) == (3, 1, 1)


def test_a_cached_node_that_no_longer_fits_is_not_used(
    fake_llm: FakeLLM, stepped: SteppedClock, snapshot: Snapshot
) -> None:
    stats = Stats()
    decider = chain(fake_llm, stepped, stats)
    (tier,) = decider.tiers
    assert isinstance(tier, LLMTier) and tier.cache is not None
    pod = replica(0)
    request = request_for(pod, snapshot)
    key = cache_key(prompt.facts(request, max_candidates=20), constraints=constraints_digest(pod))
    tier.cache.put(key, Cached("kind-control-plane", "cached before the node was tainted"))
    fake_llm.script(Reply.good("n2"))
    decision = decider.decide(pod, snapshot)
    assert (decision.tier, decision.node) == (Tier.LLM, "worker-2")
    assert len(fake_llm.requests) == 1
    assert tier.cache.get(key) == Cached("worker-2", decision.reason)
    assert (stats.summary()["cache_hits"], stats.summary()["cache_misses"]) == (0, 1)


def test_identical_questions_at_once_reach_the_llm_once(
    fake_llm: FakeLLM, stepped: SteppedClock, snapshot: Snapshot
) -> None:
    fake_llm.script(Reply(content='{"node": "n3", "reason": "quiet"}', delay=0.3))
    stats = Stats()
    decider = chain(fake_llm, stepped, stats)
    decisions = {}

    def run(i: int) -> None:
        decisions[i] = decider.decide(replica(i), snapshot)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(fake_llm.requests) == 1
    assert {d.node for d in decisions.values()} == {"worker-3"}
    assert {d.tier for d in decisions.values()} == {Tier.LLM}
    sources = sorted(d.to_json()["llm"]["source"] for d in decisions.values())
    assert sources == ["answer"] + ["shared"] * 5


def test_without_the_cache_every_pod_is_asked(fake_llm: FakeLLM, stepped: SteppedClock, snapshot: Snapshot) -> None:
    decider = build_decider(llm_settings(fake_llm.url, cache={"enabled": False}), clock=stepped, stats=Stats())
    for i in range(3):
        assert decider.decide(replica(i), snapshot).tier is Tier.LLM
    assert len(fake_llm.requests) == 3
