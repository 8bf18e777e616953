"""Malformed requests get kube-apiserver's 4xx Status, and nothing they carry is stored to break later reads.

Raw HTTP (`http.client`), so the test controls every byte a client could send. Each row once broke the emulator:
a stored name of 123 made every node list a 500 (names are sorted), a stored `spec` of "x" or labels as a list
broke `kubectl get` (the Table form), a binding to a list stored `nodeName` as a list, and the rest came back as
500s with a traceback.
"""

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sim.apiserver import Emulator

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


def token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


def call(
    emulator: Emulator,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"), timeout=10)
    payload = body if isinstance(body, str) or body is None else json.dumps(body)
    connection.request(method, path, body=payload, headers={"Content-Type": content_type, "Accept": accept})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read() or b"{}")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator([NODE, POD]) as running:
        yield running


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "fragment"),
    [
        pytest.param(
            "POST",
            "/api/v1/nodes",
            {"metadata": {"name": 123}},
            "application/json",
            422,
            "metadata.name",
            id="a number for a name",
        ),
        pytest.param(
            "POST",
            LEASES,
            {"metadata": {"name": "a/b"}},
            "application/json",
            422,
            "may not contain",
            id="a slash in a name",
        ),
        pytest.param(
            "POST",
            "/api/v1/nodes",
            {"metadata": {"name": "x" * 254}},
            "application/json",
            422,
            "1 to 253 characters",
            id="a name of 254 characters",
        ),
        pytest.param(
            "POST",
            "/api/v1/nodes",
            {"metadata": {"generateName": 5}},
            "application/json",
            422,
            "metadata.generateName",
            id="a number for generateName",
        ),
        pytest.param(
            "POST",
            "/api/v1/nodes",
            {"metadata": {"name": "n2", "labels": ["a"]}},
            "application/json",
            422,
            "metadata.labels",
            id="labels as a list",
        ),
        pytest.param(
            "POST",
            "/api/v1/nodes",
            {"metadata": {"name": "n2"}, "status": "x"},
            "application/json",
            422,
            "status: Invalid value",
            id="a status string",
        ),
        pytest.param(
            "POST",
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            {"metadata": {"name": "b"}, "spec": "x"},
            "application/json",
            422,
            "spec: Invalid value",
            id="a budget spec string",
        ),
        pytest.param(
            "PATCH",
            "/api/v1/namespaces/default/pods/p1",
            {"spec": "x"},
            MERGE,
            422,
            "spec",
            id="a patch making spec a string",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods/p1/binding",
            {"target": {"name": ["a"]}},
            "application/json",
            422,
            "target",
            id="a binding to a list",
        ),
        pytest.param(
            "PATCH",
            "/api/v1/namespaces/default/pods/p1",
            {"spec": {"tolerations": [1]}},
            MERGE,
            422,
            "spec.tolerations",
            id="a toleration that is a number",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            {"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "image": "i", "resources": "x"}]}},
            "application/json",
            422,
            "spec.containers[0].resources",
            id="resources as a string",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": "q"},
                "spec": {
                    "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "1e99999999999"}}}]
                },
            },
            "application/json",
            400,
            "quantities must match",
            id="a CPU request past Decimal's exponents",
        ),
        pytest.param(
            "DELETE",
            "/api/v1/namespaces/default/pods/p1",
            {"preconditions": "x"},
            "application/json",
            400,
            "preconditions must be a JSON object",
            id="preconditions as a string",
        ),
        pytest.param(
            "POST",
            "/api/v1/namespaces/default/pods/p1/eviction",
            {"deleteOptions": "x"},
            "application/json",
            400,
            "deleteOptions must be a JSON object",
            id="delete options as a string",
        ),
        pytest.param(
            "POST",
            "/api/v1/nodes",
            "[" * 100_000 + "]" * 100_000,
            "application/json",
            400,
            "nested too deeply",
            id="JSON nested past the stack",
        ),
        pytest.param(
            "GET",
            "/api/v1/nodes?resourceVersion=%C2%B2",
            None,
            "application/json",
            400,
            "resourceVersion",
            id="a superscript digit for a version",
        ),
        pytest.param(
            "GET", "/api/v1/nodes?limit=" + "9" * 5000, None, "application/json", 400, "limit", id="a 5000-digit limit"
        ),
        pytest.param(
            "GET",
            "/api/v1/nodes?limit=1&continue=" + token('{"rv": 1, "start": 5}'),
            None,
            "application/json",
            400,
            "continue key",
            id="a forged continue token",
        ),
        pytest.param(
            "GET",
            "/api/v1/nodes?limit=1&continue=" + token('{"rv": 1e400, "start": "a/b"}'),
            None,
            "application/json",
            400,
            "continue key",
            id="a continue version past a float",
        ),
    ],
)
def test_a_bad_request_is_refused_and_leaves_the_server_whole(
    emulator: Emulator, method: str, path: str, body: Any, content_type: str, status: int, fragment: str
) -> None:
    code, answer = call(emulator, method, path, body, content_type)
    assert (code, answer.get("kind"), answer.get("code")) == (status, "Status", status)
    assert fragment in answer["message"]
    listed, nodes = call(emulator, "GET", "/api/v1/nodes")
    assert listed == 200 and [n["metadata"]["name"] for n in nodes["items"]] == ["node-1"]
    table, _ = call(emulator, "GET", "/api/v1/nodes", accept=TABLE)
    assert table == 200
    _, pod = call(emulator, "GET", "/api/v1/namespaces/default/pods/p1")
    assert isinstance(pod["spec"], dict) and "nodeName" not in pod["spec"]


