"""Trimaran's TargetLoadPacking score plugin, a peer a user would pick instead of ours.

Written from kubernetes-sigs/scheduler-plugins v0.35.4-devel-37-g903da7df, `pkg/trimaran/`
(`targetloadpacking/targetloadpacking.go`), with the defaults of `apis/config/v1/defaults.go`: predicted CPU =
measured utilisation + the incoming pod + every pod assigned after the window's end or less than 60 s before it,
each predicted as its CPU limit, else 1.5 x its request, else 1000 m; below the 40 % target the score rises
from 40 to 100 (packing), above it falls to 0 at 100 %.

It reads the node's `cpu_utilization` as published (`Snapshot.published`); a node without it scores the
minimum, 0, as upstream does without metrics. The parsed `Pod` keeps requests only, so it predicts from
requests.
"""

import numpy as np

from cluster.nodestate import METRIC_NAMES
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo

NAME = "TargetLoadPacking"
TARGET_UTILIZATION_PERCENT = 40
DEFAULT_REQUESTS_MILLI_CORES = 1000
DEFAULT_REQUESTS_MULTIPLIER = 1.5
METRICS_AGENT_REPORTING_INTERVAL_SECONDS = 60.0
_CPU = METRIC_NAMES.index("cpu_utilization")


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


class TargetLoadPacking:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        measured = snapshot.published
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


def new(_: dict) -> TargetLoadPacking:
    return TargetLoadPacking()
