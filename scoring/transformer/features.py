"""Token rows for the transformer tier: one per candidate node, computed by the same function at training and serving.

Where it sits: the tier reads a decision's `Snapshot` and `PodInfo` into `NodeInputs` and `PodInputs`
and turns them into a float32 matrix with `tokens`. Training reaches the same two input types from the
simulator's clusters (through real `Snapshot`s), from the KubeMarla measurements and from the
collector's JSONL, and calls the same `tokens`, so the model sees in production exactly what it
learnt from. Pure numpy: never imports torch, never reads a file.

A token holds, for one node:
- per NodeState metric: whether it is known; mean, p95 and spread (t(mean + std) - t(mean)) on a
  per-metric scale t (log for CPI, log1p for MPKI and GB/s, log of 0.003 + CPU use, other fractions as they are,
  PSI / 100); and the mean's distance from the cluster's median (context given directly, because it carries
  across hardware generations). An unknown value takes the cluster's median (CONTRACTS §1: unknown is
  typical, never zero), or the training set's mean (0 after scaling) where no node knows it; the
  known flag keeps measured and filled-in values apart. The cluster is every node of the snapshot, so
  this part depends on the telemetry alone and is memoised per telemetry version;
- resources once the pod is placed: cpu, memory and pod-slot fractions, and the node's size;
- declared neighbours: per dimension, 1 - 0.5^count of pods that declare themselves noisy or sensitive;
- the heuristic's telemetry pressure per dimension (InterferenceAware's calibrated levels) and the
  worst of it on the pod's sensitive dimensions;
- the pod: class, sensitivity and noisy flags, log2 cpu and memory requests.
"""

from dataclasses import dataclass

import numpy as np

from cluster.metrics import Derivation
from cluster.needs import DIMENSIONS, Needs, WorkloadClass
from cluster.nodestate import LOG_FRACTION_OFFSET, METRIC_NAMES, METRICS
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.medians import Middle, known_medians, rows_brought_up_to_date
from scoring.pressure import telemetry_pressure

FEATURE_VERSION = 2
"""Bumped whenever a token's meaning changes; weights of another version are refused at load (2: CPU use on a log
scale)."""
READABLE_VERSIONS = (1, FEATURE_VERSION)
"""Feature versions of the collector's records that training reads: 1 upgraded by `upgraded_telemetry`."""

_KIND = np.array([METRICS[m].feature_scale for m in METRIC_NAMES])
_LOG, _LOG1P, _PERCENT, _LOG_FRACTION = _KIND == "log", _KIND == "log1p", _KIND == "percent", _KIND == "log_fraction"
_CLASSES = tuple(WorkloadClass)
_GIB = float(2**30)


def _names() -> tuple[str, ...]:
    names: list[str] = []
    for metric in METRIC_NAMES:
        names += [f"{metric}.known", f"{metric}.mean", f"{metric}.p95", f"{metric}.spread", f"{metric}.vs_median"]
    names += ["cpu_after", "memory_after", "slots_after", "log2_cpu_cores", "log2_memory_gib"]
    names += [f"noisy_neighbours.{d.value}" for d in DIMENSIONS]
    names += [f"sensitive_neighbours.{d.value}" for d in DIMENSIONS]
    names += [f"pressure.{d.value}" for d in DIMENSIONS] + ["pressure.worst_sensitive"]
    names += [f"pod.class.{c.value}" for c in _CLASSES]
    names += [f"pod.sensitive.{d.value}" for d in DIMENSIONS] + [f"pod.noisy.{d.value}" for d in DIMENSIONS]
    names += ["pod.log2_cpu_cores", "pod.log2_memory_gib"]
    return tuple(names)


FEATURE_NAMES: tuple[str, ...] = _names()


TELEMETRY_WIDTH = 5 * len(METRIC_NAMES)
_DECLARED = 1.0 - np.power(0.5, np.arange(65, dtype=float))
"""1 - 0.5^count for 0..64 declared pods (a table: a power per node and dimension costs more than the model)."""


def sanitize(metrics: np.ndarray) -> np.ndarray:
    """Metrics as floats with every NaN, infinite or negative value unknown (hardened input)."""
    m = np.asarray(metrics, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(m) & (m >= 0), m, np.nan)


def _log_fraction(values: np.ndarray) -> np.ndarray:
    return np.log(values + LOG_FRACTION_OFFSET)


