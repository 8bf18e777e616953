"""Typed, immutable Pods and Nodes: the cluster model.

The bottom of the model: everything above (filters, scorers, prompt, loop) reads these dataclasses,
never raw API JSON; `cluster.parse` builds them from the JSON the API server sends.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from cluster import resources

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
TERMINAL_PHASES = ("Succeeded", "Failed")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label the API server puts on every namespace, its value the namespace's name."""


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    resourceVersion: str
    deletionTimestamp: str
    creationTimestamp: str


class RawObject(TypedDict, total=False):
    """A Kubernetes object as JSON."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return f"{{{self.key}: {self.value}}}"


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """`Toleration.ToleratesTaint` (k8s.io/api/core/v1/toleration.go): empty key with Exists matches all."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("Equal", ""):
            return self.value == taint.value
        return False


def tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


@dataclass(frozen=True)
class Requirement:
    """One `matchExpressions` entry of a label or node selector."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    """`metav1.LabelSelector`; None (no selector) and an empty selector differ and are kept apart."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True)
class NodeSelectorTerm:
    match_expressions: tuple[Requirement, ...] = ()
    match_fields: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class PreferredTerm:
    weight: int
    term: NodeSelectorTerm


@dataclass(frozen=True)
class PodAffinityTerm:
    label_selector: LabelSelector | None
    topology_key: str
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = None
    match_label_keys: tuple[str, ...] = ()
    mismatch_label_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightedPodAffinityTerm:
    weight: int
    term: PodAffinityTerm


@dataclass(frozen=True)
class Affinity:
    node_required: tuple[NodeSelectorTerm, ...] | None = None
    node_preferred: tuple[PreferredTerm, ...] = ()
    pod_affinity_required: tuple[PodAffinityTerm, ...] = ()
    pod_affinity_preferred: tuple[WeightedPodAffinityTerm, ...] = ()
    pod_anti_affinity_required: tuple[PodAffinityTerm, ...] = ()
    pod_anti_affinity_preferred: tuple[WeightedPodAffinityTerm, ...] = ()


@dataclass(frozen=True)
class TopologySpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector | None
    min_domains: int | None = None
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"
    match_label_keys: tuple[str, ...] = ()


GCE_PERSISTENT_DISK = "gcePersistentDisk"
AWS_ELASTIC_BLOCK_STORE = "awsElasticBlockStore"
RBD = "rbd"
ISCSI = "iscsi"
INLINE_DISK_SOURCES = (GCE_PERSISTENT_DISK, AWS_ELASTIC_BLOCK_STORE, RBD, ISCSI)
"""The in-tree volume sources written in a pod spec that VolumeRestrictions checks (`needsRestrictionsCheck`)."""


@dataclass(frozen=True)
class InlineDisk:
    """A disk a pod's `spec.volumes` names directly (not through a claim), which a node mounts for one writer.

    `disk` identifies it within its source: a GCE PD's `pdName`, an EBS `volumeID`, an RBD's pool and image, an
    iSCSI `iqn`; `monitors` are an RBD's Ceph monitors, two RBD disks being the same only when they share one.
    """

    source: str
    disk: tuple[str, ...]
    read_only: bool = False
    monitors: frozenset[str] = frozenset()

    def conflicts(self, other: "InlineDisk") -> bool:
        """`isVolumeConflict`: the same disk mounted by two pods on one node, unless both mount it read-only
        (an EBS volume attaches to one instance whatever the mode)."""
        if self.source != other.source or self.disk != other.disk:
            return False
        if self.source == AWS_ELASTIC_BLOCK_STORE:
            return True
        if self.source == RBD and not self.monitors & other.monitors:
            return False
        return not (self.read_only and other.read_only)


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    allocatable: Mapping[str, int] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: bool = True
    resource_version: str = ""
    images: Mapping[str, int] = field(default_factory=dict)
    """`status.images`: every name of every image the node holds → its size in bytes (ImageLocality)."""

    @property
    def allowed_pods(self) -> int:
        return self.allocatable.get(resources.PODS, 0)


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    namespace: str = "default"
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    node_name: str = ""
    scheduler_name: str = "default-scheduler"
    phase: str = "Pending"
    requests: Mapping[str, int] = field(default_factory=dict)
    non_zero_requests: Mapping[str, int] = field(default_factory=dict)
    host_ports: tuple[tuple[str, str, int], ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: Affinity = field(default_factory=Affinity)
    tolerations: tuple[Toleration, ...] = ()
    topology_spread: tuple[TopologySpreadConstraint, ...] = ()
    qos_class: str = "BestEffort"
    priority: int = 0
    deleting: bool = False
    resource_version: str = ""
    args: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    """Init containers' then containers' images, as written in the spec."""
    controller: tuple[str, ...] = ()
    """The controlling ownerReference as (apiVersion, kind, uid, name); empty when none."""
    limits: Mapping[str, int] = field(default_factory=dict)
    """CPU and memory limits of the app containers, summed; a resource is absent when a container leaves it
    unbounded (`resources.pod_limits`)."""
    scheduling_gates: tuple[str, ...] = ()
    """`spec.schedulingGates` names: while any is left the pod waits in the gated queue, never decided."""
    preemption_policy: str = "PreemptLowerPriority"
    """`spec.preemptionPolicy`: `Never` keeps the pod from evicting others (DefaultPreemption)."""
    nominated_node_name: str = ""
    """`status.nominatedNodeName`: the node a preemption made room on, for this pod."""
    start_time: float | None = None
    """`status.startTime` as epoch seconds; None before the kubelet starts it (preemption's tie-breaks)."""
    claims: tuple[tuple[str, bool], ...] = ()
    """The PersistentVolumeClaims its volumes name, in its namespace, as (claim name, made for an ephemeral
    volume): what the volume plugins look up (`cluster.volumes`)."""
    inline_disks: tuple[InlineDisk, ...] = ()
    """The GCE PD, AWS EBS, RBD and iSCSI disks its `spec.volumes` name directly (VolumeRestrictions)."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def terminal(self) -> bool:
        """Pods in phase Succeeded or Failed hold no resources on their node."""
        return self.phase in TERMINAL_PHASES

    @property
    def has_required_anti_affinity(self) -> bool:
        return bool(self.affinity.pod_anti_affinity_required)

    @property
    def has_pod_affinity_terms(self) -> bool:
        """Terms that weigh on where other pods go (upstream's `PodsWithAffinity`, less required anti-affinity)."""
        a = self.affinity
        return bool(a.pod_affinity_required or a.pod_affinity_preferred or a.pod_anti_affinity_preferred)
