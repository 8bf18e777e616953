"""From the model's two predictions to 0..100 scores, the pick and its reason. Pure numpy.

The model predicts, per node, the pod's P99 over its P99 alone on the reference core (`relative_p99`: the
interference and the node's core speed together, what the user feels) and the harm it does there (`harm`:
the sum over the latency-critical pods already on the node of ln(their P99 with it / without)). One cost
combines them, in log space so that each factor counts as a P99 multiplier:

    cost = relative_p99 x exp(HARM_WEIGHT x harm)

(with HARM_WEIGHT 1, doubling one latency-critical neighbour's P99 costs as much as doubling the pod's own),
and a node's score is `100 * (1 - ln(FASTEST x cost) / ln(FASTEST x MAX_SLOWDOWN))`, clamped to 0..100:
100 for a quiet node whose cores are `FASTEST` times the reference's, about 80 for a quiet reference core,
0 at the simulator's saturation (about 24x). A log scale, because a P99 that doubles hurts as much at 1x
as at 5x.

For a pod that declares itself noisy, InterferenceAware's declared-harm rule is kept on top of the
predicted harm (a declaration is the operator's word, the prediction the model's): on a node running pods
sensitive to its noisy dimensions the score is at most `100 * 0.5^victims` (the worst such dimension;
non-additive, a `min`).

A node about which nothing is measured (no NodeState, or a stale one) is never predicted better than
the median measured candidate (in P99 and in cost): CONTRACTS §1 makes unknown telemetry typical, neither good nor bad,
and a node whose agent broke must not attract the pods that most need a quiet node. Its declared
neighbours may still make it worse (the model's prediction, when higher, stands).

The model learnt from clusters where at most a few pods were placed since a node's NodeState; in a burst the
scheduler's own placements pile onto the nodes that look best, and there its prediction stays flat while the
P99 rises with the pile. `burst_calibrated` raises the predicted factor by `BURST_LOG_SLOPE` in log per pod the
fresh-placement estimate counts on the node (`cluster.estimate`) beyond `TRAINED_FRESH_PODS`, the under-prediction
measured on the simulator; within the range the model was trained on, its prediction stands.

Predicted slowdowns within `NEAR_TIE` of the best are a tie the model cannot resolve (its error is
larger); among them the heuristic tier's score decides (resource balance and declared pressure), then
the node name, so picks are reproducible.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cluster.needs import DIMENSIONS
from scoring.framework import MAX_NODE_SCORE, MIN_NODE_SCORE
from scoring.transformer.features import NodeInputs, PodInputs

MAX_SLOWDOWN = 25.0
"""Slowdown that scores 0 (the simulator's saturation, `sim.interference.MAX_P99_SLOWDOWN`, is about 24x)."""
FASTEST = 1.5
"""Core speed over the reference core's that a quiet node needs to score 100 (the fastest generation simulated
is 1.2x, randomised by about 10 %)."""
HARM_WEIGHT = 1.0
"""Weight of the harm to latency-critical neighbours against the pod's own ln P99 (see the module docstring): the
one training ranks with, and the default of `scoring.harm_weight`."""
TRAINED_FRESH_PODS = 4
"""Pods placed since a node's NodeState that the model has seen on a node: the 99th percentile per node of the
shipped recipe's simulated clusters (seed 7, 3,000 decisions: none on 67 % of the nodes, at most 7)."""
BURST_LOG_SLOPE = 0.039
"""What each pod placed since a node's NodeState beyond `TRAINED_FRESH_PODS` adds to ln of the predicted P99
factor there: the slope of ln(simulated / predicted factor) on max(0, pods - 4) over the nodes the tier chose for
latency-critical pods in bursts on generated datacenter clusters (100 nodes and 300 arrivals, seeds 800-802; 40 and
120, seeds 820-822; the weights of 2026-12-06), fitted once from the runner's per-pod results. It leans high
(chosen nodes only, core speed left out of the simulated side) and stands in for the harm to the pile, which the
model predicts flat: `python benchmark/pile_calibration.py` remeasures both (model card, Known limitations)."""
NEAR_TIE = 0.01
"""Relative cost difference under which two nodes count as tied."""
NEAR_TIE_POINTS = MAX_NODE_SCORE * math.log1p(NEAR_TIE) / math.log(FASTEST * MAX_SLOWDOWN)


def cost(relative_p99: np.ndarray, harm: np.ndarray, *, weight: float = HARM_WEIGHT) -> np.ndarray:
    """The pod's own predicted P99 factor times what it does to its latency-critical neighbours (module docstring),
    the harm counted at `weight` (`scoring.harm_weight`)."""
    return np.asarray(relative_p99, dtype=float) * np.exp(weight * np.asarray(harm, dtype=float))


def burst_calibrated(relative_p99: np.ndarray, fresh_pods: np.ndarray, *, slope: float = BURST_LOG_SLOPE) -> np.ndarray:
    """Predicted P99 factors raised by `slope` in log per pod placed since the node's NodeState beyond the
    `TRAINED_FRESH_PODS` the model was trained on (`scoring.burst_log_slope` sets it; 0 leaves them as they are)."""
    beyond = np.maximum(np.asarray(fresh_pods, dtype=float) - TRAINED_FRESH_PODS, 0.0)
    return np.asarray(relative_p99, dtype=float) * np.exp(slope * beyond)


def score(costs: np.ndarray) -> np.ndarray:
    """0..100 per node from costs (> 0; unknown ones score 0)."""
    c = np.maximum(np.nan_to_num(np.asarray(costs, dtype=float), nan=MAX_SLOWDOWN), 1.0 / FASTEST)
    raw = MAX_NODE_SCORE * (1.0 - np.log(FASTEST * c) / math.log(FASTEST * MAX_SLOWDOWN))
    return np.clip(raw, MIN_NODE_SCORE, MAX_NODE_SCORE)


def neutral_unknown(slowdown: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Slowdowns with every unmeasured node raised to at least the median of the measured ones."""
    measured = np.asarray(measured, dtype=bool)
    if measured.all() or not measured.any():
        return slowdown
    typical = float(np.median(slowdown[measured]))
    return np.where(measured, slowdown, np.maximum(slowdown, typical))


def noisy_cap(noisy: tuple[bool, ...], sensitive_neighbours: np.ndarray) -> np.ndarray:
    """Per node, the highest score a noisy pod may get: 100 * 0.5^(sensitive pods on its worst noisy dimension)."""
    dims = [i for i, flag in enumerate(noisy) if flag]
    if not dims:
        return np.full(len(sensitive_neighbours), float(MAX_NODE_SCORE))
    victims = np.asarray(sensitive_neighbours, dtype=float)[:, dims].max(axis=1)
    return MAX_NODE_SCORE * np.power(0.5, victims)


@dataclass(frozen=True, eq=False)
class Assessed:
    slowdown: np.ndarray
    """Predicted P99 over P99 alone on the reference core per node, unmeasured nodes raised to typical."""
    harm: np.ndarray
    """Predicted harm to latency-critical neighbours per node."""
    own: np.ndarray
    """0..100 from the cost (own P99 and harm)."""
    final: np.ndarray
    """0..100 with the noisy pod's cap: the tier's scores."""


def assess(
    relative_p99: np.ndarray,
    harm: np.ndarray,
    nodes: NodeInputs,
    pod: PodInputs,
    *,
    harm_weight: float = HARM_WEIGHT,
) -> Assessed:
    """The tier's scores from the model's predictions for `nodes` (the one path the tier and evaluation share)."""
    measured = nodes.measured()
    slowdown = neutral_unknown(np.asarray(relative_p99, dtype=float), measured)
    costs = neutral_unknown(cost(slowdown, harm, weight=harm_weight), measured)
    own = score(costs)
    capped = np.minimum(own, noisy_cap(pod.noisy, np.asarray(nodes.declared)[:, 0, :]))
    return Assessed(slowdown, np.asarray(harm, dtype=float), own, capped)


INTERFERENCE_WEIGHT = 5
"""The model's scores stand where the heuristic has InterferenceAware, at its default weight."""


def with_preference(final: np.ndarray, preference: tuple[np.ndarray, int] | None) -> np.ndarray:
    """The tier's scores with the pod's soft preferences (spread, pod affinity) weighed in as the heuristic
    weighs them against interference: a weighted mean, so a replica leaves a node its siblings crowd unless
    staying is clearly quieter. Unchanged when nothing is preferred."""
    if preference is None:
        return final
    scores, weight = preference
    return (INTERFERENCE_WEIGHT * final + weight * scores) / (INTERFERENCE_WEIGHT + weight)


def pick(scores: np.ndarray, hint: np.ndarray, name_of: Callable[[int], str]) -> int:
    """Position of the best node: the highest score, near-ties by the heuristic's `hint`, then by name."""
    near = np.flatnonzero(scores >= float(scores.max()) - NEAR_TIE_POINTS)
    hinted = np.asarray(hint, dtype=float)[near]
    tied = near[hinted == hinted.max()].tolist()
    return int(tied[0]) if len(tied) == 1 else min(tied, key=name_of)


def reason(
    *,
    slowdown: np.ndarray,
    best: int,
    regime: str,
    capped: bool,
    noisy: tuple[bool, ...],
    preferred: bool = False,
    harm: np.ndarray | None = None,
) -> str:
    """One line: the predicted slowdown of the pick against the candidates, its regime, and why if capped, if
    the harm to latency-critical neighbours outweighed a lower slowdown elsewhere, or if the pod's spread/affinity
    preference chose another node than the quietest."""
    median = float(np.median(slowdown))
    quietest = int(np.argmin(slowdown))
    harmed = (
        harm is not None
        and float(slowdown[best]) > float(slowdown[quietest]) * (1.0 + NEAR_TIE)
        and float(harm[best]) < float(harm[quietest])
    )
    lead = (
        "spread/affinity preference"
        if preferred
        else "lowest predicted cost with the harm to latency-critical neighbours"
        if harmed
        else "lowest predicted interference"
    )
    text = (
        f"{lead}: {float(slowdown[best]):.2f}x reference P99 (median {median:.2f}x over "
        f"{len(slowdown)} feasible node(s)), node regime {regime}"
    )
    if capped:
        dims = ",".join(d.value for d, flag in zip(DIMENSIONS, noisy, strict=True) if flag)
        text += f"; noisy pod ({dims}) kept away from sensitive neighbours"
    return text
