"""NodeResourcesBalancedAllocation: prefer placements that keep cpu and memory use in step.

Mirrors `pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go` (v1.36), which scores
the *change* in balance: with `S = int((1 - std) * 100)` of the requested fractions (each capped at
1; for two resources `std = |f_cpu - f_mem| / 2`), the score is `50 + (50 + S_with - S_without) / 2`
with Go's integer division. It uses actual requests (not the non-zero defaults) and skips
best-effort pods, whose placement it cannot balance (kubernetes#129138).
"""

import numpy as np

from cluster.snapshot import Snapshot
from scoring.framework import MAX_NODE_SCORE, PodInfo

NAME = "NodeResourcesBalancedAllocation"


def balance(requested: np.ndarray, allocatable: np.ndarray) -> np.ndarray:
    """`balancedResourceScore` over rows of (cpu, memory): int64((1 - std) * 100), std = |f_cpu - f_mem| / 2.

    A resource with zero allocatable is left out, and with fewer than two fractions upstream's std is 0.
    """
    valid = allocatable > 0
    fractions = np.minimum(requested / np.where(valid, allocatable, 1), 1.0)
    std = np.where(valid.all(axis=1), np.abs(fractions[:, 0] - fractions[:, 1]) / 2, 0.0)
    return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)


def _go_div(a: np.ndarray, b: int) -> np.ndarray:
    """Integer division truncating toward zero, as Go's `/` on int64."""
    return np.sign(a) * (np.abs(a) // b)


class BalancedAllocation:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
        pod_requests = pod.requests[:2]
        if not pod_requests.any():
            return None
        allocatable = snapshot.table.allocatable[feasible, :2]
        without = snapshot.requested[feasible, :2]
        s_with = balance(without + pod_requests, allocatable)
        s_without = balance(without, allocatable)
        half = MAX_NODE_SCORE // 2
        return half + _go_div(half + s_with - s_without, 2)


def new(_: dict) -> BalancedAllocation:
    return BalancedAllocation()
