"""Turns one policy's placements into the benchmark's numbers: regret, request latencies, SLOs, noisy nodes.

After a replay, the cluster is rebuilt from the scenario and the arrivals in the order they were bound:
- regret: for each arrival, the interference model's predicted P99 on the chosen node against the best
  node among those the filters let through (kube-scheduler's default filters, the same for every policy),
  both in the cluster as it was just before that pod (`sim.oracle.regret`);
- outcomes: one run of every latency-critical arrival in the final cluster (`sim.outcomes.evaluate`):
  per-request latency samples, percentiles computed from them, SLO verdicts against
  `ai-scheduler.io/p99-target-ms`, and the ground truth about noisy neighbours (hidden ones included).
Every policy of a seed is evaluated with the same random stream, so differences come from placement.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmark.replay import Placement
from cluster.parse import parse_node, parse_pod
from cluster.snapshot import Snapshot
from scoring.decide import Decider
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from sim import oracle, outcomes
from sim.cluster_state import ClusterState
from sim.pods import workload
from sim.scenario import Scenario

PERCENTILES = (50, 90, 95, 99)
REQUESTS = 20_000
TIER = "ai-scheduler.io/decision-tier"
REASON = "ai-scheduler.io/decision-reason"


def arrival_key(pod: Mapping[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


def regrets(scenario: Scenario, placement: Placement) -> dict[str, dict[str, Any]]:
    """Per bound arrival: the chosen and the best feasible node's predicted P99, in the state it arrived to."""
    filters = Decider(heuristic=HeuristicTier())
    state = scenario.state()
    snapshot = Snapshot.build([parse_node(n) for n in scenario.nodes], [parse_pod(p) for p in scenario.pods])
    by_key = {arrival_key(a.pod): a.pod for a in scenario.arrivals}
    result = {}
    for key in placement.order:
        if key not in by_key:
            continue
        raw, node = by_key[key], placement.bound[key]
        pod, target = parse_pod(raw), workload(raw)
        outcome = filters.filter(PodInfo.of(pod, snapshot), snapshot)
        feasible = [snapshot.names[i] for i in outcome.feasible]
        cost = oracle.regret(state, target, node, feasible)
        result[key] = {
            "feasible": len(feasible),
            "chosen_in_feasible": node in feasible,
            "best_node": cost.best,
            "best_p99_ms": cost.best_p99_ms,
            "chosen_p99_ms": cost.chosen_p99_ms,
            "regret_ms": cost.regret_ms,
        }
        state = state.with_pod(target, node)
        snapshot = snapshot.with_pod(pod, node)
    return result


def final_state(scenario: Scenario, placement: Placement) -> ClusterState:
    """The ground-truth cluster after every binding."""
    state = scenario.state()
    by_key = {arrival_key(a.pod): a.pod for a in scenario.arrivals}
    for key in placement.order:
        if key in by_key:
            state = state.with_pod(workload(by_key[key]), placement.bound[key])
    return state


def evaluate(
    scenario: Scenario, placement: Placement, *, seed: int, requests: int = REQUESTS
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per latency-critical arrival records and the policy's aggregate numbers for one seed."""
    lc = [arrival_key(a.pod) for a in scenario.arrivals if oracle.is_latency_critical(workload(a.pod))]
    placed = [k for k in lc if k in placement.bound]
    regret = regrets(scenario, placement)
    state = final_state(scenario, placement)
    rng = np.random.default_rng([seed, 2024])
    runs = outcomes.evaluate(state, rng=rng, requests=requests, pods=placed) if placed else {}
    pods = []
    pooled: dict[str, list[np.ndarray]] = defaultdict(list)
    for key in placed:
        run = runs[key]
        pooled["all"].append(run.samples)
        pooled[run.profile].append(run.samples)
        annotations = placement.annotations.get(key, {})
        pods.append(
            {
                "pod": key,
                "profile": run.profile,
                "node": run.node,
                "tier": annotations.get(TIER),
                "reason": annotations.get(REASON),
                **{f"p{q}_ms": round(getattr(run, f"p{q}_ms"), 4) for q in PERCENTILES},
                "mean_ms": round(run.mean_ms, 4),
                "alone_p99_ms": round(run.alone_p99_ms, 4),
                "slowdown": round(run.slowdown, 4),
                "target_ms": run.target_ms,
                "slo_violated": run.slo_violated,
                "noisy_neighbours": list(run.noisy_neighbours),
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in regret[key].items()},
            }
        )
    return pods, summarise(pods, pooled, placement, arrivals=len(scenario.arrivals), lc=len(lc))


def summarise(
    pods: Sequence[dict[str, Any]],
    pooled: Mapping[str, list[np.ndarray]],
    placement: Placement,
    *,
    arrivals: int,
    lc: int,
) -> dict[str, Any]:
    """The policy's numbers for one seed; latency percentiles come from the pooled request samples."""
    with_target = [p for p in pods if p["target_ms"] is not None]
    regret = np.array([p["regret_ms"] for p in pods]) if pods else np.zeros(0)
    latency = {group: percentiles(samples) for group, samples in sorted(pooled.items())}
    stats = placement.stats
    return {
        "arrivals": arrivals,
        "bound": sum(1 for _ in placement.bound),
        "refused": len(placement.refused),
        "latency_critical": lc,
        "latency_critical_placed": len(pods),
        "latency_ms": latency,
        "mean_pod_p99_ms": _mean([p["p99_ms"] for p in pods]),
        "mean_slowdown": _mean([p["slowdown"] for p in pods]),
        "on_noisy_nodes": sum(1 for p in pods if p["noisy_neighbours"]),
        "noisy_share": _share(sum(1 for p in pods if p["noisy_neighbours"]), len(pods)),
        "slo_violations": sum(1 for p in with_target if p["slo_violated"]),
        "slo_violation_share": _share(sum(1 for p in with_target if p["slo_violated"]), len(with_target)),
        "mean_regret_ms": round(float(regret.mean()), 4) if regret.size else 0.0,
        "max_regret_ms": round(float(regret.max()), 4) if regret.size else 0.0,
        "suboptimal_share": _share(int((regret > 1e-6).sum()), regret.size),
        "decision_latency_ms_p50": stats["latency_ms_p50"],
        "decision_latency_ms_p99": stats["latency_ms_p99"],
        "decisions_by_tier": stats["decisions"],
        "fallbacks": stats["fallbacks"],
        "llm_calls": stats["llm_calls"],
        "cache_hits": stats["cache_hits"],
        "publications": placement.publications,
        "replay_seconds": placement.wall_seconds,
    }


def percentiles(samples: Sequence[np.ndarray]) -> dict[str, float]:
    """P50..P99 of the requests of several pods pooled into one distribution, and how many pods."""
    values = np.percentile(np.concatenate(samples), PERCENTILES)
    return {f"p{q}_ms": round(float(v), 4) for q, v in zip(PERCENTILES, values, strict=True)} | {"pods": len(samples)}


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0
