"""Resource quantities and a pod's requests, computed the way kube-scheduler computes them.

Mirrors `k8s.io/component-helpers/resource/helpers.go` (`PodRequests`, v1.36): the sum of the app
containers, raised to the largest init container (restartable "sidecar" init containers add to both
sides), pod-level `spec.resources` where set, plus `spec.overhead`; for a pod the kubelet reports on, the
larger of that and what its status says is allocated or actuated (in-place resize, `UseStatusResources`).
CPU is held in millicores, every other resource in its base unit (bytes, or a count for extended
resources), both as integers.

Quantities are bounded where they are parsed: one that is not a string or a finite number, or that is
larger than `MAX_QUANTITY` in those units, raises `QuantityError` and never reaches arithmetic. The API
server itself refuses anything beyond int64; the bound here is 2^53, far beyond any node (8 PiB of
memory, 9·10^12 CPUs), so that the int64 sums of a node's pods cannot wrap around into free space and
every quantity is exact as a float in the scorers' ratios.
"""

import math
import sys
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from kubernetes.utils.quantity import parse_quantity

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# kube-scheduler's defaults for containers that request nothing (pkg/scheduler/util/pod_resources.go).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# Resources that pod-level `spec.resources` may set (PodLevelResources).
_POD_LEVEL = (CPU, MEMORY)

MAX_QUANTITY = 2**53
"""The largest quantity accepted, in millicores or base units (see the module docstring)."""
_MAX_CORES = Decimal(MAX_QUANTITY) / 1000
"""MAX_QUANTITY millicores in cores, the unit a CPU quantity is read in."""
_MAX_TEXT = 64
"""Characters in a quantity string; the longest real one ("9007199254740992m") has 17."""


class QuantityError(ValueError):
    """A resource quantity (or a container's resources or host port) that Kubernetes would reject."""


def to_int(name: str, quantity: Any) -> int:
    """A quantity as kube-scheduler stores it: millicores for CPU, rounded-up base units otherwise."""
    if type(quantity) is str:
        return _cached_int(name, quantity)
    return _to_int(name, quantity)


@lru_cache(maxsize=4096)
def _cached_int(name: str, quantity: str) -> int:
    """Most pods repeat a few quantities ("500m", "1Gi"): parsing one with Decimal costs more than the rest
    of the pod's requests."""
    return _to_int(name, quantity)


def _to_int(name: str, quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, str | int | float):
        raise QuantityError(f"invalid quantity for {name}: a {type(quantity).__name__}, not a string or a number")
    if isinstance(quantity, str) and len(quantity) > _MAX_TEXT:
        raise QuantityError(f"invalid quantity for {name}: longer than {_MAX_TEXT} characters")
    if isinstance(quantity, int) and quantity.bit_length() > 64:
        raise QuantityError(f"quantity for {name} exceeds 2^53 (an integer of {quantity.bit_length()} bits)")
    try:
        value: Decimal = parse_quantity(quantity)
    except (ValueError, InvalidOperation, TypeError, OverflowError) as exc:
        raise QuantityError(f"invalid quantity {quantity!r} for {name}") from exc
    if not value.is_finite():
        raise QuantityError(f"invalid quantity {quantity!r} for {name}")
    scale = 1000 if name == CPU else 1
    if value < 0:
        raise QuantityError(f"negative quantity {quantity!r} for {name}")
    if value > (_MAX_CORES if name == CPU else MAX_QUANTITY):  # before scaling: 1e999999 cores overflow Decimal
        unit = "millicores" if name == CPU else "units"
        raise QuantityError(f"quantity {quantity!r} for {name} exceeds 2^53 {unit}, more than any node has")
    return math.ceil(value * scale)


