"""Watches through the real client: event streams, selectors, 410 and re-list, bookmarks, timeouts."""

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.informer import ADDED, ERROR, SharedInformer

from cluster.clock import FakeClock
from sim.api_resources import find
from sim.apiserver import Emulator


def _names(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"].metadata.name) for e in events]


def _take(stream: Iterator[dict], count: int) -> list[dict]:
    events = []
    for event in stream:
        events.append(event)
        if len(events) == count:
            break
    return events


def test_watch_from_a_list_version_streams_changes(make_pod: Any, emulator: Emulator, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", make_pod("new-1"))
    core.patch_namespaced_pod(
        "new-1", "default", {"metadata": {"labels": {"x": "1"}}}, _content_type="application/merge-patch+json"
    )
    core.delete_namespaced_pod("new-1", "default")
    stream = watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=30)
    events = _take(stream, 3)
    assert _names(events) == [("ADDED", "new-1"), ("MODIFIED", "new-1"), ("DELETED", "new-1")]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


def test_watch_without_a_version_starts_with_synthetic_adds(core: client.CoreV1Api) -> None:
    stream = watch.Watch().stream(core.list_pod_for_all_namespaces, resource_version="0", timeout_seconds=30)
    assert sorted(_names(_take(stream, 2))) == [("ADDED", "db-1"), ("ADDED", "web-1")]


def test_a_field_selected_watch_sees_a_bound_pod_leave(
    binding: Any, emulator: Emulator, core: client.CoreV1Api
) -> None:
    unscheduled = "spec.schedulerName=ai-llama-scheduler,spec.nodeName="
    listed = core.list_pod_for_all_namespaces(field_selector=unscheduled)
    assert [p.metadata.name for p in listed.items] == ["web-1"]
    core.create_namespaced_binding("default", binding("web-1", "node-1"), _preload_content=False)
    stream = watch.Watch().stream(
        core.list_pod_for_all_namespaces,
        field_selector=unscheduled,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=30,
    )
    assert _names(_take(stream, 1)) == [("DELETED", "web-1")]


def test_a_label_selected_watch_sees_objects_enter_and_leave(make_pod: Any, core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_pod("default", label_selector="app=web").metadata.resource_version
    merge = "application/merge-patch+json"
    core.patch_namespaced_pod("db-1", "default", {"metadata": {"labels": {"app": "web"}}}, _content_type=merge)
    core.patch_namespaced_pod("web-1", "default", {"metadata": {"labels": {"app": "api"}}}, _content_type=merge)
    core.create_namespaced_pod("default", make_pod("other", labels={"app": "other"}))
    stream = watch.Watch().stream(
        core.list_namespaced_pod, "default", label_selector="app=web", resource_version=rv, timeout_seconds=30
    )
    assert _names(_take(stream, 2)) == [("ADDED", "db-1"), ("DELETED", "web-1")]


def test_a_watch_on_one_named_object_sees_only_it(emulator: Emulator, api: client.ApiClient) -> None:
    url = f"{emulator.url}/api/v1/watch/namespaces/default/pods/db-1?resourceVersion=0&timeoutSeconds=30"
    response = api.rest_client.pool_manager.request("GET", url, preload_content=False)
    first = json.loads(response.readline())
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "db-1")
    emulator.store.patch("pods", "web-1", {"metadata": {"labels": {"x": "1"}}}, namespace="default")
    emulator.store.patch("pods", "db-1", {"metadata": {"labels": {"x": "1"}}}, namespace="default")
    second = json.loads(response.readline())
    assert (second["type"], second["object"]["metadata"]["name"]) == ("MODIFIED", "db-1")
    response.release_conn()


def test_a_watch_from_an_expired_version_gets_410_gone(
    make_pod: Any, emulator: Emulator, core: client.CoreV1Api
) -> None:
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", make_pod("new-1"))
    emulator.faults.expire_history()
    with pytest.raises(ApiException) as caught:
        _take(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=30), 1)
    assert caught.value.status == 410
    assert "Expired: too old resource version" in caught.value.reason


