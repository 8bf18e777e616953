"""PersistentVolumeClaims, PersistentVolumes, StorageClasses, CSINodes, CSIDrivers and CSIStorageCapacities: what the
volume plugins read.

The scheduler's model of the storage objects, as kube-scheduler's volume binder keeps them in its
informer caches (`pkg/scheduler/framework/plugins/volumebinding`): frozen dataclasses parsed from the
API's JSON, and `Volumes`, the immutable set of them a snapshot carries. The matching rules of a claim
to a volume (`FindMatchingVolume`, `pkg/volume/util/persistentvolume/util.go`) live here too, since
both the filter and PreBind use them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cluster import resources
from cluster.labels import selector_matches
from cluster.objects import LabelSelector, NodeSelectorTerm, Requirement
from cluster.parse import ManifestError, malformed_is_manifest_error, parse_label_selector, parse_node_selector
from cluster.resources import QuantityError

SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
"""The annotation PreBind sets on a `WaitForFirstConsumer` claim: the node its volume must be provisioned for."""
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
FILESYSTEM = "Filesystem"
AVAILABLE = "Available"
STORAGE = "storage"
ADDED, DELETED = "ADDED", "DELETED"


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim, as far as scheduling reads it."""

    namespace: str
    name: str
    uid: str = ""
    storage_class: str = ""
    volume_name: str = ""
    access_modes: tuple[str, ...] = ()
    request: int = 0
    volume_mode: str = FILESYSTEM
    selector: LabelSelector | None = None
    selected_node: str = ""
    bind_completed: bool = False
    """The PV controller's `pv.kubernetes.io/bind-completed` annotation: with `volume_name`, fully bound."""
    phase: str = ""
    deleting: bool = False
    owners: tuple[str, ...] = ()
    """The uids of its ownerReferences (an ephemeral volume's claim is owned by its pod)."""
    resource_version: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def bound(self) -> bool:
        """`isPVCFullyBound`: a volume named and the binding completed; anything less is not bound yet."""
        return bool(self.volume_name) and self.bind_completed


@dataclass(frozen=True)
class Volume:
    """A PersistentVolume, as far as scheduling reads it."""

    name: str
    storage_class: str = ""
    capacity: int = 0
    access_modes: tuple[str, ...] = ()
    volume_mode: str = FILESYSTEM
    claim_ref: tuple[str, str, str] | None = None
    """(namespace, name, uid) of `spec.claimRef`; the uid may be empty."""
    node_affinity: tuple[NodeSelectorTerm, ...] | None = None
    """`spec.nodeAffinity.required.nodeSelectorTerms`; None when the volume has no required affinity."""
    labels: Mapping[str, str] = field(default_factory=dict)
    phase: str = ""
    deleting: bool = False
    csi_driver: str = ""
    csi_handle: str = ""
    resource_version: str = ""

    def bound_to(self, claim: Claim) -> bool:
        """`IsVolumeBoundToClaim`: the claimRef names the claim (and its uid, when the ref has one)."""
        if self.claim_ref is None:
            return False
        namespace, name, uid = self.claim_ref
        return (namespace, name) == (claim.namespace, claim.name) and (not uid or uid == claim.uid)


@dataclass(frozen=True)
class StorageClass:
    name: str
    provisioner: str = ""
    binding_mode: str = "Immediate"
    allowed_topologies: tuple[NodeSelectorTerm, ...] = ()
    """`allowedTopologies` as node selector terms (each `matchLabelExpressions` entry an `In` requirement)."""

    @property
    def wait_for_first_consumer(self) -> bool:
        return self.binding_mode == WAIT_FOR_FIRST_CONSUMER


@dataclass(frozen=True)
class CSINode:
    """A CSINode: per CSI driver, the most volumes the node may attach (`allocatable.count`), when set."""

    name: str
    limits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CSIDriver:
    """A CSIDriver: whether the driver opts into storage capacity tracking (`spec.storageCapacity`), the only field
    scheduling reads."""

    name: str
    storage_capacity: bool = False


