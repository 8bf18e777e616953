"""Fixtures for the API server emulator's tests: object builders, a running emulator, real clients for it."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from sim.apiserver import Emulator

JSON = dict[str, Any]


def build_node(name: str, *, ready: bool = True, labels: dict[str, str] | None = None, ip: str | None = None) -> JSON:
    """A Node as a kubelet registers it."""
    status: JSON = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
    }
    if ip:
        status["addresses"] = [{"type": "InternalIP", "address": ip}]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}, "status": status}


def build_pod(
    name: str,
    *,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    node: str | None = None,
    scheduler: str | None = None,
    limits: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
) -> JSON:
    """A single-container Pod manifest."""
    resources: JSON = {}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    spec: JSON = {"containers": [{"name": "app", "image": "nginx:1.27", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    if scheduler:
        spec["schedulerName"] = scheduler
    meta: JSON = {"name": name, "namespace": namespace, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def build_binding(pod: str, node: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}, "target": {"kind": "Node", "name": node}}


@pytest.fixture
def make_node() -> Callable[..., JSON]:
    """The Node builder (tests take builders as fixtures: test modules cannot import this conftest)."""
    return build_node


@pytest.fixture
def make_pod() -> Callable[..., JSON]:
    """The Pod builder."""
    return build_pod


@pytest.fixture
def binding() -> Callable[[str, str], JSON]:
    """The Binding builder: `binding(pod, node)`."""
    return build_binding


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator with three nodes and two pending pods (`web-1` labelled app=web, `db-1` app=db)."""
    objects = [
        build_node("node-1", labels={"node-role.kubernetes.io/worker": ""}, ip="192.168.0.11"),
        build_node("node-2", ip="192.168.0.12"),
        build_node("node-3", ready=False),
        build_pod("web-1", labels={"app": "web"}, scheduler="ai-llama-scheduler"),
        build_pod("db-1", labels={"app": "db"}),
    ]
    emu = Emulator(objects)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def api(emulator: Emulator) -> Iterator[client.ApiClient]:
    configuration = client.Configuration()
    configuration.host = emulator.url
    with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)
