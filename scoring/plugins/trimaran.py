"""Trimaran's load-aware score plugins, as peers a user would pick instead of ours (registered through
`load_variation_risk_balancing` and `target_load_packing`, one module per plugin name).

Written from kubernetes-sigs/scheduler-plugins v0.35.4-devel-37-g903da7df, `pkg/trimaran/`
(`resourcestats.go`, `loadvariationriskbalancing/analysis.go` and `loadvariationriskbalancing.go`,
`targetloadpacking/targetloadpacking.go`), with the defaults of `apis/config/v1/defaults.go`:

- LoadVariationRiskBalancing: per resource, `mu = (used average + pod request) / capacity` and
  `sigma = (used stdev / capacity) ^ (1 / sensitivity) * margin` (both clipped to 0..1), score
  `(1 - (mu + sigma) / 2) * 100`; the node's score is the lower of CPU and memory, or the one that is known.
  Defaults: margin 1, sensitivity 1. It estimates nothing for the pods placed since the measurement.
- TargetLoadPacking: predicted CPU = measured utilisation + the incoming pod + every pod assigned after the
  window's end or less than 60 s before it, each predicted as its CPU limit, else 1.5 x its request, else
  1000 m; below the 40 % target the score rises from 40 to 100 (packing), above it falls to 0 at 100 %.

Both read the node's `cpu_utilization` window (mean and std) from the NodeState as published
(`Snapshot.fresh.measured`); a node without it scores the minimum, 0, as upstream does without metrics. The
NodeState contract carries no memory utilisation, so LoadVariationRiskBalancing scores CPU alone, as
upstream does when the memory metric is missing. The parsed `Pod` keeps requests only, so
TargetLoadPacking predicts from requests.
"""

import numpy as np

from cluster.nodestate import METRIC_NAMES
from cluster.snapshot import Snapshot, Telemetry
from scoring.framework import MAX_NODE_SCORE, PodInfo

LVRB = "LoadVariationRiskBalancing"
TLP = "TargetLoadPacking"
SAFE_VARIANCE_MARGIN = 1.0
SAFE_VARIANCE_SENSITIVITY = 1.0
TARGET_UTILIZATION_PERCENT = 40
DEFAULT_REQUESTS_MILLI_CORES = 1000
DEFAULT_REQUESTS_MULTIPLIER = 1.5
METRICS_AGENT_REPORTING_INTERVAL_SECONDS = 60.0
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


def packing_score(
    utilization_percent: np.ndarray,
    capacity_milli: np.ndarray,
    predicted_milli: np.ndarray,
    *,
    target: float = TARGET_UTILIZATION_PERCENT,
) -> np.ndarray:
    """TargetLoadPacking's score from the node's measured CPU % and the millicores predicted to arrive."""
    used = utilization_percent / 100 * capacity_milli
    safe = np.where(capacity_milli > 0, capacity_milli, 1.0)
    predicted = np.where(capacity_milli > 0, 100 * (used + predicted_milli) / safe, 0.0)
    below = np.round((100 - target) * predicted / target + target)
    above = np.where(predicted > 100, 0.0, np.round(target * (100 - predicted) / (100 - target)))
    return np.where(predicted > target, above, below).astype(np.int64)


def predict_milli(cpu_requests: np.ndarray) -> np.ndarray:
    """`PredictUtilisation` from requests: 1.5 x the request, 1000 m when none."""
    return np.where(
        cpu_requests > 0, np.round(cpu_requests * DEFAULT_REQUESTS_MULTIPLIER), DEFAULT_REQUESTS_MILLI_CORES
    )


def _measured(snapshot: Snapshot) -> Telemetry:
    return snapshot.fresh.measured if snapshot.fresh is not None else snapshot.telemetry


class LoadVariationRiskBalancing:
    name = LVRB

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        cpu = _measured(snapshot).metrics[feasible, _CPU]
        capacity = snapshot.table.allocatable[feasible, 0].astype(float)
        known = ~np.isnan(cpu[:, 0])
        mean, std = np.nan_to_num(cpu[:, 0]), np.nan_to_num(cpu[:, 1])
        scores = risk_score(capacity, np.full(len(feasible), float(pod.requests[0])), mean * capacity, std * capacity)
        return np.where(known, np.round(scores), 0).astype(np.int64)


class TargetLoadPacking:
    name = TLP

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        measured = _measured(snapshot)
        utilization = measured.metrics[feasible, _CPU, 0]
        known = ~np.isnan(utilization)
        capacity = snapshot.table.allocatable[feasible, 0].astype(float)
        missing = np.zeros(len(snapshot))
        fresh = snapshot.fresh
        if fresh is not None and len(fresh.placed.pods):
            rows = fresh.since(measured.timestamps - METRICS_AGENT_REPORTING_INTERVAL_SECONDS)
            missing = fresh.per_node(rows, predict_milli(fresh.placed.cpu_request))
        incoming = predict_milli(np.array(float(pod.requests[0])))
        scores = packing_score(100 * np.nan_to_num(utilization), capacity, incoming + missing[feasible])
        return np.where(known, scores, 0).astype(np.int64)
