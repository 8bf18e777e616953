"""Typed Pods and Nodes (`cluster.objects`) from Kubernetes objects in their plain JSON form.

Input is what the API server sends and `kubectl get -o json` prints (`runtime.kube.to_plain` turns the
kubernetes client's models into it). A malformed object raises
`ManifestError` naming the object and the field, so a user can fix the manifest; nothing else escapes,
whatever the shape of the input (wrong types, huge or non-finite numbers: see `cluster.resources`).

The informers pass `warn` instead, for objects already in the cluster, and get an object back that no
pod is lost to and nothing is overcommitted by:
- an invalid Node is kept but unusable: no allocatable, unschedulable, and tainted
  `ai-scheduler.io/invalid-node` with the bad field as the taint's value, so each pod's filter reason
  names it (and a cordon or deletion of the node still applies);
- an invalid pod already bound to a node still counts there: its readable requests as they are, every
  unreadable quantity as `resources.MAX_QUANTITY` (more than any node has), so nothing more is placed on
  that node than certainly fits;
- an invalid pending pod still raises: the caller reports it unschedulable with the message.

The scheduler keeps every running pod parsed, so what pods repeat is shared rather than copied:
strings that recur (namespaces, node names, label and annotation keys and values, images) are
interned, and equal tolerations (every pod carries the API server's default two) and the empty
affinity are one object each. All of it is immutable, so sharing changes no behaviour.
"""

import sys
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any, TypeVar

from cluster import resources
from cluster.errors import UserError
from cluster.nodestate import parse_timestamp
from cluster.objects import (
    AWS_ELASTIC_BLOCK_STORE,
    GCE_PERSISTENT_DISK,
    INLINE_DISK_SOURCES,
    ISCSI,
    NAMESPACE_NAME_LABEL,
    NOT_READY_TAINT,
    RBD,
    UNREACHABLE_TAINT,
    Affinity,
    InlineDisk,
    LabelSelector,
    Node,
    NodeSelectorTerm,
    ObjectMeta,
    Pod,
    PodAffinityTerm,
    PreferredTerm,
    RawObject,
    Requirement,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from cluster.resources import QuantityError
from cluster.userfiles import clip

Warn = Callable[[str], None]
INVALID_TAINT = "ai-scheduler.io/invalid-node"
"""Taint of a Node the scheduler cannot read; its value names the bad field."""
_MALFORMED = (AttributeError, TypeError, ValueError, OverflowError, RecursionError)
"""What reading a field of the wrong shape raises (`x.get` on a list, `int()` of a map...)."""
INT32 = (-(2**31), 2**31 - 1)


class ManifestError(UserError, ValueError):
    """A Kubernetes object the scheduler cannot read; the message names the object and the field."""


Raw = TypeVar("Raw")
Parsed = TypeVar("Parsed")


def malformed_is_manifest_error(kind: str) -> Callable[[Callable[[Raw], Parsed]], Callable[[Raw], Parsed]]:
    """A parser of `kind` objects whose wrong-shaped fields (a string where a map goes, `.get` on a list) end in
    ManifestError naming the object, its one documented error, as `parse_node` and `parse_pod` do."""

    def decorate(parse: Callable[[Raw], Parsed]) -> Callable[[Raw], Parsed]:
        @wraps(parse)
        def read(obj: Raw) -> Parsed:
            try:
                return parse(obj)
            except ManifestError:
                raise
            except _MALFORMED as exc:
                meta = obj.get("metadata") if isinstance(obj, Mapping) else None
                meta = meta if isinstance(meta, Mapping) else {}
                name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k)) or "(unnamed)"
                raise ManifestError(f"{kind} {clip(name, 80)}: malformed ({clip(str(exc), 80)})") from None

        return read

    return decorate


def _meta(obj: RawObject, what: str) -> ObjectMeta:
    if not isinstance(obj, Mapping):
        raise ManifestError(f"{what} is not an object (got {type(obj).__name__})")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name"):
        raise ManifestError(f"{what} has no metadata.name")
    return meta


