"""Typed, immutable Pods and Nodes built from Kubernetes objects.

The bottom of the model: everything above (filters, scorers, prompt, loop) reads these dataclasses,
never raw API JSON. Input is the plain JSON form the API server sends and `kubectl get -o json`
prints (`cluster.kube.to_plain` turns the kubernetes client's models into it). A malformed object
raises `ManifestError` naming the object and the field, so a user can fix the manifest.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from cluster import resources
from cluster.errors import UserError
from cluster.resources import QuantityError

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
TERMINAL_PHASES = ("Succeeded", "Failed")


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


class ManifestError(UserError, ValueError):
    """A Kubernetes object the scheduler cannot read; the message names the object and the field."""


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

    @property
    def allowed_pods(self) -> int:
        return self.allocatable.get(resources.PODS, 0)


@dataclass(frozen=True)
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


def _meta(obj: Mapping[str, Any], what: str) -> ObjectMeta:
    if not isinstance(obj, Mapping):
        raise ManifestError(f"{what} is not an object (got {type(obj).__name__})")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name"):
        raise ManifestError(f"{what} has no metadata.name")
    return meta  # type: ignore[return-value]


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a map of strings")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def _list(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ManifestError(f"{where} must be a list")
    return raw


def _requirements(raw: Any, where: str) -> tuple[Requirement, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        if not isinstance(item, Mapping) or "key" not in item or "operator" not in item:
            raise ManifestError(f"{where}[{i}] needs a key and an operator")
        values = tuple(str(v) for v in _list(item.get("values"), f"{where}[{i}].values"))
        out.append(Requirement(key=str(item["key"]), operator=str(item["operator"]), values=values))
    return tuple(out)


def parse_label_selector(raw: Any, where: str) -> LabelSelector | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a label selector")
    labels = tuple(sorted(_str_map(raw.get("matchLabels"), f"{where}.matchLabels").items()))
    return LabelSelector(labels, _requirements(raw.get("matchExpressions"), f"{where}.matchExpressions"))


def _node_term(raw: Any, where: str) -> NodeSelectorTerm:
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a node selector term")
    return NodeSelectorTerm(
        _requirements(raw.get("matchExpressions"), f"{where}.matchExpressions"),
        _requirements(raw.get("matchFields"), f"{where}.matchFields"),
    )


def _pod_term(raw: Any, where: str) -> PodAffinityTerm:
    if not isinstance(raw, Mapping) or not raw.get("topologyKey"):
        raise ManifestError(f"{where} needs a topologyKey")
    return PodAffinityTerm(
        label_selector=parse_label_selector(raw.get("labelSelector"), f"{where}.labelSelector"),
        topology_key=str(raw["topologyKey"]),
        namespaces=tuple(str(n) for n in _list(raw.get("namespaces"), f"{where}.namespaces")),
        namespace_selector=parse_label_selector(raw.get("namespaceSelector"), f"{where}.namespaceSelector"),
        match_label_keys=tuple(str(k) for k in _list(raw.get("matchLabelKeys"), f"{where}.matchLabelKeys")),
        mismatch_label_keys=tuple(str(k) for k in _list(raw.get("mismatchLabelKeys"), f"{where}.mismatchLabelKeys")),
    )


def _weighted(raw: Any, where: str) -> tuple[WeightedPodAffinityTerm, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        if not isinstance(item, Mapping):
            raise ManifestError(f"{where}[{i}] must be a weighted term")
        out.append(
            WeightedPodAffinityTerm(
                int(item.get("weight", 0)), _pod_term(item.get("podAffinityTerm"), f"{where}[{i}].podAffinityTerm")
            )
        )
    return tuple(out)


def _affinity(raw: Any, where: str) -> Affinity:
    if raw is None:
        return Affinity()
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be an object")
    node = raw.get("nodeAffinity") or {}
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    node_required = None
    if required is not None:
        terms = _list(required.get("nodeSelectorTerms"), f"{where}.nodeAffinity.required.nodeSelectorTerms")
        node_required = tuple(
            _node_term(t, f"{where}.nodeAffinity.required.nodeSelectorTerms[{i}]") for i, t in enumerate(terms)
        )
    preferred = tuple(
        PreferredTerm(int(p.get("weight", 0)), _node_term(p.get("preference"), f"{where}.nodeAffinity.preferred[{i}]"))
        for i, p in enumerate(_list(node.get("preferredDuringSchedulingIgnoredDuringExecution"), where))
    )
    pod_aff = raw.get("podAffinity") or {}
    anti = raw.get("podAntiAffinity") or {}
    req = "requiredDuringSchedulingIgnoredDuringExecution"
    pref = "preferredDuringSchedulingIgnoredDuringExecution"
    return Affinity(
        node_required=node_required,
        node_preferred=preferred,
        pod_affinity_required=tuple(
            _pod_term(t, f"{where}.podAffinity.required[{i}]") for i, t in enumerate(_list(pod_aff.get(req), where))
        ),
        pod_affinity_preferred=_weighted(pod_aff.get(pref), f"{where}.podAffinity.preferred"),
        pod_anti_affinity_required=tuple(
            _pod_term(t, f"{where}.podAntiAffinity.required[{i}]") for i, t in enumerate(_list(anti.get(req), where))
        ),
        pod_anti_affinity_preferred=_weighted(anti.get(pref), f"{where}.podAntiAffinity.preferred"),
    )


def _taints(raw: Any, where: str) -> tuple[Taint, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        if not isinstance(item, Mapping) or not item.get("key") or not item.get("effect"):
            raise ManifestError(f"{where}[{i}] needs a key and an effect")
        out.append(Taint(str(item["key"]), str(item.get("value") or ""), str(item["effect"])))
    return tuple(out)


def _tolerations(raw: Any, where: str) -> tuple[Toleration, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        if not isinstance(item, Mapping):
            raise ManifestError(f"{where}[{i}] must be a toleration")
        out.append(
            Toleration(
                key=str(item.get("key") or ""),
                operator=str(item.get("operator") or "Equal"),
                value=str(item.get("value") or ""),
                effect=str(item.get("effect") or ""),
            )
        )
    return tuple(out)


def _spread(raw: Any, where: str) -> tuple[TopologySpreadConstraint, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        here = f"{where}[{i}]"
        if not isinstance(item, Mapping) or not item.get("topologyKey") or "maxSkew" not in item:
            raise ManifestError(f"{here} needs maxSkew and topologyKey")
        out.append(
            TopologySpreadConstraint(
                max_skew=int(item["maxSkew"]),
                topology_key=str(item["topologyKey"]),
                when_unsatisfiable=str(item.get("whenUnsatisfiable") or "DoNotSchedule"),
                label_selector=parse_label_selector(item.get("labelSelector"), f"{here}.labelSelector"),
                min_domains=int(item["minDomains"]) if item.get("minDomains") is not None else None,
                node_affinity_policy=str(item.get("nodeAffinityPolicy") or "Honor"),
                node_taints_policy=str(item.get("nodeTaintsPolicy") or "Ignore"),
                match_label_keys=tuple(str(k) for k in _list(item.get("matchLabelKeys"), f"{here}.matchLabelKeys")),
            )
        )
    return tuple(out)


def _ready_condition(status: Mapping[str, Any]) -> str:
    """The Ready condition's status: "True", "False", "Unknown", or "" when the node reports none."""
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return str(condition.get("status") or "Unknown")
    return ""


