"""Store changes and the per-watcher queues that fan them out to watch streams.

The store records every write as a `Change` and offers it, under its write lock, to each open `Watcher` of
that resource. A watcher filters by namespace and selectors the way the real watch cache does (an object
that stops matching is sent as DELETED, one that starts matching as ADDED) and buffers at most `capacity`
events: a watcher that falls further behind is closed as expired instead of slowing the writers down.
Nothing here does I/O or blocks a writer; the HTTP facade drains watchers in its own threads.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.api_resources import Resource
from sim.patch import deep_copy
from sim.selectors import FieldSelector, LabelSelector

__all__ = ["ADDED", "DELETED", "MODIFIED", "Change", "Notifier", "WatchEvent", "Watcher"]

log = logging.getLogger(__name__)
ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
JSON = dict[str, Any]


@dataclass(slots=True, eq=False)
class Change:
    """One committed write: the new state (for DELETED the final state) and the state it replaced."""

    type: str
    resource: str  # the store's resource name, e.g. "pods"
    object: JSON
    old: JSON | None
    resource_version: int
    encoded: dict[str, bytes] = field(default_factory=dict, repr=False)  # serialisation cache of the facade


@dataclass(slots=True, eq=False)
class WatchEvent:
    """What one watcher is sent: the type as this watcher sees it and the object to send."""

    type: str
    object: JSON
    change: Change | None  # None for synthetic events (initial ADDED, bookmarks)
    as_old: bool = False  # the object is the change's previous state (an object that left the selection)


class Watcher:
    """A bounded, filtered queue of events for one watch stream."""

    def __init__(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        since: int = 0,
        capacity: int = 1000,
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.labels = labels or LabelSelector()
        self.fields = fields or FieldSelector()
        self.since = since
        self.capacity = capacity
        self.ready = threading.Event()
        self.closed: str | None = None  # why the stream must end: "expired", "dropped" or "stopped"
        self._lock = threading.Lock()
        self._events: deque[WatchEvent] = deque()

    def matches(self, obj: JSON | None) -> bool:
        """Whether an object belongs to this watch's selection."""
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if not self.labels.matches(meta.get("labels")):
            return False
        return self.fields.matches(lambda name: self.resource.field_value(obj, name))

    def translate(self, change: Change) -> WatchEvent | None:
        """The event this watcher sees for a change, or None when the change is outside its selection."""
        if change.resource_version <= self.since:
            return None
        if change.type == ADDED:
            return WatchEvent(ADDED, change.object, change) if self.matches(change.object) else None
        if change.type == DELETED:
            return WatchEvent(DELETED, change.object, change) if self.matches(change.old) else None
        now, before = self.matches(change.object), self.matches(change.old)
        if now:
            return WatchEvent(MODIFIED if before else ADDED, change.object, change)
        if before:
            return WatchEvent(DELETED, change.old or {}, change, as_old=True)
        return None

    def offer(self, change: Change) -> None:
        """Queue a change (called by the store under its write lock; never blocks)."""
        event = self.translate(change)
        if event is None or self.closed:
            return
        with self._lock:
            if len(self._events) >= self.capacity:
                self._events.clear()
                self.closed = "expired"
            else:
                self._events.append(event)
        self.ready.set()

    def close(self, why: str) -> None:
        """End the stream after what is queued (`dropped`, `stopped`) or at once (`expired`)."""
        with self._lock:
            if not self.closed:
                self.closed = why
        self.ready.set()

    def drain(self) -> list[WatchEvent]:
        """Everything queued so far, in order; clears the ready flag."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
            self.ready.clear()
            if self.closed:
                self.ready.set()
        return events


class Notifier:
    """In-process subscribers of the store: each change delivered once, in order, outside the store's lock.

    The writer that commits a change delivers it after releasing the lock (so subscribers may write to the
    store); a write made by a subscriber is queued and delivered after the change being handled, by the same
    thread, so every subscriber sees changes in resourceVersion order.
    """

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Change], None]] = []
        self._pending: list[Change] = []
        self._delivery = threading.Lock()
        self._local = threading.local()

    def subscribe(self, callback: Callable[[Change], None], *, copy: bool = True) -> Callable[[], None]:
        """Add a subscriber (given copies of the objects unless `copy=False`); returns its unsubscriber."""

        def deliver(change: Change) -> None:
            if copy:
                change = Change(
                    change.type,
                    change.resource,
                    deep_copy(change.object),
                    deep_copy(change.old),
                    change.resource_version,
                )
            callback(change)

        self._subscribers = [*self._subscribers, deliver]

        def unsubscribe() -> None:
            self._subscribers = [s for s in self._subscribers if s is not deliver]

        return unsubscribe

    def queue(self, change: Change) -> None:
        """Note a committed change (called under the store's lock)."""
        if self._subscribers:
            self._pending.append(change)

    def deliver(self, lock: threading.RLock) -> None:
        """Deliver what is queued (called by writers after releasing `lock`, the store's lock)."""
        if getattr(self._local, "delivering", False) or not self._pending:
            return
        with self._delivery:
            self._local.delivering = True
            try:
                while True:
                    with lock:
                        batch, self._pending = self._pending, []
                    if not batch:
                        return
                    for change in batch:
                        for subscriber in self._subscribers:
                            try:
                                subscriber(change)
                            except Exception:
                                log.exception("store subscriber failed on %s %s", change.type, change.resource)
            finally:
                self._local.delivering = False
