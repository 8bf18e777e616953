"""The emulated cluster as the interference model sees it: nodes with hardware, pods as workloads, and what is bound.

Built from plain Kubernetes JSON (Node and Pod objects as the API server holds them), so the publisher, the
benchmark and the training generator all start from what the emulator stores. Immutable: `with_pod` returns a new
state, so the oracle can try placements without side effects. Pure; never reads the product's model code.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from sim import hardware as hw
from sim import interference
from sim.hardware import Hardware
from sim.interference import Aggregate
from sim.pods import Workload, workload


@dataclass(frozen=True)
class NodeInfo:
    """A node's schedulable capacity and hardware."""

    name: str
    hardware: Hardware
    cpu: float
    """Allocatable cores."""
    memory: float
    """Allocatable bytes."""
    max_pods: int
    ready: bool = True
    unschedulable: bool = False


@dataclass(frozen=True)
class ClusterState:
    """Nodes by name and every pod (bound or pending) as a Workload."""

    nodes: Mapping[str, NodeInfo]
    pods: tuple[Workload, ...] = ()
    _by_node: Mapping[str, tuple[Workload, ...]] = field(default_factory=dict, repr=False, compare=False)
    _parts: dict[str, tuple[tuple[str, Aggregate], ...]] = field(default_factory=dict, repr=False, compare=False)
    """Each node's pods' contributions, computed on first use (a cache: states are immutable)."""

    def __post_init__(self) -> None:
        grouped: dict[str, list[Workload]] = {name: [] for name in self.nodes}
        for pod in self.pods:
            if pod.active and pod.node in grouped:
                grouped[pod.node].append(pod)
        object.__setattr__(self, "_by_node", {name: tuple(pods) for name, pods in grouped.items()})

    @classmethod
    def from_objects(cls, nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]] = ()) -> "ClusterState":
        """From Node and Pod JSON; raises HardwareError/WorkloadError naming the bad object."""
        infos = {}
        for node in nodes:
            info = node_info(node)
            infos[info.name] = info
        return cls(nodes=infos, pods=tuple(workload(pod) for pod in pods))

    def on(self, node: str) -> tuple[Workload, ...]:
        """Active pods bound to `node`."""
        return self._by_node.get(node, ())

    def pod(self, key: str) -> Workload:
        """A pod by `namespace/name`; KeyError when absent."""
        for candidate in self.pods:
            if candidate.key == key:
                return candidate
        raise KeyError(f"no pod {key!r} in the cluster state")

    def neighbours(self, node: str, *, excluding: str | None = None) -> Aggregate:
        """Sums over the active pods on `node`, leaving out the pod `excluding` (a `namespace/name`)."""
        if node not in self._parts:
            hardware = self.nodes[node].hardware
            self._parts[node] = tuple((p.key, interference.of_workload(p, hardware)) for p in self.on(node))
        total = Aggregate()
        for key, part in self._parts[node]:
            if key != excluding:
                total = total + part
        return total

    def pressure(self, pod: Workload, node: str) -> interference.Pressure:
        """Pressure on `pod` if it runs on `node`, from the other active pods there."""
        return _scalar(self.pressures([(pod, node)]))

    def pressures(
        self, placements: Sequence[tuple[Workload, str]], *, variant: interference.Variant = interference.CALIBRATED
    ) -> interference.Pressure:
        """Pressure on each (pod, node) placement, as arrays in that order, computed all at once."""
        hardware = [self.nodes[node].hardware for _, node in placements]
        machine = SimpleNamespace(**{f: np.array([getattr(h, f) for h in hardware], dtype=float) for f in _HARDWARE})
        others = _columns([self.neighbours(node, excluding=pod.key) for pod, node in placements])
        own = _columns([interference.of_workload(pod, h) for (pod, _), h in zip(placements, hardware, strict=True)])
        return interference.pressure(others, own, machine, variant=variant)

    def fits(self, pod: Workload, node: str) -> bool:
        """The pod's CPU/memory requests fit the node's free allocatable, and the node takes pods."""
        info = self.nodes[node]
        if not info.ready or info.unschedulable:
            return False
        others = tuple(p for p in self.on(node) if p.key != pod.key)
        cpu = sum(p.cpu_request for p in others) + pod.cpu_request
        memory = sum(p.memory_request for p in others) + pod.memory_request
        return cpu <= info.cpu + 1e-9 and memory <= info.memory and len(others) < info.max_pods

    def with_pod(self, pod: Workload, node: str) -> "ClusterState":
        """The state with `pod` bound to `node` and running (replacing any pod of the same key)."""
        if node not in self.nodes:
            raise KeyError(f"no node {node!r} in the cluster state")
        placed = replace(pod, node=node, phase="Running")
        return self._changed(pod.key, (*(p for p in self.pods if p.key != pod.key), placed), {node})

    def without_pod(self, key: str) -> "ClusterState":
        """The state with the pod `key` gone (deleted or finished)."""
        return self._changed(key, tuple(p for p in self.pods if p.key != key), set())

    def _changed(self, key: str, pods: tuple[Workload, ...], touched: set[str]) -> "ClusterState":
        """A new state; nodes the change leaves alone keep their cached contributions."""
        touched |= {p.node for p in self.pods if p.key == key and p.node is not None}
        state = replace(self, pods=pods, _parts={})
        state._parts.update({node: parts for node, parts in self._parts.items() if node not in touched})
        return state


_HARDWARE = ("cores", "l3_mb", "core_bw_gbps", "mem_bw_gbps")


def _columns(parts: Sequence[Aggregate]) -> Aggregate:
    """Aggregates as one Aggregate of arrays."""
    return Aggregate(*(np.array(values, dtype=float) for values in zip(*(p.astuple() for p in parts), strict=True)))


def _scalar(pressures: interference.Pressure) -> interference.Pressure:
    """A one-node Pressure as 0-d arrays, as `interference.pressure` gives for scalars."""
    return interference.Pressure(*(np.asarray(getattr(pressures, d)[0]) for d in ("cpu", "llc", "membw", "io")))


def node_info(node: Mapping[str, Any]) -> NodeInfo:
    """A Node JSON's capacity, readiness and hardware."""
    metadata = node.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise hw.HardwareError("a node has no metadata.name")
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    hardware = hw.from_node(node)
    try:
        cpu = hw.quantity(allocatable.get("cpu", hardware.cores))
        memory = hw.quantity(allocatable.get("memory", hardware.memory_gib * 2**30))
        max_pods = int(hw.quantity(allocatable.get("pods", 110)))
    except ValueError as exc:
        raise hw.HardwareError(f"node {name}: status.allocatable: {exc}") from None
    conditions = status.get("conditions")
    ready = conditions is None or any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
    return NodeInfo(name, hardware, cpu, memory, max_pods, ready=ready, unschedulable=unschedulable)
