"""What of a raw pod an in-place resize changes, for the cache's cheap "did anything I count change" test.

A resize (`pods/resize`, InPlacePodVerticalScaling) rewrites a bound pod's `spec.containers[].resources`; the
kubelet then reports `status.containerStatuses[].allocatedResources` and `.resources` and the
`PodResizePending`/`PodResizeInProgress` conditions. `cluster.resources` counts the largest of them as
kube-scheduler does; this is the key that tells the cache to re-read the pod when any of them moves (as
upstream's cache re-accounts a node on every pod update).
"""

from collections.abc import Mapping
from typing import Any

_RESIZE_CONDITIONS = ("PodResizePending", "PodResizeInProgress")


def footprint(raw: Mapping[str, Any]) -> int:
    """A hash of the pod's spec and status resources and its resize conditions.

    It is kept for every bound pod and computed on every event, so it is one int made from the fields' repr
    (the API server writes a pod's fields in one order): a false "changed" costs a re-parse, and a false
    "unchanged" would take a 64-bit hash collision. Input of any shape is hashed, never raised on.
    """
    spec = raw.get("spec")
    status = raw.get("status")
    spec = spec if isinstance(spec, Mapping) else {}
    status = status if isinstance(status, Mapping) else {}
    parts: list[Any] = [spec.get("resources")]
    for field in ("initContainers", "containers"):
        parts.extend(c.get("resources") for c in _mappings(spec.get(field)))
    for field in ("initContainerStatuses", "containerStatuses"):
        parts.extend(
            (s.get("name"), s.get("allocatedResources"), s.get("resources")) for s in _mappings(status.get(field))
        )
    parts.extend(
        (c.get("type"), c.get("reason"))
        for c in _mappings(status.get("conditions"))
        if c.get("type") in _RESIZE_CONDITIONS
    )
    return hash(repr(parts))


def _mappings(raw: Any) -> list[Mapping[str, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []
