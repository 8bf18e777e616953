"""The real kubernetes client against the emulator over loopback: CRUD, selectors, binding, patches, leases."""

import json
import socket
import threading
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sim import api_handlers
from sim.apiserver import Emulator

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_discovery_and_version(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version == "v1.32.0"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert groups == {
        "apps",
        "coordination.k8s.io",
        "events.k8s.io",
        "authorization.k8s.io",
        "storage.k8s.io",
        "policy",
    }
    resources = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/binding", "pods/status", "nodes", "namespaces", "events", "bindings"} <= resources


def test_list_with_label_and_field_selectors(core: client.CoreV1Api) -> None:
    pods = core.list_namespaced_pod("default", label_selector="app in (web,api)")
    assert [p.metadata.name for p in pods.items] == ["web-1"]
    assert int(pods.metadata.resource_version) > 0
    mine = core.list_pod_for_all_namespaces(field_selector="spec.schedulerName=ai-llama-scheduler,spec.nodeName=")
    assert [p.metadata.name for p in mine.items] == ["web-1"]
    assert [n.metadata.name for n in core.list_node(field_selector="metadata.name=node-2").items] == ["node-2"]
    assert [n.metadata.name for n in core.list_node(label_selector="node-role.kubernetes.io/worker").items] == [
        "node-1"
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"field_selector": "spec.color=red"}, "field label not supported: spec.color", id="unknown field"),
        pytest.param({"label_selector": "app in web"}, "unable to parse requirement", id="malformed label selector"),
    ],
)
def test_bad_selectors_are_400_bad_request(core: client.CoreV1Api, kwargs: dict, message: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("default", **kwargs)
    body = status_of(caught.value)
    assert (caught.value.status, body["kind"], body["reason"]) == (400, "Status", "BadRequest")
    assert message in body["message"]


def test_pod_create_get_and_defaults(make_pod: Any, core: client.CoreV1Api) -> None:
    created = core.create_namespaced_pod(
        "team-a", make_pod("api-1", namespace="team-a", limits={"cpu": "1", "memory": "1Gi"})
    )
    assert created.status.phase == "Pending" and created.status.qos_class == "Guaranteed"
    assert created.spec.scheduler_name == "default-scheduler"
    assert created.spec.containers[0].resources.requests == {"cpu": "1", "memory": "1Gi"}
    namespace = core.read_namespace("team-a")
    assert namespace.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("team-a", make_pod("api-1", namespace="team-a"))
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "AlreadyExists")


def test_bind_answers_a_success_status_and_the_kubelet_starts_the_pod(binding: Any, core: client.CoreV1Api) -> None:
    response = core.create_namespaced_binding("default", binding("web-1", "node-1"), _preload_content=False)
    assert response.status == 201
    assert json.loads(response.data) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    pod = core.read_namespaced_pod("web-1", "default")
    assert pod.spec.node_name == "node-1"
    assert pod.status.phase == "Running"
    assert pod.status.host_ip == "192.168.0.11" and pod.status.pod_ip.startswith("10.244.")
    assert {c.type: c.status for c in pod.status.conditions} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert pod.status.container_statuses[0].ready is True


def test_a_second_bind_is_409_conflict(binding: Any, core: client.CoreV1Api) -> None:
    core.create_namespaced_pod_binding("web-1", "default", binding("web-1", "node-1"), _preload_content=False)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_binding("web-1", "default", binding("web-1", "node-2"), _preload_content=False)
    body = status_of(caught.value)
    assert (caught.value.status, body["reason"]) == (409, "Conflict")
    assert (
        body["message"]
        == 'Operation cannot be fulfilled on pods/binding "web-1": pod web-1 is already assigned to node "node-1"'
    )


def test_binding_a_deleted_pod_is_404(binding: Any, core: client.CoreV1Api) -> None:
    core.delete_namespaced_pod("db-1", "default")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_binding("default", binding("db-1", "node-1"), _preload_content=False)
    assert (caught.value.status, status_of(caught.value)["message"]) == (404, 'pods "db-1" not found')


