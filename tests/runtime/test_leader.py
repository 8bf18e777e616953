"""The lease fence: the gate's validity window, and the library's real LeaseLock wrapped by FencedLock
against the emulator (a takeover seen on read, a failed renewal, the release on shutdown)."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord

from cluster.clock import FakeClock
from runtime.kube import Kube
from runtime.leader import RELEASED_DURATION, CampaignEndedError, FencedLock, LeaseGate
from sim.apiserver import Emulator

NAME, NAMESPACE, ME = "ai-llama-scheduler", "kube-system", "replica-a"
VALIDITY = 10.0


@pytest.mark.parametrize(
    ("renewals", "closed_at", "elapsed", "open_"),
    [
        pytest.param([], None, 0.0, False, id="closed until the first renewal"),
        pytest.param([0.0], None, 9.9, True, id="open within renew_deadline of the renewal sent"),
        pytest.param([0.0], None, 10.0, False, id="closed once renew_deadline has passed without renewal"),
        pytest.param([0.0], None, 25.0, False, id="closed for a leader that was paused past its lease"),
        pytest.param([0.0, 8.0], None, 15.0, True, id="each renewal extends it from when it was sent"),
        pytest.param([8.0, 0.0], None, 15.0, True, id="a late answer to an older renewal does not shorten it"),
        pytest.param([0.0], 1.0, 2.0, False, id="closed at once by a failed renewal"),
    ],
)
def test_the_gate_is_open_only_while_a_renewal_is_certainly_current(
    renewals: list[float], closed_at: float | None, elapsed: float, open_: bool
) -> None:
    clock = FakeClock()
    start = clock.monotonic()
    gate = LeaseGate(clock, validity=VALIDITY)
    for sent in renewals:
        gate.renewed(start + sent)
    if closed_at is not None:
        clock.advance(closed_at)
        gate.close()
    clock.advance(elapsed - (closed_at or 0.0))
    assert gate.is_open() is open_


@dataclass
class Seen:
    leading: list[bool] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator([]) as running:
        yield running


def fenced(
    emulator: Emulator, clock: FakeClock, seen: Seen, identity: str = ME, *, acquires: bool = True
) -> tuple[FencedLock, LeaseGate]:
    """The library's election with its real LeaseLock wrapped, after one acquire-or-renew round."""
    kube = Kube.connect(server=emulator.url, timeout=5)
    elector = kube.leader_election(
        name=NAME, namespace=NAMESPACE, identity=identity, lease_duration=15, renew_deadline=10, retry_period=2,
        on_started=lambda: None, on_stopped=lambda: None,
    )  # fmt: skip
    gate = LeaseGate(clock, validity=VALIDITY)
    lock = FencedLock(
        elector.election_config.lock, gate=gate, clock=clock, on_leading=seen.leading.append, on_lost=seen.lost.append
    )
    elector.election_config.lock = lock
    assert elector.try_acquire_or_renew() is acquires
    return lock, gate


def lease(emulator: Emulator) -> dict:
    return emulator.store.get("leases", NAME, namespace=NAMESPACE)


def test_acquiring_opens_the_gate_and_a_takeover_seen_on_read_closes_it(emulator: Emulator) -> None:
    clock, seen = FakeClock(), Seen()
    lock, gate = fenced(emulator, clock, seen)
    assert gate.is_open() and seen.leading == [True]
    emulator.store.patch("leases", NAME, {"spec": {"holderIdentity": "replica-b"}}, namespace=NAMESPACE)
    with pytest.raises(CampaignEndedError, match="held by replica-b"):  # the process restarts as a follower
        lock.get(NAME, NAMESPACE)
    assert not gate.is_open() and seen.lost == ["replica-b"]
    with pytest.raises(CampaignEndedError):
        lock.get(NAME, NAMESPACE)
    assert seen.lost == ["replica-b"], "reported once"


def test_a_failed_renewal_closes_the_gate_at_once_and_a_later_one_reopens_it(emulator: Emulator) -> None:
    clock, seen = FakeClock(), Seen()
    lock, gate = fenced(emulator, clock, seen)
    emulator.store.delete("leases", NAME, namespace=NAMESPACE)  # the update now fails (404)
    assert lock.update(NAME, NAMESPACE, _record()) is False
    assert not gate.is_open() and seen.leading == [True, False]
    found, _ = lock.get(NAME, NAMESPACE)
    assert not found and lock.create(NAME, NAMESPACE, _record()) is True
    assert gate.is_open() and seen.leading == [True, False, True]


def test_a_takeover_seen_after_a_failed_renewal_still_ends_the_leadership(emulator: Emulator) -> None:
    clock, seen = FakeClock(), Seen()
    lock, gate = fenced(emulator, clock, seen)
    emulator.store.patch("leases", NAME, {"spec": {"holderIdentity": "replica-b"}}, namespace=NAMESPACE)
    emulator.faults.fail_next(1, verb="update", resource="leases", code=500)
    assert lock.update(NAME, NAMESPACE, _record()) is False
    assert seen.leading == [True, False] and seen.lost == []
    with pytest.raises(CampaignEndedError, match="held by replica-b"):
        lock.get(NAME, NAMESPACE)
    assert seen.lost == ["replica-b"] and not gate.is_open()


def test_a_follower_that_never_held_the_lease_campaigns_on(emulator: Emulator) -> None:
    clock, follower = FakeClock(), Seen()
    fenced(emulator, clock, Seen(), identity="replica-b")
    lock, _ = fenced(emulator, clock, follower, acquires=False)
    found, record = lock.get(NAME, NAMESPACE)
    assert found and record.holder_identity == "replica-b" and follower == Seen()


def test_release_gives_the_lease_away_and_never_takes_it_back(emulator: Emulator) -> None:
    clock, seen = FakeClock(), Seen()
    lock, gate = fenced(emulator, clock, seen)
    assert lock.release() is True
    spec = lease(emulator)["spec"]
    assert spec.get("holderIdentity") is None and spec["leaseDurationSeconds"] == RELEASED_DURATION
    assert not gate.is_open()
    with pytest.raises(CampaignEndedError, match="released"):
        lock.get(NAME, NAMESPACE)
    assert lock.update(NAME, NAMESPACE, _record()) is False
    assert lease(emulator)["spec"].get("holderIdentity") is None


def test_a_replica_that_does_not_hold_the_lease_releases_nothing(emulator: Emulator) -> None:
    clock, follower = FakeClock(), Seen()
    fenced(emulator, clock, Seen(), identity="replica-b")
    lock, gate = fenced(emulator, clock, follower, acquires=False)
    assert lock.release() is False and not gate.is_open()
    assert lease(emulator)["spec"]["holderIdentity"] == "replica-b"
    assert follower == Seen()


def _record() -> LeaderElectionRecord:
    return LeaderElectionRecord(ME, "15", "2026-12-05 00:00:00", "2026-12-05 00:00:00")
