"""The agent's sampling loop: every interval, sample each collector, window the values, hand on a NodeState.

Imperative shell around the pure parts: time comes from the injected `Clock` (a `FakeClock` drives it in
tests), readings from the injected collectors (fixture trees in tests), and each new NodeState goes to
the sinks (the Prometheus collector, the publisher, or `--once`'s printer). It never touches the network.
"""

import logging
import math
import threading
from collections.abc import Callable, Sequence

from agent.collector import Availability, Collector, missing_summary
from agent.window import Window
from cluster.clock import Clock
from cluster.nodestate import METRICS, NodeState

log = logging.getLogger(__name__)

Sink = Callable[[NodeState], object]
MIN_INTERVAL = 0.01
"""Seconds; one USER_HZ tick, the unit /proc/stat counts CPU time in: a shorter interval measures nothing
more and only spins the loop on the node it is meant to observe."""
MAX_SAMPLES_PER_WINDOW = 3600
"""An hour of the default 1 s samples: each keeps ~1 KB (eleven metrics) and every step sorts the window,
so a longer one would crowd the agent's 64 MiB limit and its CPU share."""


def check_cadence(window_seconds: float, interval: float) -> None:
    """ValueError saying why the loop cannot keep this cadence (NaN and infinity fail every bound)."""
    if not interval >= MIN_INTERVAL:
        raise ValueError(f"need interval >= {MIN_INTERVAL}s, got {interval}s")
    if not interval <= window_seconds:
        raise ValueError(f"need 0 < interval <= window, got interval {interval}s and window {window_seconds}s")
    if not window_seconds / interval <= MAX_SAMPLES_PER_WINDOW:
        raise ValueError(
            f"need at most {MAX_SAMPLES_PER_WINDOW} samples per window, got window {window_seconds}s "
            f"of {interval}s intervals"
        )


class Agent:
    """Samples `collectors` every `interval` seconds and summarises the last `window_seconds`."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        *,
        node: str,
        clock: Clock,
        window_seconds: float = 30.0,
        interval: float = 1.0,
        sinks: Sequence[Sink] = (),
    ) -> None:
        check_cadence(window_seconds, interval)
        self._collectors = tuple(collectors)
        self._node = node
        self._clock = clock
        self._window = Window(window_seconds)
        self._interval = interval
        self._sinks = tuple(sinks)
        self._produces: dict[str, tuple[str, ...]] = {}
        self._rejected: set[str] = set()

    @property
    def samples_per_window(self) -> int:
        return math.ceil(self._window.seconds / self._interval)

    def open(self) -> list[Availability]:
        """Probe every collector and log, once, what this node can and cannot report and why."""
        availabilities = [collector.open() for collector in self._collectors]
        self._produces = {a.source: a.metrics for a in availabilities}
        known = sorted(m for a in availabilities for m in a.metrics)
        log.info("node %s: reporting %s", self._node, ", ".join(known) or "no metric")
        summary = missing_summary(availabilities)
        if summary:
            log.warning("node %s: missing telemetry: %s", self._node, summary)
        return availabilities

    def step(self) -> NodeState:
        """Take one sample from every collector and return the NodeState over the window ending now."""
        now = self._clock.monotonic()
        for collector in self._collectors:
            self._window.add(now, self._valid(collector.sample(now)))
        metrics = self._window.summary(now)
        sources = {name: any(m in metrics for m in produced) for name, produced in self._produces.items()}
        state = NodeState(
            node=self._node,
            timestamp=self._clock.now(),
            window_seconds=self._window.seconds,
            metrics=metrics,
            sources=sources,
        )
        for sink in self._sinks:
            sink(state)
        return state

    def _valid(self, values: dict[str, float]) -> dict[str, float]:
        """Drop values outside the contract's range (warning once per metric): a bad sample is unknown."""
        valid: dict[str, float] = {}
        for metric, value in values.items():
            if METRICS[metric].accepts(value):
                valid[metric] = value
            elif metric not in self._rejected:
                self._rejected.add(metric)
                log.warning("node %s: dropping %s sample %r outside the contract's range", self._node, metric, value)
        return valid

    def run(self, stop: threading.Event, *, steps: int | None = None) -> NodeState | None:
        """Step on a fixed cadence until `stop` is set (or `steps` were taken); the last state.

        After a stall longer than an interval (a suspended node) the cadence restarts instead of
        catching up in a burst.
        """
        state: NodeState | None = None
        deadline = self._clock.monotonic()
        taken = 0
        while not stop.is_set():
            state = self.step()
            taken += 1
            if steps is not None and taken >= steps:
                break
            deadline += self._interval
            delay = deadline - self._clock.monotonic()
            if delay < -self._interval:
                deadline, delay = self._clock.monotonic(), 0.0
            if self._clock.wait(stop, max(delay, 0.0)):
                break
        return state

    def close(self) -> None:
        for collector in self._collectors:
            collector.close()
