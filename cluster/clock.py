"""The one clock adapter: everything that needs time takes a `Clock`.

Queues, backoff, breakers, caches and staleness checks read time through this protocol so that tests
advance a `FakeClock` instead of sleeping. Nothing else in the code base calls `time.time()`,
`time.monotonic()` or `time.sleep()`.
"""

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for intervals, and a sleep that honours both."""

    def now(self) -> float:
        """Seconds since the epoch (for timestamps that leave the process)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for `seconds`."""
        ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Wait for `event` at most `timeout` seconds; True when it was set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)


class FakeClock:
    """A clock that moves only when told to, for tests and simulations.

    `sleep` advances the clock instead of blocking, so code that backs off finishes at once and
    tests can assert how long it *would* have waited. `wait` returns at once as well: it reports
    whether the event is set and advances the clock by the timeout when it is not.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._mono = 1_000.0
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds > 0:
            self.advance(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout:
            self.advance(timeout)
        return event.is_set()
