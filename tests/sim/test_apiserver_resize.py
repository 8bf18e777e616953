"""In-place resize through `pods/resize` and the emulated kubelet, with the real client.

Upstream (1.33, InPlacePodVerticalScaling beta): `pkg/registry/core/pod/strategy.go` podResizeStrategy
(dropNonResizeUpdates) and `ValidatePodResize`; the kubelet's `canResizePod` (`pkg/kubelet/kubelet.go`) reports
`PodResizePending` with reason `Infeasible` or `Deferred`, then `PodResizeInProgress` while it actuates, and
`status.containerStatuses[].allocatedResources` / `.resources` for what it allocated and what runs.
"""

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from cluster.clock import FakeClock
from sim.api_strategy import rfc3339
from sim.apiserver import Emulator

STRATEGIC = "application/strategic-merge-patch+json"


def pod(make_pod: Any, name: str, cpu: str, limit: str) -> dict[str, Any]:
    body = make_pod(name, requests={"cpu": cpu, "memory": "1Gi"}, limits={"cpu": limit, "memory": "2Gi"})
    body["spec"]["nodeName"] = "node-1"
    return body


@pytest.fixture
def emulator(make_node: Any, make_pod: Any) -> Iterator[Emulator]:
    """node-1 (4 cpu, 8Gi) running `app` (1 cpu) and `other` (2 cpu)."""
    with Emulator([make_node("node-1"), pod(make_pod, "app", "1", "4"), pod(make_pod, "other", "2", "4")]) as emu:
        yield emu


def resize(core: client.CoreV1Api, name: str, **requests: str) -> client.V1Pod:
    body = {"spec": {"containers": [{"name": "app", "resources": {"requests": requests}}]}}
    return core.patch_namespaced_pod_resize(name, "default", body, _content_type=STRATEGIC)


def conditions(pod: client.V1Pod) -> dict[str, tuple[str | None, str | None]]:
    return {c.type: (c.reason, c.message) for c in pod.status.conditions if c.type.startswith("PodResize")}


def test_running_pod_reports_what_it_was_allocated(core: client.CoreV1Api) -> None:
    status = core.read_namespaced_pod("app", "default").status.container_statuses[0]
    assert status.allocated_resources == {"cpu": "1", "memory": "1Gi"}
    assert status.resources.requests == {"cpu": "1", "memory": "1Gi"}
    assert status.resources.limits == {"cpu": "4", "memory": "2Gi"}


def test_resize_that_fits_is_allocated_then_actuated(core: client.CoreV1Api) -> None:
    since = core.list_namespaced_pod("default").metadata.resource_version
    resized = resize(core, "app", cpu="1500m")
    assert resized.spec.containers[0].resources.requests == {"cpu": "1500m", "memory": "1Gi"}
    stream = watch.Watch()
    seen = []
    for event in stream.stream(core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=5):
        status = event["object"].status
        seen.append((status.container_statuses[0].allocated_resources["cpu"], sorted(conditions(event["object"]))))
        if len(seen) == 3:
            stream.stop()
    assert seen == [("1", []), ("1500m", ["PodResizeInProgress"]), ("1500m", [])]
    running = core.read_namespaced_pod("app", "default").status.container_statuses[0]
    assert running.resources.requests == {"cpu": "1500m", "memory": "1Gi"}


@pytest.mark.parametrize(
    ("cpu", "reason", "message"),
    [
        pytest.param(
            "5",
            "Infeasible",
            "Node didn't have enough capacity: cpu, requested: 5000, capacity: 4000",
            id="more than the node's allocatable is infeasible",
        ),
        pytest.param(
            "3",
            "Deferred",
            "Node didn't have enough resource: cpu, requested: 3000, used: 2000, capacity: 4000",
            id="more than is free beside the other pods is deferred",
        ),
    ],
)
def test_resize_that_does_not_fit_is_pending(core: client.CoreV1Api, cpu: str, reason: str, message: str) -> None:
    resize(core, "app", cpu=cpu)
    pod = core.read_namespaced_pod("app", "default")
    assert conditions(pod) == {"PodResizePending": (reason, message)}
    assert pod.status.container_statuses[0].allocated_resources["cpu"] == "1"


