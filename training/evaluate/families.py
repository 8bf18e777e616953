"""Which local tier places best on each held-out scenario family: the evidence the chain's order is earned by.

Every shipped scenario of a held-out family (`sim.scenario.HELD_OUT_FAMILIES`, never trained or tuned on, and
`sim.dataset.EVAL_FAMILIES`) is replayed once per policy and per telemetry seed, each policy on its own trajectory:
its arrivals come in order, each is decided by the policy's `Decider` on a real `Snapshot` (Node and Pod JSON
parsed by the serving code, NodeStates the simulated node agent publishes), then bound where the policy put it.
Two arrival modes, as the benchmark's: `burst` (one NodeState per node, published before the first arrival,
so the pods placed since are visible only as API objects) and `steady` (a NodeState every `PERIOD` seconds of
arrival time). At every decision the oracle (`sim.oracle`) prices the pick: regret = the pick's predicted P99 in
milliseconds over the best feasible node's, minus 1 (what the user feels, node speed included).
Pure but for the simulator's seeded draws.
"""

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cluster import estimate, nodestate
from cluster.objects import Pod
from cluster.parse import parse_node, parse_pod
from cluster.snapshot import Snapshot
from scoring.decide import Decider
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.runtime import KUBE_SCORE_WEIGHTS, PEERS
from scoring.tiers import TierDecider
from scoring.transformer import evidence
from scoring.transformer.evidence import HEURISTIC, TRANSFORMER
from sim import counters, dataset, oracle
from sim import scenario as scenarios
from sim.cluster_state import ClusterState
from sim.outcomes import evaluate as outcomes_of
from sim.pods import Workload, workload

PERIOD = 30.0
"""Seconds between NodeState publications in `steady` mode (the benchmark's default period)."""
MODES = ("burst", "steady")
SEEDS = (0, 1, 2)
"""Telemetry seeds: each replays the family's scenarios with another draw of the node agent's noise."""
FAMILIES = (*scenarios.HELD_OUT_FAMILIES, *dataset.EVAL_FAMILIES)


class Oracle:
    """The interference model's best feasible node in the true cluster as each pod arrives (`sim.oracle.best`),
    as the benchmark's `oracle` policy: what a policy could reach, a reference row and never a shipped one."""

    def choose(self, state: ClusterState, pod: Workload, feasible: Sequence[str]) -> str | None:
        return oracle.best(state, pod, feasible).node if feasible else None


Build = Callable[[], Decider | Oracle]
"""Makes a policy's decision chain (a fresh one per replay: tiers may keep state such as breakers)."""


@dataclass(frozen=True)
class FamilyMetrics:
    """One policy on one held-out family, over every decision of every replay."""

    decisions: int
    mean_regret: float
    p95_regret: float
    critical_mean_regret: float
    """Mean regret of the latency-critical arrivals only (the pods the product exists for)."""
    unplaced: int
    critical_p99_ms: float = float("nan")
    """Geometric mean over the replays of the pooled P99 of the latency-critical arrivals once every arrival is
    placed (`pooled_p99`): what the benchmark reports and the product promises, the harm each placement does to the
    pods beside it included, which a decision's own regret leaves out. The chain order is decided by it."""


def family_scenarios(families: Iterable[str] = FAMILIES) -> dict[str, list[scenarios.Scenario]]:
    """The shipped scenarios of each family in `families`, by family (families without one are left out)."""
    wanted = tuple(families)
    found: dict[str, list[scenarios.Scenario]] = {family: [] for family in wanted}
    for name in scenarios.builtin():
        loaded = scenarios.load(name)
        if loaded.family in found:
            found[loaded.family].append(loaded)
    return {family: found[family] for family in wanted if found[family]}


def _bound(pod: Mapping[str, Any], node: str) -> dict[str, Any]:
    """An arrival bound to `node` and running, as the API server would then hold it."""
    return {**pod, "spec": {**pod["spec"], "nodeName": node}, "status": {**pod.get("status", {}), "phase": "Running"}}