def test_a_watch_asking_for_more_than_a_wait_can_take_streams_events(emulator: Emulator) -> None:
    """timeoutSeconds=99999999999 overflowed the wait after the first events and cut the stream."""
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"), timeout=10)
    connection.request("GET", "/api/v1/nodes?watch=1&timeoutSeconds=99999999999")
    answer = connection.getresponse()
    assert answer.status == 200
    first = json.loads(answer.readline())
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "node-1"
    call(emulator, "POST", "/api/v1/nodes", {"metadata": {"name": "node-2"}})
    second = json.loads(answer.readline())
    assert second["type"] == "ADDED" and second["object"]["metadata"]["name"] == "node-2"
    connection.close()


@pytest.mark.parametrize(
    ("path", "kind", "name", "fragment"),
    [
        pytest.param("/api/v1/nodes", "Node", "Node-1", "lowercase RFC 1123 subdomain", id="an uppercase node"),
        pytest.param("/api/v1/namespaces/default/pods", "Pod", "web_1", "RFC 1123 subdomain", id="an underscore"),
        pytest.param("/api/v1/namespaces/default/pods", "Pod", "web-", "RFC 1123 subdomain", id="a trailing dash"),
        pytest.param("/api/v1/namespaces", "Namespace", "a.b", "RFC 1123 label", id="a dot in a namespace"),
        pytest.param("/api/v1/namespaces", "Namespace", "n" * 64, "no more than 63", id="a 64-character namespace"),
        pytest.param("/api/v1/namespaces/default/services", "Service", "1web", "DNS-1035 label", id="a digit first"),
    ],
)
def test_a_name_that_breaks_its_kinds_dns_rule_is_refused(
    emulator: Emulator, path: str, kind: str, name: str, fragment: str
) -> None:
    """kube-apiserver checks pod and node names as DNS subdomains, namespaces as DNS labels and services as
    DNS-1035 labels; the emulator stored them all, so a test could pass with a name a real cluster refuses."""
    code, answer = call(emulator, "POST", path, {"kind": kind, "metadata": {"name": name}})
    assert (code, answer.get("reason")) == (422, "Invalid")
    assert fragment in answer["message"] and f'"{name}"' in answer["message"]
    listed, _ = call(emulator, "GET", f"{path}/{name}")
    assert listed == 404


def test_names_that_keep_the_dns_rules_and_kinds_without_one_are_stored(emulator: Emulator) -> None:
    for path, kind, name in [
        ("/api/v1/nodes", "Node", "ip-10-0-0-1.ec2.internal"),
        ("/api/v1/namespaces/default/pods", "Pod", "web-0.v2"),
        ("/api/v1/namespaces", "Namespace", "team-7"),
        (LEASES, "Lease", "Mixed_Case.lock"),
    ]:
        body = {**(POD if kind == "Pod" else {}), "kind": kind, "metadata": {"name": name}}
        code, stored = call(emulator, "POST", path, body)
        assert code == 201, (name, stored)
    generated = {**POD, "metadata": {"generateName": "Web-"}}
    code, answer = call(emulator, "POST", "/api/v1/namespaces/default/pods", generated)
    assert code == 422 and "RFC 1123 subdomain" in answer["message"]
