"""An API server whose state went back, and the fault controls that make one from a shell."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from runtime.kube import too_large_resource_version
from sim import api_control
from sim.apiserver import Emulator, _failure

ROOT = Path(__file__).resolve().parents[2]


def test_a_reset_keeps_the_objects_under_lower_resource_versions(emulator: Emulator, core: client.CoreV1Api) -> None:
    before = core.list_namespaced_pod("default")
    emulator.store.create("pods", {"metadata": {"name": "late"}, "spec": {"containers": [{"name": "c"}]}})
    emulator.store.patch("pods", "late", {"metadata": {"labels": {"v": "2"}}}, namespace="default")
    high = emulator.store.resource_version
    assert emulator.faults.reset_store() < high
    after = core.list_namespaced_pod("default")
    assert sorted(p.metadata.name for p in after.items) == sorted([p.metadata.name for p in before.items] + ["late"])
    assert int(after.metadata.resource_version) < high


def test_a_watch_from_before_the_reset_is_refused_as_too_large(make_node: Any) -> None:
    with Emulator([make_node("n1")], fresh_timeout=0.2) as emulator:
        for i in range(5):  # history the reset forgets: the versions seen before it are ahead of it
            emulator.store.create("pods", {"metadata": {"name": f"p{i}"}, "spec": {"containers": [{"name": "c"}]}})
            emulator.store.delete("pods", f"p{i}", namespace="default")
        configuration = client.Configuration()
        configuration.host = emulator.url
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            seen = core.list_namespaced_pod("default").metadata.resource_version
            emulator.faults.reset_store()
            assert emulator.store.resource_version < int(seen)
            with pytest.raises(ApiException) as caught:
                for _ in watch.Watch().stream(
                    core.list_namespaced_pod, "default", resource_version=seen, timeout_seconds=5
                ):
                    pass
    assert caught.value.status == 504
    assert "Too large resource version" in caught.value.reason
    assert too_large_resource_version(caught.value)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(ApiException(504, "Timeout: Too large resource version: 9, current: 3"), True, id="504 too large"),
        pytest.param(ApiException(504, "Timeout: request did not complete"), False, id="another 504 is not"),
        pytest.param(ApiException(410, "Expired: too old resource version"), False, id="410 is the other way round"),
        pytest.param(OSError("connection reset"), False, id="a transport error is not"),
    ],
)
def test_too_large_resource_version_is_told_from_other_failures(error: Exception, expected: bool) -> None:
    assert too_large_resource_version(error) is expected


def _post(url: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("path", "code", "answer"),
    [
        pytest.param(
            "fail?code=409&count=3&verb=create&resource=pods/binding", 200, "failing", id="fail three bindings"
        ),
        pytest.param("reset", 200, "resourceVersion", id="reset the store"),
        pytest.param("drop-watches", 200, "dropped", id="drop the watches"),
        pytest.param("fail?code=200", 400, "error", id="a success code is not a failure"),
        pytest.param("fail?count=0", 400, "error", id="zero failures is refused"),
        pytest.param("latency?seconds=soon", 400, "error", id="latency must be a number"),
        pytest.param("explode", 400, "error", id="an unknown control is refused"),
    ],
)
def test_the_control_endpoint_maps_to_the_faults(emulator: Emulator, path: str, code: int, answer: str) -> None:
    control = api_control.ControlServer(emulator.faults).start()
    try:
        status, body = _post(f"{control.url}/{path}")
    finally:
        control.stop()
    assert status == code and answer in body, body


def test_injected_binding_conflicts_from_the_control_endpoint_reach_the_client(
    binding: Any, emulator: Emulator, core: client.CoreV1Api
) -> None:
    control = api_control.ControlServer(emulator.faults).start()
    try:
        _post(f"{control.url}/fail?code=409&count=2&verb=create&resource=pods/binding")
    finally:
        control.stop()
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_pod_binding("web-1", "default", binding("web-1", "node-1"), _preload_content=False)
        assert caught.value.status == 409
    assert (
        core.create_namespaced_pod_binding(
            "web-1", "default", binding("web-1", "node-1"), _preload_content=False
        ).status
        == 201
    )


def test_the_control_endpoint_serves_loopback_only(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        api_control.ControlServer(emulator.faults, host="0.0.0.0")


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param("create:pods/binding", id="no code"),
        pytest.param("create:pods/binding:conflict", id="a code that is not a number"),
        pytest.param("create:pods/binding:409:many", id="a count that is not a number"),
        pytest.param("create:pods/binding:200", id="a success code"),
    ],
)
def test_the_cli_refuses_a_bad_fail_rule_in_one_line(rule: str) -> None:
    command = [sys.executable, "-m", "sim.apiserver", "--fail", rule]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            "create:pods/binding:409:10",
            {"verb": "create", "resource": "pods/binding", "code": 409, "count": 10},
            id="ten binding conflicts",
        ),
        pytest.param(
            "list::503", {"verb": "list", "resource": None, "code": 503, "count": 1}, id="one 503 on any list"
        ),
    ],
)
def test_a_fail_rule_is_read_as_fail_next_arguments(rule: str, expected: dict[str, Any]) -> None:
    assert _failure(rule) == expected