def _transform(values: np.ndarray) -> np.ndarray:
    """Metric values ([..., 11], NaN unknown) each on its own scale; invalid values come out NaN."""
    out = np.array(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[..., _LOG] = np.log(out[..., _LOG])
        out[..., _LOG1P] = np.log1p(out[..., _LOG1P])
        out[..., _LOG_FRACTION] = _log_fraction(out[..., _LOG_FRACTION])
    out[..., _PERCENT] /= 100.0
    out[~np.isfinite(out)] = np.nan
    return out


def _transformed(metrics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node: [nodes, 3, 11] each metric's mean, p95 and spread (mean + std, less the mean) on its scale, and
    [nodes, 11] whether all three are known. Row by row: a node's rows depend on its own metrics only."""
    clean = sanitize(metrics)
    t = _transform(np.stack([clean[:, :, 0], clean[:, :, 2], clean[:, :, 0] + clean[:, :, 1]], axis=1))
    t[:, 2] -= t[:, 0]
    return t, np.isfinite(t).all(axis=1)


@dataclass(frozen=True, eq=False)
class _Context:
    """`cluster_telemetry`'s state: the transformed metrics, their medians and the features."""

    transformed: np.ndarray
    known: np.ndarray
    middle: Middle | None
    """Kept once the state has been brought up to date; a fresh state selects its medians directly (cheaper when
    no decision follows before the next publication)."""
    features: np.ndarray


def _columns(t: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[nodes, 33] the transformed metrics and their known flags, the columns the medians are taken over."""
    n, width = known.shape
    return t.reshape(n, 3 * width), np.tile(known, 3)


class ClusterTelemetry(Derivation[_Context, np.ndarray]):
    """[nodes, 55] float32 telemetry features of every node of a cluster ([nodes, 11, 3] metrics, NaN unknown).

    The context (the median that fills unknown values in) is the whole cluster. It depends on the
    telemetry only, so the tier memoises it per telemetry version (`Telemetry.derived`), and brings it up to
    date from the previous decision's when the estimate raised a few nodes' metrics since (`Derivation`).
    """

    def state(self, metrics: np.ndarray) -> _Context:
        t, known = _transformed(metrics)
        return _Context(t, known, None, _features(t, known, known_medians(*_columns(t, known))))

    def update(self, state: _Context, metrics: np.ndarray, rows: np.ndarray) -> _Context:
        before, known_before = _columns(state.transformed, state.known)
        t, known = state.transformed.copy(), state.known.copy()
        t[rows], known[rows] = _transformed(metrics[rows])
        previous = state.middle or Middle.of(before, known_before)
        middle = previous.updated(*_columns(t, known), (before[rows], known_before[rows]), rows)
        features = rows_brought_up_to_date(
            state.features,
            (previous.medians, middle.medians),
            rows,
            lambda at: _features(t[at], known[at], middle.medians),
        )
        return _Context(t, known, middle, features)

    def value(self, state: _Context) -> np.ndarray:
        return state.features


cluster_telemetry = ClusterTelemetry()


def _features(t: np.ndarray, known: np.ndarray, median: np.ndarray) -> np.ndarray:
    """The [nodes, 55] block from the transformed metrics and the cluster's medians of them."""
    n, width = known.shape
    values = t.reshape(n, 3 * width)
    filled = np.where(np.tile(known, 3), values, median)
    block = np.empty((n, width, 5), dtype=np.float32)
    block[:, :, 0] = known
    block[:, :, 1] = filled[:, :width]
    block[:, :, 2] = filled[:, width : 2 * width]
    block[:, :, 3] = filled[:, 2 * width :]
    block[:, :, 4] = np.where(known, t[:, 0] - median[:width], 0.0)
    return block.reshape(n, -1)


def upgraded_telemetry(telemetry: np.ndarray, version: int) -> np.ndarray:
    """[N, 55] telemetry features recorded under feature `version` (the collector's JSONL), as this version reads
    them, so that outcomes gathered before a change of scale still train; ValueError for a version it cannot read.

    1 read every `log_fraction` metric (CPU use) as a fraction: its mean, p95 and spread convert exactly, and its
    distance from the cluster's median through that median (exact but for the mean of two middle values in an
    even-sized cluster)."""
    if version == FEATURE_VERSION:
        return telemetry
    if version != 1:
        raise ValueError(f"feature version {version}: this build reads {READABLE_VERSIONS}")
    out = np.array(telemetry, dtype=float)
    for first in 5 * np.flatnonzero(_LOG_FRACTION):
        known, mean, p95, spread, vs_median = (out[:, first + i].copy() for i in range(5))
        with np.errstate(invalid="ignore"):
            log_mean = _log_fraction(mean)
            out[:, first + 1] = log_mean
            out[:, first + 2] = _log_fraction(p95)
            out[:, first + 3] = _log_fraction(mean + spread) - log_mean
            median = np.maximum(mean - vs_median, 0.0)
            out[:, first + 4] = np.where(known > 0, log_mean - _log_fraction(median), 0.0)
    return out


@dataclass(frozen=True, eq=False)
class NodeInputs:
    """What the tier reads about the candidate nodes, as arrays aligned with the candidates."""

    telemetry: np.ndarray
    """[N, 55] the nodes' rows of `cluster_telemetry` over their cluster."""
    pressure: np.ndarray
    """[N, 4] the nodes' rows of InterferenceAware's `telemetry_pressure` over their cluster."""
    allocatable: np.ndarray
    """[N, 2] cpu (millicores) and memory (bytes)."""
    requested: np.ndarray
    """[N, 2] what the pods already on the node request, same units."""
    pods: np.ndarray
    """[N] pods on the node."""
    max_pods: np.ndarray
    """[N] pods the node allows."""
    declared: np.ndarray
    """[N, 2, 4] pods declaring themselves sensitive (row 0) and noisy (row 1) per dimension."""

    def __len__(self) -> int:
        return len(self.pods)

    @classmethod
    def of(cls, snapshot: Snapshot, indices: np.ndarray) -> "NodeInputs":
        """The candidates at `indices` (node positions in the snapshot), in the context of the whole snapshot."""
        telemetry = snapshot.telemetry
        return cls(
            telemetry=telemetry.derived(cluster_telemetry)[indices],
            pressure=telemetry.derived(telemetry_pressure)[indices],
            allocatable=snapshot.table.allocatable[indices, :2],
            requested=snapshot.requested[indices, :2],
            pods=snapshot.pod_count[indices],
            max_pods=snapshot.table.allowed_pods[indices],
            declared=snapshot.declared[indices],
        )

    def measured(self) -> np.ndarray:
        """[N] whether any metric of the node is known (the telemetry block's known flags)."""
        return np.asarray(np.asarray(self.telemetry)[:, 0::5].any(axis=1))


@dataclass(frozen=True)
class PodInputs:
    """What the tier reads about the pod: CONTRACTS §2's needs and its cpu/memory requests."""

    workload_class: WorkloadClass
    sensitivity: tuple[bool, ...]
    noisy: tuple[bool, ...]
    """Per dimension in DIMENSIONS order."""
    cpu_millicores: float
    memory_bytes: float

    @classmethod
    def of(cls, pod: PodInfo) -> "PodInputs":
        return cls.of_needs(pod.needs, cpu_millicores=float(pod.requests[0]), memory_bytes=float(pod.requests[1]))

    @classmethod
    def of_needs(cls, needs: Needs, *, cpu_millicores: float, memory_bytes: float) -> "PodInputs":
        sensitive = tuple(d in needs.sensitivity for d in DIMENSIONS)
        noisy = tuple(d in needs.noisy for d in DIMENSIONS)
        return cls(needs.workload_class, sensitive, noisy, cpu_millicores, memory_bytes)

    def row(self) -> np.ndarray:
        """The pod's part of every token."""
        return np.array(
            [
                *(float(self.workload_class is c) for c in _CLASSES),
                *(float(f) for f in self.sensitivity),
                *(float(f) for f in self.noisy),
                np.log2(max(self.cpu_millicores, 10.0) / 1000.0),
                np.log2(max(self.memory_bytes, 2.0**20) / _GIB),
            ]
        )


@dataclass(frozen=True, eq=False)
class Scale:
    """Per-feature mean and standard deviation of the training tokens, saved with the weights."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray) -> "Scale":
        """From raw token rows ([rows, F], NaN where nothing was known); a constant feature keeps std 1."""
        known = ~np.isnan(raw)
        count = np.maximum(known.sum(axis=0), 1)
        mean = np.where(known, raw, 0.0).sum(axis=0) / count
        std = np.sqrt(np.where(known, (raw - mean) ** 2, 0.0).sum(axis=0) / count)
        return cls(mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32))


def _fraction(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 1 (full) where the node offers none, capped at 2."""
    return np.clip(np.divide(numerator, denominator, out=np.ones_like(numerator), where=denominator > 0), 0.0, 2.0)


def tokens(nodes: NodeInputs, pod: PodInputs, fill: np.ndarray | None = None) -> np.ndarray:
    """[N, F] float32 rows in FEATURE_NAMES order (unscaled: the model standardises them).

    A metric no node of the cluster knows is NaN here, or `fill` (the training mean, so it scales to 0) when given.
    """
    n = len(nodes)
    out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    out[:, :TELEMETRY_WIDTH] = nodes.telemetry
    at = TELEMETRY_WIDTH
    allocatable = np.asarray(nodes.allocatable, dtype=float)
    placed = np.asarray(nodes.requested, dtype=float) + np.array([pod.cpu_millicores, pod.memory_bytes])
    out[:, at] = _fraction(placed[:, 0], allocatable[:, 0])
    out[:, at + 1] = _fraction(placed[:, 1], allocatable[:, 1])
    out[:, at + 2] = _fraction(np.asarray(nodes.pods, dtype=float) + 1, np.asarray(nodes.max_pods, dtype=float))
    out[:, at + 3] = np.log2(np.maximum(allocatable[:, 0], 1.0) / 1000.0)
    out[:, at + 4] = np.log2(np.maximum(allocatable[:, 1], 2.0**20) / _GIB)
    at += 5
    declared = _DECLARED[np.clip(np.asarray(nodes.declared, dtype=np.int64), 0, len(_DECLARED) - 1)]
    out[:, at : at + 4] = declared[:, 1, :]
    out[:, at + 4 : at + 8] = declared[:, 0, :]
    at += 8
    out[:, at : at + 4] = nodes.pressure
    sensitive = np.array(pod.sensitivity, dtype=bool)
    out[:, at + 4] = np.asarray(nodes.pressure)[:, sensitive].max(axis=1) if sensitive.any() else 0.0
    at += 5
    out[:, at:] = pod.row()
    if fill is not None:
        np.copyto(out, np.broadcast_to(fill, out.shape), where=np.isnan(out))
    return out
