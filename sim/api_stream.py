"""Streamed responses: watches (chunked newline-delimited JSON events) and long lists, as the kube-apiserver streams
them.

A list of more than `LIST_BATCH` items is written in chunks of that many items as they are encoded, as
kube-apiserver 1.33's streaming list encoding does (`StreamingCollectionEncodingToJSON`): the same bytes as one
`encode` of the whole, but a client starts decoding while the rest is encoded (encoding 50,000 pods here takes
longer than a real server's whole answer).

The HTTP facade hands a watch request here after routing. The stream opens a watcher on the store, sends the
initial events (synthetic ADDEDs, or the history after the requested resourceVersion), then what the watcher
queues, BOOKMARKs when asked, and ends at `timeoutSeconds`, when the watcher is dropped, or with a 410 `ERROR`
event when the version is too old or the watcher fell behind. A version newer than the store's waits up to
`fresh_timeout` for the store to reach it, then ends with a 504 `ERROR` event whose cause is
`ResourceVersionTooLarge` (the cacher's `newErrWatcher` after `waitUntilFreshAndBlock`). Waiting goes through
the clock. It never writes to the store.
"""

import json
from collections.abc import Iterable
from typing import Any, BinaryIO

from cluster.clock import Clock
from sim import api_errors, api_handlers, tables
from sim.api_routes import Route
from sim.api_watch import Watcher, WatchEvent
from sim.store import Store

__all__ = ["WatchStream", "encode", "streams", "write_list"]

JSON = dict[str, Any]
_INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def encode(payload: Any) -> bytes:
    """Compact JSON, as the real server writes it."""
    return json.dumps(payload, separators=(",", ":")).encode()


LIST_BATCH = 500
"""Items encoded per chunk of a streamed list."""
_CHUNKED_OK = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


def streams(payload: Any) -> bool:
    """Whether `payload` is a list long enough to stream (`write_list`): its items last, as `_list_body` builds it."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("items"), list)
        and len(payload["items"]) > LIST_BATCH
        and next(reversed(payload)) == "items"
    )


def write_list(wfile: BinaryIO, payload: JSON, *, close: bool) -> int:
    """Write a 200 response of `payload` (one `streams` accepts), `LIST_BATCH` items per chunk; the body's length."""
    wfile.write((_CHUNKED_OK + ("Connection: close\r\n" if close else "") + "\r\n").encode())
    items = payload["items"]
    opening = encode({k: v for k, v in payload.items() if k != "items"})[:-1] + b',"items":['
    size = 0
    for start in range(0, len(items), LIST_BATCH):
        batch = b",".join(encode(item) for item in items[start : start + LIST_BATCH])
        data = (opening if start == 0 else b",") + batch
        _write_chunk(wfile, data)
        size += len(data)
    _write_chunk(wfile, b"]}")
    wfile.write(_LAST_CHUNK)
    return size + 2


