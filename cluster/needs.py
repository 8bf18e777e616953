"""The pod's needs (CONTRACTS §2): what interference hurts it and what it inflicts.

Read from the pod's `ai-scheduler.io/*` annotations; an invalid value is ignored with a warning (the
caller turns warnings into an Event on the pod) and the default applies. These fields, the requests
and the QoS class are the only pod facts any tier reasons about; nothing else from the pod — names,
labels, images, arguments — is ever carried into a prompt.
"""

import math
from dataclasses import dataclass
from enum import StrEnum

from cluster.objects import Pod

PREFIX = "ai-scheduler.io/"
CLASS_ANNOTATION = PREFIX + "workload-class"
SENSITIVITY_ANNOTATION = PREFIX + "sensitivity"
NOISY_ANNOTATION = PREFIX + "noisy"
P99_ANNOTATION = PREFIX + "p99-target-ms"


class WorkloadClass(StrEnum):
    LATENCY_CRITICAL = "latency-critical"
    THROUGHPUT = "throughput"
    BATCH = "batch"
    BEST_EFFORT = "best-effort"


class Dimension(StrEnum):
    """A shared resource through which neighbours interfere."""

    LLC = "llc"
    MEMBW = "membw"
    CPU = "cpu"
    IO = "io"


DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)


@dataclass(frozen=True)
class Needs:
    workload_class: WorkloadClass
    sensitivity: frozenset[Dimension]
    noisy: frozenset[Dimension]
    p99_target_ms: float | None = None

    @property
    def latency_critical(self) -> bool:
        return self.workload_class is WorkloadClass.LATENCY_CRITICAL


@dataclass(frozen=True)
class ParsedNeeds:
    needs: Needs
    warnings: tuple[str, ...] = ()


def _dimensions(raw: str, annotation: str, warnings: list[str]) -> frozenset[Dimension] | None:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    allowed = {d.value for d in DIMENSIONS}
    bad = [item for item in items if item not in allowed]
    if bad:
        warnings.append(
            f"annotation {annotation}={raw!r} ignored: {', '.join(repr(b) for b in bad)} not one of "
            f"{', '.join(sorted(allowed))}"
        )
        return None
    return frozenset(Dimension(item) for item in items)


def parse_needs(pod: Pod) -> ParsedNeeds:
    """The pod's needs with the contract's defaults; `warnings` says which annotations were ignored."""
    annotations = pod.annotations
    warnings: list[str] = []
    default_class = WorkloadClass.BEST_EFFORT if pod.qos_class == "BestEffort" else WorkloadClass.THROUGHPUT
    workload_class = default_class
    if CLASS_ANNOTATION in annotations:
        raw = annotations[CLASS_ANNOTATION].strip()
        try:
            workload_class = WorkloadClass(raw)
        except ValueError:
            allowed = ", ".join(c.value for c in WorkloadClass)
            warnings.append(f"annotation {CLASS_ANNOTATION}={raw!r} ignored: not one of {allowed}")
    default_sensitivity = (
        frozenset({Dimension.LLC, Dimension.MEMBW, Dimension.CPU})
        if workload_class is WorkloadClass.LATENCY_CRITICAL
        else frozenset()
    )
    sensitivity = default_sensitivity
    if SENSITIVITY_ANNOTATION in annotations:
        parsed = _dimensions(annotations[SENSITIVITY_ANNOTATION], SENSITIVITY_ANNOTATION, warnings)
        sensitivity = default_sensitivity if parsed is None else parsed
    noisy: frozenset[Dimension] = frozenset()
    if NOISY_ANNOTATION in annotations:
        noisy = _dimensions(annotations[NOISY_ANNOTATION], NOISY_ANNOTATION, warnings) or frozenset()
    target = None
    if P99_ANNOTATION in annotations:
        raw = annotations[P99_ANNOTATION].strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value > 0:
            target = value
        else:
            warnings.append(f"annotation {P99_ANNOTATION}={raw!r} ignored: not a positive number of milliseconds")
    return ParsedNeeds(Needs(workload_class, sensitivity, noisy, target), tuple(warnings))
