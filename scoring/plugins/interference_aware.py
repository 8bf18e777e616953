"""InterferenceAware (ours): keep sensitive pods off contended nodes, and noisy pods off sensitive ones.

A score plugin in the kube-scheduler mould, with no upstream twin. Each node's pressure in 0..1 per
interference dimension (llc, membw, cpu, io), from telemetry and declared noisy neighbours, is
`scoring.pressure`'s. A pod sensitive to dimensions S scores `100 * (1 - max_d w_d * pressure_d)`:
interference is not additive, the worst pressure decides. The declared dimensions weigh 1; for a
latency-critical pod the others weigh one half, because a declaration is a hint, not a guarantee — a
saturated memory bus or a thrashed cache lengthens every memory access, whatever the pod says about
itself (Bubble-Up; the simulator's nginx and http-echo profiles are hurt through all four). A pod that
is noisy in dimensions N scores lower on nodes that run pods sensitive to N. A pod that is neither
scores 100 (neutral).

CPI is deliberately not a signal: system-wide CPI *falls* when CPU-bound antagonists run (their own
IPC is high), so neither direction is a safe reading (data/README.md); the learned tier may use it in
context.
"""

import numpy as np

from cluster.needs import DIMENSIONS, Needs
from cluster.snapshot import DIM_INDEX, Snapshot
from scoring.framework import MAX_NODE_SCORE, PodInfo
from scoring.pressure import node_pressure

NAME = "InterferenceAware"

# Weight of the dimensions a latency-critical pod did not declare itself sensitive to.
UNDECLARED_WEIGHT = 0.5


def worst_pressure(needs: Needs, snapshot: Snapshot, feasible: np.ndarray, *, undeclared: float) -> np.ndarray:
    """Per node at `feasible`: the worst pressure, the declared dimensions weighing 1 and the others `undeclared`
    (what this plugin scores, and what the SLO rule turns into a predicted slowdown)."""
    weights = np.array([1.0 if d in needs.sensitivity else undeclared for d in DIMENSIONS])
    return (node_pressure(snapshot, feasible) * weights).max(axis=1)


class InterferenceAware:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        needs = pod.needs
        score = np.full(len(feasible), float(MAX_NODE_SCORE))
        if needs.sensitivity or needs.latency_critical:
            undeclared = UNDECLARED_WEIGHT if needs.latency_critical else 0.0
            worst = worst_pressure(needs, snapshot, feasible, undeclared=undeclared)
            score = np.minimum(score, MAX_NODE_SCORE * (1.0 - worst))
        if needs.noisy:
            dims = [DIM_INDEX[d] for d in needs.noisy]
            victims = snapshot.declared[feasible, 0, :][:, dims].max(axis=1)
            penalty = 1.0 - np.power(0.5, victims)
            score = np.minimum(score, MAX_NODE_SCORE * (1.0 - penalty))
        return np.clip(np.round(score), 0, MAX_NODE_SCORE).astype(np.int64)


def new(_: dict) -> InterferenceAware:
    return InterferenceAware()
