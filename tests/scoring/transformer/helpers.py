"""Builders for the transformer tier's tests: NodeStates, snapshots, requests and a fake predictor."""

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cluster.clock import FakeClock
from cluster.nodestate import NodeState, Summary
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.tiers import Request
from scoring.transformer import PROJECT_ROOT, evidence
from scoring.transformer.features import FEATURE_NAMES
from scoring.transformer.model import Predicted
from tests.builders import make_node, make_pod

SHIPPED = PROJECT_ROOT / "scoring" / "transformer" / "model.pt"
LATENCY_CRITICAL = {"ai-scheduler.io/workload-class": "latency-critical"}
QUIET = {
    "cpu_utilization": 0.2,
    "cpi": 0.9,
    "llc_miss_rate": 0.06,
    "llc_mpki": 1.0,
    "llc_occupancy_ratio": 0.3,
    "memory_bandwidth_ratio": 0.1,
    "psi_cpu_some": 1.0,
    "psi_memory_some": 0.5,
    "psi_io_some": 0.5,
}
"""A calm node with perf, resctrl occupancy and bandwidth ratio, and PSI (each counter source complete)."""
THRASHED = {**QUIET, "llc_miss_rate": 0.32, "llc_occupancy_ratio": 0.97, "llc_mpki": 14.0, "cpi": 1.8}
STREAMED = {**QUIET, "memory_bandwidth_ratio": 0.9, "psi_memory_some": 30.0}


def state(node: str, **metrics: float) -> NodeState:
    """A NodeState whose std is 5 % and p95 10 % above the mean of each given metric."""
    return NodeState(
        node=node,
        timestamp=1.8e9,
        metrics={
            m: Summary(v, 0.05 * v, min(v * 1.1, 1.0) if m == "cpu_utilization" else v * 1.1)
            for m, v in metrics.items()
        },
    )


def snapshot(states: Sequence[NodeState], pods: Sequence[Pod] = ()) -> Snapshot:
    nodes = [make_node(s.node, cpu="16", memory="64Gi") for s in states]
    return Snapshot.build(nodes, pods, states={s.node: s for s in states})


def request(pod: Pod, snap: Snapshot, *, deadline: float = float("inf")) -> Request:
    info = PodInfo.of(pod, snap)
    feasible = np.arange(len(snap), dtype=np.int64)
    return Request(info, snap, feasible, HeuristicTier().score(info, snap, feasible), deadline)


def latency_critical(name: str = "lc") -> Pod:
    return make_pod(name, cpu="500m", memory="512Mi", annotations=LATENCY_CRITICAL)


class FakePredictor:
    """Relative P99s (and harm, none unless given) from functions of the tokens; optionally advances a fake clock
    per call (a slow model)."""

    def __init__(
        self,
        slowdown: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        harm: Callable[[np.ndarray], np.ndarray] | None = None,
        clock: FakeClock | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.fill = np.zeros(len(FEATURE_NAMES), np.float32)
        self.calls = 0
        self._slowdown = slowdown or (lambda tokens: 1.0 + np.arange(len(tokens), dtype=float))
        self._harm = harm or (lambda tokens: np.zeros(len(tokens)))
        self._clock = clock
        self._seconds = seconds

    def predict(self, tokens: np.ndarray) -> Predicted:
        self.calls += 1
        if self._clock is not None:
            self._clock.advance(self._seconds)
        return Predicted(np.asarray(self._slowdown(tokens), dtype=float), np.asarray(self._harm(tokens), dtype=float))


def shipped() -> Path:
    return SHIPPED


def vouched(directory: Path) -> Path:
    """A copy of the shipped weights in `directory` whose evidence puts them in front of the heuristic tier, for
    tests of the transformer in the `auto` chain whatever the shipped evidence says."""
    weights = directory / "model.pt"
    shutil.copyfile(SHIPPED, weights)
    won = {"transformer": {evidence.METRIC: 0.1}, "heuristic": {evidence.METRIC: 0.2}}
    body = {"model_sha256": evidence.digest(weights), "families": {"near-full": won}}
    evidence.evidence_path(weights).write_text(json.dumps(body))
    return weights
