"""The assigned-pod estimate: pods placed since a node's telemetry count in what every tier sees."""

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from cluster import estimate, nodestate
from cluster.clock import FakeClock
from cluster.config import Settings
from cluster.metrics import MAX_UPDATED_ROWS, Derivation
from cluster.needs import Dimension, WorkloadClass
from cluster.nodestate import METRIC_NAMES, NodeState, Summary
from cluster.objects import Pod
from cluster.parse import parse_pod
from cluster.snapshot import DIM_INDEX, Snapshot
from llm.prompt import METRIC_LABELS
from runtime.assemble import build_decider
from runtime.cache import ADDED, LOOKBACK_SECONDS, SchedulerCache
from scoring.decide import Decider, Tier
from scoring.framework import PodInfo
from scoring.plugins import load_aware
from scoring.pressure import node_pressure, telemetry_pressure
from scoring.transformer.features import cluster_telemetry
from tests.builders import make_node, make_pod, node_json, pod_json
from tests.llm.conftest import llm_settings
from tests.llm.fake_llm import FakeLLM
from training import estimate_fit

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
    annotations = {nodestate.ANNOTATION: node_state("a", 0.95, age=-1.0)}  # published a second after them
    cache.node_event("MODIFIED", node_json("a", cpu="32", memory="128Gi", annotations=annotations))
    after = cache.snapshot()
    assert after.fresh.pods[a] == 0
    assert after.metrics[a, 0, 0] == pytest.approx(0.95)


def test_the_log_keeps_only_the_placements_an_estimator_can_still_count():
    """A placement leaves the log once its node's NodeState is newer than it by more than the load-aware peers look
    back (`LOOKBACK_SECONDS`), so a long run at a high rate keeps about one telemetry period of placements, not the
    whole age limit's; a snapshot taken before keeps its own rows."""
    clock = FakeClock(NOW)
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=clock, max_age_seconds=120)
    for name in "abc":
        cache.node_event(
            ADDED, node_json(name, cpu="32", annotations={nodestate.ANNOTATION: node_state(name, 0.3, age=0)})
        )
    for k in range(3):
        assert cache.assume(make_pod(f"web-{k}", cpu="4", annotations=SENSITIVE), "a")
    assert cache.assume(make_pod("web-b", cpu="4", annotations=SENSITIVE), "b")

    def republish(name: str, after: float) -> None:
        annotations = {nodestate.ANNOTATION: node_state(name, 0.9, age=-after)}
        cache.node_event("MODIFIED", node_json(name, cpu="32", annotations=annotations))

    republish("a", 20.0)  # measures them, but a peer still looks back over them (its window, 30 s)
    within = cache.snapshot()
    assert within.fresh.pods.tolist() == [0, 1, 0]
    assert [p.name for p in within.fresh.placed.pods] == ["web-0", "web-1", "web-2", "web-b"]
    republish("a", LOOKBACK_SECONDS + 1)
    after = cache.snapshot()
    assert [p.name for p in after.fresh.placed.pods] == ["web-b"]
    assert after.fresh.pods.tolist() == [0, 1, 0]
    incoming = make_pod("next", cpu="1")
    peer = [load_aware.estimated_used(PodInfo.of(incoming, s), s, np.arange(3))[1] for s in (within, after)]
    assert peer[0][0, 0] - peer[1][0, 0] == pytest.approx(3 * 3400)  # LoadAware counted them within its look-back
    assert [p.name for p in within.fresh.placed.pods] == ["web-0", "web-1", "web-2", "web-b"]
    assert within.fresh.placed.index.tolist() == [0, 0, 0, 1]
    assert cache.assume(make_pod("web-c", cpu="4", annotations=SENSITIVE), "c")
    assert [p.name for p in cache.snapshot().fresh.placed.pods] == ["web-b", "web-c"]


