"""Retry decisions: which failures are retried, how long to wait, and when the deadline ends it."""

import pytest

from cluster.clock import FakeClock
from llm import retry
from llm.client import CallErrorKind, LLMCallError


def error(kind: CallErrorKind, retry_after: str | None = None) -> LLMCallError:
    return LLMCallError(kind, kind.value, retry_after=retry_after)


@pytest.mark.parametrize(
    ("kind", "retried"),
    [
        pytest.param(CallErrorKind.RATE_LIMITED, True, id="429 is retried"),
        pytest.param(CallErrorKind.SERVER_ERROR, True, id="5xx is retried"),
        pytest.param(CallErrorKind.TIMEOUT, True, id="a timeout is retried"),
        pytest.param(CallErrorKind.CONNECTION, True, id="a dropped connection is retried"),
        pytest.param(CallErrorKind.CLIENT_ERROR, False, id="another 4xx is not"),
        pytest.param(CallErrorKind.BAD_RESPONSE, False, id="a malformed response is not"),
        pytest.param(CallErrorKind.CONFIG, False, id="a request that cannot be made is not"),
    ],
)
def test_what_is_retried(kind: CallErrorKind, retried: bool) -> None:
    assert retry.retryable(error(kind)) is retried


NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("3", 3.0, id="delta seconds"),
        pytest.param(" 0 ", 0.0, id="zero with spaces"),
        pytest.param("Fri, 15 Jan 2027 08:00:05 GMT", 5.0, id="an HTTP date five seconds ahead"),
        pytest.param("Fri, 15 Jan 2027 07:59:00 GMT", 0.0, id="an HTTP date in the past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-1", None, id="negative"),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry.retry_after_seconds(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("failure", "retry_number", "jitter", "wait"),
    [
        pytest.param(error(CallErrorKind.SERVER_ERROR), 1, 0.0, 0.5, id="first retry waits the base"),
        pytest.param(error(CallErrorKind.SERVER_ERROR), 3, 0.25, 2.25, id="doubles per retry plus jitter"),
        pytest.param(error(CallErrorKind.SERVER_ERROR), 10, 0.0, 8.0, id="capped"),
        pytest.param(error(CallErrorKind.RATE_LIMITED, "4"), 1, 0.1, 4.0, id="Retry-After longer than backoff wins"),
        pytest.param(error(CallErrorKind.RATE_LIMITED, "0"), 2, 0.1, 1.1, id="backoff longer than Retry-After wins"),
    ],
)
def test_wait(failure: LLMCallError, retry_number: int, jitter: float, wait: float) -> None:
    assert retry.wait_seconds(failure, retry_number, now=NOW, jitter=jitter) == pytest.approx(wait)


@pytest.mark.parametrize(
    ("now", "wait", "stops"),
    [
        pytest.param(100.0, 1.0, False, id="time left after the wait"),
        pytest.param(100.0, 9.8, True, id="the attempt would start too close to the deadline"),
        pytest.param(111.0, 0.0, True, id="already past the deadline"),
    ],
)
def test_deadline(now: float, wait: float, stops: bool) -> None:
    assert retry.past_deadline(now=now, wait=wait, deadline=110.0) is stops


def test_retries_sleep_on_the_clock_until_success() -> None:
    clock = FakeClock()
    failures = [error(CallErrorKind.RATE_LIMITED, "2"), error(CallErrorKind.SERVER_ERROR)]
    retried: list[float] = []

    def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    result = retry.call(
        attempt,
        clock=clock,
        deadline=clock.monotonic() + 20,
        max_retries=3,
        on_retry=lambda e, w: retried.append(w),
        rng=lambda: 0.0,
    )
    assert result == "ok"
    assert clock.slept == [2.0, 1.0] == retried  # Retry-After honoured, then the second backoff step


@pytest.mark.parametrize(
    ("failure", "max_retries", "deadline", "attempts"),
    [
        pytest.param(error(CallErrorKind.SERVER_ERROR), 2, 60.0, 3, id="bounded by max_retries"),
        pytest.param(error(CallErrorKind.SERVER_ERROR), 0, 60.0, 1, id="no retries configured"),
        pytest.param(error(CallErrorKind.CLIENT_ERROR), 5, 60.0, 1, id="a 400 is not retried"),
        pytest.param(error(CallErrorKind.TIMEOUT), 10, 1.5, 2, id="bounded by the deadline"),
        pytest.param(error(CallErrorKind.RATE_LIMITED, "30"), 10, 20.0, 1, id="Retry-After past the deadline"),
    ],
)
def test_retries_end(failure: LLMCallError, max_retries: int, deadline: float, attempts: int) -> None:
    clock = FakeClock()
    calls = []

    def attempt() -> str:
        calls.append(clock.monotonic())
        raise failure

    with pytest.raises(LLMCallError) as caught:
        retry.call(
            attempt, clock=clock, deadline=clock.monotonic() + deadline, max_retries=max_retries, rng=lambda: 0.0
        )
    assert caught.value is failure
    assert len(calls) == attempts
    assert clock.monotonic() - calls[0] < deadline
