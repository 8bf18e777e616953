"""The resources the emulator serves: names, scopes, verbs, selectable fields and wire conversions.

One table (`RESOURCES`) drives discovery, routing, field-selector validation and storage. `core/v1` Events and
`events.k8s.io/v1` Events share one storage, as in the real server: they are stored in the core form and
converted on the way in and out, so an event written through either API shows up in `kubectl describe`.
Pure data and pure functions; nothing here touches the store or the network.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RESOURCES", "REVIEWS", "STORAGE", "Resource", "find", "get_path"]

JSON = dict[str, Any]


@functools.lru_cache(maxsize=256)
def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def get_path(obj: Mapping[str, Any], dotted: str) -> str:
    """The value at `a.b.c` as a field selector sees it: a string, "" when absent, booleans lowercased."""
    value: Any = obj
    for part in _parts(dotted):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Resource:
    """One REST resource as served at one group/version."""

    plural: str
    singular: str
    kind: str
    namespaced: bool
    group: str = ""
    version: str = "v1"
    storage: str = ""  # the store's name for the objects; defaults to `plural`
    short_names: tuple[str, ...] = ()
    subresources: Mapping[str, str] = field(default_factory=dict)  # name -> kind
    fields: Mapping[str, str] = field(default_factory=dict)  # selectable field -> path in the stored object
    indexed: tuple[str, ...] = ()  # selectable fields the store keeps an index for
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_name(self) -> str:
        return self.storage or self.plural

    @property
    def converted(self) -> bool:
        """Whether this group/version's wire form differs from the stored form."""
        return self.api_version in _CONVERT_OUT

    def field_value(self, obj: Mapping[str, Any], name: str) -> str:
        """The value of a selectable field on a stored object (the selector's `field` callback)."""
        return get_path(obj, self.fields[name])

    def to_wire(self, obj: JSON) -> JSON:
        """The stored object as this group/version sends it."""
        return _CONVERT_OUT.get(self.api_version, _same)(obj)

    def from_wire(self, obj: JSON) -> JSON:
        """A request body of this group/version in its stored form."""
        return _CONVERT_IN.get(self.api_version, _same)(obj)


def _same(obj: JSON) -> JSON:
    return obj


_META = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}
_EVENT_FIELDS = _META | {
    f"involvedObject.{f}": f"involvedObject.{f}"
    for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
}
_EVENT_FIELDS |= {"reason": "reason", "type": "type", "source": "source.component"}
_EVENT_FIELDS |= {"reportingComponent": "reportingComponent"}

