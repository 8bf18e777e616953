"""What the pods placed since a node's last telemetry add to it: the assigned-pod estimate every tier reads.

Telemetry lags placement by a publication period (30 s by default, 60 s when an agent is late), so in a
burst every tier would keep choosing the node that looked quietest at the last publication. Koordinator's
LoadAware plugin meets this with an estimator of the pods assigned after the last NodeMetric
(koordinator v1.8.0-61-ga7a1b76b, `pkg/scheduler/plugins/loadaware/estimator/default_estimator.go` and
`pod_assign_cache.go`); this is the same idea, written for this project:

- a pod counts on its node when it was bound or assumed at or after the node's NodeState timestamp (the end
  of the window the state measures: a burst placed the instant telemetry was published is not in it); a newer
  NodeState drops it by itself, its timestamp passing the pod's placement time;
- CPU busy (`busy_milli`), by QoS class and workload class: a pod whose CPU limit exceeds its request may
  use its limit, and counts it whole (Koordinator's estimator does the same); otherwise its request times
  the class's share (`CLASS_CPU_PERCENT`: Koordinator's 85 % for latency-critical services, which idle
  between requests; what the simulator's profiles use of their request for the others); a pod with no
  CPU request counts Koordinator's 250 millicores. It raises `cpu_utilization` (mean and p95) by the
  added cores over the node's allocatable cores;
- counter pressure: a pod that declares `ai-scheduler.io/noisy` counts as its first declared kind in the
  simulator's order (membw, llc, cpu, io: the stressor the simulator runs for it) and raises each counter
  of `NOISY_ADDS` by that kind's fitted increment, scaled by its busy cores over the fitted pod's one
  core (its traffic and cache references grow with the CPU it runs). `NOISY_ADDS` is the output of
  `python -m training.estimate_fit` (seeded): per kind, the least-squares slope of each counter over
  0..4 such pods beside nginx on every server preset of `sim.hardware`, averaged; on the KubeMarla rig
  the simulator's slopes for one more L3 / memBW antagonist (LLC miss rate +0.067 / +0.010, memory
  bandwidth +0.11 / +0.12 of 20 GB/s) sit beside the measured ones (+0.058 / +0.012, +0.14 / +0.11).
  Unknown counters stay unknown, and every raised value stays in its valid range;
- every other pod raises the same counters by its workload class's increment per requested core
  (`CLASS_ADDS`, fitted the same way on the class's training profiles): every pod holds a cache footprint
  and moves memory, so replicas of one cache-hungry service placed together become each other's noisy
  neighbours though none of them declares itself noisy. Without it, every tier sent a burst's
  latency-critical pods to the node whose telemetry looked quietest (the mean regret of the heuristic
  tier on generated clusters of the training families fell from 0.88 to 0.62 with it).

No double count: `Snapshot.declared` holds every noisy pod on the node whatever its age, and
InterferenceAware (`scoring.pressure.node_pressure`) takes the *larger* of the declared pressure and the
telemetry pressure, never their sum; the estimate only makes the telemetry read as it will once it
catches up with the fresh pods. `Fresh.measured` keeps the telemetry as published for the peers that run
their own estimator. Pure: the placement times come from the scheduler's cache (`runtime.cache`).
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from cluster import resources
from cluster.metrics import Telemetry
from cluster.needs import DIMENSIONS, WorkloadClass, parse_needs
from cluster.nodestate import METRIC_NAMES, METRICS
from cluster.objects import Pod
from cluster.snapshot import DIM_INDEX, NodeTable, Snapshot

CPU_SCALING_PERCENT = 85
MEMORY_SCALING_PERCENT = 70
DEFAULT_MILLI_CPU = 250
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024
NOISY_METRICS = (
    "cpi",
    "llc_miss_rate",
    "llc_mpki",
    "llc_occupancy_ratio",
    "memory_bandwidth_gbps",
    "memory_bandwidth_ratio",
    "psi_cpu_some",
    "psi_io_some",
)
"""The counters a declared noisy pod raises, beside CPU use (which the CPU estimate raises)."""
NOISY_ORDER = ("membw", "llc", "cpu", "io")
"""Which declared kind a pod counts as when it declares several: the simulator's choice of stressor."""
NOISY_ADDS: dict[str, tuple[float, ...]] = {
    # kind:   cpi,   llc_miss_rate, llc_mpki, llc_occupancy_ratio, memory_bandwidth_gbps, _ratio, psi_cpu, psi_io
    "membw": (-0.178, 0.0055, 0.517, 0.243, 11.71, 0.108, 0.01, 0.0),
    "llc": (-0.090, 0.0614, 2.847, 0.296, 3.50, 0.032, 0.01, 0.0),
    "cpu": (-0.183, 0.0, -0.104, 0.003, 0.0, 0.0, 0.01, 0.0),
    "io": (0.066, 0.0336, 0.268, 0.013, 0.71, 0.007, 0.0, 31.6),
}
"""What one declared noisy pod of a kind, busy one core, adds to each of `NOISY_METRICS`: fitted by
`training.estimate_fit` on the simulator (seeds 11-13, 0..4 pods, five server presets), rounded."""
FITTED_MILLI_CPU = 1000
"""The busy CPU of the pods `NOISY_ADDS` was fitted with."""
CLASS_ADDS: dict[WorkloadClass, tuple[float, ...]] = {
    # columns: NOISY_METRICS (cpi, llc miss rate, mpki, occupancy, memory GB/s, its ratio, psi_cpu, psi_io)
    WorkloadClass.LATENCY_CRITICAL: (-0.185, 0.0010, 0.033, 0.168, 0.43, 0.004, 0.009, -0.020),
    WorkloadClass.THROUGHPUT: (0.080, 0.0287, 0.370, 0.101, 1.00, 0.010, 0.010, 5.55),
    WorkloadClass.BATCH: (0.005, 0.0231, 0.503, 0.047, 3.77, 0.034, 0.990, 1.26),
    WorkloadClass.BEST_EFFORT: (0.197, 0.0005, -0.023, 0.025, 0.02, 0.0, 0.019, -0.043),
}
"""What one pod that declares no noisy kind adds to each of `NOISY_METRICS`, per requested core, by its workload
class: fitted by `training.estimate_fit` on the simulator's training profiles of the class (never an evaluation
profile or a stressor), each at its reference request, beside nginx on every server preset, rounded. Every pod
holds a cache footprint and moves memory; replicas of one cache-hungry service placed together thrash each other
though none of them is declared noisy."""
CLASS_CPU_PERCENT: dict[WorkloadClass, int] = {
    WorkloadClass.LATENCY_CRITICAL: CPU_SCALING_PERCENT,
    WorkloadClass.THROUGHPUT: 70,
    WorkloadClass.BATCH: 100,
    WorkloadClass.BEST_EFFORT: 100,
}
"""Share of its CPU request a pod of each class keeps busy: the simulator's throughput profiles use 60-80 %
of theirs, its batch and stressor profiles all of it."""
_CPU = METRIC_NAMES.index("cpu_utilization")
_MEAN, _P95 = 0, 2
_NOISY = np.array([NOISY_ADDS[kind] for kind in NOISY_ORDER])
_CLASS_ROWS = {c: i for i, c in enumerate(CLASS_ADDS)}
_CLASS = np.array(list(CLASS_ADDS.values()))
_NOISY_COLUMNS = [METRIC_NAMES.index(m) for m in NOISY_METRICS]
_LOW = np.array([METRICS[m].low + (1e-3 if METRICS[m].low_open else 0.0) for m in NOISY_METRICS])
_HIGH = np.array([np.inf if METRICS[m].high is None else METRICS[m].high for m in NOISY_METRICS])


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
    busy: np.ndarray
    """Estimated busy CPU per pod, millicores (`busy_milli`)."""
    kind: np.ndarray
    """Per pod: the row of `NOISY_ORDER` it counts as, -1 when it declares no noisy kind."""
    workload: np.ndarray
    """Per pod: the row of `CLASS_ADDS` (its workload class) it counts as when it declares no noisy kind."""
    index: np.ndarray | None = None
    """Each row's node index in `table`, when the builder knew it (the cache does)."""
    table: NodeTable | None = None

    @classmethod
    def of(cls, rows: Iterable[tuple[Pod, float]]) -> "Placed":
        """The columns of `(pod, placement time)` rows."""
        entries = list(rows)
        columns = [row(p) for p, _ in entries]
        return cls(
            pods=tuple(p for p, _ in entries),
            nodes=tuple(p.node_name for p, _ in entries),
            at=np.array([at for _, at in entries], dtype=float),
            cpu_request=np.array([r.cpu for r in columns], dtype=float),
            memory_request=np.array([r.memory for r in columns], dtype=float),
            noisy=np.array([r.noisy for r in columns], dtype=np.int64).reshape(len(entries), len(DIM_INDEX)),
            busy=np.array([r.busy for r in columns], dtype=float),
            kind=np.array([r.kind for r in columns], dtype=np.int64),
            workload=np.array([r.workload for r in columns], dtype=np.int64),
        )

    def indexed(self, table: NodeTable) -> np.ndarray:
        """Each row's node index in `table`, -1 where the node is gone."""
        if self.index is not None and self.table is table:
            return self.index
        return np.array([table.index.get(name, -1) for name in self.nodes], dtype=np.int64)