def test_concurrent_binds_of_one_pod_have_one_winner(binding: Any, emulator: Emulator, core: client.CoreV1Api) -> None:
    results: list[int] = []

    def bind(node: str) -> None:
        try:
            results.append(
                core.create_namespaced_binding("default", binding("db-1", node), _preload_content=False).status
            )
        except ApiException as exc:
            results.append(exc.status)

    threads = [threading.Thread(target=bind, args=(f"node-{1 + i % 2}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 7


def test_strategic_merge_patch_merges_pod_conditions_by_type(emulator: Emulator, core: client.CoreV1Api) -> None:
    emulator.kubelet.stop()
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available",
    }
    core.patch_namespaced_pod_status(
        "web-1", "default", {"status": {"conditions": [condition]}}, _content_type=STRATEGIC
    )
    other = {"type": "Ready", "status": "False"}
    core.patch_namespaced_pod_status("web-1", "default", {"status": {"conditions": [other]}}, _content_type=STRATEGIC)
    update = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/4 nodes are available",
    }
    pod = core.patch_namespaced_pod_status(
        "web-1", "default", {"status": {"conditions": [update]}}, _content_type=STRATEGIC
    )
    assert [(c.type, c.message) for c in pod.status.conditions] == [
        ("PodScheduled", "0/4 nodes are available"),
        ("Ready", None),
    ]


def test_merge_patch_replaces_the_conditions_list(core: client.CoreV1Api) -> None:
    first = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    core.patch_namespaced_pod_status("db-1", "default", first, _content_type=MERGE)
    second = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}
    pod = core.patch_namespaced_pod_status("db-1", "default", second, _content_type=MERGE)
    assert [c.type for c in pod.status.conditions] == ["PodScheduled"], "RFC 7386: lists are replaced"


def test_status_written_through_the_main_resource_is_ignored(core: client.CoreV1Api) -> None:
    pod = core.patch_namespaced_pod("db-1", "default", {"status": {"phase": "Failed"}}, _content_type=MERGE)
    assert pod.status.phase == "Pending"


def test_annotations_merge_patch(core: client.CoreV1Api) -> None:
    core.patch_namespaced_pod(
        "web-1", "default", {"metadata": {"annotations": {"a": "1", "b": "2"}}}, _content_type=MERGE
    )
    pod = core.patch_namespaced_pod(
        "web-1", "default", {"metadata": {"annotations": {"b": None, "c": "3"}}}, _content_type=MERGE
    )
    assert pod.metadata.annotations == {"a": "1", "c": "3"}
    node = core.patch_node(
        "node-1", {"metadata": {"annotations": {"ai-scheduler.io/node-state": "{}"}}}, _content_type=MERGE
    )
    assert node.metadata.annotations == {"ai-scheduler.io/node-state": "{}"}


def test_json_patch_is_the_client_default(core: client.CoreV1Api) -> None:
    pod = core.patch_namespaced_pod("web-1", "default", [{"op": "add", "path": "/metadata/labels/tier", "value": "fe"}])
    assert pod.metadata.labels == {"app": "web", "tier": "fe"}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("web-1", "default", [{"op": "test", "path": "/metadata/name", "value": "x"}])
    assert caught.value.status == 422