def test_pods_bound_by_others_count_from_their_scheduled_condition():
    cache = stale_cluster()
    raw = pod_json("other", cpu="8", node="b")
    at = nodestate.format_timestamp(NOW - 10)
    raw["status"] = {"conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at}]}
    cache.pod_event(ADDED, raw)
    snapshot = cache.snapshot()
    b = snapshot.node_index("b")
    assert (snapshot.fresh.pods[b], snapshot.fresh.milli_cpu[b]) == (1, 5600)  # a throughput pod: 70 % of 8 cores


@pytest.mark.parametrize(
    ("timestamp", "counted"),
    [
        pytest.param(NOW - 60, 1, id="a pod placed after the node state counts"),
        pytest.param(NOW + 1, 0, id="a pod placed before the node state is already measured"),
        pytest.param(NOW, 1, id="a pod placed the instant its node published is not in that window"),
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
    assert snapshot.metrics[0, 0, 0] == pytest.approx(0.5 + counted * 700 / 4000)


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


def limited_pod(cpu: str, limit: str | None, workload_class: str | None) -> Pod:
    raw = pod_json("p", node="n", cpu=cpu if cpu != "0" else None)
    if limit is not None:
        raw["spec"]["containers"][0]["resources"]["limits"] = {"cpu": limit}
    if workload_class is not None:
        raw["metadata"]["annotations"]["ai-scheduler.io/workload-class"] = workload_class
    return parse_pod(raw)


@pytest.mark.parametrize(
    ("cpu", "limit", "workload_class", "busy"),
    [
        pytest.param("1", "2", "latency-critical", 2000, id="a limit above the request counts whole"),
        pytest.param("1", "1", "latency-critical", 850, id="a latency-critical pod counts 85 percent of its request"),
        pytest.param("1", None, None, 700, id="an unannotated pod is throughput and counts 70 percent"),
        pytest.param("1", None, "batch", 1000, id="a batch pod keeps its whole request busy"),
        pytest.param("0", None, None, 250, id="a pod without requests counts Koordinator's 250 millicores"),
    ],
)
def test_busy_cpu_by_qos_and_workload_class(cpu, limit, workload_class, busy):
    assert estimate.row(limited_pod(cpu, limit, workload_class)).busy == busy


def counter_state(*, age: float, membw: float | None = 0.1) -> NodeState:
    """Quiet counters on a 4-core node; `membw` None leaves the bandwidth ratio unknown."""
    metrics = {"cpu_utilization": 0.2, "llc_miss_rate": 0.05, "llc_occupancy_ratio": 0.4, "psi_cpu_some": 1.0}
    if membw is not None:
        metrics["memory_bandwidth_ratio"] = membw
    summaries = {k: Summary(v, 0.0, v) for k, v in metrics.items()}
    return NodeState("n", timestamp=NOW - age, metrics=summaries)


def noisy_pods(kind: str, count: int, *, cpu: str = "1") -> list[Pod]:
    annotations = {"ai-scheduler.io/noisy": kind, "ai-scheduler.io/workload-class": "batch"}
    return [make_pod(f"{kind}-{k}", node="n", cpu=cpu, annotations=annotations) for k in range(count)]


def estimated(pods: list[Pod], state: NodeState, *, at: float = NOW) -> Snapshot:
    snapshot = Snapshot.build([make_node("n", cpu="4")], pods, states={"n": state})
    return estimate.apply(snapshot, estimate.Placed.of([(p, at) for p in pods]))


def metric(snapshot: Snapshot, name: str) -> float:
    return float(snapshot.metrics[0, METRIC_NAMES.index(name), 0])


ADDS = dict(zip(estimate.NOISY_METRICS, estimate.NOISY_ADDS["membw"], strict=True))


@pytest.mark.parametrize(
    ("kind", "count", "cpu", "name", "expected"),
    [
        pytest.param(
            "membw",
            1,
            "1",
            "memory_bandwidth_ratio",
            0.1 + ADDS["memory_bandwidth_ratio"],
            id="one membw pod adds its fitted bandwidth",
        ),
        pytest.param(
            "membw",
            2,
            "2",
            "memory_bandwidth_ratio",
            0.1 + 4 * ADDS["memory_bandwidth_ratio"],
            id="two pods twice as busy add four times",
        ),
        pytest.param("membw", 8, "4", "llc_occupancy_ratio", 1.0, id="occupancy stops at the whole cache"),
        pytest.param(
            "llc", 1, "1", "llc_miss_rate", 0.05 + estimate.NOISY_ADDS["llc"][1], id="an llc pod raises the miss rate"
        ),
        pytest.param("cpu", 1, "1", "llc_miss_rate", 0.05, id="a cpu pod leaves the miss rate alone"),
    ],
)
def test_declared_noisy_pods_raise_the_counters_by_the_fitted_table(kind, count, cpu, name, expected):
    snapshot = estimated(noisy_pods(kind, count, cpu=cpu), counter_state(age=30))
    assert metric(snapshot, name) == pytest.approx(expected)


def test_counters_unknown_stay_unknown_and_measured_pods_add_nothing():
    unknown = estimated(noisy_pods("membw", 2), counter_state(age=30, membw=None))
    assert math.isnan(metric(unknown, "memory_bandwidth_ratio"))
    measured = estimated(noisy_pods("membw", 2), counter_state(age=30), at=NOW - 60)
    assert metric(measured, "memory_bandwidth_ratio") == pytest.approx(0.1)
    assert measured.fresh.pods.tolist() == [0]


def test_a_fresh_declared_pod_is_not_counted_twice_by_interference_aware():
    """Its declaration already weighs 0.5 in its dimension; the estimate lifts the telemetry there below that,
    and the pressure takes the larger of the two, not their sum. Its cache footprint, which it did not declare,
    shows as the estimate's alone."""
    pods = noisy_pods("membw", 1)
    plain = Snapshot.build([make_node("n", cpu="4")], pods, states={"n": counter_state(age=30)})
    with_estimate = estimated(pods, counter_state(age=30))
    everywhere = np.arange(1)
    membw, llc = DIM_INDEX[Dimension.MEMBW], DIM_INDEX[Dimension.LLC]
    assert node_pressure(plain, everywhere)[0, membw] == pytest.approx(0.5)
    assert node_pressure(with_estimate, everywhere)[0, membw] == pytest.approx(0.5)
    assert node_pressure(with_estimate, everywhere)[0, llc] > node_pressure(plain, everywhere)[0, llc]


def test_the_table_is_what_the_fit_prints():
    fitted = estimate_fit.fit()
    for kind, adds in estimate.NOISY_ADDS.items():
        for name, value in zip(estimate.NOISY_METRICS, adds, strict=True):
            assert value == pytest.approx(fitted[kind][name], rel=0.02, abs=0.011), (kind, name)


def test_the_class_table_is_what_the_fit_prints():
    fitted = estimate_fit.fit_classes()
    for workload_class, adds in estimate.CLASS_ADDS.items():
        for name, value in zip(estimate.NOISY_METRICS, adds, strict=True):
            assert value == pytest.approx(fitted[workload_class.value][name], rel=0.02, abs=0.011), (
                workload_class,
                name,
            )


def test_the_class_fit_never_reads_an_evaluation_profile_or_a_stressor():
    used = {p for c in estimate_fit.CLASSES for p in estimate_fit.class_profiles(c)}
    assert used == {
        "nginx",
        "redis",
        "http-echo",
        "web-backend",
        "postgres",
        "batch-compute",
        "batch-analytics",
        "best-effort",
    }


@pytest.mark.parametrize(
    ("count", "cpu", "expected"),
    [
        pytest.param(
            1,
            "500m",
            0.6 + 0.5 * estimate.CLASS_ADDS[WorkloadClass.LATENCY_CRITICAL][3],
            id="one undeclared latency-critical replica adds its class's cache footprint per requested core",
        ),
        pytest.param(
            4,
            "250m",
            0.6 + 4 * 0.25 * estimate.CLASS_ADDS[WorkloadClass.LATENCY_CRITICAL][3],
            id="four replicas add four footprints",
        ),
        pytest.param(40, "1", 1.0, id="occupancy stops at the whole cache"),
    ],
)
def test_undeclared_replicas_raise_the_cache_occupancy_by_their_class(count, cpu, expected):
    annotations = {"ai-scheduler.io/workload-class": "latency-critical", "ai-scheduler.io/sensitivity": "llc"}
    pods = [make_pod(f"cache-{k}", node="n", cpu=cpu, annotations=annotations) for k in range(count)]
    state = counter_state(age=30)
    state = replace(state, metrics={**state.metrics, "llc_occupancy_ratio": Summary(0.6, 0.0, 0.6)})
    assert metric(estimated(pods, state), "llc_occupancy_ratio") == pytest.approx(expected)


def test_the_simulated_rig_agrees_with_the_measured_one_for_one_more_antagonist():
    simulated, measured = estimate_fit.rig_slopes()
    for kind in ("llc", "membw"):
        for name in ("llc_miss_rate", "memory_bandwidth_ratio"):
            assert simulated[kind][name] == pytest.approx(measured[kind][name], rel=0.35, abs=0.01), (kind, name)


# -- telemetry raised pod by pod: brought up to date from the previous decision's ---------------------------------


def varied_cluster(nodes: int = 40, seed: int = 3) -> Snapshot:
    """Nodes with telemetry published a minute ago, each metric known on most nodes and unknown on some."""
    rng = np.random.default_rng(seed)
    states = {}
    for i in range(nodes):
        metrics = {}
        for m in METRIC_NAMES:
            spec = nodestate.METRICS[m]
            if rng.random() < 0.8:
                mean = float(rng.uniform(0.01, spec.high if spec.high is not None else 20.0))
                metrics[m] = Summary(
                    mean, mean / 10, mean if spec.high is not None and mean * 1.2 > spec.high else mean * 1.2
                )
        states[f"n{i:02d}"] = NodeState(f"n{i:02d}", NOW - 60, 30, metrics, {s: True for s in nodestate.SOURCES})
    return Snapshot.build([make_node(name, cpu="16", memory="64Gi") for name in states], [], states=states)


def test_telemetry_raised_pod_by_pod_derives_the_same_bits_as_computed_afresh() -> None:
    """Each decision's telemetry differs from the previous one's in the node that got the last pod; the transformer's
    features and InterferenceAware's pressure are brought up to date from there, and must equal a fresh computation."""
    snapshot = varied_cluster()
    placed: list[tuple[Pod, float]] = []
    brought_up_to_date = 0
    for i in range(60):
        seen = estimate.apply(snapshot, estimate.Placed.of(placed))
        telemetry = seen.telemetry
        basis = telemetry.basis
        brought_up_to_date += basis is not None and basis.telemetry is not None
        for derivation in (cluster_telemetry, telemetry_pressure):
            assert telemetry.derived(derivation).tobytes() == derivation(telemetry.metrics).tobytes()
        node = seen.names[(i * 7) % len(seen)]
        pod = make_pod(f"p{i}", cpu="500m", node=node, annotations={"ai-scheduler.io/noisy": "llc"} if i % 3 else {})
        snapshot = snapshot.with_pod(pod, node)
        placed.append((pod, NOW))
    assert brought_up_to_date == 58, (
        "every raise after the first starts from the previous one (the first decision had nothing placed)"
    )
    latest = estimate.apply(snapshot, estimate.Placed.of(placed)).telemetry
    assert latest.basis is not None and latest.basis.telemetry is not None
    assert latest.basis.telemetry.basis is None or latest.basis.telemetry.basis.telemetry is None, (
        "only one earlier telemetry is held: a burst's estimates must not chain"
    )


def test_unchanged_raises_share_one_telemetry_and_many_changed_rows_compute_afresh() -> None:
    class Counting(Derivation[np.ndarray, np.ndarray]):
        def __init__(self) -> None:
            self.fresh = self.updates = 0

        def state(self, metrics: np.ndarray) -> np.ndarray:
            self.fresh += 1
            return np.nansum(metrics, axis=(1, 2))

        def update(self, state: np.ndarray, metrics: np.ndarray, rows: np.ndarray) -> np.ndarray:
            self.updates += 1
            out = state.copy()
            out[rows] = np.nansum(metrics[rows], axis=(1, 2))
            return out

        def value(self, state: np.ndarray) -> np.ndarray:
            return state

    snapshot = varied_cluster()
    counting = Counting()
    pods = [make_pod(f"p{i}", cpu="1", node=snapshot.names[i]) for i in range(MAX_UPDATED_ROWS + 2)]
    first = estimate.apply(snapshot, estimate.Placed.of([(pods[0], NOW)])).telemetry
    first.derived(counting)
    assert estimate.apply(snapshot, estimate.Placed.of([(pods[0], NOW)])).telemetry is first
    one_more = estimate.apply(snapshot, estimate.Placed.of([(p, NOW) for p in pods[:2]])).telemetry
    np.testing.assert_array_equal(one_more.derived(counting), np.nansum(one_more.metrics, axis=(1, 2)))
    assert (counting.fresh, counting.updates) == (1, 1)
    many = estimate.apply(snapshot, estimate.Placed.of([(p, NOW) for p in pods[2:]])).telemetry
    assert len(many.basis.rows) > MAX_UPDATED_ROWS
    many.derived(counting)
    assert (counting.fresh, counting.updates) == (2, 1)


def test_a_node_whose_telemetry_aged_out_does_not_stop_the_next_decision_starting_from_the_last() -> None:
    """Ageing makes the stale node unknown on every decision; it used to build a new telemetry each time, so the
    next decision's estimate had no earlier one to start from."""
    snapshot = varied_cluster(nodes=12)
    stale = replace(snapshot.telemetry.states[3], timestamp=NOW - 600)
    snapshot = snapshot.with_state(stale)
    first = snapshot.aged(now=NOW, max_age_seconds=120)
    again = snapshot.aged(now=NOW + 5, max_age_seconds=120)
    assert again.telemetry is first.telemetry
    assert np.isnan(first.telemetry.metrics[3]).all() and not first.telemetry.states[3].known
    pods = [make_pod(f"p{i}", cpu="1", node=snapshot.names[i]) for i in range(2)]
    raised = estimate.apply(first, estimate.Placed.of([(pods[0], NOW)])).telemetry
    later = estimate.apply(again, estimate.Placed.of([(p, NOW) for p in pods])).telemetry
    assert later.basis is not None and later.basis.telemetry is raised
    assert later.derived(cluster_telemetry).tobytes() == cluster_telemetry(later.metrics).tobytes()


def test_the_scheduler_cache_starts_each_decisions_telemetry_from_the_last_in_a_burst() -> None:
    """What the scheduler loop does: snapshot, decide, assume. Every snapshot after the first two is raised from
    the previous one's telemetry, so the tiers' features are brought up to date rather than recomputed."""
    cache = stale_cluster(age=60.0)
    decider = build_decider(Settings(), tier="transformer")
    started_from_last = 0
    for k in range(8):
        snapshot = cache.snapshot()
        basis = snapshot.telemetry.basis
        started_from_last += basis is not None and basis.telemetry is not None
        pod = make_pod(f"web-{k}", cpu="2", memory="1Gi", annotations=SENSITIVE)
        decision = decider.decide(pod, snapshot)
        assert decision.node is not None and cache.assume(pod, decision.node)
        assert (
            snapshot.telemetry.derived(cluster_telemetry).tobytes()
            == cluster_telemetry(snapshot.telemetry.metrics).tobytes()
        )
    assert started_from_last == 6
