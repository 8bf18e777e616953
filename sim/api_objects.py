"""Create and update rules of the storage and policy kinds: claims, volumes, classes, disruption budgets.

Mirrors what a scheduler can observe of `pkg/registry/core/persistentvolume{,claim}/strategy.go`,
`pkg/registry/storage/storageclass/strategy.go`, `pkg/registry/policy/poddisruptionbudget/strategy.go` and the
defaults of `pkg/apis/{core,storage,policy}/v1/defaults.go`: a new claim or volume starts `Pending` whatever
status it was sent with, a class gets its reclaim policy and binding mode, a budget gets `metadata.generation`
1 and an empty status, and the main resource of these kinds never writes `status` (the status subresource
does). A budget's generation grows with each change of its spec, which is how eviction knows the disruption
controller has not caught up yet. Pure functions over plain dicts the store owns, called inside its write lock.
"""

import json
from typing import Any

from sim import api_errors

__all__ = ["STATUS_SUBRESOURCE", "prepare_create", "prepare_update"]

JSON = dict[str, Any]

# stores whose main resource ignores `status` on update (the status subresource writes it)
STATUS_SUBRESOURCE = ("persistentvolumeclaims", "persistentvolumes", "poddisruptionbudgets")


def prepare_create(store: str, obj: JSON, *, keep_status: bool) -> JSON:
    """Defaults and the initial status of a new claim, volume, class or budget (other kinds unchanged)."""
    _defaults(store, obj)
    if store in ("persistentvolumeclaims", "persistentvolumes"):
        _initial_status(obj, {"phase": "Pending"}, keep_status)
    elif store == "poddisruptionbudgets":
        obj["metadata"]["generation"] = 1
        empty = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        _initial_status(obj, empty, keep_status)
    return obj


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
    if store == "poddisruptionbudgets":
        generation = old["metadata"].get("generation", 1)
        changed = subresource != "status" and new.get("spec") != old.get("spec")
        new["metadata"]["generation"] = generation + 1 if changed else generation
    return new
