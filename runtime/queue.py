"""The scheduling queue, as kube-scheduler's PriorityQueue (`pkg/scheduler/backend/queue`).

Four places a pending pod can wait:
- gated: it still carries a scheduling gate (`cluster.gates`); it is never tried, and becomes active when an
  update removes its last gate;
- active: ready to be tried, highest priority first, then first come;
- backoff: failed recently; waits 1 s doubling per attempt up to 10 s before it is active again;
- unschedulable: no node fit; waits for a cluster change that could help (a node added or changed,
  an assigned pod deleted) or for five minutes, whichever comes first.
A pod deleted while queued is dropped, including while a worker holds it ("in flight"); a cluster
change that happens during an attempt sends the pod to backoff rather than unschedulable, so an
event that might have helped is never missed. Time comes from the injected clock.
"""

import heapq
import itertools
import logging
import threading
from dataclasses import dataclass, field, replace

from cluster.clock import Clock
from cluster.gates import pre_enqueue
from cluster.objects import Pod

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
UNSCHEDULABLE_TIMEOUT = 300.0


@dataclass
class QueuedPod:
    pod: Pod
    attempts: int = 0
    enqueued: float = 0.0
    """Monotonic time the pod was first queued (for the attempt-duration metric)."""
    backoff_until: float = 0.0
    last_failure: float = 0.0
    """Monotonic time of the last failed attempt: backoff counts from it, as upstream's."""
    move_cycle: int = field(default=0, repr=False)
    active_since: float | None = field(default=None, repr=False)
    """Monotonic time the pod last became active and has waited for a worker since (None: not active)."""

    @property
    def key(self) -> str:
        return self.pod.key


