"""Create and update rules of the storage, policy, service and workload kinds.

Mirrors what a scheduler can observe of `pkg/registry/core/persistentvolume{,claim}/strategy.go`,
`pkg/registry/storage/storageclass/strategy.go`, `pkg/registry/policy/poddisruptionbudget/strategy.go`,
`pkg/registry/core/service`, `pkg/registry/apps/{replicaset,statefulset}`, `pkg/registry/core/replicationcontroller`
and the defaults of `pkg/apis/{core,storage,policy,apps}/v1/defaults.go`: a new claim or volume starts `Pending`
whatever status it was sent with, a class gets its reclaim policy and binding mode, a budget or workload
controller gets `metadata.generation` 1 and an empty status, a Service its type, session affinity, port defaults
and a cluster IP, and the main resource of these kinds never writes `status` (the status subresource does). A
budget's or controller's generation grows with each change of its spec, which is how eviction knows the
disruption controller has not caught up yet. The emulator runs no workload controller: a ReplicaSet's or
StatefulSet's status stays as written. Pure functions over plain dicts the store owns, called inside its write
lock.
"""

import hashlib
import json
from typing import Any

from sim import api_errors

__all__ = ["STATUS_SUBRESOURCE", "prepare_create", "prepare_update"]

JSON = dict[str, Any]

WORKLOADS = {"replicationcontrollers": "", "replicasets": "apps", "statefulsets": "apps"}
"""The workload controllers' stores, with their API group."""
# stores whose main resource ignores `status` on update (the status subresource writes it)
STATUS_SUBRESOURCE = ("persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets", "services", *WORKLOADS)
GENERATION = ("poddisruptionbudgets", *WORKLOADS)
"""Stores whose objects count their spec changes in `metadata.generation`."""
_KINDS = {"replicationcontrollers": "ReplicationController", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet"}


def prepare_create(store: str, obj: JSON, *, keep_status: bool) -> JSON:
    """Defaults and the initial status of a new claim, volume, class or budget (other kinds unchanged)."""
    _defaults(store, obj)
    if store in ("persistentvolumeclaims", "persistentvolumes"):
        _initial_status(obj, {"phase": "Pending"}, keep_status)
    elif store == "poddisruptionbudgets":
        obj["metadata"]["generation"] = 1
        empty = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        _initial_status(obj, empty, keep_status)
    elif store == "services":
        _allocate_cluster_ip(obj)
        _initial_status(obj, {"loadBalancer": {}}, keep_status)
    elif store in WORKLOADS:
        _require_selector(store, obj)
        obj["metadata"]["generation"] = 1
        _initial_status(obj, {"replicas": 0}, keep_status)
    return obj


def _allocate_cluster_ip(service: JSON) -> None:
    """A cluster IP for a Service that asks for one (not headless `None`, not `ExternalName`), drawn from its uid in
    10.96.0.0/12 (the emulator keeps no allocator: a clash is as unlikely as two uids' equal 20-bit hashes)."""
    spec = service["spec"]
    if spec["type"] == "ExternalName":
        return
    if not spec.get("clusterIP"):
        bits = int(hashlib.sha256(service["metadata"]["uid"].encode()).hexdigest(), 16) & 0xFFFFF
        spec["clusterIP"] = f"10.{96 + (bits >> 16)}.{(bits >> 8) & 0xFF}.{bits & 0xFF}"
    spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def _require_selector(store: str, obj: JSON) -> None:
    """`ValidateReplicaSetSpec` / `ValidateStatefulSetSpec` (apps/v1): the selector is required."""
    if WORKLOADS[store] and not isinstance(obj["spec"].get("selector"), dict):
        raise api_errors.invalid(
            _KINDS[store], obj["metadata"]["name"], "spec.selector", "Required value", WORKLOADS[store]
        )


def _defaults(store: str, obj: JSON) -> None:
    """The `defaults.go` values of fields a client left out (applied on every write, as decoding does)."""
    if store == "persistentvolumeclaims":
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    elif store == "persistentvolumes":
        spec = obj.setdefault("spec", {})
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    elif store == "storageclasses":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif store == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif store in WORKLOADS:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if store == "replicationcontrollers" and labels:  # SetDefaults_ReplicationController
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            if not obj["metadata"].get("labels"):
                obj["metadata"]["labels"] = dict(labels)
        if store == "statefulsets":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("revisionHistoryLimit", 10)


def _initial_status(obj: JSON, status: JSON, keep_status: bool) -> None:
    if not keep_status or not isinstance(obj.get("status"), dict):
        obj["status"] = status


# ValidateStorageClassUpdate: what a class promised its volumes cannot change under them
_CLASS_IMMUTABLE = {
    "parameters": "Forbidden: updates to parameters are forbidden.",
    "provisioner": "Forbidden: updates to provisioner are forbidden.",
    "reclaimPolicy": "Forbidden: updates to reclaimPolicy are forbidden.",
    "volumeBindingMode": "Invalid value: %s: field is immutable",
}


def prepare_update(store: str, old: JSON, new: JSON, *, subresource: str) -> JSON:
    """Keep `status` on main-resource updates, count a budget's spec changes, refuse changing a class's promises."""
    _defaults(store, new)
    if store == "storageclasses":
        for field, why in _CLASS_IMMUTABLE.items():
            if new.get(field) != old.get(field):
                value = json.dumps(new.get(field))
                raise api_errors.invalid(
                    "StorageClass", old["metadata"]["name"], field, why.replace("%s", value), "storage.k8s.io"
                )
    if store in STATUS_SUBRESOURCE and subresource != "status":
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if store == "services" and subresource != "status":
        _keep_cluster_ip(old, new)
    if store in WORKLOADS and subresource != "status":
        _require_selector(store, new)
    if store in GENERATION:
        generation = old["metadata"].get("generation", 1)
        changed = subresource != "status" and new.get("spec") != old.get("spec")
        new["metadata"]["generation"] = generation + 1 if changed else generation
    return new


def _keep_cluster_ip(old: JSON, new: JSON) -> None:
    """A Service's cluster IP is kept when an update leaves it out, and may not change (`ValidateServiceUpdate`)."""
    before, after = old.get("spec") or {}, new.setdefault("spec", {})
    if not after.get("clusterIP") and before.get("clusterIP"):
        after["clusterIP"] = before["clusterIP"]
        if "clusterIPs" in before:
            after["clusterIPs"] = before["clusterIPs"]
    elif after.get("clusterIP") != before.get("clusterIP"):
        value = json.dumps(after.get("clusterIP"))
        raise api_errors.invalid(
            "Service", old["metadata"]["name"], "spec.clusterIPs[0]", f"Invalid value: {value}: may not change once set"
        )
