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


def footprint(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """The pod's spec and status resources and its resize conditions, as a hashable, comparable value."""
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    if not isinstance(spec, Mapping) or not isinstance(status, Mapping):
        return ()
    containers = [
        _frozen(c.get("resources")) for field in ("initContainers", "containers") for c in _mappings(spec.get(field))
    ]
    statuses = [
        (_frozen(s.get("name")), _frozen(s.get("allocatedResources")), _frozen(s.get("resources")))
        for field in ("initContainerStatuses", "containerStatuses")
        for s in _mappings(status.get(field))
    ]
    conditions = [
        (_frozen(c.get("type")), _frozen(c.get("reason")))
        for c in _mappings(status.get("conditions"))
        if c.get("type") in _RESIZE_CONDITIONS
    ]
    return (_frozen(spec.get("resources")), tuple(containers), tuple(statuses), tuple(conditions))


def _mappings(raw: Any) -> list[Mapping[str, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def _frozen(value: Any) -> Any:
    """Nested maps and lists as sorted tuples; anything else as its repr, so any input compares and hashes."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
