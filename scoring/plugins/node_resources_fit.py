"""NodeResourcesFit: the pod's requests must fit what is left; LeastAllocated scores what stays free.

Mirrors `pkg/scheduler/framework/plugins/noderesources/fit.go` and `least_allocated.go` (v1.36):
- Filter: "Too many pods" when the pod count would pass `allocatable.pods`; then, unless the pod
  requests nothing, "Insufficient <resource>" for each requested resource that does not fit.
- Score (LeastAllocated, cpu and memory weighted 1 each): per resource
  `(allocatable - requested) * 100 / allocatable` in integer arithmetic over the *non-zero* requests
  (100m cpu / 200Mi memory for containers that request nothing), 0 when over capacity.
"""

import numpy as np

from cluster.snapshot import Snapshot
from scoring.framework import MAX_NODE_SCORE, Failures, PodInfo

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"


def insufficient(resource: str) -> str:
    return f"Insufficient {resource}"


def least_allocated(requested: np.ndarray, allocatable: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`leastResourceScorer` over rows of nodes: resources with zero allocatable are left out."""
    valid = allocatable > 0
    safe = np.where(valid, allocatable, 1)
    per_resource = np.where(requested > allocatable, 0, (allocatable - requested) * MAX_NODE_SCORE // safe)
    weighted = (per_resource * weights * valid).sum(axis=1)
    weight_sum = (weights * valid).sum(axis=1)
    return np.where(weight_sum > 0, weighted // np.maximum(weight_sum, 1), 0)


class NodeResourcesFit:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        table = snapshot.table
        reasons: dict[int, list[str]] = {}
        too_many = snapshot.pod_count[candidates] + 1 > table.allowed_pods[candidates]
        for i in candidates[too_many]:
            reasons[int(i)] = [TOO_MANY_PODS]
        if pod.requests.any() or pod.unknown_resources:
            free = table.allocatable[candidates] - snapshot.requested[candidates]
            short = (pod.requests > 0) & (pod.requests > free)
            for row in np.flatnonzero(short.any(axis=1)):
                names = [insufficient(table.resources[r]) for r in np.flatnonzero(short[row])]
                reasons.setdefault(int(candidates[row]), []).extend(names)
            if pod.unknown_resources:
                missing = [insufficient(r) for r in pod.unknown_resources]
                for i in candidates:
                    reasons.setdefault(int(i), []).extend(missing)
        return {i: tuple(r) for i, r in reasons.items()}

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        allocatable = snapshot.table.allocatable[feasible, :2]
        requested = snapshot.non_zero[feasible] + pod.non_zero
        return least_allocated(requested, allocatable, np.ones(2, dtype=np.int64))


def new(_: dict) -> NodeResourcesFit:
    return NodeResourcesFit()
