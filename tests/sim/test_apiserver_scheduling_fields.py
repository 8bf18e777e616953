"""Scheduling gates and `status.nominatedNodeName` through the real client, as kube-apiserver 1.32 serves them.

Upstream: `pkg/registry/core/pod/storage/storage.go` (BindingREST.setPodNodeAndMetadata: "pod %v has non-empty
.spec.schedulingGates", a 409 on `pods/binding`; storage_test.go TestEtcdCreateWithSchedulingGates),
`pkg/apis/core/validation/validation.go` (ValidatePodUpdate: gates may only be removed) and
`pkg/registry/core/pod/strategy.go` (applySchedulingGatedCondition).
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from sim.apiserver import Emulator
from tests import tools

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
KUBECTL = tools.which("kubectl")


def gated(make_pod: Any, *gates: str) -> dict[str, Any]:
    pod = make_pod("gated")
    pod["spec"]["schedulingGates"] = [{"name": g} for g in gates]
    return pod


def bind(core: client.CoreV1Api, pod: str, node: str, binding: Any) -> None:
    core.create_namespaced_binding("default", binding(pod, node), _preload_content=False)


def test_gated_pod_is_marked_scheduling_gated(core: client.CoreV1Api, make_pod: Any) -> None:
    pod = core.create_namespaced_pod("default", gated(make_pod, "example.com/quota"))
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (scheduled.status, scheduled.reason) == ("False", "SchedulingGated")
    assert scheduled.message == "Scheduling is blocked due to non-empty scheduling gates"


@pytest.mark.parametrize(
    ("remove", "content_type"),
    [
        pytest.param({"spec": {"schedulingGates": None}}, MERGE, id="a merge patch removing all gates"),
        pytest.param([{"op": "remove", "path": "/spec/schedulingGates"}], JSON_PATCH, id="a JSON patch removing them"),
        pytest.param(
            {"spec": {"$setElementOrder/schedulingGates": [], "schedulingGates": [{"name": "a", "$patch": "delete"}]}},
            STRATEGIC,
            id="a strategic merge patch deleting the last gate by name",
        ),
    ],
)
def test_gated_binding_refused_until_the_gates_are_removed(
    core: client.CoreV1Api, make_pod: Any, binding: Any, remove: Any, content_type: str
) -> None:
    core.create_namespaced_pod("default", gated(make_pod, "a"))
    with pytest.raises(ApiException) as refused:
        bind(core, "gated", "node-1", binding)
    assert refused.value.status == 409
    status = json.loads(refused.value.body)
    assert (status["reason"], status["message"]) == (
        "Conflict",
        'Operation cannot be fulfilled on pods/binding "gated": pod gated has non-empty .spec.schedulingGates',
    )
    assert core.read_namespaced_pod("gated", "default").spec.node_name is None

    core.patch_namespaced_pod("gated", "default", remove, _content_type=content_type)
    bind(core, "gated", "node-1", binding)
    assert core.read_namespaced_pod("gated", "default").spec.node_name == "node-1"


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        pytest.param(
            ["a", "b", "c"],
            "spec.schedulingGates[2].name: Forbidden: only deletion is allowed, but found new scheduling gate 'c'",
            id="adding a gate is forbidden",
        ),
        pytest.param(
            ["z"],
            "spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'z'",
            id="replacing a gate is adding one",
        ),
        pytest.param(["b"], None, id="removing one gate of two is allowed"),
    ],
)
def test_gates_may_only_be_removed(
    core: client.CoreV1Api, make_pod: Any, gates: list[str], message: str | None
) -> None:
    core.create_namespaced_pod("default", gated(make_pod, "a", "b"))
    patch = {"spec": {"schedulingGates": [{"name": g} for g in gates]}}
    if message is None:
        pod = core.patch_namespaced_pod("gated", "default", patch, _content_type=MERGE)
        assert [g.name for g in pod.spec.scheduling_gates] == gates
        return
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_pod("gated", "default", patch, _content_type=MERGE)
    assert refused.value.status == 422
    assert json.loads(refused.value.body)["message"] == f'Pod "gated" is invalid: {message}'


@pytest.mark.parametrize(
    ("patch", "content_type"),
    [
        pytest.param({"status": {"nominatedNodeName": "node-2"}}, MERGE, id="a merge patch of pods/status"),
        pytest.param(
            {"status": {"nominatedNodeName": "node-2"}}, STRATEGIC, id="a strategic merge patch of pods/status"
        ),
    ],
)
def test_nominated_node_name_is_set_through_the_status(core: client.CoreV1Api, patch: Any, content_type: str) -> None:
    """kube-scheduler's preemption nominates the node through the status subresource; field selectors see it."""
    pod = core.patch_namespaced_pod_status("web-1", "default", patch, _content_type=content_type)
    assert pod.status.nominated_node_name == "node-2"
    nominated = core.list_pod_for_all_namespaces(field_selector="status.nominatedNodeName=node-2").items
    assert [p.metadata.name for p in nominated] == ["web-1"]
    cleared = core.patch_namespaced_pod_status(
        "web-1", "default", {"status": {"nominatedNodeName": None}}, _content_type=MERGE
    )
    assert cleared.status.nominated_node_name is None


def test_nominated_node_is_ignored_on_the_main_resource(core: client.CoreV1Api) -> None:
    pod = core.patch_namespaced_pod(
        "web-1", "default", {"status": {"nominatedNodeName": "node-2"}}, _content_type=MERGE
    )
    assert pod.status.nominated_node_name is None


@pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "printing pods"))
def test_kubectl_shows_gated_and_nominated_pods(emulator: Emulator, make_pod: Any, tmp_path: Path) -> None:
    emulator.store.create("pods", gated(make_pod, "a"))
    emulator.store.patch(
        "pods", "db-1", {"status": {"nominatedNodeName": "node-2"}}, namespace="default", subresource="status"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [str(KUBECTL), "--server", emulator.url, "--cache-dir", str(tmp_path / "c"), "get", "pods", "-o", "wide"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True)
    rows = {r[0]: r for r in (re.split(r"\s{2,}", line.strip()) for line in done.stdout.strip().splitlines())}
    assert rows["gated"][2] == "SchedulingGated"
    assert rows["NAME"][7] == "NOMINATED NODE"
    assert rows["db-1"][7] == "node-2"