def parse_list(raw: Any, *, invalid: int | None = None) -> dict[str, int]:
    """A Kubernetes ResourceList (`{"cpu": "500m", ...}`) in integer units.

    With `invalid` set, a quantity that cannot be read counts as `invalid` (and a list that is not a map
    as cpu and memory of `invalid`) instead of raising: how a pod already bound is still counted."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        if invalid is not None:
            return {CPU: invalid, MEMORY: invalid}
        raise QuantityError(f"must be a map of resource names to quantities, not {type(raw).__name__}")
    out = {}
    for name, quantity in raw.items():
        key = sys.intern(str(name))
        try:
            out[key] = to_int(key, quantity)
        except QuantityError:
            if invalid is None:
                raise
            out[key] = invalid
    return out


def add(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, value in other.items():
        into[name] = into.get(name, 0) + value


def raise_to(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def is_sidecar(container: Mapping[str, Any]) -> bool:
    """An init container with `restartPolicy: Always` keeps running beside the app containers."""
    return container.get("restartPolicy") == "Always"


def container_requests(container: Mapping[str, Any], *, invalid: int | None = None) -> dict[str, int]:
    """Requests, defaulted from limits where only limits are set (as the API server's defaulting); `invalid` as
    in `parse_list`. A QuantityError names the container and the field."""
    resources = container.get("resources") or {}
    try:
        if not isinstance(resources, Mapping):
            return parse_list(resources, invalid=invalid)
        requests = parse_list(resources.get("requests"), invalid=invalid)
        for name, value in parse_list(resources.get("limits"), invalid=invalid).items():
            requests.setdefault(name, value)
    except QuantityError as exc:
        raise QuantityError(f"container {str(container.get('name') or '')[:63]!r}: resources: {exc}") from None
    return requests


def _non_missing(requests: Mapping[str, int]) -> dict[str, int]:
    """kube-scheduler's non-zero rule: an unset (not an explicit zero) cpu/memory request gets a default."""
    out = dict(requests)
    out.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
    out.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return out


def pod_requests(spec: Mapping[str, Any], *, non_missing: bool = False) -> dict[str, int]:
    """Total requests of a pod spec; `non_missing` applies kube-scheduler's 100m/200Mi defaults per container."""
    return _total(*_read_requests(spec), non_missing=non_missing)


def pod_requests_and_non_zero(
    spec: Mapping[str, Any], *, invalid: int | None = None, status: Mapping[str, Any] | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """`pod_requests(spec)` and `pod_requests(spec, non_missing=True)`, each container's requests read once;
    `invalid` as in `parse_list` (containers that are not objects are then skipped).

    With the pod's `status`, what an in-place resize leaves the kubelet holding counts too, as kube-scheduler
    counts it (`AggregateContainerRequests` with `UseStatusResources`, on since InPlacePodVerticalScaling went
    beta): per resource, the largest of the spec's, the allocated (`containerStatuses[].allocatedResources`) and
    the actuated (`containerStatuses[].resources.requests`) totals, so a node is never overcommitted while a
    resize is pending or in progress. A resize the kubelet found `Infeasible` will not happen: the spec's
    totals are then left out."""
    read = _read_requests(spec, invalid=invalid)
    statuses = _container_statuses(status)
    if not statuses:
        return _total(*read, non_missing=False), _total(*read, non_missing=True)
    infeasible = _resize_infeasible(status)
    views = [] if infeasible else [read]
    for actuated in (False, True):
        views.append(_status_view(spec, read, statuses, infeasible, actuated=actuated, invalid=invalid))
    requests = {CPU: 0, MEMORY: 0}
    non_zero = {CPU: 0, MEMORY: 0}
    for view in views:
        raise_to(requests, _total(*view, non_missing=False))
        raise_to(non_zero, _total(*view, non_missing=True))
    return requests, non_zero


def _container_statuses(status: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The pod's container and init container statuses by container name (`findContainerStatus`)."""
    if not isinstance(status, Mapping):
        return {}
    out: dict[str, Mapping[str, Any]] = {}
    for field in ("initContainerStatuses", "containerStatuses"):
        for entry in _objects(status.get(field), True):
            out.setdefault(str(entry.get("name") or ""), entry)
    return out


def _resize_infeasible(status: Mapping[str, Any] | None) -> bool:
    """`IsPodResizeInfeasible`: the first `PodResizePending` condition says `Infeasible`."""
    for condition in _objects((status or {}).get("conditions"), True):
        if condition.get("type") == "PodResizePending":
            return condition.get("reason") == "Infeasible"
    return False


def _status_view(
    spec: Mapping[str, Any],
    read: "_Read",
    statuses: Mapping[str, Mapping[str, Any]],
    infeasible: bool,
    *,
    actuated: bool,
    invalid: int | None,
) -> "_Read":
    """`read` with each container's requests replaced as upstream's `containerAllocatedRequests` (or, `actuated`,
    `containerActuatedRequests`) picks them: the kubelet's figure when it reports one, else nothing for an
    infeasible resize, else the spec's."""
    lenient = invalid is not None

    def pick(container: Mapping[str, Any], from_spec: dict[str, int]) -> dict[str, int]:
        name = str(container.get("name") or "")
        status = statuses.get(name)
        if status is not None:
            reported = status.get("resources")
            if actuated and isinstance(reported, Mapping) and reported.get("requests") is not None:
                return _status_list(reported["requests"], name, "resources.requests", invalid)
            if status.get("allocatedResources") is not None:
                return _status_list(status["allocatedResources"], name, "allocatedResources", invalid)
        return {} if infeasible else from_spec

    containers, init_containers, pod_level, overhead = read
    app = _objects(spec.get("containers"), lenient)
    init = _objects(spec.get("initContainers"), lenient)
    return (
        [pick(c, r) for c, r in zip(app, containers, strict=True)],
        [(pick(c, r), sidecar) for c, (r, sidecar) in zip(init, init_containers, strict=True)],
        pod_level,
        overhead,
    )


def _status_list(raw: Any, container: str, field: str, invalid: int | None) -> dict[str, int]:
    try:
        return parse_list(raw, invalid=invalid)
    except QuantityError as exc:
        raise QuantityError(f"status of container {container[:63]!r}: {field}: {exc}") from None


_Read = tuple[list[dict[str, int]], list[tuple[dict[str, int], bool]], dict[str, int], dict[str, int]]


def _objects(raw: Any, lenient: bool) -> list[Mapping[str, Any]]:
    items = raw if isinstance(raw, list) else []
    return [c for c in items if isinstance(c, Mapping)] if lenient else items


def _read_requests(spec: Mapping[str, Any], *, invalid: int | None = None) -> _Read:
    """Each container's requests, each init container's with whether it is a sidecar, pod-level requests, overhead."""
    lenient = invalid is not None
    pod_level = spec.get("resources") or {}
    init = _objects(spec.get("initContainers"), lenient)
    return (
        [container_requests(c, invalid=invalid) for c in _objects(spec.get("containers"), lenient)],
        [(container_requests(c, invalid=invalid), is_sidecar(c)) for c in init],
        parse_list(pod_level.get("requests") if isinstance(pod_level, Mapping) else pod_level, invalid=invalid),
        parse_list(spec.get("overhead"), invalid=invalid),
    )


def _total(
    containers: list[dict[str, int]],
    init_containers: list[tuple[dict[str, int], bool]],
    pod_level: dict[str, int],
    overhead: dict[str, int],
    *,
    non_missing: bool,
) -> dict[str, int]:
    per_container = _non_missing if non_missing else dict
    totals: dict[str, int] = {CPU: 0, MEMORY: 0}
    for read in containers:
        add(totals, per_container(read))
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for read, sidecar in init_containers:
        requests = per_container(read)
        if sidecar:
            add(totals, requests)
            add(sidecars, requests)
            effective = dict(sidecars)
        else:
            effective = dict(requests)
            add(effective, sidecars)
        raise_to(init_max, effective)
    raise_to(totals, init_max)
    for name in _POD_LEVEL:
        if name in pod_level:
            totals[name] = pod_level[name]
    add(totals, overhead)
    return {name: value for name, value in totals.items() if value or name in (CPU, MEMORY)}


def host_ports(spec: Mapping[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every container port that claims a host port."""
    containers: Iterable[Mapping[str, Any]] = list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if is_sidecar(c)
    ]
    ports = []
    for container in containers:
        for port in container.get("ports") or []:
            if not isinstance(port, Mapping):
                raise QuantityError(f"ports: each port must be an object, not {type(port).__name__}")
            raw = port.get("hostPort") or 0
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 65535:
                raise QuantityError(f"ports: hostPort {str(raw)[:20]!r} is not a port number (0-65535)")
            if raw > 0:
                ports.append((str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"), raw))
    return tuple(ports)


def pod_limits(spec: Mapping[str, Any]) -> dict[str, int]:
    """CPU and memory limits of the app containers, summed; a resource is left out when any container leaves it
    unbounded (the pod may then use the whole node), as the pod-level `resources.limits` overrides."""
    containers = _objects(spec.get("containers"), lenient=False)
    limited = [parse_list((c.get("resources") or {}).get("limits")) for c in containers]
    totals = {
        name: sum(lim.get(name, 0) for lim in limited) for name in _POD_LEVEL if all(lim.get(name) for lim in limited)
    }
    pod_level = spec.get("resources") or {}
    if isinstance(pod_level, Mapping):
        totals.update({k: v for k, v in parse_list(pod_level.get("limits")).items() if k in _POD_LEVEL and v})
    return totals


def qos_class(spec: Mapping[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, as `GetPodQOS` decides from requests and limits."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requested: dict[str, int] = {}
    limited: dict[str, int] = {}
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        limits = {k: v for k, v in parse_list(resources.get("limits")).items() if k in (CPU, MEMORY)}
        requests = {k: v for k, v in container_requests(container).items() if k in (CPU, MEMORY)}
        add(requested, {k: v for k, v in requests.items() if v})
        add(limited, {k: v for k, v in limits.items() if v})
        if set(limits) != {CPU, MEMORY} or any(requests.get(k) != limits[k] for k in limits):
            guaranteed = False
    if not any(requested.values()) and not any(limited.values()):
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
