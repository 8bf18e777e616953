"""The pods placed recently, for the fresh-placement estimate (`cluster.estimate`): what the scheduler cache hands
each snapshot as `estimate.Placed`.
"""

import sys

import numpy as np

from cluster import estimate
from cluster.needs import DIMENSIONS
from cluster.objects import Pod
from cluster.snapshot import NodeTable


class PlacedLog:
    """The recently placed pods as growing columns: a snapshot takes a view of them, not a copy, so a burst
    of N decisions costs N appends, not N rebuilds. Forgetting rows (a removed pod, the age limit, a NodeState that
    no estimator looks back past) compacts the columns by a mask: nothing is parsed again."""

    def __init__(self) -> None:
        self._present: set[str] = set()
        self._table: NodeTable | None = None
        self._oldest = float("inf")
        self._reset(64)

    def __contains__(self, key: str) -> bool:
        return key in self._present

    def _reset(self, capacity: int) -> None:
        self._count = 0
        self._keys: list[str] = []
        self._pods: list[Pod] = []
        self._nodes: list[str] = []
        self._at = np.empty(capacity)
        self._cpu = np.empty(capacity)
        self._memory = np.empty(capacity)
        self._noisy = np.empty((capacity, len(DIMENSIONS)), dtype=np.int64)
        self._busy = np.empty(capacity)
        self._kind = np.empty(capacity, dtype=np.int64)
        self._workload = np.empty(capacity, dtype=np.int64)
        self._index = np.empty(capacity, dtype=np.int64)

    def add(self, key: str, pod: Pod, at: float) -> None:
        """Log `pod` (bound or assumed) as placed at `at`, replacing an earlier entry of the same key."""
        if key in self._present:
            self.remove(key)
        key = sys.intern(key)
        self._present.add(key)
        if self._count == len(self._at):
            for name in _COLUMNS:
                old = getattr(self, name)
                grown = np.empty((2 * len(old), *old.shape[1:]), dtype=old.dtype)
                grown[: self._count] = old[: self._count]
                setattr(self, name, grown)
        k = self._count
        self._keys.append(key)
        self._pods.append(pod)
        self._nodes.append(pod.node_name)
        r = estimate.row(pod)
        self._at[k], self._cpu[k], self._memory[k], self._noisy[k] = at, r.cpu, r.memory, r.noisy
        self._busy[k], self._kind[k], self._workload[k] = r.busy, r.kind, r.workload
        self._index[k] = self._table.index.get(pod.node_name, -1) if self._table is not None else -1
        self._count += 1
        self._oldest = min(self._oldest, at)

    def remove(self, key: str) -> None:
        """Forget a pod (a failed binding, a deleted pod)."""
        if key in self._present:
            self._present.discard(key)
            keep = np.ones(self._count, dtype=bool)
            keep[self._keys.index(key)] = False
            self._keep(keep)

    def prune(self, oldest: float) -> None:
        """Forget every placement made before `oldest` (older than any NodeState the estimate still counts from)."""
        if self._oldest < oldest:
            self._keep(self._at[: self._count] >= oldest)

    def supersede(self, table: NodeTable, cutoffs: np.ndarray) -> None:
        """Forget the placements made before their node's entry of `cutoffs` (aligned with `table`; NaN: keep).
        The cache passes each NodeState's timestamp less the longest look-back any estimator takes before it:
        a node's NodeStates only move forward, so such a row would never be counted again."""
        if not self._count or not len(cutoffs):
            return
        index = self._indices(table)
        known = index >= 0
        with np.errstate(invalid="ignore"):
            covered = known & (self._at[: self._count] < cutoffs[np.maximum(index, 0)])
        if covered.any():
            self._keep(~covered)

    def _keep(self, keep: np.ndarray) -> None:
        """Compact every column to the rows `keep` marks, into new arrays: earlier views keep their own rows."""
        positions = np.flatnonzero(keep)
        count = len(positions)
        capacity = max(64, 2 * count)
        for name in _COLUMNS:
            column = getattr(self, name)
            compact = np.empty((capacity, *column.shape[1:]), dtype=column.dtype)
            compact[:count] = column[positions]
            setattr(self, name, compact)
        self._keys = [self._keys[i] for i in positions]
        self._pods = [self._pods[i] for i in positions]
        self._nodes = [self._nodes[i] for i in positions]
        self._present = set(self._keys)
        self._count = count
        self._oldest = float(self._at[:count].min()) if count else float("inf")

    def _indices(self, table: NodeTable) -> np.ndarray:
        """Each row's node index in `table`, -1 where the node is gone (recomputed only when the table changes)."""
        if table is not self._table:
            self._table = table
            self._index = self._index.copy()  # earlier views keep the indices of their own table
            self._index[: self._count] = [table.index.get(name, -1) for name in self._nodes]
        return self._index[: self._count]

    def view(self, table: NodeTable) -> estimate.Placed:
        """The logged placements as the estimate's columns, indexed by `table`'s nodes (no copy)."""
        index = self._indices(table)
        k = self._count
        return estimate.Placed(
            pods=tuple(self._pods),
            nodes=tuple(self._nodes),
            at=self._at[:k],
            cpu_request=self._cpu[:k],
            memory_request=self._memory[:k],
            noisy=self._noisy[:k],
            busy=self._busy[:k],
            kind=self._kind[:k],
            workload=self._workload[:k],
            index=index,
            table=table,
        )


_COLUMNS = ("_at", "_cpu", "_memory", "_noisy", "_busy", "_kind", "_workload", "_index")
