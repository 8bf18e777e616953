"""Interference pressure: how contended each node is, per dimension (llc, membw, cpu, io), in 0..1.

The vocabulary InterferenceAware scores with and the other tiers share (the transformer's features,
the regime labels, the LLM prompt):
- from telemetry (CONTRACTS §1): each signal maps linearly from a quiet level (0) to a saturated
  level (1), reading the window's tail as much as its mean (`(mean + p95) / 2`), since tail latency
  follows the spikes; a dimension's pressure is its worst signal;
- from the pods already on the node that declare `ai-scheduler.io/noisy` (CONTRACTS §2): 0.5 for one
  such neighbour, 0.75 for two, ... — telemetry lags a fresh placement by a window, declarations do
  not, so the two are combined by `max`.
Unknown telemetry is neither good nor bad: an unknown signal takes the cluster's median value of that
signal (its typical value), and a signal no node reports is left out.

The quiet/saturated levels come from the real measurements in `data/` (nginx under iBench
and stress-ng antagonists on an Intel NUC: LLC miss rate 0.05 idle to ~0.26 under four L3
antagonists; memory traffic 0.3 to 9+ GB/s) and from PSI's usual alerting levels (10 % some-stall
is noticeable, 50 % is severe). CPU utilisation counts from idle: every busy core is one a
latency-critical request may queue behind, long before saturation (Koordinator's LoadAware scores
usage from zero too), and on the NUC the C0 residency that orders its tests best of any counter spans
0.2 % to 41 %, where a quiet level of 60 % read every node as idle (the fine-tuning campaigns' pairs
went from 70 % to 74 % right when it stopped).
"""

from dataclasses import dataclass

import numpy as np

from cluster.metrics import Derivation
from cluster.needs import DIMENSIONS, Dimension
from cluster.nodestate import METRIC_NAMES
from cluster.snapshot import DIM_INDEX, Snapshot
from scoring.medians import Middle, known_medians, rows_brought_up_to_date

# A node's memory bandwidth when only GB/s is known (no resctrl ratio): the measured NUC's practical peak.
NOMINAL_PEAK_GBPS = 20.0


@dataclass(frozen=True)
class Signal:
    dimension: Dimension
    metric: str
    quiet: float
    saturated: float


SIGNALS: tuple[Signal, ...] = (
    Signal(Dimension.LLC, "llc_miss_rate", 0.05, 0.35),
    Signal(Dimension.LLC, "llc_mpki", 1.0, 15.0),
    Signal(Dimension.LLC, "llc_occupancy_ratio", 0.5, 1.0),
    Signal(Dimension.MEMBW, "memory_bandwidth_ratio", 0.25, 0.85),
    Signal(Dimension.MEMBW, "psi_memory_some", 5.0, 50.0),
    Signal(Dimension.CPU, "cpu_utilization", 0.0, 1.0),
    Signal(Dimension.CPU, "cpu_throttling_ratio", 0.05, 0.5),
    Signal(Dimension.CPU, "psi_cpu_some", 10.0, 60.0),
    Signal(Dimension.IO, "psi_io_some", 5.0, 50.0),
)
_M = {name: i for i, name in enumerate(METRIC_NAMES)}
_COLUMNS = [_M[s.metric] for s in SIGNALS]
_QUIET = np.array([s.quiet for s in SIGNALS])
_SPAN = np.array([s.saturated - s.quiet for s in SIGNALS])
_RATIO = next(i for i, s in enumerate(SIGNALS) if s.metric == "memory_bandwidth_ratio")
_BY_DIMENSION = [[i for i, s in enumerate(SIGNALS) if DIM_INDEX[s.dimension] == d] for d in range(len(DIMENSIONS))]


def _readings(metrics: np.ndarray, columns: list[int]) -> np.ndarray:
    """Per node and metric of `columns`: (mean + p95) / 2, NaN where unknown, non-finite or negative."""
    m = metrics[:, columns]
    with np.errstate(invalid="ignore"):
        value = (m[:, :, 0] + m[:, :, 2]) / 2
    return np.where(np.isfinite(value) & (value >= 0), value, np.nan)