_EVENTS_V1_RENAMES = {  # events.k8s.io/v1 field -> core/v1 field
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_EVENTS_CORE_RENAMES = {v: k for k, v in _EVENTS_V1_RENAMES.items()}


def _event_to_v1(obj: JSON) -> JSON:
    out = {_EVENTS_CORE_RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "events.k8s.io/v1"
    return out


def _event_from_v1(obj: JSON) -> JSON:
    out = {_EVENTS_V1_RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    return out


_CONVERT_OUT: dict[str, Callable[[JSON], JSON]] = {"events.k8s.io/v1": _event_to_v1}
_CONVERT_IN: dict[str, Callable[[JSON], JSON]] = {"events.k8s.io/v1": _event_from_v1}

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "namespaces",
        "namespace",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        subresources={"status": "Namespace"},
        fields={"metadata.name": "metadata.name", "status.phase": "status.phase"},
    ),
    Resource(
        "nodes",
        "node",
        "Node",
        namespaced=False,
        short_names=("no",),
        subresources={"status": "Node"},
        fields={"metadata.name": "metadata.name", "spec.unschedulable": "spec.unschedulable"},
    ),
    Resource(
        "pods",
        "pod",
        "Pod",
        namespaced=True,
        short_names=("po",),
        subresources={"status": "Pod", "binding": "Binding", "log": "Pod", "eviction": "Eviction", "resize": "Pod"},
        fields=_META
        | {
            f: f
            for f in (
                "spec.nodeName",
                "spec.schedulerName",
                "spec.restartPolicy",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            )
        },
        indexed=("spec.nodeName", "spec.schedulerName"),
    ),
    Resource(
        "bindings",
        "binding",
        "Binding",
        namespaced=True,
        storage="pods",
        verbs=("create",),
    ),
    Resource("events", "event", "Event", namespaced=True, short_names=("ev",), fields=_EVENT_FIELDS),
    Resource(
        "events",
        "event",
        "Event",
        namespaced=True,
        group="events.k8s.io",
        short_names=("ev",),
        fields=_META
        | {
            "reason": "reason",
            "type": "type",
            "reportingController": "reportingComponent",
            "regarding.kind": "involvedObject.kind",
            "regarding.name": "involvedObject.name",
            "regarding.namespace": "involvedObject.namespace",
            "regarding.uid": "involvedObject.uid",
        },
    ),
    Resource("leases", "lease", "Lease", namespaced=True, group="coordination.k8s.io", fields=_META),
    Resource(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        namespaced=True,
        short_names=("pvc",),
        subresources={"status": "PersistentVolumeClaim"},
        fields=_META,
    ),
    Resource(
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        namespaced=False,
        short_names=("pv",),
        subresources={"status": "PersistentVolume"},
        fields={"metadata.name": "metadata.name"},
    ),
    Resource(
        "storageclasses",
        "storageclass",
        "StorageClass",
        namespaced=False,
        group="storage.k8s.io",
        short_names=("sc",),
        fields={"metadata.name": "metadata.name"},
    ),
    Resource(
        "csinodes",
        "csinode",
        "CSINode",
        namespaced=False,
        group="storage.k8s.io",
        fields={"metadata.name": "metadata.name"},
    ),
    Resource(
        "csidrivers",
        "csidriver",
        "CSIDriver",
        namespaced=False,
        group="storage.k8s.io",
        fields={"metadata.name": "metadata.name"},
    ),
    Resource(
        "csistoragecapacities",
        "csistoragecapacity",
        "CSIStorageCapacity",
        namespaced=True,
        group="storage.k8s.io",
        fields=_META,
    ),
    Resource(
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        namespaced=True,
        group="policy",
        short_names=("pdb",),
        subresources={"status": "PodDisruptionBudget"},
        fields=_META,
    ),
    Resource(
        "services",
        "service",
        "Service",
        namespaced=True,
        short_names=("svc",),
        subresources={"status": "Service"},
        fields=_META,
    ),
    Resource(
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        namespaced=True,
        short_names=("rc",),
        subresources={"status": "ReplicationController"},
        fields=_META | {"status.replicas": "status.replicas"},
    ),
    Resource(
        "replicasets",
        "replicaset",
        "ReplicaSet",
        namespaced=True,
        group="apps",
        short_names=("rs",),
        subresources={"status": "ReplicaSet"},
        fields=_META | {"status.replicas": "status.replicas"},
    ),
    Resource(
        "statefulsets",
        "statefulset",
        "StatefulSet",
        namespaced=True,
        group="apps",
        short_names=("sts",),
        subresources={"status": "StatefulSet"},
        fields=_META,
    ),
    Resource(  # not stored: `sim.api_authz` answers each review from the deny rules
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        namespaced=False,
        group="authorization.k8s.io",
        verbs=("create",),
    ),
)

_NOT_STORED = ("bindings", "selfsubjectaccessreviews")
# each storage by the resource whose wire form is the stored form (core/v1 events, not events.k8s.io/v1)
STORAGE: dict[str, Resource] = {r.store_name: r for r in RESOURCES if r.plural not in _NOT_STORED and not r.converted}
REVIEWS = next(r for r in RESOURCES if r.plural == "selfsubjectaccessreviews")

_BY_PATH: dict[tuple[str, str], Resource] = {(r.api_version, r.plural): r for r in RESOURCES}


def find(api_version: str, plural: str) -> Resource | None:
    """The resource served at `/api/v1/<plural>` (`api_version` "v1") or `/apis/<group>/<version>/<plural>`."""
    return _BY_PATH.get((api_version, plural))


def groups() -> dict[str, list[Resource]]:
    """Served group/versions (core first, as `/api/v1`) with their resources, in discovery order."""
    out: dict[str, list[Resource]] = {}
    for r in RESOURCES:
        out.setdefault(r.api_version, []).append(r)
    return out
