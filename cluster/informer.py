"""List-then-watch over one resource, handing each object to the handlers as soon as it is decoded.

What client-go's reflector and the kubernetes client's `SharedInformer` do, minus their object store:
list, hand every object to the handlers (ADDED; on a later re-list MODIFIED for keys seen before and,
once the list is through, DELETED for keys gone), then watch from the list's resourceVersion, resuming
from the last event's after a dropped connection; an expired version (HTTP 410) lists again. The
scheduler keeps its own model of what it reads, so this keeps only each object's key (for a re-list's
deletions), and a list's items reach the handlers one at a time while the response is decoded: the
API's objects never exist all at once, which at 50,000 pods is most of the process's memory.

`cluster.kube` supplies the list and watch calls (`Kube.informer`); this module does no I/O itself.
Handlers run on the informer's thread, in order; one that raises is logged and the rest still run.
"""

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from cluster.clock import Clock

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
KINDS = (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR)
RETRY_SECONDS = 5.0
"""The pause after a failed list, before listing again."""

log = logging.getLogger(__name__)


class ExpiredError(Exception):
    """The watch's resourceVersion is too old (HTTP 410 Gone): list again."""


class Stream(Protocol):
    """A watch connection: (event type, object) pairs; the last resourceVersion seen; stop from any thread."""

    def __iter__(self) -> Iterator[tuple[str, Any]]: ...

    @property
    def resource_version(self) -> str | None: ...

    def stop(self) -> None: ...


class Listing(Protocol):
    """A list response being read: its objects, one at a time, then its resourceVersion (`cluster.listing`)."""

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def resource_version(self) -> str | None: ...


def key_of(obj: Any) -> str:
    """namespace/name, or the name of a cluster-scoped object (the informers' usual key)."""
    meta = (obj.get("metadata") or {}) if isinstance(obj, Mapping) else {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    return sys.intern(f"{namespace}/{name}" if namespace else name)  # the cache keys its pods by the same string


def _tombstone(key: str) -> dict[str, Any]:
    """What a re-list's DELETED carries for an object it no longer lists: its namespace and name."""
    namespace, _, name = key.rpartition("/")
    return {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}}


class Informer:
    def __init__(
        self,
        *,
        list_objects: Callable[[], Listing],
        watch: Callable[[str], Stream],
        clock: Clock,
        name: str = "informer",
    ) -> None:
        self._list = list_objects
        self._watch_from = watch
        self._name = name
        self._clock = clock
        self._handlers: dict[str, list[Callable[[Any], None]]] = {kind: [] for kind in KINDS}
        self._keys: set[str] = set()
        self._version: str | None = None
        self._stream: Stream | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_event_handler(self, kind: str, handler: Callable[[Any], None]) -> None:
        if kind not in self._handlers:
            raise ValueError(f"unknown event type {kind!r}; one of {', '.join(self._handlers)}")
        self._handlers[kind].append(handler)

    def start(self) -> None:
        """List and watch on a daemon thread (a second call while it runs does nothing)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"informer-{self._name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the watch and wait for the thread."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.stop()
        if self._thread is not None:
            self._thread.join()
        self._thread = None

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        """List and watch on the calling thread until `stop` (what `start` runs on its own thread)."""
        while not self._stop.is_set():
            if self._version is None:
                try:
                    self._version = self._relist()
                except Exception as exc:
                    self._failed("list", exc)
                    self._clock.wait(self._stop, RETRY_SECONDS)
                    continue
            try:
                self._watch(self._version)
            except ExpiredError as exc:
                log.info("%s: watch expired; listing again", self._name)
                self._version = None
                self._fire(ERROR, exc)
            except Exception as exc:
                self._failed("watch", exc)

    def _relist(self) -> str:
        """One list: its objects to the handlers, then DELETED for keys it no longer has; its resourceVersion."""
        listing = self._list()
        before, seen = self._keys, set()
        try:
            for obj in listing:
                key = key_of(obj)
                seen.add(key)
                self._fire(MODIFIED if key in before else ADDED, obj)
        except BaseException:
            self._keys = before | seen  # what the handlers have seen, for the next list's deletions
            raise
        for key in before - seen:
            self._fire(DELETED, _tombstone(key))
        self._keys = seen
        return listing.resource_version or "0"

    def _watch(self, version: str) -> None:
        self._stream = stream = self._watch_from(version)
        try:
            if self._stop.is_set():  # stop() ran before the stream was there to close
                return
            for kind, obj in stream:
                if self._stop.is_set():
                    break
                self._version = stream.resource_version or self._version
                if kind in (ADDED, MODIFIED):
                    self._keys.add(key_of(obj))
                elif kind == DELETED:
                    self._keys.discard(key_of(obj))
                self._fire(kind, obj)
        finally:
            self._stream = None

    def _fire(self, kind: str, obj: Any) -> None:
        for handler in list(self._handlers.get(kind, ())):
            try:
                handler(obj)
            except Exception:
                log.exception("%s: %s handler failed", self._name, kind)

    def _failed(self, what: str, exc: Exception) -> None:
        if not self._stop.is_set():
            log.warning("%s: %s failed (%s: %s); retrying", self._name, what, type(exc).__name__, exc)
        self._fire(ERROR, exc)
