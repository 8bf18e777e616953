"""An immutable view of the cluster that every tier decides against.

Holds the nodes in name order with their allocatable resources, the pods that run on each (terminal
pods excluded), the sums kube-scheduler keeps per node (requested, non-zero requested, pod count,
host ports), the pods' declared interference per node, and each node's telemetry as a metric matrix
with NaN for unknown. Arrays are aligned with `names`, so filters and scorers work on all nodes at
once. `with_pod`, `without_pod`, `with_node` and `with_state` return a new snapshot that shares what
did not change, which is how successive decisions and the scheduler's assume cache stay cheap.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from cluster import nodestate, resources
from cluster.labels import LabelIndex
from cluster.metrics import Telemetry
from cluster.needs import DIMENSIONS, parse_needs
from cluster.nodestate import NodeState
from cluster.objects import NAMESPACE_NAME_LABEL, Node, Pod, Taint
from cluster.spread import Workloads
from cluster.volumes import Volumes

if TYPE_CHECKING:
    from cluster.estimate import Fresh

BASE_RESOURCES = (resources.CPU, resources.MEMORY, resources.EPHEMERAL_STORAGE)
DIM_INDEX = {d: i for i, d in enumerate(DIMENSIONS)}


@dataclass(frozen=True, eq=False)
class NodeTable:
    """What changes only when nodes change: names, allocatable, taints, labels."""

    nodes: tuple[Node, ...]
    resources: tuple[str, ...]
    allocatable: np.ndarray
    allowed_pods: np.ndarray
    unschedulable: np.ndarray

    @classmethod
    def build(cls, nodes: Iterable[Node]) -> "NodeTable":
        ordered = tuple(sorted(nodes, key=lambda n: n.name))
        extended = sorted(
            {name for n in ordered for name in n.allocatable if name not in BASE_RESOURCES and name != resources.PODS}
        )
        names = BASE_RESOURCES + tuple(extended)
        allocatable = np.array([[n.allocatable.get(r, 0) for r in names] for n in ordered], dtype=np.int64).reshape(
            len(ordered), len(names)
        )
        return cls(
            nodes=ordered,
            resources=names,
            allocatable=allocatable,
            allowed_pods=np.array([n.allowed_pods for n in ordered], dtype=np.int64),
            unschedulable=np.array([n.unschedulable for n in ordered], dtype=bool),
        )

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def labels(self) -> LabelIndex:
        return LabelIndex([n.labels for n in self.nodes], self.names)

    @cached_property
    def taint_groups(self) -> tuple[tuple[tuple[Taint, ...], ...], np.ndarray]:
        """Distinct taint sets and, per node, the index of its set (most clusters have a handful)."""
        groups: dict[tuple[Taint, ...], int] = {}
        of = np.array([groups.setdefault(n.taints, len(groups)) for n in self.nodes], dtype=np.int32)
        return tuple(groups), of

    def resource_vector(self, amounts: Mapping[str, int]) -> tuple[np.ndarray, tuple[str, ...]]:
        """`amounts` aligned with the resource columns, and the requested resources no node offers."""
        vector = np.array([amounts.get(r, 0) for r in self.resources], dtype=np.int64)
        unknown = tuple(sorted(r for r, v in amounts.items() if v > 0 and r not in self.resources))
        return vector, unknown


Labelled = Mapping[str, Mapping[frozenset[tuple[str, str]], Mapping[int, int]]]


def _labelled_change(labelled: Labelled, i: int, pod: Pod, sign: int) -> Labelled:
    """`labelled` with `pod` added on (sign 1) or removed from (sign -1) node `i`; shares the other entries."""
    if pod.deleting:
        return labelled
    labels = frozenset(pod.labels.items())
    in_namespace = dict(labelled.get(pod.namespace, {}))
    per_node = dict(in_namespace.get(labels, {}))
    count = per_node.get(i, 0) + sign
    if count > 0:
        per_node[i] = count
    else:
        per_node.pop(i, None)
    if per_node:
        in_namespace[labels] = per_node
    else:
        in_namespace.pop(labels, None)
    changed = dict(labelled)
    if in_namespace:
        changed[pod.namespace] = in_namespace
    else:
        changed.pop(pod.namespace, None)
    return changed


def declared_of(pod: Pod) -> np.ndarray:
    """Per dimension: is the pod sensitive to it (row 0), does it stress it (row 1)."""
    needs = parse_needs(pod).needs
    out = np.zeros((2, len(DIMENSIONS)), dtype=np.int64)
    for d in needs.sensitivity:
        out[0, DIM_INDEX[d]] = 1
    for d in needs.noisy:
        out[1, DIM_INDEX[d]] = 1
    return out


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The cluster as one decision sees it. Build with `Snapshot.build`; never mutate arrays in place."""

    table: NodeTable
    pods_on: tuple[tuple[Pod, ...], ...]
    requested: np.ndarray
    non_zero: np.ndarray
    pod_count: np.ndarray
    used_ports: tuple[frozenset[tuple[str, str, int]], ...]
    declared: np.ndarray
    telemetry: Telemetry
    anti_affinity: tuple[tuple[int, Pod], ...] = ()
    """Pods with required anti-affinity and their node index (kube-scheduler keeps this list too)."""
    affine: tuple[tuple[int, Pod], ...] = ()
    """Pods whose affinity terms weigh on other pods' scores (`Pod.has_pod_affinity_terms`), with their node."""
    labelled: Labelled = field(default_factory=dict)
    """Namespace → a label set → node index → the non-terminating pods there with exactly those labels: the
    pods of one workload share their labels, so a spread selector is matched once per label set, not per pod."""
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    volumes: Volumes = field(default_factory=Volumes)
    """The claims, volumes, storage classes, CSINodes, CSIDrivers and CSIStorageCapacities the volume plugins read."""
    workloads: Workloads = field(default_factory=Workloads)
    """The Services' and controllers' selectors PodTopologySpread's default constraints select pods by."""
    fresh: "Fresh | None" = None
    """The pods placed since each node's telemetry and what they add (`cluster.estimate.apply`); None when
    the snapshot was built without placement times (the telemetry is then as published)."""

    @property
    def published(self) -> Telemetry:
        """The telemetry as the nodes published it, before the fresh-placement estimate: for scorers that run
        an estimator of their own (the load-aware peers)."""
        return self.fresh.measured if self.fresh is not None else self.telemetry

    @classmethod
    def build(
        cls,
        nodes: Iterable[Node],
        pods: Iterable[Pod] = (),
        *,
        states: Mapping[str, NodeState] | None = None,
        namespaces: Mapping[str, Mapping[str, str]] | None = None,
        volumes: Volumes | None = None,
        workloads: Workloads | None = None,
    ) -> "Snapshot":
        """A snapshot of `nodes` with the bound, non-terminal `pods` placed on them."""
        table = NodeTable.build(nodes)
        n = len(table.nodes)
        per_node: list[list[Pod]] = [[] for _ in range(n)]
        for pod in pods:
            i = table.index.get(pod.node_name)
            if i is not None and not pod.terminal:
                per_node[i].append(pod)
        states = states or {}
        node_states = tuple(states.get(name) or nodestate.unknown(name) for name in table.names)
        known_namespaces = {p.namespace for group in per_node for p in group}
        all_namespaces: dict[str, Mapping[str, str]] = {ns: {NAMESPACE_NAME_LABEL: ns} for ns in known_namespaces}
        all_namespaces.update(namespaces or {})
        snapshot = cls(
            table=table,
            pods_on=tuple(tuple(group) for group in per_node),
            requested=np.zeros((n, len(table.resources)), dtype=np.int64),
            non_zero=np.zeros((n, 2), dtype=np.int64),
            pod_count=np.zeros(n, dtype=np.int64),
            used_ports=tuple(frozenset() for _ in range(n)),
            declared=np.zeros((n, 2, len(DIMENSIONS)), dtype=np.int64),
            telemetry=Telemetry.of(node_states),
            namespaces=all_namespaces,
            volumes=volumes or Volumes(),
            workloads=workloads or Workloads(),
        )
        return snapshot._recount()

    def _recount(self) -> "Snapshot":
        """Recompute every per-node sum from `pods_on` (used when building)."""
        n = len(self.table.nodes)
        requested = np.zeros((n, len(self.table.resources)), dtype=np.int64)
        non_zero = np.zeros((n, 2), dtype=np.int64)
        declared = np.zeros((n, 2, len(DIMENSIONS)), dtype=np.int64)
        ports = []
        for i, group in enumerate(self.pods_on):
            used: set[tuple[str, str, int]] = set()
            for pod in group:
                requested[i] += self.table.resource_vector(pod.requests)[0]
                non_zero[i] += (pod.non_zero_requests[resources.CPU], pod.non_zero_requests[resources.MEMORY])
                declared[i] += declared_of(pod)
                used.update(pod.host_ports)
            ports.append(frozenset(used))
        counts = np.array([len(g) for g in self.pods_on], dtype=np.int64)
        anti = tuple((i, p) for i, group in enumerate(self.pods_on) for p in group if p.has_required_anti_affinity)
        affine = tuple((i, p) for i, group in enumerate(self.pods_on) for p in group if p.has_pod_affinity_terms)
        labelled: dict[str, dict[frozenset[tuple[str, str]], dict[int, int]]] = {}
        for i, group in enumerate(self.pods_on):
            for pod in group:
                if not pod.deleting:
                    sets = labelled.setdefault(pod.namespace, {})
                    per_node = sets.setdefault(frozenset(pod.labels.items()), {})
                    per_node[i] = per_node.get(i, 0) + 1
        return replace(
            self,
            requested=requested,
            non_zero=non_zero,
            pod_count=counts,
            used_ports=tuple(ports),
            declared=declared,
            anti_affinity=anti,
            affine=affine,
            labelled=labelled,
        )

    # -- reading ---------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return self.table.names

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.table.nodes

    @property
    def states(self) -> tuple[NodeState, ...]:
        return self.telemetry.states

    @property
    def metrics(self) -> np.ndarray:
        return self.telemetry.metrics

    def __len__(self) -> int:
        return len(self.table.nodes)

    def node_index(self, name: str) -> int | None:
        return self.table.index.get(name)

    def all_pods(self) -> Iterable[tuple[int, Pod]]:
        for i, group in enumerate(self.pods_on):
            for pod in group:
                yield i, pod

    # -- changing (each returns a new snapshot) ---------------------------------------------------

    def with_pod(self, pod: Pod, node: str | None = None) -> "Snapshot":
        """The snapshot with `pod` running on `node` (default `pod.node_name`)."""
        name = node or pod.node_name
        i = self.table.index.get(name)
        if i is None or pod.terminal:
            return self
        placed = replace(pod, node_name=name) if pod.node_name != name else pod
        return self._change(i, self.pods_on[i] + (placed,), placed, sign=1)

    def without_pod(self, pod: Pod) -> "Snapshot":
        """The snapshot with `pod` (matched by namespace/name) no longer on its node."""
        i = self.table.index.get(pod.node_name)
        if i is None:
            return self
        kept = tuple(p for p in self.pods_on[i] if p.key != pod.key)
        if len(kept) == len(self.pods_on[i]):
            return self
        removed = next(p for p in self.pods_on[i] if p.key == pod.key)
        return self._change(i, kept, removed, sign=-1)

    def replace_pod(self, pod: Pod) -> "Snapshot":
        """The same pod re-read on the same node (the informer confirming an assumed pod): the object
        changes, the node's sums do not, so only the node's pod tuple is rebuilt."""
        i = self.table.index.get(pod.node_name)
        if i is None:
            return self
        old = next((p for p in self.pods_on[i] if p.key == pod.key), None)
        group = tuple(pod if p.key == pod.key else p for p in self.pods_on[i])
        changed = replace(self, pods_on=(*self.pods_on[:i], group, *self.pods_on[i + 1 :]))
        if old is not None and (old.labels, old.deleting) != (pod.labels, pod.deleting):
            labelled = _labelled_change(self.labelled, i, old, -1)
            changed = replace(changed, labelled=_labelled_change(labelled, i, pod, 1))
        if old is not None and old.has_pod_affinity_terms != pod.has_pod_affinity_terms:
            affine = tuple(e for e in self.affine if e[1].key != pod.key)
            changed = replace(changed, affine=(*affine, (i, pod)) if pod.has_pod_affinity_terms else affine)
        return changed

    def _change(self, i: int, group: tuple[Pod, ...], pod: Pod, *, sign: int) -> "Snapshot":
        requested = self.requested.copy()
        requested[i] += sign * self.table.resource_vector(pod.requests)[0]
        non_zero = self.non_zero.copy()
        non_zero[i] += sign * np.array(
            (pod.non_zero_requests[resources.CPU], pod.non_zero_requests[resources.MEMORY]), dtype=np.int64
        )
        pod_count = self.pod_count.copy()
        pod_count[i] += sign
        declared = self.declared.copy()
        declared[i] += sign * declared_of(pod)
        ports = list(self.used_ports)
        ports[i] = frozenset(port for p in group for port in p.host_ports)
        pods_on = (*self.pods_on[:i], group, *self.pods_on[i + 1 :])
        anti = self.anti_affinity
        if pod.has_required_anti_affinity:
            anti = (*anti, (i, pod)) if sign > 0 else tuple(e for e in anti if e[1].key != pod.key)
        affine = self.affine
        if pod.has_pod_affinity_terms:
            affine = (*affine, (i, pod)) if sign > 0 else tuple(e for e in affine if e[1].key != pod.key)
        namespaces = self.namespaces
        if pod.namespace not in namespaces:
            namespaces = {**namespaces, pod.namespace: {NAMESPACE_NAME_LABEL: pod.namespace}}
        return replace(
            self,
            pods_on=pods_on,
            requested=requested,
            non_zero=non_zero,
            pod_count=pod_count,
            used_ports=tuple(ports),
            declared=declared,
            anti_affinity=anti,
            affine=affine,
            labelled=_labelled_change(self.labelled, i, pod, sign),
            namespaces=namespaces,
        )

    def with_state(self, state: NodeState) -> "Snapshot":
        """The snapshot with one node's telemetry replaced."""
        i = self.table.index.get(state.node)
        if i is None:
            return self
        return replace(self, telemetry=self.telemetry.with_state(i, state))

    def with_nodes(self, nodes: Sequence[Node]) -> "Snapshot":
        """The snapshot over a new node set, keeping pods and telemetry of the nodes that remain."""
        pods = [p for _, p in self.all_pods()]
        states = {s.node: s for s in self.states}
        return Snapshot.build(
            nodes, pods, states=states, namespaces=self.namespaces, volumes=self.volumes, workloads=self.workloads
        )

    def aged(self, *, now: float, max_age_seconds: float) -> "Snapshot":
        """The contract's staleness rule at decision time: too-old NodeStates become unknown."""
        timestamps = self.telemetry.timestamps
        with np.errstate(invalid="ignore"):
            stale_rows = np.flatnonzero(np.abs(now - timestamps) > max_age_seconds).tolist()
        if not stale_rows:
            return self
        return replace(self, telemetry=self.telemetry.forgetting(tuple(stale_rows)))
