"""The cluster's typical reading per column: the median of the known entries, exactly, and kept up to date as
a few rows change.

Unknown telemetry is filled with the cluster's median of that signal (`scoring.pressure`, the transformer's
features). Between two publications every decision sees the telemetry raised by the estimate of the pods placed
since (`cluster.estimate`), which differs from the previous decision's in the rows of the nodes that got a pod:
`Middle` keeps each column's values around its middle rank in order, so a changed row moves the median by
removing its old value and inserting its new one, and a full selection runs only when the middle drifts out of
that window. The medians are the same numbers a full selection gives (the same order statistics, averaged alike).
Pure numpy.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HALF_WINDOW = 24
"""Ordered values kept on each side of a column's middle: so many single-row changes in one direction before
the window is drawn again."""


def middle_ranks(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the ranks (from 0) of the two middle values among `count` known ones (equal when odd; 0 when
    none): the median is their mean."""
    return np.maximum((count - 1) // 2, 0), np.maximum(count // 2, 0)


def known_medians(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per column of [nodes, columns] `values`, the median of its `known` entries; NaN where it has none.

    It selects the middle ranks (a partition, contiguous per column) instead of sorting.
    """
    if not len(values):
        return np.full(values.shape[1], np.nan)
    count = known.sum(axis=0)
    low, high = middle_ranks(count)
    columns = np.where(known, values, np.inf).T.copy()
    columns.partition(np.unique(np.concatenate([low, high])), axis=1)
    rows = np.arange(columns.shape[0])
    return np.where(count > 0, (columns[rows, low] + columns[rows, high]) / 2, np.nan)


@dataclass(frozen=True, eq=False)
class Middle:
    """Per column: the known values of ranks `below` .. `below + length - 1` in ascending order (`window`, padded
    with +inf), how many known values there are, and their median. Known values must be finite (+inf pads)."""

    window: np.ndarray
    """[columns, width] ascending per column, +inf past `length`."""
    length: np.ndarray
    below: np.ndarray
    """Known values ranked before the window's first."""
    count: np.ndarray
    medians: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, known: np.ndarray) -> "Middle":
        """Selected from scratch: a partition at the window's edges, then the window sorted."""
        columns = values.shape[1]
        if not len(values):
            empty = np.zeros(columns, dtype=np.int64)
            return cls(np.full((columns, 0), np.inf), empty, empty, empty, np.full(columns, np.nan))
        count = known.sum(axis=0)
        low, high = middle_ranks(count)
        start = np.maximum(low - HALF_WINDOW, 0)
        stop = np.minimum(high + HALF_WINDOW + 1, count)
        ordered = np.where(known, values, np.inf).T.copy()
        ordered.partition(np.unique(np.concatenate([start, np.maximum(stop - 1, 0), low, high])), axis=1)
        width = min(2 * HALF_WINDOW + 2, values.shape[0])
        take = np.minimum(start[:, None] + np.arange(width), values.shape[0] - 1)
        window = np.take_along_axis(ordered, take, axis=1)
        window = np.where(np.arange(width) < (stop - start)[:, None], window, np.inf)
        window.sort(axis=1)
        return cls._finish(window, stop - start, start, count)

    @classmethod
    def _finish(cls, window: np.ndarray, length: np.ndarray, below: np.ndarray, count: np.ndarray) -> "Middle":
        low, high = (rank - below for rank in middle_ranks(count))
        rows = np.arange(window.shape[0])
        if window.shape[1]:  # ranks outside the window read its edge: `covers_middle` then sends for a new one
            last = window.shape[1] - 1
            at_low, at_high = window[rows, np.clip(low, 0, last)], window[rows, np.clip(high, 0, last)]
        else:
            at_low = at_high = np.full(window.shape[0], np.nan)
        medians = np.where(count > 0, (at_low + at_high) / 2, np.nan)
        return cls(window, length, below, count, medians)

    def covers_middle(self) -> bool:
        """Every column with known values has both middle ranks inside its window."""
        low, high = (rank - self.below for rank in middle_ranks(self.count))
        return bool(((self.count == 0) | ((low >= 0) & (high < self.length))).all())

    def replaced(self, old: np.ndarray, old_known: np.ndarray, new: np.ndarray, new_known: np.ndarray) -> "Middle":
        """The same columns with one row's entries changed from `old` to `new` ([columns] each, with their known
        flags). When the middle leaves the window, `covers_middle` turns False and `updated` selects anew."""
        window, length, below, count = self.window, self.length, self.below, self.count
        width = window.shape[1]
        positions = np.arange(width)
        above = count - below - length
        first = window[:, 0] if width else np.full(len(count), np.inf)
        last = np.take_along_axis(window, np.maximum(length - 1, 0)[:, None], axis=1)[:, 0] if width else first
        # Remove the old value: from the window when it lies within it (a copy is there: the window is contiguous).
        gone_below = old_known & (old < first) & (below > 0)
        gone_above = old_known & ~gone_below & (old > last) & (above > 0)
        gone_inside = old_known & ~gone_below & ~gone_above
        at = (window < old[:, None]).sum(axis=1)
        shift = gone_inside[:, None] & (positions >= at[:, None])
        source = np.minimum(positions + shift, width - 1)
        window = np.take_along_axis(window, source, axis=1)
        length = length - gone_inside
        window = np.where(positions < length[:, None], window, np.inf)
        below = below - gone_below
        count = count - old_known
        # Insert the new value: into the window unless it falls beyond an edge that has values past it.
        above = count - below - length
        first = window[:, 0] if width else np.full(len(count), np.inf)
        last = np.take_along_axis(window, np.maximum(length - 1, 0)[:, None], axis=1)[:, 0] if width else first
        to_below = new_known & (below > 0) & (new < first)
        to_above = new_known & ~to_below & (new > last) & ((above > 0) | (length >= width))
        to_inside = new_known & ~to_below & ~to_above  # into a full window, its last value then ranks past it
        at = (window < new[:, None]).sum(axis=1)
        shift = to_inside[:, None] & (positions > at[:, None])
        source = np.maximum(positions - shift, 0)
        inserted = np.take_along_axis(window, source, axis=1)
        inserted = np.where(to_inside[:, None] & (positions == at[:, None]), new[:, None], inserted)
        length = np.minimum(length + to_inside, width)
        inserted = np.where(positions < length[:, None], inserted, np.inf)
        return Middle._finish(inserted, length, below + to_below, count + new_known)

    def updated(
        self, values: np.ndarray, known: np.ndarray, old: tuple[np.ndarray, np.ndarray], rows: np.ndarray
    ) -> "Middle":
        """The medians once `rows` of the columns hold `values[rows]` (flags `known[rows]`) instead of `old` (the
        previous values and flags of those rows); selected anew from all of `values` when the window runs out."""
        middle = self
        for k, row in enumerate(rows):
            middle = middle.replaced(old[0][k], old[1][k], values[row], known[row])
            if not middle.covers_middle():
                return Middle.of(values, known)
        return middle


def rows_brought_up_to_date(
    previous: np.ndarray,
    medians: tuple[np.ndarray, np.ndarray],
    rows: np.ndarray,
    of: Callable[[np.ndarray | slice], np.ndarray],
) -> np.ndarray:
    """A value computed row by row from the rows and the medians (`of(selection)`), brought up to date once `rows`
    changed: when the medians (before, after) did not move, only those rows are computed again, the other rows
    kept from `previous` (the same bits as computing every row); else every row is. In a burst a decision raises
    one node of thousands, which often leaves every median where it was."""
    before, after = medians
    if not np.array_equal(before, after, equal_nan=True):
        return of(slice(None))
    value = previous.copy()
    value[rows] = of(rows)
    return value
