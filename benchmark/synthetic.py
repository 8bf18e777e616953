"""Synthetic clusters in `kubectl get nodes,pods -A -o json` form, for the latency benchmarks.

Nodes carry zone/ssd labels, some taints, and NodeState annotations (a minority noisy, some missing
metrics); pods are placed round-robin within each node's capacity. Deterministic for a seed.
"""

import json
import random
from typing import Any

METRICS = {
    "cpu_utilization": (0.2, 0.9),
    "cpu_throttling_ratio": (0.0, 0.3),
    "cpi": (0.8, 2.5),
    "llc_miss_rate": (0.05, 0.35),
    "llc_mpki": (0.5, 15.0),
    "llc_occupancy_ratio": (0.2, 0.98),
    "memory_bandwidth_gbps": (2.0, 40.0),
    "memory_bandwidth_ratio": (0.05, 0.9),
    "psi_cpu_some": (0.0, 40.0),
    "psi_memory_some": (0.0, 10.0),
    "psi_io_some": (0.0, 20.0),
}


BOUND = "2026-11-22T09:00:00Z"
"""When the running pods were bound (their `PodScheduled` condition): an hour before their nodes' NodeStates, which
therefore measure them, as in a cluster that has been running a while. Without it the API server emulator stamps
them bound as it loads them, after every NodeState, and the fresh-placement estimate counts all of them."""


def node_state(name: str, rng: random.Random, noisy: bool) -> str:
    metrics = {}
    for metric, (low, high) in METRICS.items():
        if rng.random() < 0.1:
            continue  # this node cannot measure it
        level = rng.uniform(0.6, 1.0) if noisy else rng.uniform(0.0, 0.35)
        mean = low + (high - low) * level
        metrics[metric] = {"mean": round(mean, 4), "std": round(mean * 0.05, 4), "p95": round(min(mean * 1.1, high), 4)}
    state = {
        "version": 1,
        "node": name,
        "timestamp": "2026-11-22T10:00:00Z",
        "window_seconds": 30,
        "metrics": metrics,
        "sources": {"perf": True, "resctrl": True, "psi": True, "cgroup": True},
    }
    return json.dumps(state, separators=(",", ":"))


def cluster(nodes: int, pods_per_node: int, *, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for i in range(nodes):
        name = f"node-{i:05d}"
        labels = {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": f"zone-{i % 3}",
            **({"disktype": "ssd"} if i % 4 == 0 else {}),
        }
        spec: dict[str, Any] = {}
        if i % 50 == 0:
            spec["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {"ai-scheduler.io/node-state": node_state(name, rng, noisy=rng.random() < 0.2)},
                },
                "spec": spec,
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "200Gi"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    for i in range(nodes * pods_per_node):
        annotations = {}
        if rng.random() < 0.1:
            annotations["ai-scheduler.io/noisy"] = rng.choice(["llc", "membw", "cpu"])
        elif rng.random() < 0.2:
            annotations["ai-scheduler.io/workload-class"] = "latency-critical"
        items.append(pod(f"existing-{i:06d}", node=f"node-{i % nodes:05d}", annotations=annotations, rng=rng))
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def pod(name: str, *, node: str = "", annotations: dict[str, str] | None = None, rng: random.Random) -> dict[str, Any]:
    cpu = rng.choice(["100m", "250m", "500m", "1"])
    memory = rng.choice(["128Mi", "256Mi", "1Gi", "2Gi"])
    spec: dict[str, Any] = {
        "schedulerName": "ai-llama-scheduler",
        "containers": [
            {"name": "app", "image": "example/app:1", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ],
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "bench",
            "labels": {"app": name.split("-", maxsplit=1)[0]},
            "annotations": annotations or {},
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": BOUND}],
        }
        if node
        else {"phase": "Pending"},
    }


def incoming(count: int, *, seed: int = 2) -> dict[str, Any]:
    """Pending pods of every class, a few with selectors, as a List."""
    rng = random.Random(seed)
    classes = ["latency-critical", "throughput", "batch", "best-effort"]
    items = []
    for i in range(count):
        annotations = {"ai-scheduler.io/workload-class": classes[i % len(classes)]}
        item = pod(f"incoming-{i:05d}", annotations=annotations, rng=rng)
        if i % 10 == 0:
            item["spec"]["nodeSelector"] = {"disktype": "ssd"}
        items.append(item)
    return {"apiVersion": "v1", "kind": "List", "items": items}
