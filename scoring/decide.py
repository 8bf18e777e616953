"""The decision chain: filter once, then LLM → transformer → heuristic, first answer wins.

Pure with respect to the cluster: it takes a pod and a snapshot and returns a `Decision`; the
scheduler loop and the offline `decide` command both call it. A tier that cannot decide a pod raises
`TierDeclinedError` with the reason, which the decision records before the next tier runs; the
heuristic tier never declines. Every tier chooses among the nodes the filters let through, and a
choice outside them is refused (a tier bug must not bind a pod where it cannot run).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from cluster.clock import Clock, SystemClock
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicScores, HeuristicTier
from scoring.runtime import DEFAULT_FILTERS, FilterOutcome, Profile, run_filters

REASON_LIMIT = 256


class Tier(StrEnum):
    LLM = "llm"
    TRANSFORMER = "transformer"
    HEURISTIC = "heuristic"


class TierDeclinedError(Exception):
    """A tier declined to decide this pod; the message says why (shown in the decision)."""


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
    plugin_scores: Mapping[str, Mapping[str, int]] | None = None
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    """Why each higher tier did not decide."""
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    declined: bool = False
    """A forced tier declined and nothing decided the pod (only without fallback)."""
    score: float | None = None
    """The chosen node's score."""

    def to_json(self) -> dict[str, Any]:
        """CONTRACTS §4's object (plus `plugin_scores` for the heuristic tier, and context fields)."""
        out: dict[str, Any] = {
            "pod": self.pod,
            "node": self.node,
            "tier": self.tier.value,
            "reason": self.reason,
            "scores": dict(self.scores),
            "unschedulable": dict(self.unschedulable),
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.plugin_scores is not None:
            out["plugin_scores"] = {k: dict(v) for k, v in self.plugin_scores.items()}
        if self.fallbacks:
            out["fallbacks"] = dict(self.fallbacks)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        out.update({key: dict(value) if isinstance(value, Mapping) else value for key, value in self.extra.items()})
        return out


def clip_reason(text: str) -> str:
    """A single line of at most 256 characters (the decision-reason annotation's limit)."""
    line = " ".join(text.split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


class Decider:
    """Runs the filters once and the tiers in order; thread-safe when its tiers are."""

    def __init__(
        self,
        *,
        heuristic: HeuristicTier,
        tiers: Sequence[TierDecider] = (),
        filters: Sequence[str] = DEFAULT_FILTERS,
        clock: Clock | None = None,
        deadline_seconds: float = 20.0,
        fallback: bool = True,
    ) -> None:
        self.heuristic = heuristic
        self.tiers = tuple(tiers)
        self.filter_profile = Profile.build(filters=filters, weights={})
        self.clock = clock or SystemClock()
        self.deadline_seconds = deadline_seconds
        self.fallback = fallback

    @property
    def first_tier(self) -> Tier:
        return self.tiers[0].tier if self.tiers else Tier.HEURISTIC

    def filter(self, pod: PodInfo, snapshot: Snapshot) -> FilterOutcome:
        return run_filters(self.filter_profile, pod, snapshot)

    def fits(self, pod: Pod, snapshot: Snapshot, node: str) -> bool:
        """Does `pod` still pass every filter on `node` (the re-check before a decision is assumed)?"""
        index = snapshot.node_index(node)
        if index is None:
            return False
        info = PodInfo.of(pod, snapshot)
        candidates = np.array([index], dtype=np.int64)
        return not any(plugin.filter(info, snapshot, candidates) for plugin in self.filter_profile.filters)

    def decide(self, pod: Pod, snapshot: Snapshot, *, warnings: tuple[str, ...] = ()) -> Decision:
        started = self.clock.monotonic()
        info = PodInfo.of(pod, snapshot)
        outcome = self.filter(info, snapshot)
        names = snapshot.names
        unschedulable = outcome.reasons_by_node(names)
        if not len(outcome.feasible):
            return Decision(
                pod=pod.key,
                node=None,
                tier=self.first_tier,
                reason=outcome.message,
                scores={},
                unschedulable=unschedulable,
                latency_ms=(self.clock.monotonic() - started) * 1000,
                warnings=warnings,
            )
        heuristic = self.heuristic.score(info, snapshot, outcome.feasible)
        request = Request(info, snapshot, outcome.feasible, heuristic, started + self.deadline_seconds)
        fallbacks: dict[str, str] = {}
        for tier in self.tiers:
            try:
                choice = tier.choose(request)
            except TierDeclinedError as exc:
                fallbacks[tier.tier.value] = clip_reason(str(exc))
                if not self.fallback:
                    return Decision(
                        pod=pod.key,
                        node=None,
                        tier=tier.tier,
                        reason=clip_reason(f"{tier.tier.value} tier did not decide: {exc}"),
                        scores={},
                        unschedulable=unschedulable,
                        latency_ms=(self.clock.monotonic() - started) * 1000,
                        fallbacks=fallbacks,
                        warnings=warnings,
                        declined=True,
                    )
                continue
            index = snapshot.node_index(choice.node)
            if index is None or not np.any(request.feasible == index):
                fallbacks[tier.tier.value] = f"chose {choice.node!r}, which is not a feasible node"
                continue
            return Decision(
                pod=pod.key,
                node=choice.node,
                tier=tier.tier,
                score=choice.scores.get(choice.node),
                reason=clip_reason(choice.reason),
                scores=choice.scores,
                unschedulable=unschedulable,
                latency_ms=(self.clock.monotonic() - started) * 1000,
                fallbacks=fallbacks,
                warnings=warnings,
                extra=dict(choice.extra),
            )
        best = int(heuristic.feasible[heuristic.best])
        return Decision(
            pod=pod.key,
            node=names[best],
            tier=Tier.HEURISTIC,
            score=round(float(heuristic.scores[heuristic.best]), 1),
            reason=clip_reason(heuristic.reason),
            scores=heuristic.by_node(names),
            unschedulable=unschedulable,
            latency_ms=(self.clock.monotonic() - started) * 1000,
            plugin_scores=heuristic.plugins_by_node(names),
            fallbacks=fallbacks,
            warnings=warnings,
        )
