"""What every telemetry source of the node agent implements, and how absence is reported.

A collector owns one of the contract's `sources` (perf, resctrl, psi, cgroup). `open` probes what this
node allows and says why anything is missing; `sample` returns the per-interval value of each metric it
could compute this time (a metric left out is unknown for that interval, never zero). Collectors never
summarise over the window and never publish: the sampling loop (`agent.loop`) does that.
"""

import errno
import os
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


RESCAN_SECONDS = 10.0  # how often collectors re-list cgroups and resctrl groups instead of every sample


READ_CHUNK = 65536


def read_text(path: str) -> str:
    """A small kernel file's whole text, with raw os calls: several times cheaper than `open()`, which
    matters when hundreds of cgroup files are read every second. Kernel attribute files answer a read
    with all they have, so a short read is the end and saves the extra read that would return nothing."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, READ_CHUNK)]
        while len(chunks[-1]) == READ_CHUNK:
            chunks.append(os.read(fd, READ_CHUNK))
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", errors="replace")


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