def parse_node(obj: Mapping[str, Any]) -> Node:
    """A Node from its JSON. A node whose Ready condition is not True gets the taint the node
    lifecycle controller would add, so the filters treat it as kube-scheduler does."""
    meta = _meta(obj, "node")
    name = str(meta["name"])
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    try:
        allocatable = resources.parse_list(status.get("allocatable") or status.get("capacity"))
    except QuantityError as exc:
        raise ManifestError(f"node {name}: status.allocatable: {exc}") from exc
    taints = _taints(spec.get("taints"), f"node {name}: spec.taints")
    ready = _ready_condition(status)
    keys = {t.key for t in taints}
    if ready == "False" and NOT_READY_TAINT not in keys:
        taints += (Taint(NOT_READY_TAINT, "", "NoSchedule"),)
    elif ready == "Unknown" and UNREACHABLE_TAINT not in keys:
        taints += (Taint(UNREACHABLE_TAINT, "", "NoSchedule"),)
    return Node(
        name=name,
        labels=_str_map(meta.get("labels"), f"node {name}: metadata.labels"),
        annotations=_str_map(meta.get("annotations"), f"node {name}: metadata.annotations"),
        allocatable=allocatable,
        taints=taints,
        unschedulable=bool(spec.get("unschedulable")),
        ready=ready in ("True", ""),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    """A Pod from its JSON, with its requests computed as kube-scheduler does."""
    meta = _meta(obj, "pod")
    key = f"{meta.get('namespace') or 'default'}/{meta['name']}"
    spec = obj.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        raise ManifestError(f"pod {key}: spec.containers must list at least one container")
    for i, container in enumerate(spec["containers"] + list(spec.get("initContainers") or [])):
        if not isinstance(container, Mapping):
            raise ManifestError(f"pod {key}: container {i} must be an object")
    status = obj.get("status") or {}
    try:
        requests = resources.pod_requests(spec)
        non_zero = resources.pod_requests(spec, non_missing=True)
        qos = str(status.get("qosClass") or resources.qos_class(spec))
    except QuantityError as exc:
        raise ManifestError(f"pod {key}: {exc}") from exc
    containers = list(spec["containers"])
    return Pod(
        name=str(meta["name"]),
        namespace=str(meta.get("namespace") or "default"),
        uid=str(meta.get("uid") or ""),
        labels=_str_map(meta.get("labels"), f"pod {key}: metadata.labels"),
        annotations=_str_map(meta.get("annotations"), f"pod {key}: metadata.annotations"),
        node_name=str(spec.get("nodeName") or ""),
        scheduler_name=str(spec.get("schedulerName") or "default-scheduler"),
        phase=str(status.get("phase") or "Pending"),
        requests=requests,
        non_zero_requests={resources.CPU: non_zero[resources.CPU], resources.MEMORY: non_zero[resources.MEMORY]},
        host_ports=resources.host_ports(spec),
        node_selector=_str_map(spec.get("nodeSelector"), f"pod {key}: spec.nodeSelector"),
        affinity=_affinity(spec.get("affinity"), f"pod {key}: spec.affinity"),
        tolerations=_tolerations(spec.get("tolerations"), f"pod {key}: spec.tolerations"),
        topology_spread=_spread(spec.get("topologySpreadConstraints"), f"pod {key}: spec.topologySpreadConstraints"),
        qos_class=qos,
        priority=int(spec.get("priority") or 0),
        deleting=bool(meta.get("deletionTimestamp")),
        resource_version=str(meta.get("resourceVersion") or ""),
        args=tuple(str(a) for c in containers for a in list(c.get("command") or []) + list(c.get("args") or [])),
        images=tuple(str(c.get("image") or "") for c in containers),
    )
