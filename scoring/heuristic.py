"""The heuristic tier: the last word, always available, fast on thousands of nodes.

Three strategies (config `fallback.strategy`):
- `resource_balanced` (default): kube-scheduler's score plugins with their default weights, plus
  InterferenceAware, through the plugin runtime;
- `least_loaded`: the lowest mean requested share of cpu, memory and pod slots after placement;
- `round_robin`: rotate over the feasible nodes in name order.
The plugin breakdown is computed whatever the strategy, because the LLM prompt uses it as a hint and
`decide --json` prints it.
"""

import itertools
import threading
from collections.abc import Mapping
from enum import StrEnum

import numpy as np

from cluster.config import DEFAULT_SCORE_WEIGHTS
from cluster.snapshot import Snapshot
from scoring import slo
from scoring.framework import MAX_NODE_SCORE, PodInfo
from scoring.plugins.interference_aware import NAME as INTERFERENCE_AWARE
from scoring.plugins.interference_aware import UNDECLARED_WEIGHT, worst_pressure
from scoring.runtime import Profile, run_scores
from scoring.tiers import HeuristicScores


class Strategy(StrEnum):
    RESOURCE_BALANCED = "resource_balanced"
    LEAST_LOADED = "least_loaded"
    ROUND_ROBIN = "round_robin"


def least_loaded(pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
    """100 × (1 − mean share of cpu, memory and pod slots requested once the pod is placed)."""
    allocatable = snapshot.table.allocatable[feasible, :2].astype(float)
    requested = snapshot.requested[feasible, :2] + pod.requests[:2]
    shares = np.where(allocatable > 0, requested / np.where(allocatable > 0, allocatable, 1), 1.0)
    slots = (snapshot.pod_count[feasible] + 1) / np.maximum(snapshot.table.allowed_pods[feasible], 1)
    mean_share = np.clip((shares.sum(axis=1) + slots) / 3, 0.0, 1.0)
    return MAX_NODE_SCORE * (1 - mean_share)


# Plugin names as an operator reads them in a decision reason, most telling first.
_READABLE = {
    "InterferenceAware": "interference",
    "NodeResourcesFit": "free resources",
    "NodeResourcesBalancedAllocation": "balance",
    "TaintToleration": "taints",
    "NodeAffinity": "node affinity",
    "PodTopologySpread": "spread",
    "InterPodAffinity": "pod affinity",
    "ImageLocality": "images present",
}


def _balanced_reason(per_plugin: Mapping[str, np.ndarray], best: int, score: float, feasible: int) -> str:
    """ "best of N: score S (interference 95, free resources 62, ...)", leaving out plugins that scored every
    node alike, since they did not choose."""
    parts = [
        f"{_READABLE.get(name, name)} {int(scores[best])}"
        for name, scores in sorted(
            per_plugin.items(),
            key=lambda item: list(_READABLE).index(item[0]) if item[0] in _READABLE else len(_READABLE),
        )
        if scores.size and scores.min() != scores.max()
    ]
    if feasible == 1:
        return f"the only feasible node: score {score:.1f}"
    detail = f" ({', '.join(parts)})" if parts else " (all nodes scored alike; first by name)"
    return f"best of {feasible} feasible nodes: score {score:.1f}{detail}"


def _best(scores: np.ndarray) -> int:
    """Position of the highest score; ties go to the first, i.e. the smallest node name (the snapshot keeps
    nodes in name order and the filters keep that order)."""
    return int(np.flatnonzero(scores >= scores.max() - 1e-9)[0])


class HeuristicTier:
    """Scores with the configured strategy; thread-safe (round robin keeps one shared counter)."""

    def __init__(
        self, *, strategy: Strategy = Strategy.RESOURCE_BALANCED, weights: Mapping[str, int] = DEFAULT_SCORE_WEIGHTS
    ) -> None:
        self.strategy = Strategy(strategy)
        self.profile = Profile.build(weights=weights)
        self._weights = dict(weights)
        self._slo = self._weights.get(INTERFERENCE_AWARE, 0) > 0
        """The SLO rule reads InterferenceAware's pressure: a profile without it (kube-scheduler's weights, the
        benchmark's peers) is blind to interference and keeps its own pick."""
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> HeuristicScores:
        """Score the feasible nodes (indices into the snapshot, at least one); a pod's P99 target may move the
        pick (`scoring.slo`)."""
        names = snapshot.names
        outcome = run_scores(self.profile, pod, snapshot, feasible)
        if self.strategy is Strategy.RESOURCE_BALANCED:
            scores = outcome.normalized
            best = _best(scores)
        elif self.strategy is Strategy.LEAST_LOADED:
            scores = least_loaded(pod, snapshot, feasible)
            best = _best(scores)
        else:
            with self._lock:
                turn = next(self._turn)
            order = sorted(range(len(feasible)), key=lambda k: names[feasible[k]])
            best = order[turn % len(order)]
            rank = {k: (pos - turn) % len(order) for pos, k in enumerate(order)}
            scores = np.array([MAX_NODE_SCORE * (1 - rank[k] / len(order)) for k in range(len(feasible))])
        verdict = None
        if self._slo and pod.needs.p99_target_ms is not None:
            pressure = worst_pressure(pod.needs, snapshot, feasible, undeclared=UNDECLARED_WEIGHT)
            verdict = slo.apply(pod.needs.p99_target_ms, slo.pressure_slowdown(pressure), scores, best)
            best = verdict.best if verdict is not None else best
        if self.strategy is Strategy.RESOURCE_BALANCED:
            reason = _balanced_reason(outcome.per_plugin, best, scores[best], len(feasible))
        elif self.strategy is Strategy.LEAST_LOADED:
            reason = f"least loaded: {100 - scores[best]:.0f}% of cpu, memory and pod slots requested after placement"
        else:
            reason = f"round robin: turn {turn % len(order) + 1} of {len(order)} feasible node(s)"
        return HeuristicScores(
            feasible,
            scores,
            outcome.per_plugin,
            best,
            slo.reason_with(reason, verdict),
            self._weights,
            slo_unmet=verdict is not None and verdict.unmet,
        )
