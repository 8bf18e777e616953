"""Window statistics: per-second samples summarised into the contract's mean, std and p95.

Pure: the sampling loop adds samples with their monotonic time and asks for a summary; nothing here
reads a clock or a file.
"""

import math
from collections import deque
from collections.abc import Mapping, Sequence

from cluster.nodestate import Summary


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on values sorted ascending."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(values: Sequence[float]) -> Summary | None:
    """Mean, population standard deviation and 95th percentile; None for no values.

    The mean is clamped into [min, max] so that rounding can never push it outside the range every
    sample respected (a fraction's mean of 1.0 samples stays 1.0).
    """
    if not values:
        return None
    ordered = sorted(values)
    mean = min(max(math.fsum(values) / len(values), ordered[0]), ordered[-1])
    variance = math.fsum((value - mean) ** 2 for value in values) / len(values)
    return Summary(mean=mean, std=math.sqrt(variance), p95=percentile(ordered, 0.95))


class Window:
    """The samples of the last `seconds` per metric, keyed by the monotonic time they were taken."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"window must be positive seconds, got {seconds}")
        self.seconds = seconds
        self._samples: dict[str, deque[tuple[float, float]]] = {}

    def add(self, at: float, values: Mapping[str, float]) -> None:
        for metric, value in values.items():
            self._samples.setdefault(metric, deque()).append((at, value))

    def summary(self, now: float) -> dict[str, Summary]:
        """Evict samples older than the window, then summarise what is left (metrics with none are absent)."""
        horizon = now - self.seconds
        summaries: dict[str, Summary] = {}
        for metric, samples in self._samples.items():
            while samples and samples[0][0] <= horizon:
                samples.popleft()
            summary = summarise([value for _, value in samples])
            if summary is not None:
                summaries[metric] = summary
        return summaries