def _states(state: ClusterState, *, now: float, seed: int) -> dict[str, nodestate.NodeState]:
    raw = counters.states_of(state, now=now, rng=np.random.default_rng([seed, int(now)]))
    return {name: nodestate.parse(body, node=name) for name, body in raw.items()}


_REFERENCE = Decider(heuristic=HeuristicTier())
"""kube-scheduler's default filters: the nodes every policy is priced against, whatever filters it adds."""


def _feasible(pod: Pod, snapshot: Snapshot) -> list[str]:
    outcome = _REFERENCE.filter(PodInfo.of(pod, snapshot), snapshot)
    return [snapshot.names[i] for i in outcome.feasible]


@dataclass(frozen=True)
class Replayed:
    """One policy's trajectory through a scenario."""

    outcomes: list[tuple[float, bool] | None]
    """Each arrival's regret and whether it is latency-critical, in order (None: the policy left it unplaced)."""
    state: ClusterState
    """The cluster after the last arrival was placed."""
    critical: list[str]
    """The latency-critical arrivals placed (`namespace/name`), for their latency in `state`."""


def trajectory(scene: scenarios.Scenario, decider: Decider | Oracle, *, mode: str, seed: int) -> Replayed:
    """The scenario's arrivals decided by `decider` one by one, each on the snapshot a scheduler would see (the
    pods placed since telemetry counted by `cluster.estimate`, as the real loop does), then bound; an `Oracle`
    reads the true cluster instead."""
    arrived = scenarios.as_burst(scene) if mode == "burst" else scene
    nodes = [parse_node(n) for n in scene.nodes]
    placed: list[dict[str, Any]] = list(scene.pods)
    state = ClusterState.from_objects(scene.nodes, placed)
    published, states = scene.start, _states(state, now=scene.start, seed=seed)
    recent: list[tuple[Pod, float]] = []
    outcomes: list[tuple[float, bool] | None] = []
    critical: list[str] = []
    for arrival in arrived.arrivals:
        if mode == "steady" and arrival.at - published >= PERIOD:
            published, states = arrival.at, _states(state, now=arrival.at, seed=seed)
        snapshot = Snapshot.build(nodes, [parse_pod(p) for p in placed], states=states)
        pod, target = parse_pod(arrival.pod), workload(arrival.pod)
        feasible = _feasible(pod, snapshot)
        if isinstance(decider, Oracle):
            node = decider.choose(state, target, feasible)
        else:
            node = decider.decide(pod, estimate.apply(snapshot, estimate.Placed.of(recent))).node
        if node is None:
            outcomes.append(None)
            continue
        cost = oracle.regret(state, target, node, feasible)
        outcomes.append((cost.ratio - 1, oracle.is_latency_critical(target)))
        if oracle.is_latency_critical(target):
            critical.append(target.key)
        placed.append(_bound(arrival.pod, node))
        recent.append((parse_pod(placed[-1]), arrival.at))
        state = state.with_pod(target, node)
    return Replayed(outcomes, state, critical)


def evaluate(
    policies: Mapping[str, Build],
    *,
    families: Mapping[str, Sequence[scenarios.Scenario]] | None = None,
    seeds: Sequence[int] = SEEDS,
    modes: Sequence[str] = MODES,
) -> dict[str, dict[str, FamilyMetrics]]:
    """Family → policy → metrics, every policy replaying every scenario of the family in every mode and seed."""
    families = family_scenarios() if families is None else families
    table: dict[str, dict[str, FamilyMetrics]] = {}
    for family, scenes in families.items():
        table[family] = {}
        for name, build in policies.items():
            replays = [
                (trajectory(scene, build(), mode=mode, seed=seed), seed)
                for scene in scenes
                for mode in modes
                for seed in seeds
            ]
            outcomes = [outcome for replayed, _ in replays for outcome in replayed.outcomes]
            p99 = [pooled_p99(replayed, seed=seed) for replayed, seed in replays]
            table[family][name] = _metrics(outcomes, p99)
    return table


