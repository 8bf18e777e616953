"""From a Pod's JSON to the workload the interference model simulates: its profile, size and declared needs.

The profile is chosen, first match wins, by:
1. the annotation `sim.ai-scheduler.io/profile` (for scenario authors; an unknown name is an error);
2. a stressor image (`stress-ng`, `stress`, `ibench`) and its arguments (`--cache 2` is two `stress-cache` workers);
3. the image's repository name (`redis:7`, `docker.io/hashicorp/http-echo:1.0` → `redis`, `http-echo`);
4. the contract's annotations (CONTRACTS §2): a declared `ai-scheduler.io/noisy` picks that stressor, else the
   `ai-scheduler.io/workload-class` (and, for latency-critical pods, `ai-scheduler.io/sensitivity`) picks a typical
   profile of the class; BestEffort QoS defaults to `best-effort`.

Size: a stressor is as many units as workers; a service is its CPU request over the profile's `reference_cpu`
(a pod asking for twice the CPU serves about twice the load), else its limit, else one unit. A CPU limit caps the
cores it gets (and so its bandwidth) whatever its size.

Annotations are the pod's claims, not the truth: they choose a profile only when nothing else does, and an invalid
value is ignored as CONTRACTS §2 says. Pure; never reads the product's model code.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim import workloads
from sim.hardware import quantity
from sim.workloads import Profile

PROFILE_ANNOTATION = "sim.ai-scheduler.io/profile"
CLASS_ANNOTATION = "ai-scheduler.io/workload-class"
SENSITIVITY_ANNOTATION = "ai-scheduler.io/sensitivity"
NOISY_ANNOTATION = "ai-scheduler.io/noisy"
TARGET_ANNOTATION = "ai-scheduler.io/p99-target-ms"
STRESS_IMAGES = ("stress-ng", "stress", "ibench")
TERMINAL_PHASES = ("Succeeded", "Failed")
_NOISY_ORDER = ("membw", "llc", "cpu", "io")


class WorkloadError(ValueError):
    """A pod the simulator cannot model; the message names the pod and the field."""


@dataclass(frozen=True)
class Workload:
    """One pod as the interference model sees it."""

    key: str
    """`namespace/name`."""
    profile: Profile
    scale: float
    """Units of the profile (workers, or multiples of its reference request)."""
    cpu_request: float
    """Cores requested (kube-scheduler's view; 0 when unset)."""
    memory_request: float
    """Bytes requested."""
    cpu_limit: float | None
    node: str | None
    phase: str
    qos: str
    workload_class: str
    """CONTRACTS §2 `workload-class` after defaulting: what the pod claims, not what the profile is."""
    p99_target_ms: float | None
    declared_noisy: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Bound and not finished: it loads its node."""
        return self.node is not None and self.phase not in TERMINAL_PHASES

    @property
    def cpu_demand(self) -> float:
        """Cores it would use unconstrained by its limit."""
        return self.profile.cpu * self.scale

    @property
    def cpu_used(self) -> float:
        """Cores it uses: its demand, capped by its CPU limit."""
        demand = self.cpu_demand
        return demand if self.cpu_limit is None else min(demand, self.cpu_limit)


def image_name(image: str) -> str:
    """The repository's last path component without registry, tag or digest: `docker.io/bitnami/redis:7` → `redis`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def workload(pod: Mapping[str, Any]) -> Workload:
    """The pod as a Workload; raises WorkloadError naming the pod and the field it cannot read."""
    metadata = pod.get("metadata") or {}
    key = f"{metadata.get('namespace') or 'default'}/{metadata.get('name')}"
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not isinstance(containers, list) or not containers:
        raise WorkloadError(f"pod {key}: spec.containers must be a non-empty list")
    annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
    try:
        cpu_request, memory_request, cpu_limit, qos = _resources(spec, containers)
    except ValueError as exc:
        raise WorkloadError(f"pod {key}: spec.containers[].resources: {exc}") from None
    qos = str((pod.get("status") or {}).get("qosClass") or qos)
    workload_class = _class(annotations, qos)
    profile, workers = _profile(key, annotations, containers, workload_class, qos)
    if workers is not None:
        units = workers if workers > 0 else math.ceil(cpu_limit or cpu_request or 1.0)
    else:
        basis = cpu_request or cpu_limit
        units = basis / profile.reference_cpu if basis else 1.0
    return Workload(
        key=key,
        profile=profile,
        scale=min(max(float(units), 0.05), 256.0),
        cpu_request=cpu_request,
        memory_request=memory_request,
        cpu_limit=cpu_limit,
        node=spec.get("nodeName") or None,
        phase=str((pod.get("status") or {}).get("phase") or "Pending"),
        qos=qos,
        workload_class=workload_class,
        p99_target_ms=_target(annotations),
        declared_noisy=_dimensions(annotations.get(NOISY_ANNOTATION)),
    )


def qos_class(pod: Mapping[str, Any]) -> str:
    """Kubernetes' QoS class from the containers' requests and limits (ValueError on a bad quantity)."""
    spec = pod.get("spec") or {}
    return _resources(spec, spec.get("containers") or [])[3]


def _resources(spec: Mapping[str, Any], containers: Sequence[Any]) -> tuple[float, float, float | None, str]:
    """Pod CPU/memory requests (app containers summed, raised to the largest init container), CPU limit, QoS."""

    def totals(group: Sequence[Any]) -> tuple[float, float, float | None, list[bool]]:
        cpu = memory = 0.0
        limit: float | None = 0.0
        guaranteed: list[bool] = []
        for container in group:
            resources = container.get("resources") or {}
            requests = dict(resources.get("requests") or {})
            limits = resources.get("limits") or {}
            for name, value in limits.items():
                requests.setdefault(name, value)
            cpu += quantity(requests.get("cpu", 0))
            memory += quantity(requests.get("memory", 0))
            limit = None if limit is None or "cpu" not in limits else limit + quantity(limits["cpu"])
            guaranteed.append(
                all(n in limits and quantity(requests.get(n, 0)) == quantity(limits[n]) for n in ("cpu", "memory"))
            )
        return cpu, memory, limit, guaranteed

    cpu, memory, limit, guaranteed = totals(containers)
    init_cpu, init_memory, _, _ = totals(spec.get("initContainers") or [])
    any_resources = any((c.get("resources") or {}).get(k) for c in containers for k in ("requests", "limits"))
    qos = "BestEffort" if not any_resources else "Guaranteed" if all(guaranteed) else "Burstable"
    return max(cpu, init_cpu), max(memory, init_memory), limit, qos


def _class(annotations: Mapping[str, str], qos: str) -> str:
    value = annotations.get(CLASS_ANNOTATION, "").strip()
    if value in workloads.CLASSES:
        return value
    return "best-effort" if qos == "BestEffort" else "throughput"


def _target(annotations: Mapping[str, str]) -> float | None:
    try:
        value = float(annotations.get(TARGET_ANNOTATION, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _dimensions(raw: str | None) -> tuple[str, ...]:
    """A comma list of CONTRACTS §2 dimensions; an invalid list counts as empty."""
    if not raw:
        return ()
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    return items if all(item in workloads.DIMENSIONS for item in items) else ()


def _profile(
    key: str, annotations: Mapping[str, str], containers: Sequence[Any], workload_class: str, qos: str
) -> tuple[Profile, int | None]:
    """The profile and, for a stressor, its worker count."""
    explicit = annotations.get(PROFILE_ANNOTATION)
    if explicit:
        if explicit not in workloads.PROFILES:
            known = ", ".join(sorted(workloads.PROFILES))
            raise WorkloadError(f"pod {key}: annotation {PROFILE_ANNOTATION}={explicit!r} is unknown; known: {known}")
        stressor = _stressor(containers, any_image=True)
        workers = stressor[1] if stressor and stressor[0] == explicit else None
        return workloads.PROFILES[explicit], workers
    stressor = _stressor(containers)
    if stressor:
        return workloads.PROFILES[stressor[0]], stressor[1]
    for container in containers:
        name = workloads.IMAGE_PROFILES.get(image_name(str(container.get("image") or "")))
        if name:
            return workloads.PROFILES[name], None
    noisy = _dimensions(annotations.get(NOISY_ANNOTATION))
    for dimension in _NOISY_ORDER:
        if dimension in noisy:
            return workloads.PROFILES[workloads.NOISY_PROFILES[dimension]], None
    if workload_class == "latency-critical":
        sensitivity = set(_dimensions(annotations.get(SENSITIVITY_ANNOTATION)))
        if sensitivity and sensitivity <= {"cpu", "io"}:
            return workloads.PROFILES["http-echo"], None
        if sensitivity & {"llc", "membw"} and "cpu" not in sensitivity:
            return workloads.PROFILES["redis"], None
    if qos == "BestEffort" and CLASS_ANNOTATION not in annotations:
        return workloads.PROFILES["best-effort"], None
    return workloads.PROFILES[workloads.CLASS_PROFILES[workload_class]], None


def _stressor(containers: Sequence[Any], *, any_image: bool = False) -> tuple[str, int] | None:
    """(profile, workers) of the busiest stressor in a stress-ng/stress/iBench container (any container if asked)."""
    best: tuple[str, int] | None = None
    for container in containers:
        if not any_image and image_name(str(container.get("image") or "")) not in STRESS_IMAGES:
            continue
        tokens = [str(t) for t in (container.get("command") or []) + (container.get("args") or [])]
        for index, token in enumerate(tokens):
            flag, _, inline = token.partition("=")
            name = workloads.STRESSOR_PROFILES.get(flag)
            if name is None:
                continue
            workers = 1
            if not flag.startswith("./"):
                raw = inline or (tokens[index + 1] if index + 1 < len(tokens) else "1")
                try:
                    workers = int(raw)
                except ValueError:
                    workers = 1
            if best is None or workers > best[1]:
                best = (name, workers)
    return best
