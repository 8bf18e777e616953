"""SLO-aware placement: a pod's `ai-scheduler.io/p99-target-ms` steers the local tiers, not only the prompt.

Both local tiers predict a slowdown per feasible node: the transformer its model's P99 slowdown, the heuristic
InterferenceAware's worst weighted pressure read on the transformer's score scale (`pressure_slowdown`). The rule
(`apply`), the same for both:
- no target: the tier's pick stands;
- the tier's pick is predicted to meet the target with `MARGIN` to spare: it stands;
- otherwise the best-scored node predicted to meet it with margin; failing that, the node with the lowest
  predicted P99 (the best-scored of those within `TIE` of it: a saturated dimension can make every node look
  the same, and the tier's other scores then spread a burst), and when even that one misses the target the
  reason says so ("no node meets the 2 ms P99 target; best predicted 2.6 ms") and the decision counts on
  `ai_scheduler_slo_unmet_total`.

A P99 in milliseconds needs the pod's P99 alone, which a pod spec does not carry and no NodeState measures. The
rule reads the target as set with `TARGET_HEADROOM` over it: the median of target / P99 alone over the
simulator's latency-critical training profiles (`sim.workloads`: nginx 1 / 0.17 ms, redis 1 / 0.55, http-echo
5 / 1.6, i.e. 5.9x, 1.8x, 3.125x; memcached, held out of training and tuning, is not read). The predicted P99 is
then `target / TARGET_HEADROOM x slowdown`; a pod set tighter than that sees its target missed sooner than
predicted, one set looser later.
Pure numpy.
"""

import math
from dataclasses import dataclass

import numpy as np

from scoring.transformer.scores import MAX_SLOWDOWN

TARGET_HEADROOM = 3.125
"""Assumed P99 target over the pod's P99 alone (see the module docstring)."""
TIE = 0.01
"""Predicted P99s within this share of each other are a tie (the model card's near-tie, 1 %)."""
MARGIN = 0.1
"""Share of the target a node's predicted P99 must leave free to count as meeting it with margin."""


@dataclass(frozen=True)
class Verdict:
    """The SLO rule's pick among the feasible nodes (a position in them) and what to say about it."""

    best: int
    unmet: bool
    """No feasible node is predicted to meet the target: the pod goes to the best predicted one."""
    note: str | None
    """Why the rule moved the pick or what it could not meet; None when the tier's pick stands as it is."""
    predicted_ms: float
    """The pick's predicted P99."""


def pressure_slowdown(pressure: np.ndarray) -> np.ndarray:
    """Predicted P99 slowdown from InterferenceAware's worst weighted pressure (0..1): the transformer's score
    scale read backwards, so a score of 100 x (1 - p) from either tier means the same slowdown, MAX_SLOWDOWN^p."""
    return np.power(MAX_SLOWDOWN, np.clip(np.asarray(pressure, dtype=float), 0.0, 1.0))


def predicted_p99_ms(target_ms: float, slowdown: np.ndarray) -> np.ndarray:
    """The pod's predicted P99 per node (unknown slowdowns predict an infinite P99)."""
    s = np.asarray(slowdown, dtype=float)
    return np.where(np.isfinite(s), target_ms / TARGET_HEADROOM * np.maximum(s, 1.0), math.inf)


def apply(target_ms: float | None, slowdown: np.ndarray, scores: np.ndarray, best: int) -> Verdict | None:
    """The rule of the module docstring over the feasible nodes; None when the pod has no target."""
    if target_ms is None:
        return None
    predicted = predicted_p99_ms(target_ms, slowdown)
    with_margin = predicted <= target_ms * (1.0 - MARGIN)
    if with_margin[best]:
        return Verdict(best, False, None, float(predicted[best]))
    target = f"{target_ms:g} ms P99 target"
    if with_margin.any():
        candidates = np.flatnonzero(with_margin)
        pick = int(candidates[np.argmax(np.asarray(scores, dtype=float)[candidates])])
        note = f"meets the {target} with margin: predicted {predicted[pick]:.3g} ms, top score {predicted[best]:.3g} ms"
        return Verdict(pick, False, note, float(predicted[pick]))
    pick = _best_of_lowest(predicted, scores)
    if predicted[pick] <= target_ms:
        note = f"only node(s) meeting the {target} without margin: predicted {predicted[pick]:.3g} ms"
        return Verdict(pick, False, note, float(predicted[pick]))
    note = f"no node meets the {target}; best predicted {predicted[pick]:.3g} ms"
    return Verdict(pick, True, note, float(predicted[pick]))


def _best_of_lowest(predicted: np.ndarray, scores: np.ndarray) -> int:
    """The best-scored node among those whose predicted P99 is within `TIE` of the lowest: a prediction that
    cannot tell nodes apart (every node behind the same saturated dimension) leaves the choice to the tier's
    other scores, which spread a burst, rather than to the nodes' order."""
    lowest = float(np.min(predicted))
    near = np.flatnonzero(predicted <= lowest * (1.0 + TIE)) if math.isfinite(lowest) else np.arange(len(predicted))
    return int(near[np.argmax(np.asarray(scores, dtype=float)[near])])


def reason_with(reason: str, verdict: Verdict | None) -> str:
    """The tier's reason with the rule's note in front (the note says what decided)."""
    if verdict is None or verdict.note is None:
        return reason
    return f"{verdict.note}; {reason}"
