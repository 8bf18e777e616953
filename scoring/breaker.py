"""A circuit breaker that never holds a lock across the guarded call, generic over a clock.

closed → open after `failure_threshold` consecutive failures → half-open once `reset_timeout`
seconds have passed, admitting one trial call → closed when the trial succeeds, open again when it
fails. While open, callers are refused without calling anything.

Unlike `pybreaker`, which holds one lock for the whole wrapped call and so serialises concurrent
calls, the breaker only *admits* (`acquire` returns a `Permit` or None) and *hears outcomes*
(`record`); the call runs between the two, unlocked. Results of calls admitted before the breaker
last opened are ignored, so a slow straggler cannot close or re-open it. The transitions are pure
functions over a frozen `BreakerState` (tested as a table); `CircuitBreaker` adds the lock, the clock
and a listener for state changes (logs, gauges). It knows nothing about LLMs: the transformer tier's
latency-budget breaker is the same object with "budget overrun" as the failure.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from cluster.clock import Clock
from telemetry.logs import fields
from telemetry.stats import Stats


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half-open"
    OPEN = "open"


@dataclass(frozen=True)
class Policy:
    failure_threshold: int
    """Consecutive failures that open the breaker."""
    reset_timeout: float
    """Seconds the breaker stays open before one trial call."""


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; hand it back through `record` (or `release` if no call was made)."""

    generation: int
    trial: bool = False


@dataclass(frozen=True)
class BreakerState:
    state: State = State.CLOSED
    failures: int = 0
    """Consecutive failures while closed."""
    opened_at: float = 0.0
    """Monotonic time the breaker last opened."""
    trial_in_flight: bool = False
    generation: int = 0
    """Bumped each time the breaker opens; permits from older generations no longer count."""


def admit(s: BreakerState, *, now: float, policy: Policy) -> tuple[BreakerState, Permit | None]:
    """May a call be made now? Past the open period the first caller becomes the half-open trial."""
    if s.state is State.CLOSED:
        return s, Permit(s.generation)
    if s.state is State.OPEN and now - s.opened_at < policy.reset_timeout:
        return s, None
    if s.trial_in_flight:
        return s, None
    return replace(s, state=State.HALF_OPEN, trial_in_flight=True), Permit(s.generation, trial=True)


def succeeded(s: BreakerState, permit: Permit) -> BreakerState:
    """A call admitted by `permit` succeeded."""
    if permit.generation != s.generation:
        return s
    if permit.trial:
        return BreakerState(generation=s.generation)
    return replace(s, failures=0) if s.state is State.CLOSED else s


def failed(s: BreakerState, permit: Permit, *, now: float, policy: Policy) -> BreakerState:
    """A call admitted by `permit` failed."""
    if permit.generation != s.generation:
        return s
    if permit.trial or (s.state is State.CLOSED and s.failures + 1 >= policy.failure_threshold):
        return BreakerState(state=State.OPEN, opened_at=now, generation=s.generation + 1)
    return replace(s, failures=s.failures + 1) if s.state is State.CLOSED else s


def released(s: BreakerState, permit: Permit) -> BreakerState:
    """A permit was not used: a released trial lets the next caller try instead."""
    if permit.trial and permit.generation == s.generation and s.state is State.HALF_OPEN:
        return replace(s, trial_in_flight=False)
    return s


@dataclass(frozen=True)
class Transition:
    name: str
    old: State
    new: State
    failures: int
    """Consecutive failures that led here (for the log line)."""


Listener = Callable[[Transition], None]


class CircuitBreaker:
    """Thread-safe; the lock covers a state update only, never the guarded call or the listener."""

    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int,
        reset_timeout: float,
        clock: Clock,
        listener: Listener | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("a breaker needs failure_threshold >= 1 and reset_timeout > 0")
        self.name = name
        self.policy = Policy(failure_threshold, reset_timeout)
        self.clock = clock
        self.listener = listener
        self._lock = threading.Lock()
        self._state = BreakerState()

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state.value!r})"

    @property
    def state(self) -> State:
        """The state as a caller would find it now (open turns half-open once its period is over)."""
        with self._lock:
            s = self._state
        if s.state is State.OPEN and self.clock.monotonic() - s.opened_at >= self.policy.reset_timeout:
            return State.HALF_OPEN
        return s.state

    def reopens_in(self) -> float:
        """Seconds until an open breaker admits its trial call (0 when it is not open)."""
        with self._lock:
            s = self._state
        if s.state is not State.OPEN:
            return 0.0
        return max(self.policy.reset_timeout - (self.clock.monotonic() - s.opened_at), 0.0)

    def acquire(self) -> Permit | None:
        """A permit to call now, or None while open (or while the half-open trial is in flight)."""
        return self._apply(lambda s: admit(s, now=self.clock.monotonic(), policy=self.policy))

    def record(self, permit: Permit, *, ok: bool) -> None:
        """The outcome of the call that `permit` admitted."""
        if ok:
            self._apply(lambda s: (succeeded(s, permit), None))
        else:
            self._apply(lambda s: (failed(s, permit, now=self.clock.monotonic(), policy=self.policy), None))

    def release(self, permit: Permit) -> None:
        """`permit` was not used for a call (nothing was learned about the endpoint)."""
        self._apply(lambda s: (released(s, permit), None))

    def _apply(self, step: Callable[[BreakerState], tuple[BreakerState, Permit | None]]) -> Permit | None:
        with self._lock:
            old = self._state
            new, permit = step(old)
            self._state = new
        if new.state is not old.state and self.listener is not None:
            self.listener(Transition(self.name, old.state, new.state, old.failures + (new.state is State.OPEN)))
        return permit


def reporting_listener(stats: Stats, tier: str, name: str, log: logging.Logger) -> Callable[[Transition], None]:
    """Logs each state change of a tier's breaker (`name`, e.g. "LLM circuit breaker") and feeds the
    tier's state gauge and trip counter."""

    def changed(transition: Transition) -> None:
        stats.breaker(tier, transition.new.value, tripped=transition.new is State.OPEN)
        level = logging.WARNING if transition.new is State.OPEN else logging.INFO
        log.log(
            level,
            "%s %s -> %s",
            name,
            transition.old.value,
            transition.new.value,
            extra=fields(event="breaker", tier=tier, state=transition.new.value, failures=transition.failures),
        )

    return changed