@dataclass(frozen=True)
class StorageCapacity:
    """A CSIStorageCapacity: how large a volume of one class the driver can create on the nodes its topology names."""

    namespace: str
    name: str
    storage_class: str
    node_topology: LabelSelector | None = None
    """`nodeTopology`; None (unavailable everywhere) differs from an empty selector (available everywhere)."""
    capacity: int | None = None
    maximum_volume_size: int | None = None

    def sufficient(self, request: int) -> bool:
        """`capacitySufficient`: `maximumVolumeSize` when reported (it is more precise), else `capacity`, holds the
        request; neither reported means no room."""
        limit = self.maximum_volume_size if self.maximum_volume_size is not None else self.capacity
        return limit is not None and limit >= request


@dataclass(frozen=True)
class Volumes:
    """Every claim and capacity (by `namespace/name`), volume, class, CSINode and CSIDriver (by name) the informers
    have reported."""

    claims: Mapping[str, Claim] = field(default_factory=dict)
    volumes: Mapping[str, Volume] = field(default_factory=dict)
    classes: Mapping[str, StorageClass] = field(default_factory=dict)
    csinodes: Mapping[str, CSINode] = field(default_factory=dict)
    drivers: Mapping[str, CSIDriver] = field(default_factory=dict)
    capacities: Mapping[str, StorageCapacity] = field(default_factory=dict)

    def claim(self, namespace: str, name: str) -> Claim | None:
        return self.claims.get(f"{namespace}/{name}")

    def changed(self, kind: str, key: str, obj: Any | None) -> "Volumes":
        """A copy with the `kind` map ("claims", "volumes", "classes", "csinodes", "drivers", "capacities") holding
        `obj` at `key`, or without `key` when `obj` is None; the other maps are shared."""
        current: Mapping[str, Any] = getattr(self, kind)
        updated = dict(current)
        if obj is None:
            updated.pop(key, None)
        else:
            updated[key] = obj
        return replace(self, **{kind: updated})


