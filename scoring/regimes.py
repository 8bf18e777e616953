"""A node's contention regime from its NodeState: quiet, llc-, membw-, cpu- or io-bound, or unknown.

Shown per candidate in the transformer's decision JSON and offered to the LLM prompt as a hint. Each
dimension's level is InterferenceAware's calibrated reading of its signals (0 at the quiet level, 1
saturated; `(mean + p95) / 2`, the worst signal of the dimension), but *without* filling unknown
signals in: a regime is a statement about what was measured. A node is `<dim>-bound` when its worst
known level reaches `BOUND_LEVEL` (the worst dimension names it: interference is not additive),
`quiet` when nothing reaches it and both its CPU and its cache or memory-bandwidth signals are known,
and `unknown` otherwise (too little measured to call it quiet). CPI is not read: it falls under
CPU-bound antagonists, so neither direction is safe (data/README.md).

Pure numpy; `regimes` is shaped for `Telemetry.derived`, so labels are computed once per telemetry.
"""

from enum import StrEnum

import numpy as np

from cluster.needs import DIMENSIONS, Dimension
from cluster.snapshot import DIM_INDEX
from scoring.pressure import dimension_levels, signal_levels, signal_readings

BOUND_LEVEL = 0.35
"""Level (0 quiet .. 1 saturated) from which a dimension dominates a node."""


class Regime(StrEnum):
    QUIET = "quiet"
    LLC = "llc-bound"
    MEMBW = "membw-bound"
    CPU = "cpu-bound"
    IO = "io-bound"
    UNKNOWN = "unknown"


BOUND: dict[Dimension, Regime] = {
    Dimension.LLC: Regime.LLC,
    Dimension.MEMBW: Regime.MEMBW,
    Dimension.CPU: Regime.CPU,
    Dimension.IO: Regime.IO,
}
_LABELS = np.array([BOUND[d].value for d in DIMENSIONS])


def levels(metrics: np.ndarray) -> np.ndarray:
    """[nodes, 4] level per dimension (DIMENSIONS order) from [nodes, 11, 3] metrics; NaN where no signal is known."""
    return dimension_levels(signal_levels(signal_readings(metrics)))


def classify(level: np.ndarray) -> np.ndarray:
    """Labels for [nodes, 4] levels (see the module docstring)."""
    n = level.shape[0]
    known = ~np.isnan(level)
    worst = np.where(known, level, -1.0)
    top = worst.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    bound = worst[np.arange(n), top] >= BOUND_LEVEL
    enough = known[:, DIM_INDEX[Dimension.CPU]] & (
        known[:, DIM_INDEX[Dimension.LLC]] | known[:, DIM_INDEX[Dimension.MEMBW]]
    )
    labels = np.where(enough, Regime.QUIET.value, Regime.UNKNOWN.value).astype(object)
    labels[bound] = _LABELS[top[bound]]
    return labels


def regimes(metrics: np.ndarray) -> np.ndarray:
    """Label per node for a snapshot's metric matrix (use through `snapshot.telemetry.derived(regimes)`)."""
    return classify(levels(metrics))
