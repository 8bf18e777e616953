"""Small builders for nodes and pods, as kube-scheduler's tests use `st.MakePod()` / `st.MakeNode()`."""

from typing import Any

from cluster import spread
from cluster.objects import Node, Pod
from cluster.parse import parse_node, parse_pod
from cluster.spread import Workloads

Raw = dict[str, Any]


def node_json(
    name: str,
    *,
    cpu: str | int = "4",
    memory: str | int = "8Gi",
    pods: int = 110,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    ready: str | None = "True",
    extra: dict[str, str] | None = None,
) -> Raw:
    allocatable = {"cpu": str(cpu), "memory": str(memory), "pods": str(pods), **(extra or {})}
    status: Raw = {"allocatable": allocatable, "capacity": dict(allocatable)}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    spec: Raw = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            "annotations": annotations or {},
        },
        "spec": spec,
        "status": status,
    }


def make_node(name: str, **kwargs: Any) -> Node:
    return parse_node(node_json(name, **kwargs))


def pod_json(
    name: str = "p",
    *,
    namespace: str = "default",
    cpu: str | int | None = None,
    memory: str | int | None = None,
    requests: dict[str, str] | None = None,
    node: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    spec: Raw | None = None,
    phase: str | None = None,
    host_ports: list[int] | None = None,
) -> Raw:
    resources = dict(requests or {})
    if cpu is not None:
        resources["cpu"] = str(cpu)
    if memory is not None:
        resources["memory"] = str(memory)
    container: Raw = {"name": "c", "image": "busybox", "resources": {"requests": resources} if resources else {}}
    if host_ports:
        container["ports"] = [{"containerPort": p, "hostPort": p} for p in host_ports]
    body: Raw = {"containers": [container], "schedulerName": "ai-llama-scheduler", **(spec or {})}
    if node:
        body["nodeName"] = node
    obj: Raw = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "annotations": annotations or {}},
        "spec": body,
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def make_pod(name: str = "p", **kwargs: Any) -> Pod:
    return parse_pod(pod_json(name, **kwargs))


def claim_json(name: str, storage_class: str, *, size: str = "1Gi", namespace: str = "default") -> Raw:
    """A ReadWriteOnce PersistentVolumeClaim of `storage_class`, as a user writes it (the API server adds the rest)."""
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": storage_class,
        "resources": {"requests": {"storage": size}},
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def make_workloads(**objects: list[Raw]) -> Workloads:
    """The Services and controllers (by informer resource: `services=[...]`, `replicasets=[...]`) as their
    informers' ADDED events leave them; an object that cannot be read fails the test."""
    workloads = Workloads()
    for resource, items in objects.items():
        for raw in items:
            workloads, problem = spread.apply_event(workloads, resource, "ADDED", raw)
            assert problem is None, problem
    return workloads
