"""The decision chain: filter once, then LLM → transformer → heuristic, first answer wins.

Pure with respect to the cluster: it takes a pod and a snapshot and returns a `Decision`; the
scheduler loop and the offline `decide` command both call it. A tier that cannot decide a pod raises
`TierDeclinedError` with the reason, which the decision records before the next tier runs; the
heuristic tier never declines. Every tier chooses among the nodes the filters let through, and a
choice outside them is refused (a tier bug must not bind a pod where it cannot run).
"""

from collections.abc import Sequence

import numpy as np

from cluster.clock import Clock, SystemClock
from cluster.needs import Needs, parse_needs
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.runtime import DEFAULT_FILTERS, FilterOutcome, Profile, run_filters
from scoring.sampling import Ring
from scoring.tiers import Decision, DeclineCause, Request, Tier, TierDecider, TierDeclinedError, clip_reason


class Decider:
    """Runs the filters once and the tiers in order; thread-safe when its tiers are.

    With `percentage_of_nodes_to_score` under 100 (0: adaptive), a large cluster's tiers score only the share
    of the feasible nodes kube-scheduler would (`scoring.sampling`); the default scores every feasible node."""

    def __init__(
        self,
        *,
        heuristic: HeuristicTier,
        tiers: Sequence[TierDecider] = (),
        filters: Sequence[str] = DEFAULT_FILTERS,
        clock: Clock | None = None,
        deadline_seconds: float = 20.0,
        fallback: bool = True,
        percentage_of_nodes_to_score: int = 100,
    ) -> None:
        self.heuristic = heuristic
        self.tiers = tuple(tiers)
        self.filter_profile = Profile.build(filters=filters, weights={})
        self.clock = clock or SystemClock()
        self.deadline_seconds = deadline_seconds
        self.fallback = fallback
        self.ring = Ring(percentage_of_nodes_to_score)

    @property
    def first_tier(self) -> Tier:
        return self.tiers[0].tier if self.tiers else Tier.HEURISTIC

    def filter(self, pod: PodInfo, snapshot: Snapshot) -> FilterOutcome:
        return run_filters(self.filter_profile, pod, snapshot)

    def fits(self, pod: Pod, snapshot: Snapshot, node: str, *, needs: Needs | None = None) -> bool:
        """Does `pod` still pass every filter on `node` (the re-check before a decision is assumed)?"""
        index = snapshot.node_index(node)
        if index is None:
            return False
        info = PodInfo.of(pod, snapshot, needs)
        candidates = np.array([index], dtype=np.int64)
        return not any(plugin.filter(info, snapshot, candidates) for plugin in self.filter_profile.filters)

    def decide(self, pod: Pod, snapshot: Snapshot) -> Decision:
        """The pod's decision; its needs are parsed here, once, and the annotations' warnings kept with it."""
        started = self.clock.monotonic()
        parsed = parse_needs(pod)
        needs, warnings = parsed.needs, parsed.warnings
        info = PodInfo.of(pod, snapshot, needs)
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
                needs=needs,
            )
        feasible = _nominated(pod, snapshot, outcome.feasible)
        if feasible is None:
            feasible = self.ring.take(outcome.scanned, outcome.feasible, len(snapshot))
        heuristic = self.heuristic.score(info, snapshot, feasible)
        request = Request(info, snapshot, feasible, heuristic, started + self.deadline_seconds)
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
                        needs=needs,
                        declined=True,
                    )
                continue
            index = snapshot.node_index(choice.node)
            if index is None or not np.any(request.feasible == index):
                chose = f"chose {choice.node!r}, which is not a feasible node"
                fallbacks[tier.tier.value] = f"{DeclineCause.INFEASIBLE}: {chose}"
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
                needs=needs,
                extra=dict(choice.extra),
                slo_unmet=choice.slo_unmet,
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
            needs=needs,
            slo_unmet=heuristic.slo_unmet,
        )


def _nominated(pod: Pod, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
    """Only the pod's nominated node when it passes the filters (upstream's `evaluateNominatedNode`): the
    room a preemption made there is what the pod waited for, and its victims must not go for nothing.
    None when the pod has no feasible nominated node."""
    nominated = snapshot.node_index(pod.nominated_node_name) if pod.nominated_node_name else None
    if nominated is not None and np.any(feasible == nominated):
        return np.array([nominated], dtype=np.int64)
    return None
