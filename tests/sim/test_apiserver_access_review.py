"""SelfSubjectAccessReview and denied verbs on the emulator, through the real client, kubectl and the CLI."""

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from sim import api_protobuf
from sim.api_errors import ApiError
from sim.apiserver import Emulator
from tests import tools

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = tools.which("kubectl")
REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def ask(api: client.ApiClient, **attributes: str) -> client.V1SubjectAccessReviewStatus:
    body = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(**attributes))
    )
    return client.AuthorizationV1Api(api).create_self_subject_access_review(body).status


def test_discovery_lists_the_authorization_group(api: client.ApiClient) -> None:
    groups = {g.name: g.preferred_version.group_version for g in client.ApisApi(api).get_api_versions().groups}
    assert groups["authorization.k8s.io"] == "authorization.k8s.io/v1"
    resources = client.AuthorizationV1Api(api).get_api_resources().resources
    assert [(r.name, r.kind, r.namespaced, r.verbs) for r in resources] == [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ["create"])
    ]


def test_everything_is_allowed_by_default_and_the_answer_echoes_the_spec(emulator: Emulator) -> None:
    spec = {"resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "binding", "namespace": "a"}}
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
    request = urllib.request.Request(
        emulator.url + REVIEWS, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        answer = json.loads(response.read())
    assert answer["kind"] == "SelfSubjectAccessReview"
    assert answer["apiVersion"] == "authorization.k8s.io/v1"
    assert answer["spec"] == spec
    assert answer["status"] == {"allowed": True}
    assert emulator.store.list("pods").items, "nothing was stored, nothing else changed"


@pytest.mark.parametrize(
    ("attributes", "allowed"),
    [
        pytest.param({"verb": "create", "resource": "pods", "subresource": "binding"}, False, id="the denied verb"),
        pytest.param(
            {"verb": "create", "resource": "pods", "subresource": "binding", "namespace": "other"},
            False,
            id="the denied verb in any namespace",
        ),
        pytest.param({"verb": "create", "resource": "pods"}, True, id="the same verb on the parent resource"),
        pytest.param({"verb": "patch", "resource": "pods", "subresource": "status"}, True, id="another subresource"),
        pytest.param({"verb": "*", "resource": "pods", "subresource": "binding"}, False, id="every verb includes it"),
        pytest.param({"verb": "list", "resource": "nodes"}, True, id="an unrelated verb"),
    ],
)
def test_a_denied_verb_is_refused_and_nothing_else(
    emulator: Emulator, api: client.ApiClient, attributes: dict[str, str], allowed: bool
) -> None:
    emulator.faults.deny("create", "pods/binding")
    status = ask(api, **attributes)
    assert status.allowed is allowed
    assert (status.reason is None) is allowed
    if not allowed:
        assert "create:pods/binding" in status.reason


def test_a_denied_request_gets_the_real_forbidden_status(
    emulator: Emulator, core: client.CoreV1Api, binding: Any
) -> None:
    emulator.faults.deny("create", "pods/binding")
    emulator.faults.deny("watch", "nodes")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_binding("web-1", "default", binding("web-1", "node-1"), _preload_content=False)
    status = json.loads(caught.value.body)
    assert (caught.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'pods "web-1" is forbidden: User "system:anonymous" cannot create resource "pods/binding" '
        'in API group "" in the namespace "default"'
    )
    assert status["details"] == {"name": "web-1", "kind": "pods"}
    with pytest.raises(ApiException) as caught:
        next(iter(watch.Watch().stream(core.list_node, timeout_seconds=1)))
    assert caught.value.status == 403
    assert core.list_node().items, "listing nodes is still allowed"
    emulator.faults.clear()
    response = core.create_namespaced_pod_binding(
        "web-1", "default", binding("web-1", "node-1"), _preload_content=False
    )
    assert response.status == 201


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({}, "spec.resourceAttributes", id="neither attribute set"),
        pytest.param(
            {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get", "path": "/healthz"}},
            "spec.nonResourceAttributes",
            id="both attribute sets",
        ),
    ],
)
def test_an_invalid_review_is_422(api: client.ApiClient, spec: dict[str, Any], field: str) -> None:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
    with pytest.raises(ApiException) as caught:
        client.AuthorizationV1Api(api).create_self_subject_access_review(body)
    status = json.loads(caught.value.body)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"][0]["field"] == field


def test_the_protobuf_form_kubectl_sends_is_read() -> None:
    # `kubectl auth can-i create pods --subresource=binding` (v1.32), as captured on the wire
    raw = (
        b"k8s\x00\n2\n\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12F\n\x10\n\x00\x12\x00\x1a\x00"
        b'"\x00*\x002\x008\x00B\x00\x12(\n&\n\x07default\x12\x06create\x1a\x00"\x00*\x04pods2\x07binding:\x00'
        b'\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00"\x00'
    )
    assert api_protobuf.self_subject_access_review(raw) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": "default",
                "verb": "create",
                "resource": "pods",
                "subresource": "binding",
            }
        },
    }
    with pytest.raises(ApiError, match="truncated"):
        api_protobuf.self_subject_access_review(raw[:40])


@pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "`kubectl auth can-i` against the emulator"))
def test_kubectl_auth_can_i(emulator: Emulator, tmp_path: Path) -> None:
    def can_i(*args: str) -> tuple[int, str]:
        command = [str(KUBECTL), "--server", emulator.url, "--cache-dir", str(tmp_path / "cache"), "auth", "can-i"]
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        done = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert not done.stderr, done.stderr
        return done.returncode, done.stdout.strip()

    assert can_i("create", "pods", "--subresource=binding") == (0, "yes")
    emulator.faults.deny("create", "pods/binding")
    code, answer = can_i("create", "pods", "--subresource=binding")
    assert code == 1
    assert answer.startswith("no - ") and "create:pods/binding" in answer
    assert can_i("create", "pods") == (0, "yes")
    assert can_i("get", "leases.coordination.k8s.io", "-n", "kube-system") == (0, "yes")


def test_the_cli_denies_what_deny_names(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sim.apiserver", "--kubeconfig", str(tmp_path / "kc"), "--deny", "list:nodes"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{url}/api/v1/nodes", timeout=10)
        assert caught.value.code == 403
        with urllib.request.urlopen(f"{url}/api/v1/pods", timeout=10) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_cli_refuses_a_malformed_deny() -> None:
    command = [sys.executable, "-m", "sim.apiserver", "--deny", "create"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "expected VERB:RESOURCE" in done.stderr
