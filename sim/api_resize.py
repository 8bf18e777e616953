"""In-place pod resize as the kubelet carries it out (InPlacePodVerticalScaling, beta and on by default in 1.33).

After `pods/resize` changes `spec.containers[].resources`, the kubelet decides whether the node can take the new
requests (`canResizePod` in `pkg/kubelet/kubelet.go`): more than the node's allocatable is `Infeasible`, more
than is free beside the other pods' allocations is `Deferred` (retried when pods leave); either is reported as
the `PodResizePending` condition with that reason. A resize that fits is allocated at once
(`status.containerStatuses[].allocatedResources`, condition `PodResizeInProgress`) and actuated later
(`status.containerStatuses[].resources`, the condition removed). Pure functions over pod and node dicts; the
emulator's kubelet (`sim.api_kubelet`) decides when to call them.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sim import api_errors
from sim.api_strategy import RESIZABLE, parse_quantity, rfc3339

__all__ = [
    "actuated",
    "allocated",
    "requests_of",
    "resize_pending",
    "resized",
    "settled",
    "spec_resources",
    "verdict",
]

JSON = dict[str, Any]
_PENDING, _IN_PROGRESS = "PodResizePending", "PodResizeInProgress"


def spec_resources(container: JSON) -> JSON:
    """A container's cpu and memory requests and limits as the kubelet reports them in `resources`."""
    resources = container.get("resources") or {}
    out = {}
    for part in ("requests", "limits"):
        values = {k: v for k, v in (resources.get(part) or {}).items() if k in RESIZABLE}
        if values:
            out[part] = values
    return out


def _allocated_of(pod: JSON) -> dict[str, JSON]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return {s.get("name"): s.get("allocatedResources") or {} for s in statuses}


def resized(pod: JSON) -> bool:
    """Whether the spec asks for other requests than the kubelet has allocated (a resize to carry out)."""
    allocated = _allocated_of(pod)
    return any(
        c.get("name") in allocated and (spec_resources(c).get("requests") or {}) != allocated[c.get("name")]
        for c in (pod.get("spec") or {}).get("containers") or []
    )


def requests_of(pod: JSON, *, allocated: bool) -> dict[str, Decimal]:
    """A pod's cpu (cores) and memory (bytes): what the kubelet allocated, or what its spec asks for."""
    by_name = _allocated_of(pod) if allocated else {}
    total = {name: Decimal(0) for name in RESIZABLE}
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests = by_name.get(container.get("name")) or spec_resources(container).get("requests") or {}
        for name in RESIZABLE:
            try:
                total[name] += parse_quantity(requests.get(name, 0))
            except api_errors.ApiError:
                continue
    return total


def _units(name: str, value: Decimal) -> int:
    """As the kubelet's messages print them: millicores for cpu, bytes for memory."""
    return int(value * 1000) if name == "cpu" else int(value)


def verdict(pod: JSON, node: JSON, others: list[JSON]) -> tuple[str, str]:
    """`("", "")` when the resize fits, else `("Infeasible" | "Deferred", the kubelet's message)`.

    `others` are the other pods on the node, counted at what the kubelet allocated them.
    """
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    wanted = requests_of(pod, allocated=False)
    capacity = {name: parse_quantity(allocatable.get(name, 0)) for name in RESIZABLE}
    for name in ("memory", "cpu"):  # memory first, as canResizePod checks it
        if allocatable.get(name) is not None and wanted[name] > capacity[name]:
            message = (
                f"Node didn't have enough capacity: {name}, requested: {_units(name, wanted[name])}, "
                f"capacity: {_units(name, capacity[name])}"
            )
            return "Infeasible", message
    used = {name: Decimal(0) for name in RESIZABLE}
    for other in others:
        for name, value in requests_of(other, allocated=True).items():
            used[name] += value
    for name in RESIZABLE:
        if allocatable.get(name) is not None and used[name] + wanted[name] > capacity[name]:
            message = (
                f"Node didn't have enough resource: {name}, requested: {_units(name, wanted[name])}, "
                f"used: {_units(name, used[name])}, capacity: {_units(name, capacity[name])}"
            )
            return "Deferred", message
    return "", ""


def _with_condition(status: JSON, kind: str, condition: JSON | None) -> list[JSON]:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    return kept if condition is None else [*kept, condition]


def _each_container(pod: JSON, update: Callable[[JSON, JSON], JSON]) -> list[JSON]:
    """The container statuses, each with a container of the spec passed through `update(status, container)`."""
    by_name = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return [update(s, by_name[s.get("name")]) if s.get("name") in by_name else s for s in statuses]


def resize_pending(pod: JSON, reason: str, message: str, *, now: float) -> JSON:
    """The pod with `PodResizePending` (a new dict; its transition time kept while the reason holds)."""
    status = dict(pod.get("status") or {})
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == _PENDING), {})
    since = previous.get("lastTransitionTime") if previous.get("reason") == reason else rfc3339(now)
    condition = {
        "type": _PENDING,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": rfc3339(now),
        "lastTransitionTime": since,
    }
    status["conditions"] = _with_condition(status, _PENDING, condition)
    return {**pod, "status": status}


def settled(pod: JSON) -> JSON:
    """The pod without `PodResizePending`: its spec asks for nothing but what it was allocated."""
    status = pod.get("status") or {}
    if not any(c.get("type") == _PENDING for c in status.get("conditions") or []):
        return pod
    return {**pod, "status": {**status, "conditions": _with_condition(status, _PENDING, None)}}


def allocated(pod: JSON, *, now: float) -> JSON:
    """The pod with the new requests allocated and `PodResizeInProgress`, `PodResizePending` gone."""
    status = dict(pod.get("status") or {})
    status["containerStatuses"] = _each_container(
        pod, lambda s, c: {**s, "allocatedResources": spec_resources(c).get("requests", {})}
    )
    status["conditions"] = _with_condition(status, _PENDING, None)
    progress = {"type": _IN_PROGRESS, "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339(now)}
    status["conditions"] = _with_condition(status, _IN_PROGRESS, progress)
    return {**pod, "status": status}


def actuated(pod: JSON) -> JSON:
    """The pod running with what was allocated: `resources` reported from the spec, `PodResizeInProgress` gone."""

    def in_effect(container_status: JSON, container: JSON) -> JSON:
        resources = spec_resources(container)
        if container_status.get("allocatedResources"):
            resources["requests"] = container_status["allocatedResources"]
        return {**container_status, "resources": resources}

    status = dict(pod.get("status") or {})
    status["containerStatuses"] = _each_container(pod, in_effect)
    status["conditions"] = _with_condition(status, _IN_PROGRESS, None)
    return {**pod, "status": status}
