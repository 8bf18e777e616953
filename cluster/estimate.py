"""What the pods placed since a node's last telemetry add to it: the assigned-pod estimate every tier reads.

Telemetry lags placement by a publication period (30 s by default, 60 s when an agent is late), so in a
burst every tier would keep choosing the node that looked quietest at the last publication. Koordinator's
LoadAware plugin meets this with an estimator of the pods assigned after the last NodeMetric
(koordinator v1.8.0-61-ga7a1b76b, `pkg/scheduler/plugins/loadaware/estimator/default_estimator.go` and
`pod_assign_cache.go`); this is the same idea, written for this project:

- a pod counts on its node when it was bound or assumed after the node's NodeState timestamp;
- it adds the default estimator's usage: its CPU request scaled by 85 % and its memory request by 70 %
  (`defaultEstimatedScalingFactors`), or 250 millicores and 200 MiB when it requests none
  (`DefaultMilliCPURequest`, `DefaultMemoryRequest`). Koordinator scales the larger of request and limit;
  the parsed `Pod` keeps requests only, so requests are scaled;
- the estimate raises the node's `cpu_utilization` (mean and p95) by the added cores over its allocatable
  cores, so the heuristic's InterferenceAware, the transformer's features and the LLM prompt all read the
  estimated state without a change to their inputs or to the NodeState contract. The interference the
  fresh pods declare (`ai-scheduler.io/noisy`) already counts through `Snapshot.declared`, which holds
  every pod on the node whatever its age; `Fresh.noisy` says how many of those arrived since telemetry.

A newer NodeState drops a pod from the count by itself: its timestamp passes the pod's placement time.
Pure: the placement times come from the scheduler's cache (`runtime.cache`), which records them.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from cluster import resources
from cluster.nodestate import METRIC_NAMES
from cluster.objects import Pod
from cluster.snapshot import DIM_INDEX, NodeTable, Snapshot, Telemetry, declared_of

CPU_SCALING_PERCENT = 85
MEMORY_SCALING_PERCENT = 70
DEFAULT_MILLI_CPU = 250
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024
_CPU = METRIC_NAMES.index("cpu_utilization")
_MEAN, _P95 = 0, 2


def cpu_estimate(requests: np.ndarray) -> np.ndarray:
    """Millicores per pod from CPU requests: Koordinator's default estimator (85 %, 250 m when none)."""
    return np.where(requests > 0, np.round(requests * CPU_SCALING_PERCENT / 100), DEFAULT_MILLI_CPU)


def memory_estimate(requests: np.ndarray) -> np.ndarray:
    """Bytes per pod from memory requests: Koordinator's default estimator (70 %, 200 MiB when none)."""
    return np.where(requests > 0, np.round(requests * MEMORY_SCALING_PERCENT / 100), DEFAULT_MEMORY_BYTES)


@dataclass(frozen=True, eq=False)
class Placed:
    """Recently bound or assumed pods, one row each: what an estimator needs, as columns."""

    pods: tuple[Pod, ...]
    nodes: tuple[str, ...]
    at: np.ndarray
    cpu_request: np.ndarray
    memory_request: np.ndarray
    noisy: np.ndarray
    """[pods, 4]: the dimensions each pod declares itself noisy in."""
    index: np.ndarray | None = None
    """Each row's node index in `table`, when the builder knew it (the cache does)."""
    table: NodeTable | None = None

    @classmethod
    def of(cls, rows: Iterable[tuple[Pod, float]]) -> "Placed":
        """The columns of `(pod, placement time)` rows."""
        entries = list(rows)
        cpu, memory, noisy = zip(*(row(p) for p, _ in entries), strict=True) if entries else ((), (), ())
        return cls(
            pods=tuple(p for p, _ in entries),
            nodes=tuple(p.node_name for p, _ in entries),
            at=np.array([at for _, at in entries], dtype=float),
            cpu_request=np.array(cpu, dtype=float),
            memory_request=np.array(memory, dtype=float),
            noisy=np.array(noisy, dtype=np.int64).reshape(len(entries), len(DIM_INDEX)),
        )

    def indexed(self, table: NodeTable) -> np.ndarray:
        """Each row's node index in `table`, -1 where the node is gone."""
        if self.index is not None and self.table is table:
            return self.index
        return np.array([table.index.get(name, -1) for name in self.nodes], dtype=np.int64)


def row(pod: Pod) -> tuple[int, int, tuple[int, ...]]:
    """What the estimators read of a pod: its CPU and memory requests and its declared noisy dimensions."""
    return (
        pod.requests.get(resources.CPU, 0),
        pod.requests.get(resources.MEMORY, 0),
        tuple(int(v) for v in declared_of(pod)[1]),
    )


@dataclass(frozen=True, eq=False)
class Fresh:
    """Per node (aligned with the snapshot's names): the pods placed since its telemetry and their estimate."""

    measured: Telemetry
    """The telemetry as published, before the estimate (peers with their own estimators read this)."""
    placed: Placed
    index: np.ndarray
    """Per row of `placed`: its node's index in the snapshot, -1 when the node is gone."""
    pods: np.ndarray
    """Pods placed after the node's NodeState timestamp."""
    milli_cpu: np.ndarray
    """Their estimated CPU, millicores."""
    memory: np.ndarray
    """Their estimated memory, bytes."""
    noisy: np.ndarray
    """[nodes, 4]: how many of them declare themselves noisy in each interference dimension."""

    def since(self, cutoff: np.ndarray) -> np.ndarray:
        """Per row of `placed`: on a known node and placed after that node's `cutoff` (NaN counts nothing)."""
        known = self.index >= 0
        if not len(cutoff):
            return known
        limit = np.where(known, cutoff[np.maximum(self.index, 0)], np.nan)
        with np.errstate(invalid="ignore"):
            return known & (self.placed.at > limit)

    def per_node(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per node: the sum of `values` over the selected `rows` of `placed`."""
        return np.bincount(self.index[rows], weights=values[rows], minlength=len(self.pods))


def apply(snapshot: Snapshot, placed: Placed) -> Snapshot:
    """`snapshot` with each node's telemetry raised by the pods placed since it, and the estimate attached."""
    n = len(snapshot)
    measured = snapshot.telemetry
    index = placed.indexed(snapshot.table)
    empty = Fresh(
        measured, placed, index, np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.zeros((n, len(DIM_INDEX)))
    )
    rows = empty.since(measured.timestamps)
    pods = np.bincount(index[rows], minlength=n)
    if not pods.any():
        return replace(snapshot, fresh=replace(empty, pods=pods))
    milli = empty.per_node(rows, cpu_estimate(placed.cpu_request))
    noisy = np.stack([empty.per_node(rows, placed.noisy[:, d].astype(float)) for d in range(len(DIM_INDEX))], axis=1)
    memory = empty.per_node(rows, memory_estimate(placed.memory_request))
    fresh = replace(empty, pods=pods, milli_cpu=milli, memory=memory, noisy=noisy)
    cores = snapshot.table.allocatable[:, 0].astype(float)
    added = np.where(cores > 0, milli / np.where(cores > 0, cores, 1.0), 0.0)
    metrics = measured.metrics.copy()
    for stat in (_MEAN, _P95):
        metrics[:, _CPU, stat] = np.minimum(metrics[:, _CPU, stat] + added, 1.0)
    telemetry = Telemetry(measured.states, metrics, measured.timestamps)
    return replace(snapshot, telemetry=telemetry, fresh=fresh)