class Row(NamedTuple):
    """What the estimators read of one pod."""

    cpu: int
    """CPU request, millicores."""
    memory: int
    """Memory request, bytes."""
    noisy: tuple[int, ...]
    """Per interference dimension: does it declare itself noisy there."""
    busy: int
    """Estimated busy CPU, millicores (`busy_milli`)."""
    kind: int
    """The row of `NOISY_ORDER` it counts as, -1 for none."""
    workload: int
    """The row of `CLASS_ADDS` of its workload class."""


def busy_milli(pod: Pod, workload_class: WorkloadClass) -> int:
    """Millicores the pod keeps busy: its limit when above its request, else its request times its class's
    share, else Koordinator's 250 m (see the module docstring)."""
    request = pod.requests.get(resources.CPU, 0)
    limit = pod.limits.get(resources.CPU, 0)
    if limit > request:
        return limit
    if request > 0:
        return round(request * CLASS_CPU_PERCENT[workload_class] / 100)
    return DEFAULT_MILLI_CPU


def row(pod: Pod) -> Row:
    """The estimators' columns for one pod (its annotations parsed once, here)."""
    needs = parse_needs(pod).needs
    declared = {d.value for d in needs.noisy}
    kind = next((k for k, name in enumerate(NOISY_ORDER) if name in declared), -1)
    return Row(
        cpu=pod.requests.get(resources.CPU, 0),
        memory=pod.requests.get(resources.MEMORY, 0),
        noisy=tuple(int(d in needs.noisy) for d in DIMENSIONS),
        busy=busy_milli(pod, needs.workload_class),
        kind=kind,
        workload=_CLASS_ROWS[needs.workload_class],
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
    counters: np.ndarray
    """[nodes, len(NOISY_METRICS)]: what they add to each counter's mean (`counter_adds`), before clipping."""

    def since(self, cutoff: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
        """Per row of `placed`: on a known node and placed after that node's `cutoff` (at it too when
        `inclusive`; NaN counts nothing)."""
        known = self.index >= 0
        if not len(cutoff):
            return known
        limit = np.where(known, cutoff[np.maximum(self.index, 0)], np.nan)
        with np.errstate(invalid="ignore"):
            return known & ((self.placed.at >= limit) if inclusive else (self.placed.at > limit))

    def per_node(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per node: the sum of `values` over the selected `rows` of `placed`."""
        return np.bincount(self.index[rows], weights=values[rows], minlength=len(self.pods))


def counter_adds(kind: np.ndarray, workload: np.ndarray, busy: np.ndarray, cpu_request: np.ndarray) -> np.ndarray:
    """[pods, len(NOISY_METRICS)]: what each pod adds to each counter's mean: a declared noisy kind's fitted
    increment scaled by the pod's busy cores, else its class's increment scaled by its requested cores."""
    requested = np.where(cpu_request > 0, cpu_request, DEFAULT_MILLI_CPU) / FITTED_MILLI_CPU
    return np.where(
        (kind >= 0)[:, None],
        _NOISY[np.maximum(kind, 0)] * (busy / FITTED_MILLI_CPU)[:, None],
        _CLASS[workload] * requested[:, None],
    )


def raise_metrics(metrics: np.ndarray, cpu_fraction: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """A copy of [nodes, 11, 3] `metrics` with CPU use raised by `cpu_fraction` of each node and each of
    `NOISY_METRICS` by `counters` ([nodes, len(NOISY_METRICS)]), mean and p95, each kept in its valid range;
    unknown (NaN) values stay unknown."""
    out = metrics.copy()
    for stat in (_MEAN, _P95):
        out[:, _CPU, stat] = np.minimum(out[:, _CPU, stat] + cpu_fraction, 1.0)
        out[:, _NOISY_COLUMNS, stat] = np.clip(out[:, _NOISY_COLUMNS, stat] + counters, _LOW, _HIGH)
    return out


def apply(snapshot: Snapshot, placed: Placed) -> Snapshot:
    """`snapshot` with each node's telemetry raised by the pods placed since it, and the estimate attached."""
    n = len(snapshot)
    measured = snapshot.telemetry
    index = placed.indexed(snapshot.table)
    zeros = np.zeros(n)
    empty = Fresh(
        measured,
        placed,
        index,
        np.zeros(n, np.int64),
        zeros,
        zeros,
        np.zeros((n, len(DIM_INDEX))),
        np.zeros((n, len(NOISY_METRICS))),
    )
    rows = np.flatnonzero(empty.since(measured.timestamps, inclusive=True))  # a window ends at its timestamp
    pods = np.bincount(index[rows], minlength=n)
    if not len(rows):
        return replace(snapshot, fresh=replace(empty, pods=pods))

    def per_node(values: np.ndarray) -> np.ndarray:  # `values` of the counted rows only: the log holds more
        return np.bincount(index[rows], weights=values, minlength=n)

    milli = per_node(placed.busy[rows])
    noisy = np.stack([per_node(placed.noisy[rows, d].astype(float)) for d in range(len(DIM_INDEX))], axis=1)
    memory = per_node(memory_estimate(placed.memory_request[rows]))
    per_pod = counter_adds(placed.kind[rows], placed.workload[rows], placed.busy[rows], placed.cpu_request[rows])
    counters = np.stack([per_node(per_pod[:, m]) for m in range(len(NOISY_METRICS))], axis=1)
    fresh = replace(empty, pods=pods, milli_cpu=milli, memory=memory, noisy=noisy, counters=counters)
    cores = snapshot.table.allocatable[:, 0].astype(float)
    added = np.where(cores > 0, milli / np.where(cores > 0, cores, 1.0), 0.0)
    telemetry = measured.raised(raise_metrics(measured.metrics, added, counters), np.column_stack([added, counters]))
    return replace(snapshot, telemetry=telemetry, fresh=fresh)


def summary(snapshot: Snapshot) -> dict[str, dict[str, float]]:
    """Per node with pods counted since its telemetry: how many, and what they add (CPU as a fraction of the
    node, the counters in their own units), as `decide --json` shows it; empty without an estimate."""
    fresh = snapshot.fresh
    if fresh is None:
        return {}
    cores = snapshot.table.allocatable[:, 0].astype(float)
    out: dict[str, dict[str, float]] = {}
    for i in np.flatnonzero(fresh.pods):
        entry: dict[str, float] = {"pods": int(fresh.pods[i])}
        entry["cpu_utilization"] = round(float(fresh.milli_cpu[i] / cores[i]), 4) if cores[i] > 0 else 0.0
        known = ~np.isnan(fresh.measured.metrics[i, _NOISY_COLUMNS, _MEAN])
        entry |= {
            m: round(float(v), 4) for m, v, k in zip(NOISY_METRICS, fresh.counters[i], known, strict=True) if k and v
        }
        out[snapshot.names[i]] = entry
    return out
