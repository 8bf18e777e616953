"""What every telemetry source of the node agent implements, and how absence is reported.

A collector owns one of the contract's `sources` (perf, resctrl, psi, cgroup). `open` probes what this
node allows and says why anything is missing; `sample` returns the per-interval value of each metric it
could compute this time (a metric left out is unknown for that interval, never zero). Collectors never
summarise over the window and never publish: the sampling loop (`telemetry.agent.loop`) does that.
"""

import errno
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Availability:
    """What a source found at start: the metrics it can produce and, for each one it cannot, why."""

    source: str
    metrics: tuple[str, ...] = ()
    missing: Mapping[str, str] = field(default_factory=dict)


class Collector(Protocol):
    """One source of the contract's metrics, read once per sample interval."""

    name: str

    def open(self) -> Availability:
        """Probe the node; never raises for what the node lacks (that is reported as missing)."""
        ...

    def sample(self, now: float) -> dict[str, float]:
        """The metrics' values for the interval ending at monotonic time `now`; the first call sets the baseline."""
        ...

    def close(self) -> None:
        """Release file descriptors; idempotent."""
        ...


def read_text(path: str) -> str:
    """A small kernel file's whole text (procfs, sysfs, cgroupfs and resctrl are ASCII)."""
    with open(path, encoding="ascii") as handle:
        return handle.read()


def describe_os_error(exc: OSError, path: str) -> str:
    """A short, actionable reason for a failed read of `path`."""
    if isinstance(exc, FileNotFoundError):
        return f"{path} does not exist"
    if isinstance(exc, PermissionError):
        return f"permission denied reading {path}"
    if exc.errno == errno.EOPNOTSUPP:
        return f"{path} is not supported by this kernel (EOPNOTSUPP)"
    return f"cannot read {path}: {exc.strerror or exc}"


def missing_summary(availabilities: Iterable[Availability]) -> str | None:
    """The one start-up log line naming every missing metric and why; None when nothing is missing."""
    parts: list[str] = []
    for availability in availabilities:
        by_reason: dict[str, list[str]] = {}
        for metric, reason in availability.missing.items():
            by_reason.setdefault(reason, []).append(metric)
        parts.extend(f"{availability.source}: {', '.join(metrics)} ({reason})" for reason, metrics in by_reason.items())
    return "; ".join(parts) if parts else None