def test_shared_informer_relists_after_410(make_pod: Any, emulator: Emulator, core: client.CoreV1Api) -> None:
    added: queue.Queue[str] = queue.Queue()
    errors: queue.Queue[object] = queue.Queue()
    gate, blocked = threading.Event(), threading.Event()

    def on_added(pod: client.V1Pod) -> None:
        added.put(pod.metadata.name)
        if pod.metadata.name == "slow":
            blocked.set()
            gate.wait(10)

    informer = SharedInformer(core.list_namespaced_pod, namespace="default")
    informer.add_event_handler(ADDED, on_added)
    informer.add_event_handler(ERROR, errors.put)
    informer.start()
    try:
        assert {added.get(timeout=10), added.get(timeout=10)} == {"web-1", "db-1"}
        core.create_namespaced_pod("default", make_pod("slow"))
        assert blocked.wait(10), "the informer is busy in its handler, its watch unread"
        assert emulator.faults.drop_watches() == 1
        core.create_namespaced_pod("default", make_pod("missed"))
        emulator.faults.expire_history()
        gate.set()
        assert added.get(timeout=10) == "slow"
        assert added.get(timeout=10) == "missed", "the re-list after 410 finds the pod the watch missed"
        error = errors.get(timeout=10)
        assert isinstance(error, ApiException) and error.status == 410
        assert set(informer.cache.list_keys()) == {"default/web-1", "default/db-1", "default/slow", "default/missed"}
    finally:
        gate.set()
        stopper = threading.Thread(target=informer.stop)
        stopper.start()
        while stopper.is_alive():
            emulator.faults.drop_watches()
            stopper.join(0.05)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slow_emulator(make_node: Any, make_pod: Any, fake_clock: FakeClock) -> Iterator[Emulator]:
    """An emulator on a fake clock: its watch timeouts and bookmark intervals pass at once."""
    emu = Emulator([make_node("node-1"), make_pod("web-1")], clock=fake_clock, bookmark_interval=1.0)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def slow_core(slow_emulator: Emulator) -> Iterator[client.CoreV1Api]:
    configuration = client.Configuration()
    configuration.host = slow_emulator.url
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def test_timeout_seconds_ends_the_stream(
    slow_emulator: Emulator, slow_core: client.CoreV1Api, fake_clock: FakeClock
) -> None:
    before = fake_clock.monotonic()
    events = list(watch.Watch().stream(slow_core.list_namespaced_pod, "default", timeout_seconds=7))
    assert _names(events) == [("ADDED", "web-1")]
    assert fake_clock.monotonic() - before == pytest.approx(7.0)


def test_bookmarks_come_at_the_interval_and_at_the_end(slow_emulator: Emulator, slow_core: client.CoreV1Api) -> None:
    rv = slow_core.list_namespaced_pod("default").metadata.resource_version
    events = list(
        watch.Watch().stream(
            slow_core.list_namespaced_pod, "default", resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=3
        )
    )
    assert [e["type"] for e in events] == ["BOOKMARK", "BOOKMARK", "BOOKMARK"]
    bookmark = events[0]["raw_object"]
    assert bookmark == {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": rv}}


def test_send_initial_events_ends_with_the_marked_bookmark(slow_core: client.CoreV1Api) -> None:
    events = list(
        watch.Watch().stream(
            slow_core.list_namespaced_pod,
            "default",
            allow_watch_bookmarks=True,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            timeout_seconds=1,
        )
    )
    assert [e["type"] for e in events][:2] == ["ADDED", "BOOKMARK"]
    assert events[1]["raw_object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_a_watcher_that_falls_behind_is_expired_not_waited_for(make_pod: Any) -> None:
    emu = Emulator(watch_capacity=3)
    watcher, _ = emu.store.watch(find("v1", "pods"), since=emu.store.resource_version)
    for i in range(5):
        emu.store.create("pods", make_pod(f"p{i}"))
    assert watcher.closed == "expired"
    assert watcher.drain() == []
