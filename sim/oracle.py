"""The oracle: where a pod would suffer least, and what any placement costs it and its neighbours.

For the benchmark (regret of a scheduler's choice against the best node, given the cluster when the pod arrived)
and for training labels. Every number is the interference model's *prediction* (the exact distribution, no
sampling, no run-to-run jitter), so the oracle is deterministic and no placement can beat it under the model.

    state = ClusterState.from_objects(nodes, pods)      # the cluster when the pod arrived
    choice = oracle.best(state, pod)                   # node minimising the pod's predicted P99 (ties: by name)
    cost = oracle.regret(state, pod, "worker-3")       # the chosen node's P99 against the best one
    harm = oracle.inflicted(state, pod, "worker-3")    # what placing it there does to latency-critical neighbours

`pod` is a Pod JSON or a `sim.pods.Workload`. Candidates default to the nodes where the pod's CPU/memory requests
fit (ready, schedulable); taints, selectors and affinity are the caller's filters to apply, by passing candidates.
Pure.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import interference, latency
from sim.cluster_state import ClusterState
from sim.interference import CALIBRATED, CALIBRATION, Calibration, Variant
from sim.pods import Workload, workload

PodLike = Workload | Mapping[str, Any]


@dataclass(frozen=True)
class Prediction:
    """A pod's predicted request latency on one node (ms) and its slowdown against running there alone."""

    node: str
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    alone_p99_ms: float
    slowdown: float
    """P99 over P99 alone on the same node: the interference, without the hardware's speed."""
    pressure: Mapping[str, float]


@dataclass(frozen=True)
class Choice:
    """The oracle's node (None when no candidate) and the prediction on every candidate."""

    node: str | None
    predictions: Mapping[str, Prediction]

    @property
    def p99_ms(self) -> float | None:
        return None if self.node is None else self.predictions[self.node].p99_ms


@dataclass(frozen=True)
class Regret:
    """A chosen node's predicted P99 against the oracle's."""

    chosen: str
    best: str
    chosen_p99_ms: float
    best_p99_ms: float

    @property
    def regret_ms(self) -> float:
        return self.chosen_p99_ms - self.best_p99_ms

    @property
    def ratio(self) -> float:
        return self.chosen_p99_ms / self.best_p99_ms


@dataclass(frozen=True)
class Harm:
    """A latency-critical neighbour's predicted P99 before and after a placement."""

    key: str
    before_p99_ms: float
    after_p99_ms: float

    @property
    def slowdown(self) -> float:
        return self.after_p99_ms / self.before_p99_ms


def as_workload(pod: PodLike) -> Workload:
    return pod if isinstance(pod, Workload) else workload(pod)


def candidates(state: ClusterState, pod: PodLike) -> tuple[str, ...]:
    """Nodes where the pod's CPU/memory requests fit, by name."""
    target = as_workload(pod)
    return tuple(sorted(name for name in state.nodes if state.fits(target, name)))


def predict(
    state: ClusterState,
    pod: PodLike,
    nodes: Iterable[str] | None = None,
    *,
    calibration: Calibration = CALIBRATION,
    variant: Variant = CALIBRATED,
) -> dict[str, Prediction]:
    """The pod's predicted latency on each of `nodes` (default: every node), with the neighbours it would have there
    (under the interference-model `variant`: the calibrated one unless a family member is evaluated)."""
    target = as_workload(pod)
    names = sorted(state.nodes if nodes is None else set(nodes))
    unknown = [name for name in names if name not in state.nodes]
    if unknown:
        raise KeyError(f"no node {unknown[0]!r} in the cluster state")
    if not names:
        return {}
    stacked = state.pressures([(target, name) for name in names], variant=variant)
    speed = np.array([state.nodes[name].hardware.core_speed for name in names])
    model = interference.for_pod(target.profile, None, stacked, speed=speed, calibration=calibration, variant=variant)
    percentiles = latency.quantiles(model)
    alone = model.alone_p99
    return {
        name: Prediction(
            node=name,
            p50_ms=float(percentiles[i, 0]),
            p90_ms=float(percentiles[i, 1]),
            p95_ms=float(percentiles[i, 2]),
            p99_ms=float(percentiles[i, 3]),
            alone_p99_ms=float(alone[i]),
            slowdown=float(percentiles[i, 3] / alone[i]),
            pressure={d: float(getattr(stacked, d)[i]) for d in ("cpu", "llc", "membw", "io")},
        )
        for i, name in enumerate(names)
    }


def best(
    state: ClusterState, pod: PodLike, nodes: Sequence[str] | None = None, *, calibration: Calibration = CALIBRATION
) -> Choice:
    """The candidate minimising the pod's predicted P99; ties go to the first node name."""
    target = as_workload(pod)
    names = candidates(state, target) if nodes is None else tuple(nodes)
    predictions = predict(state, target, names, calibration=calibration)
    return Choice(node=_argmin(predictions, names), predictions=predictions)


def regret(
    state: ClusterState,
    pod: PodLike,
    chosen: str,
    nodes: Sequence[str] | None = None,
    *,
    calibration: Calibration = CALIBRATION,
) -> Regret:
    """How much worse the chosen node is than the oracle's, in predicted P99, given the state when the pod arrived."""
    target = as_workload(pod)
    names = candidates(state, target) if nodes is None else tuple(nodes)
    predictions = predict(state, target, {*names, chosen}, calibration=calibration)
    top = _argmin(predictions, names)
    if top is None:
        raise ValueError(f"pod {target.key}: no candidate node to compare {chosen!r} with")
    return Regret(chosen, top, predictions[chosen].p99_ms, predictions[top].p99_ms)


def _argmin(predictions: Mapping[str, Prediction], names: Iterable[str]) -> str | None:
    """The name with the lowest predicted P99, first name on ties (P99 compared to a nanosecond)."""
    return min(names, key=lambda name: (round(predictions[name].p99_ms, 6), name), default=None)


def inflicted(
    state: ClusterState,
    pod: PodLike,
    node: str,
    *,
    calibration: Calibration = CALIBRATION,
    variant: Variant = CALIBRATED,
) -> dict[str, Harm]:
    """Predicted P99 of each latency-critical pod already on `node`, before and after `pod` joins it."""
    target = as_workload(pod)
    after = state.with_pod(target, node)
    harms = {}
    for neighbour in state.on(node):
        if neighbour.key == target.key or not is_latency_critical(neighbour):
            continue
        before_p99 = predict(state, neighbour, (node,), calibration=calibration, variant=variant)[node].p99_ms
        after_p99 = predict(after, neighbour, (node,), calibration=calibration, variant=variant)[node].p99_ms
        harms[neighbour.key] = Harm(neighbour.key, before_p99, after_p99)
    return harms


def is_latency_critical(pod: Workload) -> bool:
    """Declared latency-critical, or of a latency-critical profile (a benchmark target either way)."""
    return pod.workload_class == "latency-critical" or pod.profile.latency_critical
