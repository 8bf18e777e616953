"""Leader election that never lets two replicas bind at once, and hands over at once on shutdown.

The kubernetes client's `LeaderElection` runs the campaign (acquire, renew every `retry_period`) but
says nothing between `onstarted_leading` and `onstopped_leading`: a renewal that fails, or a lease
that already names another holder, is retried quietly for `renew_deadline` while the process goes on
binding; and a paused process (SIGSTOP, a long GC, a frozen VM) resumes believing it still leads. And
it never gives the lease back, so a rolling update waits out `lease_duration` with nobody scheduling.

So the lock the library uses is wrapped (`FencedLock`): every renewal it sends opens a `LeaseGate` for
`renew_deadline` from the moment it was sent (client-go's rule: a follower cannot take over before
`lease_duration` after it saw that renewal, and `renew_deadline < lease_duration`); a failed renewal
closes the gate at once, and a lease naming another holder ends the leadership at once. The gate is
checked by the binding itself (`FencedWriter`), on the monotonic clock, right before the API call:
a paused leader's clock has run on while it slept, so its first binding after resuming is refused
before the election thread has even looked at the lease. On shutdown `FencedLock.release` writes the
lease with no holder and a one-second duration, as client-go's `ReleaseOnCancel`, so a standby takes
over at its next retry instead of after `lease_duration`.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cluster.clock import Clock
from cluster.objects import Pod
from runtime.writer import Writer
from scoring.tiers import Decision

log = logging.getLogger("scheduler.leader")

RELEASED_DURATION = 1
"""`leaseDurationSeconds` of a released lease (the API server refuses 0), as client-go writes it."""


class NotLeaderError(RuntimeError):
    """A binding refused because this replica's lease is not certainly current; the pod is retried."""


class CampaignEndedError(Exception):
    """Raised into the library's campaign once the lease is lost or given back: it ends the election thread
    instead of letting it campaign (and log) on while the process shuts down."""


class LeaseGate:
    """Whether this replica may bind now: open for `validity` seconds from the moment a successful
    renewal was sent, closed at once by `close`. Thread-safe; reads the injected monotonic clock."""

    def __init__(self, clock: Clock, validity: float) -> None:
        self._clock = clock
        self._validity = validity
        self._lock = threading.Lock()
        self._until = float("-inf")

    def renewed(self, sent_at: float) -> None:
        """A renewal sent at `sent_at` (monotonic) succeeded."""
        with self._lock:
            self._until = max(self._until, sent_at + self._validity)

    def close(self) -> None:
        with self._lock:
            self._until = float("-inf")

    def is_open(self) -> bool:
        with self._lock:
            return self._clock.monotonic() < self._until


class FencedLock:
    """The library's `LeaseLock` (same `get`/`create`/`update` contract), reporting every outcome.

    `on_leading(True)` when a write makes this replica the holder, `on_leading(False)` at once when a
    renewal fails; `on_lost(holder)` when the lease, read after this replica held it, names another holder
    (a failed renewal may come first). After that, or after `release`, the campaign ends: reading the lease
    raises `CampaignEndedError`.
    """

    def __init__(
        self,
        lock: Any,
        *,
        gate: LeaseGate,
        clock: Clock,
        on_leading: Callable[[bool], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self._lock = lock
        self._gate = gate
        self._clock = clock
        self._on_leading = on_leading
        self._on_lost = on_lost
        self._mutex = threading.Lock()
        self._leading = False
        self._released = False
        self._held = False
        self._lost = False

    # The library reads these three attributes of its lock.
    @property
    def name(self) -> str:
        return self._lock.name

    @property
    def namespace(self) -> str:
        return self._lock.namespace

    @property
    def identity(self) -> str:
        return self._lock.identity

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        if self._released or self._lost:
            raise CampaignEndedError(f"the lease {namespace}/{name} was lost or released")
        found, record = self._lock.get(name, namespace)
        holder = getattr(record, "holder_identity", None) if found else None
        if holder and holder != self.identity and self._held:
            with self._mutex:
                self._leading, self._lost = False, True
            self._gate.close()
            self._on_lost(holder)
            raise CampaignEndedError(f"the lease {namespace}/{name} is held by {holder}")
        return found, record

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        return self._write(lambda: self._lock.create(name, namespace, election_record))

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return self._write(lambda: self._lock.update(name, namespace, updated_record))

    def _write(self, write: Callable[[], bool]) -> bool:
        with self._mutex:
            if self._released:
                return False  # shutting down: never take the lease back after giving it away
            sent_at = self._clock.monotonic()
            succeeded = bool(write())
            changed = succeeded != self._leading
            self._leading = succeeded
            self._held = self._held or succeeded
        if succeeded:
            self._gate.renewed(sent_at)
        else:
            self._gate.close()
        if changed:
            self._on_leading(succeeded)
        return succeeded

    def release(self) -> bool:
        """Give the lease up (no holder, one-second duration) if this replica holds it; True if written.

        After this the campaign can never write the lease again. A conflict means another replica
        already wrote it: nothing of ours to release.
        """
        with self._mutex:
            self._released = True
            was_leading, self._leading = self._leading, False
            self._gate.close()
            if not was_leading:
                return False
            api = self._lock.api_instance
            try:
                lease = api.read_namespaced_lease(self.name, self.namespace)
                if lease.spec is None or lease.spec.holder_identity != self.identity:
                    return False
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = RELEASED_DURATION
                lease.spec.renew_time = datetime.fromtimestamp(self._clock.now(), tz=UTC)
                api.replace_namespaced_lease(name=self.name, namespace=self.namespace, body=lease)
            except Exception as exc:  # any failure (a conflict included) leaves the lease to expire, as before
                log.warning("could not release the lease %s/%s: %s", self.namespace, self.name, type(exc).__name__)
                return False
        log.info("released the lease %s/%s", self.namespace, self.name)
        return True


class FencedWriter(Writer):
    """The writer whose bindings happen only while the lease gate is open."""

    def __init__(self, *args: Any, gate: LeaseGate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = gate

    def bind(self, pod: Pod, decision: Decision) -> None:
        """Refuse with NotLeaderError (the loop retries the pod) unless the lease is certainly ours."""
        if not self._gate.is_open():
            raise NotLeaderError(f"not binding {pod.key}: this replica's lease is not certainly current")
        super().bind(pod, decision)

    def may_disrupt(self) -> bool:
        """Evictions are fenced as bindings are: a deposed leader must not preempt."""
        return self._gate.is_open()
