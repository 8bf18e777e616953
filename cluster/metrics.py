"""Every node's NodeState as one metric matrix, and the values scorers derive from it.

`Telemetry` holds the matrix ([nodes, 11 metrics, 3 stats], NaN where unknown) that the snapshot carries. What a
scorer computes from it over the whole cluster (the transformer's features, InterferenceAware's pressure, the regime
labels) is memoised per telemetry version (`Telemetry.derived`). Between two publications each decision sees the
telemetry raised by the estimate of the pods placed since (`cluster.estimate`), which differs from the previous
decision's in the node that got the last pod: a `Derivation` is then brought up to date from the previous one's
state rather than computed for every node again.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from cluster import nodestate
from cluster.nodestate import METRIC_NAMES, STATS, NodeState

T = TypeVar("T")
S = TypeVar("S")


def _metric_row(state: NodeState) -> np.ndarray:
    row = np.full((len(METRIC_NAMES), len(STATS)), np.nan)
    for m, name in enumerate(METRIC_NAMES):
        summary = state.metrics.get(name)
        if summary is not None:
            row[m] = (summary.mean, summary.std, summary.p95)
    return row


MAX_UPDATED_ROWS = 8
"""Changed rows past which a `Derivation` is computed afresh rather than brought up to date (each changed row
costs about a tenth of a fresh computation at 1,000 nodes)."""


class Derivation(ABC, Generic[S, T]):
    """A value derived from the metric matrix, over the whole cluster (its medians), that can be brought up to date
    from an earlier telemetry's when only a few rows differ: `state` computes it afresh, `update` from the earlier
    state and the changed rows, and both must give the same `value`, to the bit."""

    @abstractmethod
    def state(self, metrics: np.ndarray) -> S: ...

    @abstractmethod
    def update(self, state: S, metrics: np.ndarray, rows: np.ndarray) -> S: ...

    @abstractmethod
    def value(self, state: S) -> T: ...

    def __call__(self, metrics: np.ndarray) -> T:
        return self.value(self.state(metrics))


@dataclass
class Basis:
    """An earlier telemetry of the same nodes and the rows in which this one differs from it. Held only until every
    `Derivation` it had is brought up to date, or the next telemetry is raised from this one (`forget`): a burst's
    estimates would otherwise chain every one before."""

    telemetry: "Telemetry | None"
    rows: np.ndarray

    def forget(self) -> None:
        self.telemetry = None


@dataclass(frozen=True, eq=False)
class Telemetry:
    """Every node's NodeState and its metric matrix ([nodes, 11 metrics, 3 stats], NaN where unknown)."""

    states: tuple[NodeState, ...]
    metrics: np.ndarray
    timestamps: np.ndarray
    """Per node: the NodeState's time, NaN where nothing is known."""
    basis: Basis | None = field(default=None, repr=False)
    """Set by `cluster.estimate` for telemetry raised from the previous decision's, so that a `Derivation`
    recomputes only the rows of the nodes that got a pod in between."""
    _derived: dict[object, object] = field(default_factory=dict, repr=False)
    _raised: list[tuple[np.ndarray, "Telemetry"]] = field(default_factory=list, repr=False)
    """The last telemetry `raised` from this one, with its key."""
    _forgotten: list[tuple[tuple[int, ...], "Telemetry"]] = field(default_factory=list, repr=False)
    """The last telemetry made from this one `forgetting` some rows, with them."""

    @classmethod
    def of(cls, states: Sequence[NodeState]) -> "Telemetry":
        rows = [_metric_row(s) for s in states]
        empty = np.zeros((0, len(METRIC_NAMES), len(STATS)))
        return cls(tuple(states), np.stack(rows) if rows else empty, _timestamps(states))

    def with_state(self, i: int, state: NodeState) -> "Telemetry":
        """This telemetry with node `i`'s NodeState replaced (a new publication: nothing derived carries over)."""
        states = (*self.states[:i], state, *self.states[i + 1 :])
        metrics = self.metrics.copy()
        metrics[i] = _metric_row(state)
        timestamps = self.timestamps.copy()
        timestamps[i] = _timestamps([state])[0]
        return Telemetry(states, metrics, timestamps)

    def forgetting(self, rows: tuple[int, ...]) -> "Telemetry":
        """This telemetry with the nodes at `rows` unknown (their NodeStates too old to count); the same object for
        the same rows as last time, so that what is derived from it, and raised from it, carries on."""
        last = self._forgotten[-1] if self._forgotten else None
        if last is not None and last[0] == rows:
            return last[1]
        metrics = self.metrics.copy()
        metrics[list(rows)] = np.nan
        states = list(self.states)
        for i in rows:
            states[i] = nodestate.unknown(states[i].node)
        timestamps = self.timestamps.copy()
        timestamps[list(rows)] = np.nan
        telemetry = Telemetry(tuple(states), metrics, timestamps)
        self._forgotten[:] = [(rows, telemetry)]
        return telemetry

    def raised(self, metrics: np.ndarray, key: np.ndarray) -> "Telemetry":
        """This telemetry with `metrics` (the estimate's raised copy) in place of its own; `key` [nodes, k] is what
        each node's raise was computed from. Rows whose key matches the last raise's hold the same metrics, so the
        new telemetry is brought up to date from that one (`Basis`), and is that one when no row differs."""
        last = self._raised[-1] if self._raised else None
        basis = None
        if last is not None and last[0].shape == key.shape:
            rows = np.flatnonzero((last[0] != key).any(axis=1))
            if not len(rows):
                return last[1]
            basis = Basis(last[1], rows)
            if last[1].basis is not None:
                last[1].basis.forget()
        telemetry = Telemetry(self.states, metrics, self.timestamps, basis=basis)
        self._raised[:] = [(key, telemetry)]
        return telemetry

    def derived(self, compute: "Callable[[np.ndarray], T] | Derivation[Any, T]") -> T:
        """`compute(metrics)`, once per telemetry version: scorers keep their per-node readings here, so
        successive decisions that only add pods do not recompute them."""
        if isinstance(compute, Derivation):
            return compute.value(self._state(compute))
        value = self._derived.get(compute)
        if value is None:
            value = compute(self.metrics)
            self._derived[compute] = value
        return value  # type: ignore[return-value]

    def _state(self, derivation: Derivation[S, Any]) -> S:
        state = self._derived.get(derivation)
        if state is None:
            basis = self.basis
            earlier = basis.telemetry if basis is not None and len(basis.rows) <= MAX_UPDATED_ROWS else None
            previous = earlier._derived.get(derivation) if earlier is not None else None
            if basis is not None and previous is not None:
                state = derivation.update(previous, self.metrics, basis.rows)  # type: ignore[arg-type]
            else:
                state = derivation.state(self.metrics)
            self._derived[derivation] = state
            if basis is not None and earlier is not None and _covers(self._derived, earlier._derived):
                basis.forget()  # nothing more to bring up to date from it: let it go
        return state  # type: ignore[return-value]


def _covers(derived: Mapping[object, object], earlier: Mapping[object, object]) -> bool:
    """Every `Derivation` computed for the earlier telemetry is computed for this one too."""
    return all(d in derived for d in list(earlier) if isinstance(d, Derivation))


def _timestamps(states: Sequence[NodeState]) -> np.ndarray:
    """NaN where nothing is known (never stale), -inf where a known state has no time (always stale)."""
    values = [np.nan if not s.known else -np.inf if s.timestamp is None else s.timestamp for s in states]
    return np.array(values, dtype=float).reshape(len(states))