class SchedulingQueue:
    """Thread-safe; `pop` blocks until a pod is active, the queue closes or the timeout passes."""

    def __init__(
        self,
        clock: Clock,
        *,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        unschedulable_timeout: float = UNSCHEDULABLE_TIMEOUT,
    ) -> None:
        self._clock = clock
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._unschedulable_timeout = unschedulable_timeout
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._in_active: set[str] = set()
        self._backoff: list[tuple[float, int, str]] = []
        self._in_backoff: set[str] = set()
        self._unschedulable: set[str] = set()
        self._gated: set[str] = set()
        self._in_flight: set[str] = set()
        self._move_cycle = 0
        self._last_pop = clock.monotonic()
        self._closed = False

    # -- informer side ----------------------------------------------------------------------------

    def add(self, pod: Pod) -> None:
        """A pending pod appeared or changed; a changed pod waiting as unschedulable is retried.

        Only a change the filters could see counts: our own status and event writes bump the
        resourceVersion without making the pod any easier to place (kube-scheduler's `isPodUpdated`).
        A gated pod waits gated, and its update that removes the last gate makes it active (upstream runs the
        PreEnqueue plugins on every add and update, `moveToActiveQ`).
        """
        with self._cond:
            queued = self._pods.get(pod.key)
            waiting = pre_enqueue(pod)
            gated = waiting is not None
            if gated:
                log.debug("pod %s is not tried: %s", pod.key, waiting)
            if queued is None:
                queued = QueuedPod(pod, enqueued=self._clock.monotonic())
                self._pods[pod.key] = queued
                if gated:
                    self._gated.add(pod.key)
                else:
                    self._push_active(queued)
                return
            changed = replace(queued.pod, resource_version="") != replace(pod, resource_version="")
            queued.pod = pod
            if gated and pod.key not in self._in_flight:
                self._park_gated(pod.key)
            elif not gated and pod.key in self._gated:
                self._gated.discard(pod.key)
                self._push_active(queued)
            elif changed and pod.key in self._unschedulable:
                self._unschedulable.discard(pod.key)
                self._push_active(queued)

    def delete(self, key: str) -> None:
        """The pod is gone or no longer ours to place (bound, deleted, renamed scheduler)."""
        with self._cond:
            self._drop(key)

    def move_all(self) -> None:
        """A cluster change that may help unschedulable pods: retry them (after their backoff)."""
        with self._cond:
            self._move_cycle += 1
            now = self._clock.monotonic()
            for key in list(self._unschedulable):
                self._unschedulable.discard(key)
                self._requeue_after_backoff(self._pods[key], now)

    # -- worker side ------------------------------------------------------------------------------

    def pop(self, timeout: float | None = None) -> QueuedPod | None:
        """The next active pod, or None when closed or after `timeout` seconds with none ready."""
        with self._cond:
            deadline = None if timeout is None else self._clock.monotonic() + timeout
            while True:
                if self._closed:
                    return None
                self._flush_locked()
                while self._active:
                    _, _, _, key = heapq.heappop(self._active)
                    if key not in self._in_active:
                        continue  # deleted or moved since it was pushed
                    self._in_active.discard(key)
                    queued = self._pods[key]
                    queued.move_cycle = self._move_cycle
                    queued.active_since = None
                    self._in_flight.add(key)
                    self._last_pop = self._clock.monotonic()
                    return queued
                now = self._clock.monotonic()
                wait = self._next_wakeup(now)
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = min(wait, deadline - now)
                self._cond.wait(max(wait, 0.0))

    def forget(self, queued: QueuedPod) -> None:
        """The pod was placed: it leaves the queue for good.

        Only this incarnation does: a pod deleted and re-created under the same name while its binding was
        in flight is another `QueuedPod`, and an outcome of the old one's binding must not touch it.
        """
        with self._cond:
            if self._current(queued):
                self._in_flight.discard(queued.key)
                self._drop(queued.key)

    def unschedulable(self, queued: QueuedPod) -> None:
        """No node fit: wait for a cluster change, or back off if one happened during the attempt."""
        with self._cond:
            if not self._current(queued):
                return
            self._in_flight.discard(queued.key)
            queued.attempts += 1
            now = self._clock.monotonic()
            queued.last_failure = now
            if self._move_cycle > queued.move_cycle:
                self._requeue_after_backoff(queued, now)
            else:
                self._unschedulable.add(queued.key)

    def retry(self, queued: QueuedPod) -> None:
        """The attempt failed for another reason (a failed bind, an API error): back off and retry."""
        with self._cond:
            if not self._current(queued):
                return
            self._in_flight.discard(queued.key)
            queued.attempts += 1
            queued.last_failure = self._clock.monotonic()
            self._requeue_after_backoff(queued, queued.last_failure)

    def activate(self, queued: QueuedPod) -> None:
        """Try again at once (the decision lost a race with another placement; not the pod's fault)."""
        with self._cond:
            if self._current(queued):
                self._in_flight.discard(queued.key)
                self._push_active(queued)

    def is_queued(self, key: str) -> bool:
        with self._cond:
            return key in self._pods

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def lengths(self) -> dict[str, int]:
        """Pending pods per queue, as kube-scheduler's `scheduler_pending_pods{queue}` reports them."""
        with self._cond:
            return {
                "active": len(self._in_active),
                "backoff": len(self._in_backoff),
                "unschedulable": len(self._unschedulable),
                "gated": len(self._gated),
            }

    def stalled_for(self) -> float:
        """Seconds a pod has been ready for a worker with no worker taking any pod meanwhile (0 when none waits).

        The liveness signal: a backlog is progress as long as pods keep being popped; a ready pod that nothing
        takes means the workers are dead or wedged.
        """
        with self._cond:
            waiting = [self._pods[key].active_since for key in self._in_active]
            oldest = min((since for since in waiting if since is not None), default=None)
            if oldest is None:
                return 0.0
            return max(0.0, self._clock.monotonic() - max(oldest, self._last_pop))

    def wake(self) -> None:
        """Re-check timers (the periodic flush kube-scheduler runs every second)."""
        with self._cond:
            self._cond.notify_all()

    # -- internals --------------------------------------------------------------------------------

    def backoff_duration(self, attempts: int) -> float:
        """1 s, 2 s, 4 s, 8 s, then 10 s."""
        if attempts <= 0:
            return 0.0
        return min(self._initial_backoff * 2 ** (attempts - 1), self._max_backoff)

    def _current(self, queued: QueuedPod) -> bool:
        """Whether `queued` is still the queue's entry for its key (not deleted, not replaced by a re-creation)."""
        return self._pods.get(queued.key) is queued

    def _drop(self, key: str) -> None:
        """Remove the key from every place, so no set ever names a key `_pods` lacks."""
        self._pods.pop(key, None)
        self._in_active.discard(key)
        self._in_backoff.discard(key)
        self._unschedulable.discard(key)
        self._gated.discard(key)
        self._in_flight.discard(key)

    def _park_gated(self, key: str) -> None:
        """Move a queued pod that carries a gate out of every other place (its stale heap entries are skipped)."""
        self._in_active.discard(key)
        self._in_backoff.discard(key)
        self._unschedulable.discard(key)
        self._pods[key].active_since = None
        self._gated.add(key)

    def _push_active(self, queued: QueuedPod) -> None:
        now = self._clock.monotonic()
        self._in_backoff.discard(queued.key)
        self._in_active.add(queued.key)
        if queued.active_since is None:
            queued.active_since = now
        heapq.heappush(self._active, (-queued.pod.priority, now, next(self._seq), queued.key))
        self._cond.notify()

    def _requeue_after_backoff(self, queued: QueuedPod, now: float) -> None:
        queued.backoff_until = queued.last_failure + self.backoff_duration(queued.attempts)
        if queued.backoff_until <= now:
            self._push_active(queued)
            return
        self._in_backoff.add(queued.key)
        heapq.heappush(self._backoff, (queued.backoff_until, next(self._seq), queued.key))
        self._cond.notify()

    def _flush_locked(self) -> None:
        now = self._clock.monotonic()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            if key in self._in_backoff and key in self._pods:
                self._push_active(self._pods[key])
        limit = self._unschedulable_timeout
        expired = [key for key in self._unschedulable if now - self._pods[key].last_failure >= limit]
        for key in expired:
            self._unschedulable.discard(key)
            self._requeue_after_backoff(self._pods[key], now)

    def _next_wakeup(self, now: float) -> float:
        """Seconds until a backoff ends or an unschedulable pod times out (capped at one second)."""
        wake = 1.0
        if self._backoff:
            wake = min(wake, self._backoff[0][0] - now)
        return max(wake, 0.0)
