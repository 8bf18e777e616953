"""When to call the LLM again: tenacity strategies bounded by attempts *and* by the pod's deadline.

Retried: 429, 5xx and timeouts, and a dropped connection (the transport's form of a 503: a stale
pooled connection or a restarting server); never another 4xx, a malformed response or a refused
request, which would fail again. The wait is exponential with jitter, raised to a server's
`Retry-After` (seconds or an HTTP date); no retry starts whose wait would end past the deadline.
Pure strategies over `LLMCallError`; the only side effects are the injected clock's `sleep` and the
`on_retry` callback.
"""

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from cluster.clock import Clock
from llm.client import CallErrorKind, LLMCallError

T = TypeVar("T")

RETRYABLE = frozenset(
    {CallErrorKind.RATE_LIMITED, CallErrorKind.SERVER_ERROR, CallErrorKind.TIMEOUT, CallErrorKind.CONNECTION}
)
BACKOFF_BASE = 0.5
"""Seconds before the first retry (before jitter)."""
BACKOFF_MAX = 8.0
"""The longest backoff without a Retry-After."""
JITTER = 0.5
"""Up to this many seconds added at random, so replicas of the scheduler do not retry in step."""
MIN_ATTEMPT_SECONDS = 0.25
"""An attempt needs at least this long before the deadline to be worth starting."""


def retryable(error: BaseException) -> bool:
    return isinstance(error, LLMCallError) and error.kind in RETRYABLE


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """`Retry-After` as seconds from `now` (epoch seconds): delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


def backoff_seconds(retry_number: int, *, jitter: float) -> float:
    """The exponential wait before retry `retry_number` (1-based) plus `jitter` (0..JITTER)."""
    return min(BACKOFF_BASE * 2 ** (retry_number - 1), BACKOFF_MAX) + jitter


def wait_seconds(error: BaseException | None, retry_number: int, *, now: float, jitter: float) -> float:
    """The wait before retry `retry_number`: the backoff, or the server's Retry-After when that is longer."""
    wait = backoff_seconds(retry_number, jitter=jitter)
    if isinstance(error, LLMCallError):
        told = retry_after_seconds(error.retry_after, now=now)
        if told is not None:
            wait = max(wait, told)
    return wait


def past_deadline(*, now: float, wait: float, deadline: float) -> bool:
    """Would an attempt after `wait` seconds start too late to finish before `deadline`?"""
    return now + wait + MIN_ATTEMPT_SECONDS > deadline


class _Wait:
    def __init__(self, clock: Clock, rng: Callable[[], float]) -> None:
        self.clock = clock
        self.rng = rng

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return wait_seconds(error, state.attempt_number, now=self.clock.now(), jitter=self.rng() * JITTER)


class _StopAtDeadline(stop_base):
    def __init__(self, clock: Clock, deadline: float) -> None:
        self.clock = clock
        self.deadline = deadline

    def __call__(self, state: RetryCallState) -> bool:
        return past_deadline(now=self.clock.monotonic(), wait=state.upcoming_sleep, deadline=self.deadline)


def call(
    attempt: Callable[[], T],
    *,
    clock: Clock,
    deadline: float,
    max_retries: int,
    on_retry: Callable[[LLMCallError, float], None] | None = None,
    rng: Callable[[], float] = random.random,
) -> T:
    """`attempt()` until it succeeds, fails for good, runs out of retries or of time; the last error is raised."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if on_retry is not None and isinstance(error, LLMCallError):
            on_retry(error, state.upcoming_sleep)

    retrying = Retrying(
        retry=retry_if_exception(retryable),
        wait=_Wait(clock, rng),
        stop=stop_after_attempt(max_retries + 1) | _StopAtDeadline(clock, deadline),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)