_intern = sys.intern
_NO_AFFINITY = Affinity()


@lru_cache(maxsize=4096)
def _shared(value: Any) -> Any:
    """One object for equal immutable values (the first seen), bounded so odd values cannot pile up."""
    return value


def _int(raw: Any, where: str, *, low: int = INT32[0], high: int = INT32[1]) -> int:
    """An integer field (priority, weight, maxSkew...), bounded as the API server types it (int32)."""
    integral_float = isinstance(raw, float) and raw.is_integer()
    if integral_float or (isinstance(raw, str) and len(raw) <= 12 and raw.strip().lstrip("+-").isdigit()):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ManifestError(f"{where}: {clip(repr(raw), 40)} is not an integer from {low} to {high}")
    return raw


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a map of strings")
    return {_intern(str(k)): "" if v is None else _intern(str(v)) for k, v in raw.items()}


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


def parse_node_selector(raw: Any, where: str) -> tuple[NodeSelectorTerm, ...] | None:
    """A `NodeSelector` (`{nodeSelectorTerms: [...]}`) as its terms; None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a node selector")
    terms = _list(raw.get("nodeSelectorTerms"), f"{where}.nodeSelectorTerms")
    return tuple(_node_term(t, f"{where}.nodeSelectorTerms[{i}]") for i, t in enumerate(terms))


def _pod_claims(raw: Any, pod_name: str, where: str) -> tuple[tuple[str, bool], ...]:
    """The claims of `spec.volumes`: a `persistentVolumeClaim`'s claimName, and an `ephemeral` volume's claim,
    which the ephemeral volume controller names `<pod>-<volume>` (`ephemeral.VolumeClaimName`)."""
    claims = []
    for i, volume in enumerate(_list(raw, where)):
        if not isinstance(volume, Mapping):
            raise ManifestError(f"{where}[{i}] must be an object")
        source = volume.get("persistentVolumeClaim")
        if isinstance(source, Mapping) and source.get("claimName"):
            claims.append((str(source["claimName"]), False))
        elif isinstance(volume.get("ephemeral"), Mapping):
            claims.append((f"{pod_name}-{volume.get('name')}", True))
    return tuple(claims)


_DISK_NAME = {GCE_PERSISTENT_DISK: "pdName", AWS_ELASTIC_BLOCK_STORE: "volumeID", ISCSI: "iqn"}
"""The field naming the disk of each source but RBD (pool and image); upstream compares an iSCSI disk by IQN alone."""
_RBD_POOL = "rbd"
"""`SetDefaults_RBDVolumeSource`: an RBD volume without `pool` uses the pool `rbd`."""


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ManifestError(f"{where} must be a non-empty string")
    return _intern(raw)


def _inline_disks(raw: Any, where: str) -> tuple[InlineDisk, ...]:
    """The GCE PD, AWS EBS, RBD and iSCSI sources of `spec.volumes` (what VolumeRestrictions compares between
    pods on a node), with the fields the API server requires and defaults."""
    disks = []
    for i, volume in enumerate(_list(raw, where)):
        if not isinstance(volume, Mapping):
            raise ManifestError(f"{where}[{i}] must be an object")
        for source in INLINE_DISK_SOURCES:
            spec = volume.get(source)
            if spec is None:
                continue
            at = f"{where}[{i}].{source}"
            if not isinstance(spec, Mapping):
                raise ManifestError(f"{at} must be an object")
            read_only = spec.get("readOnly") or False
            if not isinstance(read_only, bool):
                raise ManifestError(f"{at}.readOnly must be true or false")
            if source == RBD:
                monitors = _list(spec.get("monitors"), f"{at}.monitors")
                if not monitors:
                    raise ManifestError(f"{at}.monitors must list at least one monitor")
                pool = spec.get("pool") or _RBD_POOL
                image = (_text(pool, f"{at}.pool"), _text(spec.get("image"), f"{at}.image"))
                named = frozenset(_text(m, f"{at}.monitors[{j}]") for j, m in enumerate(monitors))
                disks.append(InlineDisk(source, image, read_only, named))
            else:
                field = _DISK_NAME[source]
                disks.append(InlineDisk(source, (_text(spec.get(field), f"{at}.{field}"),), read_only))
    return tuple(disks)


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
                _int(item.get("weight", 0), f"{where}[{i}].weight"),
                _pod_term(item.get("podAffinityTerm"), f"{where}[{i}].podAffinityTerm"),
            )
        )
    return tuple(out)


def _affinity(raw: Any, where: str) -> Affinity:
    if raw is None:
        return _NO_AFFINITY
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
        PreferredTerm(
            _int(p.get("weight", 0), f"{where}.nodeAffinity.preferred[{i}].weight"),
            _node_term(p.get("preference"), f"{where}.nodeAffinity.preferred[{i}]"),
        )
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
            _toleration(
                str(item.get("key") or ""),
                str(item.get("operator") or "Equal"),
                str(item.get("value") or ""),
                str(item.get("effect") or ""),
            )
        )
    return _shared(tuple(out))


@lru_cache(maxsize=4096)
def _toleration(key: str, operator: str, value: str, effect: str) -> Toleration:
    return Toleration(key=key, operator=operator, value=value, effect=effect)


def _spread(raw: Any, where: str) -> tuple[TopologySpreadConstraint, ...]:
    out = []
    for i, item in enumerate(_list(raw, where)):
        here = f"{where}[{i}]"
        if not isinstance(item, Mapping) or not item.get("topologyKey") or "maxSkew" not in item:
            raise ManifestError(f"{here} needs maxSkew and topologyKey")
        out.append(
            TopologySpreadConstraint(
                max_skew=_int(item["maxSkew"], f"{here}.maxSkew"),
                topology_key=str(item["topologyKey"]),
                when_unsatisfiable=str(item.get("whenUnsatisfiable") or "DoNotSchedule"),
                label_selector=parse_label_selector(item.get("labelSelector"), f"{here}.labelSelector"),
                min_domains=None if item.get("minDomains") is None else _int(item["minDomains"], f"{here}.minDomains"),
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


def parse_namespace(obj: RawObject) -> tuple[str, dict[str, str]]:
    """A Namespace's name and labels, what pod affinity's `namespaceSelector` matches; the name label is
    there even where the API server has not set it (older servers, or objects loaded from files)."""
    meta = _meta(obj, "namespace")
    name = str(meta["name"])
    labels = _str_map(meta.get("labels"), f"namespace {name}: metadata.labels")
    return name, {NAMESPACE_NAME_LABEL: _intern(name), **labels}


def parse_node(obj: RawObject, *, warn: Warn | None = None) -> Node:
    """A Node from its JSON. A node whose Ready condition is not True gets the taint the node
    lifecycle controller would add, so the filters treat it as kube-scheduler does. A malformed node
    raises ManifestError, or with `warn` is reported once and kept unusable (see the module docstring)."""
    meta = _meta(obj, "node")
    name = str(meta["name"])
    try:
        return _parse_node(obj, meta, name)
    except _MALFORMED as exc:
        problem = str(exc) if isinstance(exc, ManifestError) else f"node {name}: malformed ({clip(str(exc), 80)})"
        if warn is None:
            raise ManifestError(problem) from None
        warn(f"{problem}; no pod will be placed on it until it is fixed")
        return _invalid_node(meta, name, problem.removeprefix(f"node {name}: "))


def _invalid_node(meta: Mapping[str, Any], name: str, problem: str) -> Node:
    labels = meta.get("labels")
    return Node(
        name=name,
        labels=_str_map(labels, "") if isinstance(labels, Mapping) else {},
        allocatable={},
        taints=(Taint(INVALID_TAINT, clip(problem, 63), "NoSchedule"),),
        unschedulable=True,
        ready=False,
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def _parse_node(obj: RawObject, meta: ObjectMeta, name: str) -> Node:
    spec = _section(obj, "spec", f"node {name}")
    status = _section(obj, "status", f"node {name}")
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
        images=_images(status.get("images")),
    )


def _images(raw: Any) -> dict[str, int]:
    """`status.images` as name → size. The kubelet writes it and it only ranks nodes, so a malformed entry
    is skipped (the node stays usable) rather than making the whole node invalid."""
    images: dict[str, int] = {}
    for image in raw if isinstance(raw, list) else ():
        size = image.get("sizeBytes") if isinstance(image, Mapping) else None
        names = image.get("names") if isinstance(image, Mapping) else None
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0 and isinstance(names, list):
            images.update((_intern(name), size) for name in names if isinstance(name, str))
    return images


def _controller(raw: Any) -> tuple[str, ...]:
    """The ownerReference with `controller: true` as (apiVersion, kind, uid, name), `metav1.GetControllerOf`."""
    for ref in raw if isinstance(raw, list) else ():
        if isinstance(ref, Mapping) and ref.get("controller") is True and ref.get("uid"):
            api_version, kind = _intern(str(ref.get("apiVersion") or "")), _intern(str(ref.get("kind") or ""))
            return _shared((api_version, kind, str(ref["uid"]), _intern(str(ref.get("name") or ""))))
    return ()


def _section(obj: Mapping[str, Any], name: str, what: str) -> Mapping[str, Any]:
    raw = obj.get(name)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{what}: {name} must be an object, not {type(raw).__name__}")
    return raw


def parse_pod(obj: RawObject, *, warn: Warn | None = None) -> Pod:
    """A Pod from its JSON, with its requests computed as kube-scheduler does. A malformed pod raises
    ManifestError; with `warn`, one already bound to a node is reported once and still counted there
    (see the module docstring)."""
    meta = _meta(obj, "pod")
    key = f"{meta.get('namespace') or 'default'}/{meta['name']}"
    try:
        return _parse_pod(obj, meta, key)
    except _MALFORMED as exc:
        problem = str(exc) if isinstance(exc, ManifestError) else f"pod {key}: malformed ({clip(str(exc), 80)})"
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            spec = {}
        node = spec.get("nodeName")
        if warn is None or not node:
            raise ManifestError(problem) from None
        warn(f"{problem}; still counted on node {clip(str(node), 63)}, every unreadable request as 2^53")
        return _bound_invalid_pod(obj, meta, spec)


def _bound_invalid_pod(obj: RawObject, meta: ObjectMeta, spec: Mapping[str, Any]) -> Pod:
    status = obj.get("status")
    requests, non_zero = resources.pod_requests_and_non_zero(
        spec, invalid=resources.MAX_QUANTITY, status=status if isinstance(status, Mapping) else None
    )
    labels = meta.get("labels")
    try:
        disks = _inline_disks(spec.get("volumes"), "")
    except _MALFORMED:
        disks = ()  # a disk that cannot be read cannot be compared: the kubelet's attach is the last word
    return Pod(
        name=str(meta["name"]),
        namespace=_intern(str(meta.get("namespace") or "default")),
        uid=str(meta.get("uid") or ""),
        labels=_str_map(labels, "") if isinstance(labels, Mapping) else {},
        node_name=_intern(str(spec["nodeName"])),
        scheduler_name=_intern(str(spec.get("schedulerName") or "default-scheduler")),
        phase=_intern(str((status.get("phase") if isinstance(status, Mapping) else None) or "Pending")),
        requests=requests,
        non_zero_requests={resources.CPU: non_zero[resources.CPU], resources.MEMORY: non_zero[resources.MEMORY]},
        qos_class="Burstable",
        deleting=bool(meta.get("deletionTimestamp")),
        controller=_controller(meta.get("ownerReferences")),
        resource_version=str(meta.get("resourceVersion") or ""),
        inline_disks=disks,
    )


def _gates(raw: Any, where: str) -> tuple[str, ...]:
    """`spec.schedulingGates` as their names, in order (the API server requires each to be named)."""
    out = []
    for i, gate in enumerate(_list(raw, where)):
        if not isinstance(gate, Mapping) or not gate.get("name"):
            raise ManifestError(f"{where}[{i}] needs a name")
        out.append(str(gate["name"]))
    return tuple(out)


def _parse_pod(obj: RawObject, meta: ObjectMeta, key: str) -> Pod:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        raise ManifestError(f"pod {key}: spec.containers must list at least one container")
    for i, container in enumerate(spec["containers"] + list(spec.get("initContainers") or [])):
        if not isinstance(container, Mapping):
            raise ManifestError(f"pod {key}: container {i} must be an object")
    status = _section(obj, "status", f"pod {key}")
    try:
        requests, non_zero = resources.pod_requests_and_non_zero(spec, status=status)
        qos = str(status.get("qosClass") or resources.qos_class(spec))
        limits = resources.pod_limits(spec)
        ports = resources.host_ports(spec)
    except QuantityError as exc:
        raise ManifestError(f"pod {key}: {exc}") from exc
    containers = list(spec["containers"])
    images = [c.get("image") for c in list(spec.get("initContainers") or []) + containers]
    return Pod(
        name=str(meta["name"]),
        namespace=_intern(str(meta.get("namespace") or "default")),
        uid=str(meta.get("uid") or ""),
        labels=_str_map(meta.get("labels"), f"pod {key}: metadata.labels"),
        annotations=_str_map(meta.get("annotations"), f"pod {key}: metadata.annotations"),
        node_name=_intern(str(spec.get("nodeName") or "")),
        scheduler_name=_intern(str(spec.get("schedulerName") or "default-scheduler")),
        phase=_intern(str(status.get("phase") or "Pending")),
        requests=requests,
        non_zero_requests={resources.CPU: non_zero[resources.CPU], resources.MEMORY: non_zero[resources.MEMORY]},
        host_ports=ports,
        node_selector=_str_map(spec.get("nodeSelector"), f"pod {key}: spec.nodeSelector"),
        affinity=_affinity(spec.get("affinity"), f"pod {key}: spec.affinity"),
        tolerations=_tolerations(spec.get("tolerations"), f"pod {key}: spec.tolerations"),
        topology_spread=_spread(spec.get("topologySpreadConstraints"), f"pod {key}: spec.topologySpreadConstraints"),
        qos_class=_intern(qos),
        priority=_int(spec.get("priority") or 0, f"pod {key}: spec.priority"),
        deleting=bool(meta.get("deletionTimestamp")),
        resource_version=str(meta.get("resourceVersion") or ""),
        args=tuple(str(a) for c in containers for a in list(c.get("command") or []) + list(c.get("args") or [])),
        images=_shared(tuple(_intern(str(image or "")) for image in images)),
        controller=_controller(meta.get("ownerReferences")),
        limits=limits,
        scheduling_gates=_gates(spec.get("schedulingGates"), f"pod {key}: spec.schedulingGates"),
        preemption_policy=_intern(str(spec.get("preemptionPolicy") or "PreemptLowerPriority")),
        nominated_node_name=_intern(str(status.get("nominatedNodeName") or "")),
        start_time=_start_time(status.get("startTime")),
        claims=_pod_claims(spec.get("volumes"), str(meta["name"]), f"pod {key}: spec.volumes"),
        inline_disks=_inline_disks(spec.get("volumes"), f"pod {key}: spec.volumes"),
    )


def _start_time(raw: Any) -> float | None:
    """`status.startTime` as epoch seconds; an unreadable one is as absent (it only orders preemption victims)."""
    try:
        return parse_timestamp(str(raw)) if raw else None
    except ValueError:
        return None
