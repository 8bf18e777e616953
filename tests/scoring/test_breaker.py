"""The circuit breaker: transitions as a table, then the thread-safe object on a fake clock."""

import threading

import pytest

from cluster.clock import FakeClock
from scoring.breaker import (
    BreakerState,
    CircuitBreaker,
    Permit,
    Policy,
    State,
    Transition,
    admit,
    failed,
    released,
    succeeded,
)

POLICY = Policy(failure_threshold=3, reset_timeout=60.0)
CLOSED = BreakerState()
OPEN = BreakerState(state=State.OPEN, opened_at=100.0, generation=1)
TRIAL = BreakerState(state=State.HALF_OPEN, opened_at=100.0, trial_in_flight=True, generation=1)


@pytest.mark.parametrize(
    ("state", "now", "after", "permit"),
    [
        pytest.param(CLOSED, 0.0, CLOSED, Permit(0), id="closed admits every call"),
        pytest.param(OPEN, 159.0, OPEN, None, id="open refuses during its period"),
        pytest.param(OPEN, 160.0, TRIAL, Permit(1, trial=True), id="after the period the first caller is the trial"),
        pytest.param(TRIAL, 500.0, TRIAL, None, id="half-open refuses others while the trial flies"),
    ],
)
def test_admit(state: BreakerState, now: float, after: BreakerState, permit: Permit | None) -> None:
    assert admit(state, now=now, policy=POLICY) == (after, permit)


@pytest.mark.parametrize(
    ("state", "permit", "ok", "after"),
    [
        pytest.param(CLOSED, Permit(0), False, BreakerState(failures=1), id="a failure is counted"),
        pytest.param(BreakerState(failures=2), Permit(0), False, OPEN, id="the threshold-th consecutive failure opens"),
        pytest.param(BreakerState(failures=2), Permit(0), True, CLOSED, id="a success resets the count"),
        pytest.param(TRIAL, Permit(1, trial=True), True, BreakerState(generation=1), id="a good trial closes"),
        pytest.param(
            TRIAL,
            Permit(1, trial=True),
            False,
            BreakerState(state=State.OPEN, opened_at=100.0, generation=2),
            id="a failed trial opens again for a new period",
        ),
        pytest.param(OPEN, Permit(0), True, OPEN, id="a straggler's success does not close an open breaker"),
        pytest.param(TRIAL, Permit(0), False, TRIAL, id="a straggler's failure does not spoil the trial"),
    ],
)
def test_outcomes(state: BreakerState, permit: Permit, ok: bool, after: BreakerState) -> None:
    result = succeeded(state, permit) if ok else failed(state, permit, now=100.0, policy=POLICY)
    assert result == after


def test_a_released_trial_lets_the_next_caller_try() -> None:
    state = released(TRIAL, Permit(1, trial=True))
    assert state.trial_in_flight is False
    assert admit(state, now=100.0, policy=POLICY)[1] == Permit(1, trial=True)


def test_closed_open_half_open_closed_on_the_clock() -> None:
    clock = FakeClock()
    seen: list[Transition] = []
    breaker = CircuitBreaker(name="llm", failure_threshold=3, reset_timeout=60, clock=clock, listener=seen.append)
    for _ in range(3):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record(permit, ok=False)
    assert breaker.state is State.OPEN
    assert breaker.acquire() is None
    clock.advance(59)
    assert breaker.acquire() is None and breaker.reopens_in() == pytest.approx(1.0)
    clock.advance(1)
    assert breaker.state is State.HALF_OPEN
    trial = breaker.acquire()
    assert trial is not None and trial.trial
    assert breaker.acquire() is None  # one trial at a time
    breaker.record(trial, ok=True)
    assert breaker.state is State.CLOSED
    assert [(t.old, t.new) for t in seen] == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]
    assert seen[0].failures == 3


def test_a_failed_trial_reopens_for_a_full_period() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(name="x", failure_threshold=1, reset_timeout=10, clock=clock)
    breaker.record(breaker.acquire(), ok=False)  # type: ignore[arg-type]
    clock.advance(10)
    trial = breaker.acquire()
    assert trial is not None
    breaker.record(trial, ok=False)
    assert breaker.state is State.OPEN and breaker.reopens_in() == pytest.approx(10.0)


def test_calls_are_not_serialised_by_the_breaker() -> None:
    """Many permits may be out at once; the lock only guards the state update."""
    breaker = CircuitBreaker(name="x", failure_threshold=5, reset_timeout=10, clock=FakeClock())
    inside = threading.Barrier(8, timeout=5)

    def call() -> None:
        permit = breaker.acquire()
        assert permit is not None
        inside.wait()  # all eight are "in the call" at the same time
        breaker.record(permit, ok=True)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not inside.broken and breaker.state is State.CLOSED


def test_the_listener_may_read_the_breaker() -> None:
    clock = FakeClock()
    states: list[State] = []
    breaker = CircuitBreaker(name="x", failure_threshold=1, reset_timeout=10, clock=clock)
    breaker.listener = lambda t: states.append(breaker.state)  # would deadlock if called under the lock
    breaker.record(breaker.acquire(), ok=False)  # type: ignore[arg-type]
    assert states == [State.OPEN]


def test_a_breaker_needs_sane_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(name="x", failure_threshold=0, reset_timeout=1, clock=FakeClock())