def _write_chunk(wfile: BinaryIO, data: bytes) -> None:
    if data:
        wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class WatchStream:
    """One watch response written to `wfile` (the status line and headers included)."""

    def __init__(self, wfile: BinaryIO, *, store: Store, clock: Clock, settings: Any, table: bool) -> None:
        self.wfile = wfile
        self.store = store
        self.clock = clock
        self.settings = settings
        self.table = table

    def serve(self, route: Route, query: dict[str, str]) -> None:
        """Stream until the timeout, a drop or an error; raises `ApiError` (not 410) before anything is sent."""
        since = api_handlers.parse_resource_version(query.get("resourceVersion"))
        initial_events = query.get("sendInitialEvents", "").lower() == "true"
        bookmarks = query.get("allowWatchBookmarks", "").lower() == "true"
        timeout = api_handlers.watch_timeout(query, self.settings.watch_timeout)
        if since and not initial_events:
            self._wait_fresh(since)
        try:
            watcher, initial = self.store.watch(
                route.resource,
                namespace=route.namespace,
                labels=query.get("labelSelector"),
                fields=_with_name(query.get("fieldSelector", ""), route.name),
                since=None if initial_events else since,
            )
        except api_errors.ApiError as exc:
            if exc.code not in (410, 504):
                raise
            self._start()
            self._chunk(_error_event(exc))
            self._end()
            return
        try:
            self._start()
            self._follow(watcher, initial, timeout=timeout, bookmarks=bookmarks, initial_events=initial_events)
            self._end()
        finally:
            self.store.unwatch(watcher)

    def _wait_fresh(self, since: int) -> None:
        """Give the store `fresh_timeout` seconds to reach `since`, as the watch cache's `waitUntilFreshAndBlock`
        does before it answers "too large resource version"."""
        deadline = self.clock.monotonic() + self.settings.fresh_timeout
        while self.store.progress() < since and self.clock.monotonic() < deadline:
            self.clock.sleep(min(0.1, self.settings.fresh_timeout))

    def _follow(
        self, watcher: Watcher, initial: list[WatchEvent], *, timeout: float, bookmarks: bool, initial_events: bool
    ) -> None:
        clock, interval = self.clock, self.settings.bookmark_interval
        deadline = clock.monotonic() + timeout
        next_bookmark = clock.monotonic() + interval
        self._chunk(self._events(watcher, initial))
        if initial_events and bookmarks:
            self._chunk(_bookmark(watcher, self.store.progress(), end_of_initial=True))
        while True:
            progress = self.store.progress()  # read before draining: every change up to it is in the queue
            self._chunk(self._events(watcher, watcher.drain()))
            if watcher.closed == "expired":
                why = "the watcher fell too far behind and was closed; list again and start a new watch"
                self._chunk(_error_event(api_errors.expired(why)))
                return
            if watcher.closed:
                return
            now = clock.monotonic()
            if now >= deadline:
                if bookmarks:
                    self._chunk(_bookmark(watcher, progress))
                return
            if bookmarks and now >= next_bookmark:
                self._chunk(_bookmark(watcher, progress))
                next_bookmark = now + interval
            wake = min(deadline, next_bookmark) if bookmarks else deadline
            clock.wait(watcher.ready, max(0.0, wake - now))

    def _start(self) -> None:
        self.wfile.write((_CHUNKED_OK + "Cache-Control: no-cache, private\r\n\r\n").encode())

    def _chunk(self, data: bytes) -> None:
        _write_chunk(self.wfile, data)

    def _end(self) -> None:
        self.wfile.write(_LAST_CHUNK)

    def _events(self, watcher: Watcher, events: Iterable[WatchEvent]) -> bytes:
        """Encoded events; each change's object is serialised once per group/version for all watchers."""
        r = watcher.resource
        lines = []
        for event in events:
            if self.table:
                obj = encode(tables.table(r.kind, [event.object], now=self.clock.now(), wire=r.to_wire))
            elif event.as_old and event.change is not None:
                # an object that left the selection: its last matching state, at the change's version
                old = event.object
                moved = {**old, "metadata": {**old["metadata"], "resourceVersion": str(event.change.resource_version)}}
                obj = encode(r.to_wire(moved))
            elif event.change is not None:
                obj = event.change.encoded.get(r.api_version)
                if obj is None:
                    obj = event.change.encoded[r.api_version] = encode(r.to_wire(event.object))
            else:
                obj = encode(r.to_wire(event.object))
            lines.append(b'{"type":"%s","object":%s}\n' % (event.type.encode(), obj))
        return b"".join(lines)


def _with_name(fields: str, name: str) -> str:
    """A watch addressed to one object (`.../pods/NAME?watch=1`) is a watch selecting it by name."""
    if not name:
        return fields
    return f"metadata.name={name},{fields}" if fields else f"metadata.name={name}"


def _error_event(exc: api_errors.ApiError) -> bytes:
    return encode({"type": "ERROR", "object": exc.status()}) + b"\n"


def _bookmark(watcher: Watcher, rv: int, *, end_of_initial: bool = False) -> bytes:
    r = watcher.resource
    meta: JSON = {"resourceVersion": str(rv)}
    if end_of_initial:
        meta["annotations"] = {_INITIAL_EVENTS_END: "true"}
    bookmark = {"type": "BOOKMARK", "object": {"kind": r.kind, "apiVersion": r.api_version, "metadata": meta}}
    return encode(bookmark) + b"\n"
