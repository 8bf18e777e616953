"""Pairwise ranking accuracy on real counters: does a policy prefer the test node where nginx's P99 was lower?

The KubeMarla measurements (`training.counters`): within one campaign, replica count and
RPS, every load test is a candidate node carrying the NodeState its PCM counters map to; for every pair
whose measured P99 differ by 1.5x or more, a policy is right when it scores the lower-P99 node strictly
higher (a tie is not a preference) for a latency-critical pod sensitive to llc, membw and cpu.

`real_counter_pairs(scorer)` takes any callable that scores a list of NodeStates for a pod, so the
benchmark can compare policies; `heuristic_scorer` and `transformer_scorer` adapt the two local tiers, and
`peer_scorer` the load-aware schedulers a user would run instead (`scoring.runtime.PEERS`: their filters
and scores over the measured CPU utilisation, which on this rig is C0 residency).
By default only the campaigns held out from the transformer's fine-tuning are counted. Never imports
torch (the transformer's predictor is passed in, or loaded lazily by `load_transformer_scorer`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.config import DEFAULT_SCORE_WEIGHTS
from cluster.nodestate import NodeState
from cluster.objects import Pod
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.runtime import PEERS, Profile, run_filters
from scoring.transformer import features, scores
from sim.calibration import HELD_OUT_CAMPAIGNS
from training import counters

PairScorer = Callable[[Sequence[NodeState], Pod], Sequence[float]]
"""Scores (higher is better) for a pod on nodes carrying these NodeStates, aligned with them."""


@dataclass(frozen=True)
class PairAccuracy:
    pairs: int
    correct: int
    ties: int

    @property
    def accuracy(self) -> float:
        """Share of pairs where the lower-P99 node scored strictly higher (ties count as wrong)."""
        return self.correct / self.pairs if self.pairs else float("nan")


def pair_counts(
    scorer: PairScorer,
    *,
    groups: Sequence[counters.Group] | None = None,
    campaigns: Sequence[str] | None = HELD_OUT_CAMPAIGNS,
    ratio: float = counters.PAIR_RATIO,
) -> PairAccuracy:
    """Pairs, right answers and ties of `scorer` over the groups of `campaigns` (None: every campaign)."""
    groups = counters.load() if groups is None else groups
    total = correct = ties = 0
    for group in groups:
        if campaigns is not None and group.campaign not in campaigns:
            continue
        pairs = group.pairs(ratio)
        if not pairs:
            continue
        values = np.asarray(scorer([t.state for t in group.tests], counters.NGINX), dtype=float)
        better, worse = (np.array(side) for side in zip(*pairs, strict=True))
        total += len(pairs)
        correct += int((values[better] > values[worse]).sum())
        ties += int((values[better] == values[worse]).sum())
    return PairAccuracy(total, correct, ties)


def real_counter_pairs(
    scorer: PairScorer,
    *,
    groups: Sequence[counters.Group] | None = None,
    campaigns: Sequence[str] | None = HELD_OUT_CAMPAIGNS,
) -> float:
    """Pairwise accuracy of `scorer` on the held-out campaigns (or `campaigns`; None: all)."""
    return pair_counts(scorer, groups=groups, campaigns=campaigns).accuracy


def heuristic_scorer(weights: Mapping[str, int] = DEFAULT_SCORE_WEIGHTS, filters: Sequence[str] = ()) -> PairScorer:
    """The heuristic tier's weighted score (kube-scheduler's plugins with `weights`); a node that one of `filters`
    rejects scores -inf, below every node the pod may use."""
    tier = HeuristicTier(weights=weights)
    profile = Profile.build(filters=filters, weights={})

    def score(states: Sequence[NodeState], pod: Pod) -> Sequence[float]:
        snapshot = counters.snapshot(states)
        info = PodInfo.of(pod, snapshot)
        feasible = run_filters(profile, info, snapshot).feasible
        values = np.full(len(snapshot), -np.inf)
        if len(feasible):
            values[feasible] = tier.score(info, snapshot, feasible).scores
        return values

    return score


def peer_scorer(peer: str) -> PairScorer:
    """A load-aware peer's filters and scores (`scoring.runtime.PEERS`), as its benchmark policy runs them."""
    weights, filters = PEERS[peer]
    return heuristic_scorer(weights, filters)


def counter_scorer(metric: str) -> PairScorer:
    """One counter alone, lower is better (its window mean): the reference a learned scorer must beat."""

    def score(states: Sequence[NodeState], pod: Pod) -> Sequence[float]:
        return [-s.metrics[metric].mean if metric in s.metrics else -np.inf for s in states]

    return score


def transformer_scorer(predictor: object) -> PairScorer:
    """The transformer tier's unrounded score from a predictor (`model.Scorer`: `fill` and `predict(tokens)`)."""

    def score(states: Sequence[NodeState], pod: Pod) -> Sequence[float]:
        snapshot = counters.snapshot(states)
        nodes = features.NodeInputs.of(snapshot, np.arange(len(snapshot)))
        inputs = features.PodInputs.of(PodInfo.of(pod, snapshot))
        predicted = predictor.predict(features.tokens(nodes, inputs, predictor.fill))  # type: ignore[attr-defined]
        return scores.assess(predicted.relative_p99, predicted.harm, nodes, inputs).final

    return score


def load_transformer_scorer(path: str | Path, *, threads: int = 1) -> PairScorer:
    """`transformer_scorer` over the weights at `path` (imports torch)."""
    from scoring.transformer.model import Scorer  # noqa: PLC0415 - torch only when the transformer is asked for

    return transformer_scorer(Scorer.load(path, threads=threads))
