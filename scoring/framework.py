"""Extension points, the 0..100 score range and the FitError message, defined once.

Mirrors `pkg/scheduler/framework/interface.go` and `types.go` (kube-scheduler v1.36), vectorised: a
filter sees every candidate node of the snapshot at once and returns the reasons of the ones that
fail; a score plugin returns one 0..100 score per feasible node after its own normalisation. The
runtime (`scoring.runtime`) runs them; plugins live one per module in `scoring.plugins`.
"""

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from cluster.needs import Needs, parse_needs
from cluster.objects import Pod
from cluster.snapshot import Snapshot

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

# kube-scheduler's FitError (pkg/scheduler/framework/types.go): "0/%v nodes are available" + ": reasons."
NO_NODE_AVAILABLE = "0/{} nodes are available"
# schedule_one.go's ErrNoNodesAvailable, for a cluster without nodes.
NO_NODES = "no nodes available to schedule pods"

Failures = dict[int, tuple[str, ...]]
"""Node index → the reasons it cannot run the pod."""


@dataclass(frozen=True, eq=False)
class PodInfo:
    """The incoming pod, pre-computed once per decision (kube-scheduler's PreFilter state)."""

    pod: Pod
    needs: Needs
    requests: np.ndarray
    unknown_resources: tuple[str, ...]
    non_zero: np.ndarray

    @classmethod
    def of(cls, pod: Pod, snapshot: Snapshot, needs: Needs | None = None) -> "PodInfo":
        """The pod against this snapshot; `needs` as already parsed for it (by the decision), else parsed here."""
        requests, unknown = snapshot.table.resource_vector(pod.requests)
        non_zero = np.array([pod.non_zero_requests["cpu"], pod.non_zero_requests["memory"]], dtype=np.int64)
        return cls(pod, parse_needs(pod).needs if needs is None else needs, requests, unknown, non_zero)


@runtime_checkable
class Plugin(Protocol):
    """What every plugin is: a name the profile and the decision's breakdown use."""

    name: str


@runtime_checkable
class PreFilterPlugin(Protocol):
    """Narrows the nodes worth filtering before any filter runs, or rejects the pod outright."""

    name: str

    def pre_filter(self, pod: PodInfo, snapshot: Snapshot) -> tuple[set[str] | None, str | None]:
        """(the only node names that may pass, None for all; a reason that rejects every node, None for none)."""
        ...


@runtime_checkable
class FilterPlugin(Protocol):
    """Decides which candidate nodes can run the pod at all."""

    name: str

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        """Reasons for every candidate (node indices) that cannot run the pod; absent means it can."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Ranks the feasible nodes."""

    name: str

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
        """Normalised 0..100 scores aligned with `feasible`, or None to skip this pod (upstream `Skip`)."""
        ...


class PluginModule(Protocol):
    """A module of `scoring.plugins`: the plugin's name and its factory (kube-scheduler's `New`)."""

    NAME: str

    def new(self, args: dict[str, Any], /) -> Plugin:
        """The plugin, configured by its profile arguments."""
        ...


class PluginError(RuntimeError):
    """A plugin broke its contract (for example a score outside 0..100)."""


def fail_all(indices: np.ndarray, reason: str) -> Failures:
    """The same single reason for each of `indices`."""
    reasons = (reason,)
    return {int(i): reasons for i in indices}


def default_normalize(scores: np.ndarray, *, reverse: bool) -> np.ndarray:
    """`helper.DefaultNormalizeScore`: scale to 0..100 by the maximum (integer), optionally reversed."""
    scores = scores.astype(np.int64)
    highest = int(scores.max()) if scores.size else 0
    if highest == 0:
        return np.full_like(scores, MAX_NODE_SCORE if reverse else 0)
    scaled = MAX_NODE_SCORE * scores // highest
    return MAX_NODE_SCORE - scaled if reverse else scaled


def fit_error(num_nodes: int, failures: Mapping[int, tuple[str, ...]]) -> str:
    """kube-scheduler's FitError message: reason counts, each "<count> <reason>", sorted as strings."""
    if num_nodes == 0:
        return NO_NODES
    counts = Counter(reason for reasons in failures.values() for reason in reasons)
    histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
    message = NO_NODE_AVAILABLE.format(num_nodes) + ":"
    if histogram:
        message += f" {', '.join(histogram)}."
    return message


V = TypeVar("V")


class NodeValues(Mapping[str, V], Generic[V]):
    """Values of the feasible nodes (scores, labels) keyed by name, built on first read.

    A decision carries every feasible node's score for `decide --json`, but the scheduler loop reads
    only the chosen one; building a thousand-entry dict per plugin per pod would cost more than
    deciding, so the mapping materialises lazily. `values` may be a function, called then: values
    that cost more than the decision's own work (every node's regime label) are computed only if read.
    """

    __slots__ = ("_built", "_decimals", "_feasible", "_names", "_values")

    def __init__(
        self,
        names: tuple[str, ...],
        feasible: np.ndarray,
        values: np.ndarray | Callable[[], np.ndarray],
        *,
        decimals: int | None,
    ) -> None:
        self._names = names
        self._feasible = feasible
        self._values = values
        self._decimals = decimals
        self._built: dict[str, V] | None = None

    def _dict(self) -> dict[str, V]:
        if self._built is None:
            values = self._values() if callable(self._values) else self._values
            values = values if self._decimals is None else np.round(values, self._decimals)
            ordered = [self._names[i] for i in self._feasible.tolist()]
            self._built = dict(zip(ordered, values.tolist(), strict=True))
        return self._built

    def __getitem__(self, node: str) -> V:
        return self._dict()[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._feasible)


class NodeScores(NodeValues[float]):
    """Scores of the feasible nodes (a subclass, not an alias: calling `NodeValues[float]` would cost every
    plugin of every pod the typing machinery's call)."""

    __slots__ = ()