def test_deferred_resize_is_retried_when_room_is_made(core: client.CoreV1Api) -> None:
    resize(core, "app", cpu="3")
    core.delete_namespaced_pod("other", "default")
    pod = core.read_namespaced_pod("app", "default")
    assert conditions(pod) == {}
    assert pod.status.container_statuses[0].allocated_resources["cpu"] == "3"
    assert pod.status.container_statuses[0].resources.requests["cpu"] == "3"


def test_resizing_back_clears_the_pending_resize(core: client.CoreV1Api) -> None:
    resize(core, "app", cpu="5")
    resize(core, "app", cpu="1")
    pod = core.read_namespaced_pod("app", "default")
    assert conditions(pod) == {}
    assert pod.status.container_statuses[0].allocated_resources["cpu"] == "1"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param(
            {"requests": {"ephemeral-storage": "1Gi"}},
            'Pod "app" is invalid: spec.containers[0].resources.requests: Forbidden: only cpu and memory resources '
            "are mutable",
            id="only cpu and memory can be resized",
        ),
        pytest.param(
            {"requests": {"cpu": "4", "memory": "2Gi"}},
            'Pod "app" is invalid: spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of '
            "resizing",
            id="the QoS class must not change",
        ),
    ],
)
def test_resize_validation(core: client.CoreV1Api, resources: dict[str, Any], message: str) -> None:
    body = {"spec": {"containers": [{"name": "app", "resources": resources}]}}
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_pod_resize("app", "default", body, _content_type=STRATEGIC)
    assert refused.value.status == 422
    assert json.loads(refused.value.body)["message"] == message


def test_resources_cannot_change_through_the_pod_itself(core: client.CoreV1Api) -> None:
    body = {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "2"}}}]}}
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_pod("app", "default", body, _content_type=STRATEGIC)
    assert refused.value.status == 422


def test_resize_subresource_keeps_everything_but_resources(core: client.CoreV1Api) -> None:
    """dropNonResizeUpdates: labels, images and status sent to `pods/resize` are not taken."""
    body = {
        "metadata": {"labels": {"sneaky": "yes"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.28", "resources": {"requests": {"cpu": "2"}}}]},
    }
    pod = core.patch_namespaced_pod_resize("app", "default", body, _content_type=STRATEGIC)
    assert "sneaky" not in (pod.metadata.labels or {})
    assert (pod.spec.containers[0].image, pod.spec.containers[0].resources.requests["cpu"]) == ("nginx:1.27", "2")


def test_kubelet_resizes_after_its_delay_on_the_emulator_clock(make_node: Any, make_pod: Any) -> None:
    """Allocated (`PodResizeInProgress`) one kubelet delay after the resize, actuated one delay after that."""
    clock = FakeClock()
    started, done = threading.Event(), threading.Event()
    in_progress: list[str] = []
    emu = Emulator([make_node("node-1"), pod(make_pod, "app", "1", "4")], clock=clock, kubelet_delay=5.0)

    def watch_status(change: Any) -> None:
        status = change.object.get("status") or {}
        if status.get("podIP"):
            started.set()
        for condition in status.get("conditions") or []:
            if condition["type"] == "PodResizeInProgress" and condition["lastTransitionTime"] not in in_progress:
                in_progress.append(condition["lastTransitionTime"])
        container = (status.get("containerStatuses") or [{}])[0]
        if (container.get("resources") or {}).get("requests", {}).get("cpu") == "2":
            done.set()

    emu.store.subscribe(watch_status)
    with emu:
        assert started.wait(10)
        resized_at = clock.now()
        emu.store.patch(
            "pods",
            "app",
            {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "2"}}}]}},
            patch_type="strategic",
            namespace="default",
            subresource="resize",
        )
        assert done.wait(10)
        final = emu.store.get("pods", "app", namespace="default")
    assert in_progress == [rfc3339(resized_at + 5.0)]
    assert clock.now() >= resized_at + 10.0
    assert final["status"]["containerStatuses"][0]["allocatedResources"]["cpu"] == "2"
    assert not [c for c in final["status"]["conditions"] if c["type"].startswith("PodResize")]
