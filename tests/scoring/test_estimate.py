"""The assigned-pod estimate: pods placed since a node's telemetry count in what every tier sees."""

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from cluster import estimate, nodestate
from cluster.clock import FakeClock
from cluster.config import Settings
from cluster.nodestate import NodeState, Summary
from cluster.snapshot import Snapshot
from llm.prompt import METRIC_LABELS
from runtime.assemble import build_decider
from runtime.cache import ADDED, SchedulerCache
from scoring.decide import Decider, Tier
from tests.builders import make_node, make_pod, node_json, pod_json
from tests.llm.conftest import llm_settings
from tests.llm.fake_llm import FakeLLM

NOW = 1_800_000_000.0
SENSITIVE = {"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/sensitivity": "cpu"}
CPU = METRIC_LABELS.index("cpu_utilization_pct")


def node_state(name: str, cpu: float, *, age: float) -> str:
    """A NodeState annotation published `age` seconds ago: the cpu as given, the other signals quiet."""
    quiet = {"llc_miss_rate": 0.05, "memory_bandwidth_ratio": 0.1, "psi_cpu_some": 1.0, "psi_io_some": 0.5}
    metrics = {"cpu_utilization": cpu, **quiet}
    return json.dumps(
        {
            "version": nodestate.VERSION,
            "node": name,
            "timestamp": nodestate.format_timestamp(NOW - age),
            "window_seconds": 30,
            "metrics": {k: {"mean": v, "std": 0.01, "p95": v} for k, v in metrics.items()},
            "sources": {s: True for s in nodestate.SOURCES},
        }
    )


MEASURED = dict(zip("abcde", (0.30, 0.50, 0.60, 0.70, 0.80), strict=True))
POD_SHARE = 2000 * 0.85 / 32000
"""What one burst pod (2 cores requested, Koordinator's 85 %) adds to a 32-core node's cpu_utilization."""


def stale_cluster(age: float = 60.0) -> SchedulerCache:
    """Five 32-core nodes whose telemetry is `age` seconds old; "a" looked quietest at the last publication."""
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120)
    for name, cpu in MEASURED.items():
        annotations = {nodestate.ANNOTATION: node_state(name, cpu, age=age)}
        cache.node_event(ADDED, node_json(name, cpu="32", memory="128Gi", annotations=annotations))
    return cache


def burst(cache: SchedulerCache, decider: Decider, count: int = 20) -> tuple[Counter[str], set[Tier]]:
    """`count` sensitive pods decided one after another, each assumed at once, as the scheduler loop does."""
    placed: Counter[str] = Counter()
    tiers = set()
    for k in range(count):
        pod = make_pod(f"web-{k}", cpu="2", memory="1Gi", annotations=SENSITIVE)
        decision = decider.decide(pod, cache.snapshot())
        assert decision.node is not None, decision.reason
        assert cache.assume(pod, decision.node)
        placed[decision.node] += 1
        tiers.add(decision.tier)
    return placed, tiers


def least_cpu(body: Mapping[str, Any]) -> str:
    """The fake LLM's answer: the candidate whose cpu in the prompt is lowest (the prompt must carry the estimate)."""
    user = json.loads(next(m["content"] for m in body["messages"] if m["role"] == "user"))
    best = min(user["candidates"], key=lambda c: (c["mean"][CPU], c["id"]))
    return json.dumps({"node": best["id"], "reason": "least cpu in use"})


def spreads(placed: Counter[str]) -> bool:
    """No node takes half the burst, and at least four of the five take some."""
    return len(placed) >= 4 and max(placed.values()) < 10


def levels_out(placed: Counter[str]) -> bool:
    """Water-filling: after the burst, no node's real cpu is more than one pod's share off any other's."""
    load = [cpu + placed[name] * POD_SHARE for name, cpu in MEASURED.items()]
    return max(load) - min(load) <= POD_SHARE + 1e-9


@pytest.mark.parametrize(
    ("tier", "expected", "levels"),
    [
        pytest.param("heuristic", Tier.HEURISTIC, True, id="the heuristic tier fills the quietest nodes up to level"),
        # The transformer spreads by the pods and requests it sees on a node even without the estimate (a 60 s old
        # burst without it goes 8/5/4/2/1), so here it must spread; it does not level the cpu the way the others do.
        pytest.param("transformer", Tier.TRANSFORMER, False, id="the transformer tier spreads the burst"),
    ],
)
def test_a_burst_of_sensitive_pods_onto_60s_old_telemetry_spreads(tier, expected, levels):
    placed, tiers = burst(stale_cluster(), build_decider(Settings(), tier=tier))
    assert tiers == {expected}
    assert spreads(placed), placed
    assert levels_out(placed) or not levels, placed