def signal_readings(metrics: np.ndarray) -> np.ndarray:
    """[nodes, len(SIGNALS)] each signal's reading from [nodes, 11, 3] metrics, NaN where unknown; memory bandwidth
    as a share of peak falls back to GB/s over `NOMINAL_PEAK_GBPS` where only GB/s is known. Row by row."""
    metrics = np.asarray(metrics, dtype=float)
    readings = _readings(metrics, _COLUMNS)
    estimated = np.minimum(_readings(metrics, [_M["memory_bandwidth_gbps"]])[:, 0] / NOMINAL_PEAK_GBPS, 1.0)
    readings[:, _RATIO] = np.where(np.isnan(readings[:, _RATIO]), estimated, readings[:, _RATIO])
    return readings


def signal_levels(readings: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
    """Each reading's level, 0 quiet .. 1 saturated; an unknown one is NaN, or the signal's `fill` when given."""
    if fill is not None:
        readings = np.where(np.isnan(readings), fill, readings)
    return np.clip((readings - _QUIET) / _SPAN, 0.0, 1.0)


def dimension_levels(levels: np.ndarray) -> np.ndarray:
    """[nodes, 4] a dimension's level is its worst known signal's (DIMENSIONS order); NaN where none is known."""
    out = np.full((levels.shape[0], len(DIMENSIONS)), np.nan)
    for d, signals in enumerate(_BY_DIMENSION):
        if signals:
            out[:, d] = np.fmax.reduce(levels[:, signals], axis=1)
    return out


@dataclass(frozen=True, eq=False)
class _Readings:
    """`telemetry_pressure`'s state: the readings, their medians (kept once brought up to date) and the pressure."""

    readings: np.ndarray
    middle: Middle | None
    pressure: np.ndarray


class TelemetryPressure(Derivation[_Readings, np.ndarray]):
    """Pressure per node and dimension (shape [nodes, 4]) from NodeState metrics ([nodes, 11, 3], NaN unknown);
    an unknown reading counts as the cluster's median of that signal, and a dimension no node measures as 0.
    Memoised per telemetry version and brought up to date row by row (`Derivation`), like the transformer's."""

    def state(self, metrics: np.ndarray) -> _Readings:
        readings = signal_readings(metrics)
        return _Readings(readings, None, _pressure(readings, known_medians(readings, ~np.isnan(readings))))

    def update(self, state: _Readings, metrics: np.ndarray, rows: np.ndarray) -> _Readings:
        before = state.readings
        readings = before.copy()
        readings[rows] = signal_readings(metrics[rows])
        previous = state.middle or Middle.of(before, ~np.isnan(before))
        middle = previous.updated(readings, ~np.isnan(readings), (before[rows], ~np.isnan(before[rows])), rows)
        pressure = rows_brought_up_to_date(
            state.pressure, (previous.medians, middle.medians), rows, lambda at: _pressure(readings[at], middle.medians)
        )
        return _Readings(readings, middle, pressure)

    def value(self, state: _Readings) -> np.ndarray:
        return state.pressure


def _pressure(readings: np.ndarray, medians: np.ndarray) -> np.ndarray:
    return np.nan_to_num(dimension_levels(signal_levels(readings, medians)), nan=0.0)


telemetry_pressure = TelemetryPressure()


def declared_pressure(noisy_counts: np.ndarray) -> np.ndarray:
    """Pressure from neighbours that declare themselves noisy: 1 - 0.5^count per dimension."""
    return 1.0 - np.power(0.5, noisy_counts)


def node_pressure(snapshot: Snapshot, indices: np.ndarray) -> np.ndarray:
    """Combined pressure (telemetry and declarations) for the nodes at `indices`, shape [len, 4]."""
    measured = snapshot.telemetry.derived(telemetry_pressure)[indices]
    declared = declared_pressure(snapshot.declared[indices, 1, :])
    return np.maximum(measured, declared)
