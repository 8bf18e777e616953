"""The informer: list, then watch from the list's version; a re-list after 410 reconciles what changed."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.clock import FakeClock
from cluster.informer import ADDED, DELETED, ERROR, MODIFIED, RETRY_SECONDS, ExpiredError, Informer
from cluster.listing import Listing


class Done(BaseException):
    """Raised by the fakes when their script is over, to end `Informer.run` on the test's thread."""


def obj(name: str, namespace: str = "default", version: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": version}}


def body(*names: str, version: str = "10") -> str:
    return json.dumps({"kind": "PodList", "metadata": {"resourceVersion": version}, "items": [obj(n) for n in names]})


class FakeStream:
    def __init__(self, events: list[tuple[str, Any]] | Exception, last_version: str) -> None:
        self.events = events
        self.resource_version = last_version
        self.stopped = False

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        if isinstance(self.events, Exception):
            raise self.events
        yield from self.events

    def stop(self) -> None:
        self.stopped = True


class Script:
    """List responses (text or an exception) and watch streams, in order; `Done` once both run out."""

    def __init__(self, lists: list[str | Exception], watches: list[FakeStream]) -> None:
        self.lists = lists
        self.watches = watches
        self.watched_from: list[str] = []

    def list_objects(self) -> Listing:
        if not self.lists:
            raise Done
        item = self.lists.pop(0)
        if isinstance(item, Exception):
            raise item
        return Listing([item.encode()])

    def watch(self, version: str) -> FakeStream:
        self.watched_from.append(version)
        if not self.watches:
            raise Done
        return self.watches.pop(0)


def run(script: Script, clock: FakeClock | None = None) -> list[tuple[str, str]]:
    """The events the handlers saw, as (type, key)."""
    informer = Informer(list_objects=script.list_objects, watch=script.watch, clock=clock or FakeClock(), name="pods")
    seen: list[tuple[str, str]] = []
    for kind in (ADDED, MODIFIED, DELETED):
        informer.add_event_handler(kind, lambda o, kind=kind: seen.append((kind, o["metadata"]["name"])))
    informer.add_event_handler(ERROR, lambda e: seen.append((ERROR, type(e).__name__)))
    with pytest.raises(Done):
        informer.run()
    return seen


def test_the_list_reaches_the_handlers_then_the_watch_resumes_from_its_version():
    stream = FakeStream([(MODIFIED, obj("a", version="11")), (ADDED, obj("c", version="12"))], last_version="12")
    script = Script([body("a", "b")], [stream, FakeStream([], last_version="12")])
    assert run(script) == [(ADDED, "a"), (ADDED, "b"), (MODIFIED, "a"), (ADDED, "c")]
    assert script.watched_from == ["10", "12", "12"]


def test_an_expired_watch_lists_again_and_reconciles_what_changed_meanwhile():
    script = Script(
        [body("a", "b"), body("b", "c", version="20")],
        [FakeStream(ExpiredError("gone"), last_version="10")],
    )
    assert run(script) == [
        (ADDED, "a"),
        (ADDED, "b"),
        (ERROR, "ExpiredError"),
        (MODIFIED, "b"),
        (ADDED, "c"),
        (DELETED, "a"),
    ]
    assert script.watched_from == ["10", "20"]


def test_a_key_deleted_by_the_watch_is_not_deleted_again_by_a_later_list():
    script = Script(
        [body("a", "b"), body("b", version="20")],
        [FakeStream([(DELETED, obj("a"))], last_version="11"), FakeStream(ExpiredError("gone"), last_version="11")],
    )
    assert run(script)[-2:] == [(ERROR, "ExpiredError"), (MODIFIED, "b")]


def test_a_failed_list_is_retried_after_a_pause_and_what_it_delivered_is_reconciled():
    clock = FakeClock()
    broken = body("a", "b")[:-30]  # cut inside the second item
    script = Script([broken, body("b", version="20")], [])
    assert run(script, clock) == [(ADDED, "a"), (ERROR, "JSONDecodeError"), (ADDED, "b"), (DELETED, "a")]
    assert clock.monotonic() == FakeClock().monotonic() + RETRY_SECONDS


def test_a_failing_handler_does_not_keep_the_others_from_the_event():
    informer = Informer(
        list_objects=Script([body("a")], []).list_objects, watch=Script([], []).watch, clock=FakeClock()
    )
    seen: list[str] = []
    informer.add_event_handler(ADDED, lambda o: 1 / 0)
    informer.add_event_handler(ADDED, lambda o: seen.append(o["metadata"]["name"]))
    with pytest.raises(Done):
        informer.run()
    assert seen == ["a"]


def test_a_watch_that_drops_is_watched_again_from_the_last_version_seen():
    script = Script(
        [body("a")],
        [FakeStream([(MODIFIED, obj("a", version="15"))], last_version="15"), FakeStream(OSError("reset"), "15")],
    )
    assert run(script) == [(ADDED, "a"), (MODIFIED, "a"), (ERROR, "OSError")]
    assert script.watched_from == ["10", "15", "15"]


def test_stop_closes_the_open_watch():
    stream = FakeStream([], last_version="10")
    informer = Informer(list_objects=lambda: Listing([body().encode()]), watch=lambda v: stream, clock=FakeClock())
    informer._stream = stream
    informer.stop()
    assert stream.stopped