def test_the_llm_tier_sees_the_estimate_in_its_prompt_and_spreads_the_burst():
    with FakeLLM(answer=least_cpu) as server:
        decider = build_decider(llm_settings(server.url), tier="llm")
        placed, tiers = burst(stale_cluster(), decider)
        last = json.loads(next(m["content"] for m in server.requests[-1].body["messages"] if m["role"] == "user"))
    assert tiers == {Tier.LLM}
    assert spreads(placed) and levels_out(placed), placed
    counted = sum(c.get("placed_since_telemetry", {}).get("pods", 0) for c in last["candidates"])
    assert counted == 19  # every pod of the burst but the one being decided


def test_a_newer_node_state_drops_the_pods_it_already_measures():
    cache = stale_cluster()
    for k in range(3):
        assert cache.assume(make_pod(f"web-{k}", cpu="4", annotations=SENSITIVE), "a")
    before = cache.snapshot()
    a = before.node_index("a")
    assert before.fresh.pods[a] == 3
    assert before.metrics[a, 0, 0] == pytest.approx(0.30 + 3 * 3400 / 32000)
    annotations = {nodestate.ANNOTATION: node_state("a", 0.95, age=0.0)}
    cache.node_event("MODIFIED", node_json("a", cpu="32", memory="128Gi", annotations=annotations))
    after = cache.snapshot()
    assert after.fresh.pods[a] == 0
    assert after.metrics[a, 0, 0] == pytest.approx(0.95)


def test_pods_bound_by_others_count_from_their_scheduled_condition():
    cache = stale_cluster()
    raw = pod_json("other", cpu="8", node="b")
    at = nodestate.format_timestamp(NOW - 10)
    raw["status"] = {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at}]}
    cache.pod_event(ADDED, raw)
    snapshot = cache.snapshot()
    b = snapshot.node_index("b")
    assert (snapshot.fresh.pods[b], snapshot.fresh.milli_cpu[b]) == (1, 6800)


@pytest.mark.parametrize(
    ("timestamp", "counted"),
    [
        pytest.param(NOW - 60, 1, id="a pod placed after the node state counts"),
        pytest.param(NOW + 1, 0, id="a pod placed before the node state is already measured"),
        pytest.param(None, 1, id="a node state without a time counts every recent pod"),
    ],
)
def test_which_pods_the_estimate_counts(timestamp, counted):
    node = make_node("n", cpu="4")
    state = NodeState("n", timestamp=timestamp, metrics={"cpu_utilization": Summary(0.5, 0.0, 0.5)})
    pod = make_pod("p", node="n", cpu="1", annotations={"ai-scheduler.io/noisy": "llc"})
    snapshot = estimate.apply(Snapshot.build([node], [pod], states={"n": state}), estimate.Placed.of([(pod, NOW)]))
    assert snapshot.fresh.pods.tolist() == [counted]
    assert snapshot.fresh.noisy[0].tolist() == [counted, 0, 0, 0]
    assert snapshot.metrics[0, 0, 0] == pytest.approx(0.5 + counted * 850 / 4000)


def test_unknown_telemetry_stays_unknown():
    node = make_node("n", cpu="4")
    pod = make_pod("p", node="n", cpu="1")
    snapshot = estimate.apply(Snapshot.build([node], [pod]), estimate.Placed.of([(pod, NOW)]))
    assert snapshot.fresh.pods.tolist() == [0]
    assert snapshot.states[0].known is False


def test_placement_times_are_forgotten_past_the_age_limit_and_with_their_pod():
    clock = FakeClock(NOW)
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=clock, max_age_seconds=120)
    cache.node_event(ADDED, node_json("a", cpu="32", annotations={nodestate.ANNOTATION: node_state("a", 0.3, age=60)}))
    kept, gone = make_pod("kept", cpu="1"), make_pod("gone", cpu="1")
    assert cache.assume(kept, "a") and cache.assume(gone, "a")
    cache.forget(gone)
    assert [p.name for p in cache.snapshot().fresh.placed.pods] == ["kept"]
    clock.advance(120 + 120 + 1)
    assert cache.snapshot().fresh.placed.pods == ()


def test_the_estimate_follows_its_node_when_the_node_set_changes():
    cache = stale_cluster()
    assert cache.assume(make_pod("web", cpu="2", annotations=SENSITIVE), "b")
    before = cache.snapshot()
    cache.node_event(ADDED, node_json("a0", cpu="32", memory="128Gi"))  # sorts before "b": indices shift
    after = cache.snapshot()
    assert before.fresh.pods[before.node_index("b")] == after.fresh.pods[after.node_index("b")] == 1
    assert after.fresh.pods.sum() == 1
