"""Trimaran's LoadVariationRiskBalancing score plugin, a peer a user would pick instead of ours.

Written from kubernetes-sigs/scheduler-plugins v0.35.4-devel-37-g903da7df, `pkg/trimaran/` (`resourcestats.go`,
`loadvariationriskbalancing/analysis.go` and `loadvariationriskbalancing.go`), with the defaults of
`apis/config/v1/defaults.go`: per resource, `mu = (used average + pod request) / capacity` and
`sigma = (used stdev / capacity) ^ (1 / sensitivity) * margin` (both clipped to 0..1), score
`(1 - (mu + sigma) / 2) * 100`; the node's score is the lower of CPU and memory, or the one that is known.
Defaults: margin 1, sensitivity 1. It estimates nothing for the pods placed since the measurement.

It reads the node's `cpu_utilization` window (mean and std) as published (`Snapshot.published`); a node without
it scores the minimum, 0, as upstream does without metrics. The NodeState contract carries no memory
utilisation, so it scores CPU alone, as upstream does when the memory metric is missing.
"""

import numpy as np

from cluster.nodestate import METRIC_NAMES
from cluster.snapshot import Snapshot
from scoring.framework import MAX_NODE_SCORE, PodInfo

NAME = "LoadVariationRiskBalancing"
SAFE_VARIANCE_MARGIN = 1.0
SAFE_VARIANCE_SENSITIVITY = 1.0
_CPU = METRIC_NAMES.index("cpu_utilization")


def risk_score(
    capacity: np.ndarray,
    request: np.ndarray,
    used_avg: np.ndarray,
    used_stdev: np.ndarray,
    *,
    margin: float = SAFE_VARIANCE_MARGIN,
    sensitivity: float = SAFE_VARIANCE_SENSITIVITY,
) -> np.ndarray:
    """`computeScore`: (1 - risk) * 100 with risk = (mu + sigma) / 2; 0 where the capacity is not positive."""
    safe = np.where(capacity > 0, capacity, 1.0)
    used_avg = np.clip(used_avg, 0.0, np.maximum(capacity, 0.0))
    used_stdev = np.clip(used_stdev, 0.0, np.maximum(capacity, 0.0))
    mu = np.clip((used_avg + np.maximum(request, 0.0)) / safe, 0.0, 1.0)
    sigma = np.clip(used_stdev / safe, 0.0, 1.0)
    if sensitivity >= 0:
        sigma = np.power(sigma, 1.0 / sensitivity)
    sigma = np.clip(sigma * margin, 0.0, 1.0)
    return np.where(capacity > 0, (1.0 - (mu + sigma) / 2) * MAX_NODE_SCORE, 0.0)


class LoadVariationRiskBalancing:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        cpu = snapshot.published.metrics[feasible, _CPU]
        capacity = snapshot.table.allocatable[feasible, 0].astype(float)
        known = ~np.isnan(cpu[:, 0])
        mean, std = np.nan_to_num(cpu[:, 0]), np.nan_to_num(cpu[:, 1])
        scores = risk_score(capacity, np.full(len(feasible), float(pod.requests[0])), mean * capacity, std * capacity)
        return np.where(known, np.round(scores), 0).astype(np.int64)


def new(_: dict) -> LoadVariationRiskBalancing:
    return LoadVariationRiskBalancing()
