"""Fault injection on a running emulator, observed through the real client."""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from cluster.clock import FakeClock
from sim.api_strategy import rfc3339
from sim.apiserver import Emulator


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        pytest.param(500, "InternalError", id="500 is InternalError"),
        pytest.param(503, "ServiceUnavailable", id="503 is ServiceUnavailable"),
        pytest.param(429, "TooManyRequests", id="429 is TooManyRequests"),
        pytest.param(409, "Conflict", id="409 is Conflict"),
    ],
)
def test_fail_next_binding_then_recover(
    binding: Any, emulator: Emulator, core: client.CoreV1Api, code: int, reason: str
) -> None:
    emulator.faults.fail_next(1, verb="create", resource="pods/binding", code=code)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_binding("web-1", "default", binding("web-1", "node-1"), _preload_content=False)
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"], body["code"]) == (code, reason, code)
    if code == 429:
        assert caught.value.headers["Retry-After"] == "1"
    assert core.read_namespaced_pod("web-1", "default").spec.node_name is None, "a failed request changes nothing"
    response = core.create_namespaced_pod_binding(
        "web-1", "default", binding("web-1", "node-1"), _preload_content=False
    )
    assert response.status == 201
    assert emulator.faults.injected == 1


def test_failures_match_only_their_verb_and_resource(emulator: Emulator, core: client.CoreV1Api) -> None:
    emulator.faults.fail_next(2, verb="list", resource="pods", code=503, message="etcd is down")
    assert core.read_namespaced_pod("web-1", "default").metadata.name == "web-1"
    assert core.list_node().items
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_pod("default")
        assert json.loads(caught.value.body)["message"] == "etcd is down"
    assert len(core.list_namespaced_pod("default").items) == 2


def test_the_bulk_binding_endpoint_is_the_same_fault_target_as_the_subresource(
    binding: Any, emulator: Emulator, core: client.CoreV1Api
) -> None:
    emulator.faults.fail_next(verb="create", resource="bindings", code=500)
    with pytest.raises(ApiException):
        core.create_namespaced_binding("default", binding("web-1", "node-1"), _preload_content=False)


def test_latency_is_spent_on_the_emulator_clock(make_node: Any, make_pod: Any) -> None:
    clock = FakeClock()
    with Emulator([make_node("node-1"), make_pod("web-1")], clock=clock) as emu:
        configuration = client.Configuration()
        configuration.host = emu.url
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            emu.faults.add_latency(0.25, verb="get", resource="pods", count=2)
            for _ in range(3):
                core.read_namespaced_pod("web-1", "default")
            core.list_node()
    assert clock.slept == [0.25, 0.25]


def test_drop_watches_ends_every_open_stream(emulator: Emulator, core: client.CoreV1Api) -> None:
    started = threading.Event()
    ended = threading.Event()
    seen: list[str] = []

    def consume() -> None:
        stream = watch.Watch().stream(core.list_node, resource_version="0", timeout_seconds=60)
        for event in stream:
            seen.append(event["object"].metadata.name)
            if len(seen) == 3:
                started.set()
        ended.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert started.wait(10)
    assert emulator.faults.drop_watches() == 1
    assert ended.wait(10), "the stream ended on the client side"
    thread.join(10)
    assert sorted(seen) == ["node-1", "node-2", "node-3"]


def test_expire_history_makes_the_next_resume_410(make_pod: Any, emulator: Emulator, core: client.CoreV1Api) -> None:
    listed = core.list_namespaced_pod("default")
    core.create_namespaced_pod("default", make_pod("new-1"))
    stream = watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=listed.metadata.resource_version, timeout_seconds=30
    )
    assert next(stream)["object"].metadata.name == "new-1"
    emulator.faults.expire_history()
    with pytest.raises(ApiException) as caught:
        next(
            watch.Watch().stream(
                core.list_namespaced_pod,
                "default",
                resource_version=listed.metadata.resource_version,
                timeout_seconds=30,
            )
        )
    assert caught.value.status == 410
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod(
            "default", resource_version=listed.metadata.resource_version, resource_version_match="Exact"
        )
    assert caught.value.status == 410


def test_clear_removes_pending_faults(emulator: Emulator, core: client.CoreV1Api) -> None:
    emulator.faults.fail_next(5, code=500)
    emulator.faults.clear()
    assert core.list_node().items


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"count": 0}, "count must be at least 1", id="a count of zero"),
        pytest.param({"code": 200}, "HTTP error status", id="a success code"),
    ],
)
def test_fault_arguments_are_checked(emulator: Emulator, kwargs: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        emulator.faults.fail_next(**kwargs)


@pytest.fixture
def many_pods(make_pod: Any) -> Iterator[Emulator]:
    with Emulator([make_pod(f"p{i}") for i in range(3)], kubelet=False) as emu:
        yield emu


def test_kubelet_off_leaves_bound_pods_pending(many_pods: Emulator) -> None:
    many_pods.store.bind("default", "p0", "node-1")
    assert many_pods.store.get("pods", "p0", namespace="default")["status"]["phase"] == "Pending"


def test_the_kubelet_starts_a_pod_after_its_delay_on_the_emulator_clock(make_node: Any, make_pod: Any) -> None:
    clock = FakeClock()
    running = threading.Event()
    emu = Emulator([make_node("node-1"), make_pod("p")], clock=clock, kubelet_delay=5.0)
    emu.store.subscribe(
        lambda change: running.set() if change.object.get("status", {}).get("phase") == "Running" else None
    )
    with emu:
        bound_at = clock.now()
        emu.store.bind("default", "p", "node-1")
        assert running.wait(10)
        pod = emu.store.get("pods", "p", namespace="default")
    assert pod["status"]["startTime"] == rfc3339(bound_at + 5.0)
    assert pod["status"]["hostIP"].startswith("10.0.")