REQUESTS = 4000
"""Requests drawn per latency-critical pod for its share of the pooled P99."""


def pooled_p99(replayed: Replayed, *, seed: int) -> float:
    """The pooled P99 (ms) of the latency-critical arrivals in the replay's final cluster; NaN with none placed."""
    return critical_outcome(replayed, seed=seed)[0]


def critical_outcome(replayed: Replayed, *, seed: int) -> tuple[float, float]:
    """The latency-critical arrivals in the replay's final cluster: their pooled P99 (ms), and the share of them
    beside a noisy neighbour (`sim.outcomes.noisy_neighbours`, ground truth: hidden antagonists included), the
    benchmark's *on noisy nodes*; NaN for both with none placed."""
    if not replayed.critical:
        return float("nan"), float("nan")
    rng = np.random.default_rng([seed, 2024])
    runs = outcomes_of(replayed.state, rng=rng, requests=REQUESTS, pods=replayed.critical)
    p99 = float(np.percentile(np.concatenate([runs[k].samples for k in replayed.critical]), 99))
    return p99, float(np.mean([runs[k].noisy_node for k in replayed.critical]))


def _metrics(outcomes: Sequence[tuple[float, bool] | None], p99: Sequence[float] = ()) -> FamilyMetrics:
    known = np.array([v for v in p99 if math.isfinite(v) and v > 0], dtype=float)
    placed = [o for o in outcomes if o is not None]
    regret = np.array([r for r, _ in placed], dtype=float)
    critical = np.array([r for r, lc in placed if lc], dtype=float)
    return FamilyMetrics(
        decisions=len(placed),
        mean_regret=float(regret.mean()) if len(regret) else float("nan"),
        p95_regret=float(np.percentile(regret, 95)) if len(regret) else float("nan"),
        critical_mean_regret=float(critical.mean()) if len(critical) else float("nan"),
        unplaced=len(outcomes) - len(placed),
        critical_p99_ms=float(np.exp(np.log(known).mean())) if len(known) else float("nan"),
    )


def policies(tier: Callable[[], TierDecider]) -> dict[str, Build]:
    """The transformer tier (`tier` makes one; the heuristic takes what it declines) and `rival_policies`, each
    as its own decision chain."""
    return {TRANSFORMER: lambda: Decider(heuristic=HeuristicTier(), tiers=[tier()]), **rival_policies()}


def rival_policies() -> dict[str, Build]:
    """The heuristic tier, kube-scheduler's default scoring and the load-aware peers."""
    chains: dict[str, Build] = {
        HEURISTIC: lambda: Decider(heuristic=HeuristicTier()),
        "default": lambda: Decider(heuristic=HeuristicTier(weights=KUBE_SCORE_WEIGHTS)),
    }
    for name, (weights, filters) in PEERS.items():
        chains[name] = partial(_peer, weights, filters)
    return chains


def _peer(weights: Mapping[str, int], filters: Sequence[str]) -> Decider:
    return Decider(heuristic=HeuristicTier(weights=weights), filters=filters)


def evidence_of(table: Mapping[str, Mapping[str, FamilyMetrics]], weights_sha256: str) -> dict[str, Any]:
    """The evidence object `scoring.transformer.evidence` reads: every policy's metrics per held-out family."""
    return {
        "model_sha256": weights_sha256,
        "metric": evidence.METRIC,
        "generated_by": "python -m training.evaluate",
        "modes": list(MODES),
        "telemetry_period_seconds": PERIOD,
        "seeds": list(SEEDS),
        "families": {
            family: {policy: _finite(asdict(m)) for policy, m in by_policy.items()}
            for family, by_policy in table.items()
        },
    }


def _finite(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: an undefined metric (no decision) is null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}


def write_evidence(weights: Path, table: Mapping[str, Mapping[str, FamilyMetrics]]) -> Path:
    """Write the evidence file beside `weights` (what the production chain's order is decided by)."""
    path = evidence.evidence_path(weights)
    body = evidence_of(table, evidence.digest(weights))
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return path
