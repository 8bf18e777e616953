"""kube-scheduler's `percentageOfNodesToScore`: in a large cluster, score only enough of the feasible nodes.

Upstream (`schedule_one.go`: `numFeasibleNodesToFind`, `findNodesThatPassFilters`) stops filtering once it
has found `nodes_to_find` feasible nodes, scanning the nodes in a ring from where the previous pod's scan
stopped, so that every node takes its turn. Under 100 nodes every node is scored. A percentage of 0 is
adaptive: 50 % less one point per 125 nodes, at least 5 %; and never fewer than 100 nodes. At 1,000 nodes
that is 420, at 5,000 nodes 500.

The filters here are vectorised and run on every node (their reasons are wanted for the FitError and the
decision's `unschedulable`), so the sample is taken from their result: the first `nodes_to_find` feasible
nodes in scan order from the ring's position, the nodes upstream would have kept. The ring then advances by
the nodes that scan examined, as upstream's `nextStartNodeIndex` does. `take` is pure; `Ring` holds the
position between pods.
"""

import threading
from dataclasses import dataclass

import numpy as np

MIN_FEASIBLE_NODES_TO_FIND = 100
"""Fewest nodes scored once a cluster has this many (upstream's `minFeasibleNodesToFind`)."""
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
"""Floor of the adaptive percentage (upstream's `minFeasibleNodesPercentageToFind`)."""
ADAPTIVE = 0
"""`percentage_of_nodes_to_score` that follows the cluster's size, as kube-scheduler's default does."""


def checked(percentage: int) -> int:
    """`percentage`, or ValueError naming the setting when it is outside 0 (adaptive) to 100."""
    if not 0 <= percentage <= 100:
        raise ValueError(f"percentage_of_nodes_to_score is {percentage}; it must be 0 (adaptive) to 100")
    return percentage


def nodes_to_find(percentage: int, num_nodes: int) -> int:
    """How many feasible nodes to score among `num_nodes` (upstream's `numFeasibleNodesToFind`, to the integer)."""
    checked(percentage)
    if num_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_nodes
    if percentage == ADAPTIVE:
        percentage = max(50 - num_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(frozen=True, eq=False)
class Sample:
    feasible: np.ndarray
    """The feasible nodes to score, ascending."""
    processed: int
    """Nodes the scan examined before it had enough (all of them when it never had)."""


def take(scanned: np.ndarray, feasible: np.ndarray, start: int, percentage: int) -> Sample:
    """The feasible nodes upstream would score: `scanned` are the node indices the filters ran on (ascending;
    a pre-filter may have narrowed them), `feasible` those that passed, `start` the ring's position."""
    wanted = nodes_to_find(percentage, len(scanned))
    if len(feasible) <= wanted:
        return Sample(feasible, len(scanned))
    order = np.roll(scanned, -(start % len(scanned)))
    passing = np.zeros(int(scanned[-1]) + 1, dtype=bool)  # indexed by node: cheaper than `np.isin`'s sort
    passing[feasible] = True
    passed = passing[order]
    last = int(np.flatnonzero(passed)[wanted - 1])
    return Sample(np.sort(order[: last + 1][passed[: last + 1]]), last + 1)


class Ring:
    """Where the next pod's scan starts; thread-safe, one per decision chain (upstream: one per scheduler)."""

    def __init__(self, percentage: int = ADAPTIVE) -> None:
        self.percentage = checked(percentage)
        self._start = 0
        self._lock = threading.Lock()

    def take(self, scanned: np.ndarray, feasible: np.ndarray, num_nodes: int) -> np.ndarray:
        """The feasible nodes to score this time; the ring moves on by what the scan examined, modulo the
        cluster's `num_nodes` (upstream's `nextStartNodeIndex`)."""
        if self.percentage == 100 or not len(scanned):
            return feasible
        with self._lock:
            sample = take(scanned, feasible, self._start, self.percentage)
            self._start = (self._start + sample.processed) % max(num_nodes, 1)
        return sample.feasible
