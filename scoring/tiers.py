"""The vocabulary every tier shares: the tier names, what a tier sees and answers, and the decision.

The chain (`scoring.decide`), each tier (`scoring.heuristic`, `scoring.transformer.tier`, `llm.tier`),
the runtime's loop and writer, and the collector speak these types; none of them needs another's module
for it. `Decision.to_json` is the one summary of a decision: `decide --json`, the log line, the
annotations and the collector all read it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from cluster.needs import Needs
from cluster.snapshot import Snapshot
from scoring.framework import NodeScores, PodInfo

REASON_LIMIT = 256

PREFERENCE_PLUGINS = ("PodTopologySpread", "InterPodAffinity")
"""Score plugins that carry what the pod's author asked for softly (spread, pod affinity), not a node's state."""


class Tier(StrEnum):
    LLM = "llm"
    TRANSFORMER = "transformer"
    HEURISTIC = "heuristic"


class DeclineCause(StrEnum):
    """Why the transformer tier, or the chain on a tier's behalf, passed a pod on (the LLM tier's own causes are
    `llm.tier.Cause`)."""

    OVERRUN = "overrun"
    BREAKER_OPEN = "breaker_open"
    DEADLINE = "deadline"
    LOADING = "loading"
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"
    INFEASIBLE = "infeasible"


class TierDeclinedError(Exception):
    """A tier declined to decide this pod; the message says why (shown in the decision). It starts with the
    cause code and a colon (`overrun: scoring took 52.1 ms, …`), by which `scheduler.py stats` counts fallbacks."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail if detail.startswith(cause) else f"{cause}: {detail}")


@dataclass(frozen=True, eq=False)
class HeuristicScores:
    """Scores of every feasible node (aligned with `feasible`) and the strategy's pick."""

    feasible: np.ndarray
    scores: np.ndarray
    plugin_scores: Mapping[str, np.ndarray]
    best: int
    reason: str
    weights: Mapping[str, int] = field(default_factory=dict)
    """The profile's score weights, so other tiers can weigh a plugin as this tier does."""
    slo_unmet: bool = False
    """The pod's P99 target is predicted to be missed on every feasible node (`scoring.slo`)."""

    @property
    def preference(self) -> tuple[np.ndarray, int] | None:
        """The user's soft placement preferences (PodTopologySpread, InterPodAffinity) as one 0..100 score per
        feasible node and its weight: the weighted mean of those that rank the nodes (a plugin that skipped
        the pod, or scores every node alike, says nothing). None when none does."""
        ranking = [
            (np.asarray(self.plugin_scores[name], dtype=float), self.weights.get(name, 1))
            for name in PREFERENCE_PLUGINS
            if name in self.plugin_scores and np.ptp(self.plugin_scores[name]) > 0
        ]
        if not ranking:
            return None
        weight = sum(w for _, w in ranking)
        total = np.zeros_like(ranking[0][0])
        for scores, w in ranking:
            total += scores * w
        return total / weight, weight

    def by_node(self, names: tuple[str, ...]) -> NodeScores:
        return NodeScores(names, self.feasible, self.scores, decimals=1)

    def plugins_by_node(self, names: tuple[str, ...]) -> dict[str, NodeScores]:
        return {
            plugin: NodeScores(names, self.feasible, scores, decimals=None)
            for plugin, scores in self.plugin_scores.items()
        }


@dataclass(frozen=True, eq=False)
class Request:
    """What a tier sees: the pod, the snapshot, the feasible nodes and the heuristic's scores as a hint."""

    pod: PodInfo
    snapshot: Snapshot
    feasible: np.ndarray
    heuristic: HeuristicScores
    deadline: float
    """Monotonic time by which the tier must answer."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.snapshot.names[i] for i in self.feasible)


@dataclass(frozen=True)
class Choice:
    node: str
    reason: str
    scores: Mapping[str, float]
    """0..100 per feasible node, higher is better."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Tier-specific facts for the decision's JSON (e.g. regimes, cache hits)."""
    slo_unmet: bool = False
    """The pod's P99 target is predicted to be missed on every feasible node (`scoring.slo`)."""


class TierDecider(Protocol):
    tier: Tier

    def choose(self, request: Request) -> Choice:
        """Pick one of `request.feasible`, or raise TierDeclinedError."""
        ...


@dataclass(frozen=True)
class Decision:
    pod: str
    node: str | None
    tier: Tier
    reason: str
    scores: Mapping[str, float]
    unschedulable: Mapping[str, str]
    latency_ms: float
    plugin_scores: Mapping[str, Mapping[str, float]] | None = None
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    """Why each higher tier did not decide."""
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    declined: bool = False
    """A forced tier declined and nothing decided the pod (only without fallback)."""
    score: float | None = None
    """The chosen node's score."""
    needs: Needs | None = None
    """The pod's needs as parsed for this decision, for whoever looks at the pod again (the fit re-check,
    the collector): a pod's annotations are parsed once per decision."""
    slo_unmet: bool = False
    """The pod's P99 target is predicted to be missed wherever it goes (`ai_scheduler_slo_unmet_total`)."""
    estimate: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per node with pods placed since its telemetry: how many and what they add (`cluster.estimate.summary`)."""

    def summary(self) -> dict[str, Any]:
        """The decision in brief, as every reader shows it: the log line takes it whole (with the tier's facts),
        `decide --json` (`to_json`), the annotations (`runtime.writer`) and the collector their parts of it."""
        out: dict[str, Any] = {
            "pod": self.pod,
            "node": self.node,
            "tier": self.tier.value,
            "score": self.score,
            "latency_ms": round(self.latency_ms, 3),
            "reason": self.reason,
        }
        if self.fallbacks:
            out["fallbacks"] = dict(self.fallbacks)
        return out

    def to_json(self) -> dict[str, Any]:
        """CONTRACTS §4's object (plus `plugin_scores` for the heuristic tier, and context fields), in its order."""
        brief = self.summary()
        out: dict[str, Any] = {key: brief[key] for key in ("pod", "node", "tier", "reason")}
        out |= {
            "scores": dict(self.scores),
            "unschedulable": dict(self.unschedulable),
            "latency_ms": brief["latency_ms"],
        }
        if self.plugin_scores is not None:
            out["plugin_scores"] = {k: dict(v) for k, v in self.plugin_scores.items()}
        if "fallbacks" in brief:
            out["fallbacks"] = brief["fallbacks"]
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.estimate:
            out["estimate"] = {node: dict(added) for node, added in self.estimate.items()}
        out.update({key: dict(value) if isinstance(value, Mapping) else value for key, value in self.extra.items()})
        return out


def clip_reason(text: str) -> str:
    """A single line of at most 256 characters (the decision-reason annotation's limit)."""
    line = " ".join(text.split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"
