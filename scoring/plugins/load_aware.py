"""LoadAwareScheduling: Koordinator's load-aware filter and score, as a peer a user would pick instead of ours.

Written from koordinator v1.8.0-61-ga7a1b76b, `pkg/scheduler/plugins/loadaware/load_aware.go`,
`pod_assign_cache.go` and `estimator/default_estimator.go`, with the defaults of
`pkg/scheduler/apis/config/v1/defaults.go`:
- a node's estimated use is its measured usage plus, for every pod assigned after the NodeMetric's update
  time less its report interval, the default estimator's usage (requests scaled by 85 % for CPU and 70 % for
  memory; 250 m and 200 MiB when none), plus the incoming pod's estimate;
- Filter: a node whose estimated use exceeds the usage thresholds (65 % CPU, 95 % memory) is unschedulable;
- Score: `leastUsedScore` per resource, `(allocatable - used) * 100 / allocatable` (0 when over), averaged
  with weights 1 and 1 (integer arithmetic as upstream); a node without telemetry scores 0 and is not
  filtered, as upstream treats a missing NodeMetric.

Measured usage comes from the NodeState as published (`Snapshot.fresh.measured`: this plugin runs its own
estimator, not ours), the report interval is the NodeState's window. The NodeState contract carries no
memory usage, so memory takes upstream's fallback for a node that reports no usage: the estimate of every
pod on it (`nodeEstimated`).
"""

import numpy as np

from cluster.estimate import cpu_estimate, memory_estimate
from cluster.nodestate import METRIC_NAMES
from cluster.snapshot import Snapshot
from scoring.framework import MAX_NODE_SCORE, Failures, PodInfo

NAME = "LoadAwareScheduling"
USAGE_THRESHOLDS_PERCENT = (65, 95)
"""CPU, memory: `defaultUsageThresholds`."""
RESOURCE_WEIGHTS = (1, 1)
"""CPU, memory: `defaultResourceWeights`."""
DEFAULT_REPORT_INTERVAL_SECONDS = 60.0
"""`DefaultNodeMetricReportInterval`, for a NodeState that gives no window."""
_CPU = METRIC_NAMES.index("cpu_utilization")
_RESOURCES = ("cpu", "memory")


def least_used_score(used: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """`leastUsedScore`: (capacity - used) * 100 / capacity in integers; 0 when over capacity or none."""
    safe = np.where(capacity > 0, capacity, 1)
    score = (capacity - used) * MAX_NODE_SCORE // safe
    return np.where((capacity > 0) & (used <= capacity), score, 0).astype(np.int64)


def weighted_score(
    used: np.ndarray, allocatable: np.ndarray, weights: tuple[int, ...] = RESOURCE_WEIGHTS
) -> np.ndarray:
    """`loadAwareSchedulingScorer` without a dominant weight: rows of per-resource use, integer weighted mean."""
    total = sum(least_used_score(used[:, k], allocatable[:, k]) * w for k, w in enumerate(weights))
    return np.asarray(total // sum(weights), dtype=np.int64)


def estimated_used(pod: PodInfo, snapshot: Snapshot, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node at `indices`: (whether it has telemetry, [cpu millicores, memory bytes] estimated in use with
    the pod placed)."""
    fresh, measured = snapshot.fresh, snapshot.published
    usage = measured.metrics[indices, _CPU, 0]
    known = ~np.isnan(measured.timestamps[indices]) & ~np.isnan(usage)
    allocatable = snapshot.table.allocatable[indices, :2].astype(float)
    cpu = np.where(known, usage, 0.0) * allocatable[:, 0]
    if fresh is not None and len(fresh.placed.pods):
        window = np.array([s.window_seconds or DEFAULT_REPORT_INTERVAL_SECONDS for s in measured.states])
        rows = fresh.since(measured.timestamps - window)
        cpu = cpu + fresh.per_node(rows, cpu_estimate(fresh.placed.cpu_request))[indices]
    requested = snapshot.requested[indices, 1].astype(float)
    defaulted = snapshot.non_zero[indices, 1] - snapshot.requested[indices, 1]
    memory = memory_estimate(requested) * (requested > 0) + defaulted
    incoming = (cpu_estimate(pod.requests[0].astype(float)), memory_estimate(pod.requests[1].astype(float)))
    return known, np.stack([cpu + incoming[0], memory + incoming[1]], axis=1)


class LoadAwareScheduling:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        known, used = estimated_used(pod, snapshot, candidates)
        allocatable = snapshot.table.allocatable[candidates, :2].astype(float)
        failures: Failures = {}
        for k, threshold in enumerate(USAGE_THRESHOLDS_PERCENT):
            with np.errstate(divide="ignore", invalid="ignore"):
                percent = np.round(used[:, k] / allocatable[:, k] * 100)
            over = known & (allocatable[:, k] > 0) & (percent > threshold)
            reason = (f"node(s) {_RESOURCES[k]} usage exceed threshold",)
            for i in candidates[over]:
                failures.setdefault(int(i), reason)
        return failures

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        known, used = estimated_used(pod, snapshot, feasible)
        allocatable = snapshot.table.allocatable[feasible, :2]
        scores = weighted_score(np.round(used).astype(np.int64), allocatable)
        return np.where(known, scores, 0)


def new(_: dict) -> LoadAwareScheduling:
    return LoadAwareScheduling()