def test_a_pod_cannot_be_bound_by_patching_its_node_name(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("web-1", "default", {"spec": {"nodeName": "node-1"}}, _content_type=MERGE)
    assert (caught.value.status, status_of(caught.value)["reason"]) == (422, "Invalid")


def test_lease_update_with_a_stale_resource_version_conflicts(api: client.ApiClient) -> None:
    leases = client.CoordinationV1Api(api)
    body = {"metadata": {"name": "ai-llama-scheduler"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    created = leases.create_namespaced_lease("kube-system", body)
    created.spec.holder_identity = "b"
    replaced = leases.replace_namespaced_lease("ai-llama-scheduler", "kube-system", created)
    assert replaced.spec.holder_identity == "b"
    assert replaced.metadata.resource_version != created.metadata.resource_version
    created.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("ai-llama-scheduler", "kube-system", created)
    body = status_of(caught.value)
    assert (caught.value.status, body["reason"]) == (409, "Conflict")
    assert body["details"] == {"name": "ai-llama-scheduler", "group": "coordination.k8s.io", "kind": "leases"}


def test_events_written_through_either_api_share_one_storage(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pod = core.read_namespaced_pod("web-1", "default")
    event = {
        "metadata": {"name": "web-1.scheduled", "namespace": "default"},
        "eventTime": "2026-11-22T10:00:00.000000Z",
        "reason": "Scheduled",
        "note": "Successfully assigned default/web-1 to node-1",
        "type": "Normal",
        "action": "Binding",
        "reportingController": "ai-llama-scheduler",
        "reportingInstance": "ai-llama-scheduler-0",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": pod.metadata.uid},
    }
    client.EventsV1Api(api).create_namespaced_event("default", event)
    selector = f"involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.uid={pod.metadata.uid}"
    found = core.list_namespaced_event("default", field_selector=selector).items
    assert [(e.reason, e.message, e.involved_object.kind) for e in found] == [
        ("Scheduled", "Successfully assigned default/web-1 to node-1", "Pod")
    ]
    v1 = client.EventsV1Api(api).list_namespaced_event("default", field_selector="regarding.name=web-1").items
    assert v1[0].note == "Successfully assigned default/web-1 to node-1"


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason"),
    [
        pytest.param("POST", "/api/v1/namespaces/default/pods", "{not json", 400, "BadRequest", id="malformed JSON"),
        pytest.param(
            "POST", "/api/v1/namespaces/default/pods", "[1, 2]", 400, "BadRequest", id="a body that is no object"
        ),
        pytest.param("GET", "/api/v1/namespaces/default/widgets", None, 404, "NotFound", id="an unknown resource"),
        pytest.param("GET", "/apis/apps/v1/deployments", None, 404, "NotFound", id="an unserved group"),
        pytest.param("PUT", "/api/v1/namespaces/default/pods", "{}", 405, "MethodNotAllowed", id="PUT on a collection"),
        pytest.param("GET", "/api/v1/pods?limit=x", None, 400, "BadRequest", id="a non-numeric limit"),
        pytest.param("GET", "/api/v1/pods?resourceVersion=abc", None, 400, "BadRequest", id="a non-numeric version"),
        pytest.param("GET", "/api/v1/pods?resourceVersion=999999", None, 504, "Timeout", id="a future version"),
    ],
)
def test_bad_requests_get_status_errors(
    api: client.ApiClient, method: str, path: str, body: str | None, code: int, reason: str
) -> None:
    headers = {"Content-Type": "application/json"}
    response = api.rest_client.pool_manager.request(method, api.configuration.host + path, body=body, headers=headers)
    status = json.loads(response.data)
    assert (response.status, status["kind"], status["reason"], status["code"]) == (code, "Status", reason, code)


def test_paginated_lists_follow_continue_tokens(make_pod: Any, core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_pod("paged", make_pod(f"p{i}", namespace="paged"))
    names, token = [], None
    while True:
        page = core.list_namespaced_pod("paged", limit=2, _continue=token)
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == ["p0", "p1", "p2", "p3", "p4"]


def _raw(emulator: Emulator, data: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes, read one response; (status code, Status body, what followed before the server closed)."""
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        reader = conn.makefile("rb")
        code = int(reader.readline().split()[1])
        headers = {}
        while (line := reader.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        body = json.loads(reader.read(int(headers["content-length"])))
        return code, body, reader.read()


@pytest.mark.parametrize(
    ("request_bytes", "code", "reason"),
    [
        pytest.param(b"NONSENSE\r\n\r\n", 400, "BadRequest", id="a malformed request line"),
        pytest.param(b"GET /api/v1/pods HTTP/1.1\r\nno-colon-here\r\n\r\n", 400, "BadRequest", id="a malformed header"),
        pytest.param(b"OPTIONS /api/v1/pods HTTP/1.1\r\n\r\n", 405, "MethodNotAllowed", id="an unsupported method"),
        pytest.param(
            b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nContent-Length: nine\r\n\r\n",
            400,
            "BadRequest",
            id="a bad content length",
        ),
    ],
)
def test_broken_http_gets_a_status_and_a_closed_connection(
    emulator: Emulator, request_bytes: bytes, code: int, reason: str
) -> None:
    status, body, rest = _raw(emulator, request_bytes)
    assert (status, body["kind"], body["reason"]) == (code, "Status", reason)
    assert rest == b"", "the server closed the connection"


def test_a_malformed_chunked_body_is_refused(emulator: Emulator) -> None:
    head = b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, body, rest = _raw(emulator, head + b"zz\r\n{}\r\n0\r\n\r\n")
    assert (status, body["reason"], rest) == (400, "BadRequest", b"")


def test_a_chunked_request_body_is_read(make_pod: Any, emulator: Emulator) -> None:
    body = json.dumps(make_pod("chunky")).encode()
    head = b"POST /api/v1/namespaces/default/pods HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    status, created, _ = _raw(emulator, head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert (status, created["metadata"]["name"]) == (201, "chunky")


def test_a_protobuf_body_is_415_unsupported_media_type(api: client.ApiClient) -> None:
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    url = api.configuration.host + "/api/v1/namespaces"
    response = api.rest_client.pool_manager.request("POST", url, body=b"k8s\x00\n\x0f", headers=headers)
    assert (response.status, json.loads(response.data)["reason"]) == (415, "UnsupportedMediaType")


def test_an_unexpected_server_error_is_a_500_status_and_the_server_lives_on(
    core: client.CoreV1Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api_handlers, "handle", broken)
    with pytest.raises(ApiException) as caught:
        core.list_node()
    body = status_of(caught.value)
    assert (caught.value.status, body["reason"], body["message"]) == (
        500,
        "InternalError",
        "Internal error occurred: RuntimeError: boom",
    )
    monkeypatch.undo()
    assert len(core.list_node().items) == 3


def test_a_pod_bound_to_a_node_that_does_not_exist_stays_pending(core: client.CoreV1Api, binding: Any) -> None:
    response = core.create_namespaced_binding("default", binding("web-1", "ghost"), _preload_content=False)
    assert response.status == 201, "the API server does not check the node, as the real one does not"
    pod = core.read_namespaced_pod("web-1", "default")
    assert (pod.spec.node_name, pod.status.phase) == ("ghost", "Pending")