def _meta(obj: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(meta, Mapping) or not meta.get("name"):
        raise ManifestError(f"{what} has no metadata.name")
    return meta


def _spec(obj: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    spec = obj.get("spec")
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ManifestError(f"{what}: spec must be an object")
    return spec


def _modes(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ManifestError(f"{where} must be a list")
    return tuple(str(m) for m in raw)


def _storage(raw: Any, where: str) -> int:
    if raw is None:
        return 0
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{where} must be a map of quantities")
    return _quantity(raw.get(STORAGE, 0), where)


def _quantity(raw: Any, where: str) -> int:
    try:
        return resources.to_int(STORAGE, raw)
    except QuantityError as exc:
        raise ManifestError(f"{where}: {exc}") from exc


def claim_class(annotations: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    """`GetPersistentVolumeClaimClass` (and the volume's twin): the beta annotation wins over the field."""
    if BETA_CLASS in annotations:
        return str(annotations[BETA_CLASS])
    return str(spec.get("storageClassName") or "")


@malformed_is_manifest_error("persistentvolumeclaim")
def parse_claim(obj: Mapping[str, Any]) -> Claim:
    """A Claim from the API's JSON; ManifestError names what cannot be read."""
    meta = _meta(obj, "persistentvolumeclaim")
    key = f"persistentvolumeclaim {meta.get('namespace') or 'default'}/{meta['name']}"
    spec = _spec(obj, key)
    annotations = meta.get("annotations") or {}
    owners = tuple(str(o.get("uid") or "") for o in meta.get("ownerReferences") or () if isinstance(o, Mapping))
    return Claim(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta["name"]),
        uid=str(meta.get("uid") or ""),
        storage_class=claim_class(annotations, spec),
        volume_name=str(spec.get("volumeName") or ""),
        access_modes=_modes(spec.get("accessModes"), f"{key}: spec.accessModes"),
        request=_storage((spec.get("resources") or {}).get("requests"), f"{key}: spec.resources.requests"),
        volume_mode=str(spec.get("volumeMode") or FILESYSTEM),
        selector=parse_label_selector(spec.get("selector"), f"{key}: spec.selector"),
        selected_node=str(annotations.get(SELECTED_NODE) or ""),
        bind_completed=BIND_COMPLETED in annotations,
        phase=str((obj.get("status") or {}).get("phase") or ""),
        deleting=bool(meta.get("deletionTimestamp")),
        owners=owners,
        resource_version=str(meta.get("resourceVersion") or ""),
    )


@malformed_is_manifest_error("persistentvolume")
def parse_volume(obj: Mapping[str, Any]) -> Volume:
    """A Volume from the API's JSON; ManifestError names what cannot be read."""
    meta = _meta(obj, "persistentvolume")
    key = f"persistentvolume {meta['name']}"
    spec = _spec(obj, key)
    ref = spec.get("claimRef")
    claim_ref = None
    if isinstance(ref, Mapping) and ref.get("name"):
        claim_ref = (str(ref.get("namespace") or ""), str(ref["name"]), str(ref.get("uid") or ""))
    affinity = spec.get("nodeAffinity")
    required = affinity.get("required") if isinstance(affinity, Mapping) else None
    csi = spec.get("csi")
    if not isinstance(csi, Mapping):
        csi = {}
    return Volume(
        name=str(meta["name"]),
        storage_class=claim_class(meta.get("annotations") or {}, spec),
        capacity=_storage(spec.get("capacity"), f"{key}: spec.capacity"),
        access_modes=_modes(spec.get("accessModes"), f"{key}: spec.accessModes"),
        volume_mode=str(spec.get("volumeMode") or FILESYSTEM),
        claim_ref=claim_ref,
        node_affinity=parse_node_selector(required, f"{key}: spec.nodeAffinity.required"),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        phase=str((obj.get("status") or {}).get("phase") or ""),
        deleting=bool(meta.get("deletionTimestamp")),
        csi_driver=str(csi.get("driver") or ""),
        csi_handle=str(csi.get("volumeHandle") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


@malformed_is_manifest_error("storageclass")
def parse_storage_class(obj: Mapping[str, Any]) -> StorageClass:
    """A StorageClass from the API's JSON; `allowedTopologies` become `In` node selector terms."""
    meta = _meta(obj, "storageclass")
    where = f"storageclass {meta['name']}: allowedTopologies"
    topologies = obj.get("allowedTopologies") or []
    if not isinstance(topologies, list):
        raise ManifestError(f"{where} must be a list")
    terms = []
    for i, term in enumerate(topologies):
        expressions = term.get("matchLabelExpressions") if isinstance(term, Mapping) else None
        if not isinstance(expressions, list):
            raise ManifestError(f"{where}[{i}].matchLabelExpressions must be a list")
        requirements = tuple(
            Requirement(str(e.get("key")), "In", tuple(str(v) for v in e.get("values") or ()))
            for e in expressions
            if isinstance(e, Mapping)
        )
        terms.append(NodeSelectorTerm(requirements))
    return StorageClass(
        name=str(meta["name"]),
        provisioner=str(obj.get("provisioner") or ""),
        binding_mode=str(obj.get("volumeBindingMode") or "Immediate"),
        allowed_topologies=tuple(terms),
    )


@malformed_is_manifest_error("csinode")
def parse_csinode(obj: Mapping[str, Any]) -> CSINode:
    """A CSINode from the API's JSON: each driver's `allocatable.count`, where the driver reports one."""
    meta = _meta(obj, "csinode")
    limits = {}
    for driver in _spec(obj, f"csinode {meta['name']}").get("drivers") or ():
        count = ((driver or {}).get("allocatable") or {}).get("count") if isinstance(driver, Mapping) else None
        if isinstance(count, int) and not isinstance(count, bool) and driver.get("name"):
            limits[str(driver["name"])] = count
    return CSINode(name=str(meta["name"]), limits=limits)


@malformed_is_manifest_error("csidriver")
def parse_csidriver(obj: Mapping[str, Any]) -> CSIDriver:
    """A CSIDriver from the API's JSON: `spec.storageCapacity` true opts the driver into capacity checks."""
    meta = _meta(obj, "csidriver")
    spec = _spec(obj, f"csidriver {meta['name']}")
    return CSIDriver(name=str(meta["name"]), storage_capacity=spec.get("storageCapacity") is True)


@malformed_is_manifest_error("csistoragecapacity")
def parse_storage_capacity(obj: Mapping[str, Any]) -> StorageCapacity:
    """A CSIStorageCapacity from the API's JSON (its fields sit at the top level, beside metadata); ManifestError
    names what cannot be read."""
    meta = _meta(obj, "csistoragecapacity")
    key = f"csistoragecapacity {meta.get('namespace') or 'default'}/{meta['name']}"
    capacity, largest = obj.get("capacity"), obj.get("maximumVolumeSize")
    return StorageCapacity(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta["name"]),
        storage_class=str(obj.get("storageClassName") or ""),
        node_topology=parse_label_selector(obj.get("nodeTopology"), f"{key}: nodeTopology"),
        capacity=None if capacity is None else _quantity(capacity, f"{key}: capacity"),
        maximum_volume_size=None if largest is None else _quantity(largest, f"{key}: maximumVolumeSize"),
    )


def offers(volume: Volume, claim: Claim) -> bool:
    """`CheckAccessModes`: the volume offers every access mode the claim asks for."""
    return all(mode in volume.access_modes for mode in claim.access_modes)


def may_match(volume: Volume, claim: Claim) -> bool:
    """`FindMatchingVolume`'s checks that do not depend on the node (scheduler path, delayed binding): large
    enough, same volume mode, not being deleted, and either pre-bound to the claim or `Available`, in the
    claim's class, matching its selector and offering its access modes."""
    if volume.claim_ref is not None and not volume.bound_to(claim):
        return False
    if volume.capacity < claim.request or volume.volume_mode != claim.volume_mode or volume.deleting:
        return False
    if volume.bound_to(claim):
        return True
    if volume.phase != AVAILABLE:
        return False
    if claim.selector is not None and not selector_matches(claim.selector, volume.labels):
        return False
    return volume.storage_class == claim.storage_class and offers(volume, claim)


RESOURCES: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "persistentvolumeclaims": ("claims", parse_claim),
    "persistentvolumes": ("volumes", parse_volume),
    "storageclasses": ("classes", parse_storage_class),
    "csinodes": ("csinodes", parse_csinode),
    "csidrivers": ("drivers", parse_csidriver),
    "csistoragecapacities": ("capacities", parse_storage_capacity),
}
"""Each informer's resource → the `Volumes` map it fills and the parser of its objects."""
NAMESPACED = ("persistentvolumeclaims", "csistoragecapacities")
"""The namespaced ones, kept by `namespace/name`."""


def _key(resource: str, raw: Mapping[str, Any]) -> str:
    meta = raw.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = str(meta.get("name") or "")
    return f"{meta.get('namespace') or 'default'}/{name}" if resource in NAMESPACED else name


def apply_event(volumes: Volumes, resource: str, kind: str, raw: Mapping[str, Any]) -> tuple[Volumes, str | None]:
    """`volumes` after one informer event, and why the object was dropped when it cannot be read (else None)."""
    attribute, parse = RESOURCES[resource]
    key = _key(resource, raw)
    if kind == DELETED:
        return volumes.changed(attribute, key, None), None
    try:
        return volumes.changed(attribute, key, parse(raw)), None
    except ManifestError as exc:
        return volumes.changed(attribute, key, None), str(exc)
