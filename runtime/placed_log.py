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
    of N decisions costs N appends, not N rebuilds. Removing and pruning rebuild (rare)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Pod, float]] = {}
        self._table: NodeTable | None = None
        self._oldest = float("inf")
        self._reset(64)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def _reset(self, capacity: int) -> None:
        self._count = 0
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
        if key in self._rows:
            self.remove(key)
        self._rows[sys.intern(key)] = (pod, at)
        self._append(pod, at)
        self._oldest = min(self._oldest, at)

    def _append(self, pod: Pod, at: float) -> None:
        if self._count == len(self._at):
            for name in ("_at", "_cpu", "_memory", "_noisy", "_busy", "_kind", "_workload", "_index"):
                old = getattr(self, name)
                grown = np.empty((2 * len(old), *old.shape[1:]), dtype=old.dtype)
                grown[: self._count] = old[: self._count]
                setattr(self, name, grown)
        k = self._count
        self._pods.append(pod)
        self._nodes.append(pod.node_name)
        r = estimate.row(pod)
        self._at[k], self._cpu[k], self._memory[k], self._noisy[k] = at, r.cpu, r.memory, r.noisy
        self._busy[k], self._kind[k], self._workload[k] = r.busy, r.kind, r.workload
        self._index[k] = self._table.index.get(pod.node_name, -1) if self._table is not None else -1
        self._count += 1

    def remove(self, key: str) -> None:
        """Forget a pod (a failed binding, a deleted pod)."""
        if self._rows.pop(key, None) is not None:
            self._rebuild()

    def prune(self, oldest: float) -> None:
        """Forget every placement made before `oldest` (older than any NodeState the estimate still counts from)."""
        if self._oldest < oldest:
            self._rows = {key: (pod, at) for key, (pod, at) in self._rows.items() if at >= oldest}
            self._rebuild()

    def _rebuild(self) -> None:
        self._reset(max(64, 2 * len(self._rows)))
        for pod, at in self._rows.values():
            self._append(pod, at)
        self._oldest = min((at for _, at in self._rows.values()), default=float("inf"))

    def view(self, table: NodeTable) -> estimate.Placed:
        """The logged placements as the estimate's columns, indexed by `table`'s nodes (no copy)."""
        if table is not self._table:
            self._table = table
            self._index = self._index.copy()  # earlier views keep the indices of their own table
            self._index[: self._count] = [table.index.get(name, -1) for name in self._nodes]
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
            index=self._index[:k],
            table=table,
        )
