"""Node and Pod JSON exactly as an API server holds them, for scenarios, generators and tests.

Objects carry the fields the API server's defaulting fills in (restart policy, DNS policy, termination settings,
image pull policy, QoS class), RFC 3339 timestamps and uids, so the scheduler and the emulator see what a real
cluster would serve. A node's hardware rides along in the `sim.ai-scheduler.io/hardware` annotation. Pure.
"""

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sim import hardware as hw
from sim import pods
from sim.hardware import Hardware

JSON = dict[str, Any]
KUBELET_VERSION = "v1.32.0"
RUNNING_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


def uid(seed: int, kind: str, name: str) -> str:
    """A uid derived from the seed: the same scenario always yields the same objects."""
    digest = hashlib.sha256(f"{seed}/{kind}/{name}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ALLOCATABLE_MEMORY = 0.94
"""Share of a node's memory kubelet leaves to pods after its system reservation."""


def default_allocatable(hardware: Hardware) -> dict[str, str]:
    """What kubelet reports after its system reservation."""
    memory = f"{int(hardware.memory_gib * 1024 * ALLOCATABLE_MEMORY)}Mi"
    return {"cpu": str(hardware.cores), "memory": memory, "pods": "110", "ephemeral-storage": "95Gi"}


def node(
    name: str,
    hardware: Hardware,
    *,
    seed: int = 0,
    created: float = 0.0,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
    allocatable: Mapping[str, str] | None = None,
    unschedulable: bool = False,
) -> JSON:
    """A Ready Node registered by kubelet."""
    base_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": hardware.generation,
    }
    spec: JSON = {}
    if taints:
        spec["taints"] = [{"key": t["key"], "value": str(t.get("value", "")), "effect": t["effect"]} for t in taints]
    if unschedulable:
        spec["unschedulable"] = True
    free = {**default_allocatable(hardware), **(allocatable or {})}
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": rfc3339(created)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": uid(seed, "Node", name),
            "creationTimestamp": rfc3339(created),
            "labels": {**base_labels, **(labels or {})},
            "annotations": {hw.ANNOTATION: hardware.to_json(), **(annotations or {})},
        },
        "spec": spec,
        "status": {
            "capacity": {**free, "cpu": str(hardware.cores), "memory": f"{int(hardware.memory_gib * 1024)}Mi"},
            "allocatable": free,
            "conditions": [ready],
            "addresses": [{"type": "Hostname", "address": name}],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBELET_VERSION,
                "containerRuntimeVersion": "containerd://1.7.24",
                "osImage": "Ubuntu 24.04.1 LTS",
            },
        },
    }


def pod(
    name: str,
    image: str,
    *,
    namespace: str = "default",
    seed: int = 0,
    created: float = 0.0,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    requests: Mapping[str, str] | None = None,
    limits: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    scheduler: str = "default-scheduler",
    node: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSON:
    """A single-container Pod: Running on `node` when given, else Pending; `extra` adds spec fields (selectors...)."""
    container: JSON = {
        "name": pods.image_name(image) or "main",
        "image": image,
        "imagePullPolicy": "Always" if _latest(image) else "IfNotPresent",
        "resources": {kind: dict(values) for kind, values in (("requests", requests), ("limits", limits)) if values},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if command:
        container["command"] = list(command)
    if args:
        container["args"] = list(args)
    spec: JSON = {
        "containers": [container],
        "schedulerName": scheduler,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "securityContext": {},
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        **(extra or {}),
    }
    status: JSON = {"phase": "Pending"}
    if node is not None:
        spec["nodeName"] = node
        conditions = [{"type": kind, "status": "True"} for kind in RUNNING_CONDITIONS]
        status = {"phase": "Running", "startTime": rfc3339(created), "conditions": conditions}
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid(seed, "Pod", f"{namespace}/{name}"),
            "creationTimestamp": rfc3339(created),
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
        "status": status,
    }
    manifest["status"]["qosClass"] = pods.qos_class(manifest)
    return manifest


def _latest(image: str) -> bool:
    """kubelet's default pull policy: Always for `:latest` or no tag, else IfNotPresent."""
    reference = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return "@" not in image and (":" not in reference or reference.endswith(":latest"))
