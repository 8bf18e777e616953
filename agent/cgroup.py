"""CPU metrics from procfs and cgroup v2: `cpu_utilization` (/proc/stat) and `cpu_throttling_ratio`.

Throttling is read from every `cpu.stat` under the pods' slice (`kubepods.slice` with the systemd cgroup
driver, `kubepods` with cgroupfs): a cgroup's `nr_periods`/`nr_throttled` count only its own CFS quota
enforcement, so the slice's own file says nothing about its pods. The ratio is the throttled share of
all enforcement periods that elapsed under the slice in the interval; when no quota-limited cgroup ran
none could be throttled, and the ratio is 0. Counters become per-interval deltas, cgroup by cgroup.
Only cgroups with a quota in `cpu.max` can count periods, so the tree is listed every `RESCAN_SECONDS`
and just those cgroups' `cpu.stat` are read each second (a pod started in between joins at the next
listing): this keeps a node with hundreds of containers within the agent's CPU budget.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from agent.collector import RESCAN_SECONDS, Availability, describe_os_error, read_text

UTILIZATION = "cpu_utilization"
THROTTLING = "cpu_throttling_ratio"
POD_SLICES = ("kubepods.slice", "kubepods")


class CgroupFormatError(ValueError):
    """A /proc/stat or cpu.stat that does not have the expected fields."""


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative jiffies from the aggregate `cpu` line of /proc/stat."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CpuTimes:
    """Busy = user+nice+system+irq+softirq+steal; idle = idle+iowait (guest time is already in user/nice)."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                values = [int(field) for field in fields[1:9]]
            except ValueError as exc:
                raise CgroupFormatError(f"/proc/stat cpu line has a non-integer field: {line!r}") from exc
            if len(values) < 4:
                raise CgroupFormatError(f"/proc/stat cpu line has {len(values)} fields, needs at least 4")
            values += [0] * (8 - len(values))
            user, nice, system, idle, iowait, irq, softirq, steal = values
            busy = user + nice + system + irq + softirq + steal
            return CpuTimes(busy=busy, total=busy + idle + iowait)
    raise CgroupFormatError("/proc/stat has no aggregate 'cpu' line")


def utilization(previous: CpuTimes, current: CpuTimes) -> float | None:
    """Busy share of the interval; None when no time passed or the counters went back."""
    busy = current.busy - previous.busy
    total = current.total - previous.total
    if total <= 0 or busy < 0:
        return None
    return min(busy / total, 1.0)


def parse_cpu_stat(text: str) -> tuple[int, int] | None:
    """(nr_periods, nr_throttled) from a cgroup v2 cpu.stat; None when the cpu controller is not enabled there."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("nr_periods", "nr_throttled"):
            try:
                fields[key] = int(value)
            except ValueError as exc:
                raise CgroupFormatError(f"cpu.stat {key} is not an integer: {value!r}") from exc
    if "nr_periods" not in fields or "nr_throttled" not in fields:
        return None
    return fields["nr_periods"], fields["nr_throttled"]


def throttling_ratio(previous: Mapping[str, tuple[int, int]], current: Mapping[str, tuple[int, int]]) -> float | None:
    """Throttled share of the CFS periods that elapsed, over cgroups present in both readings.

    A cgroup whose counters went back was recreated under the same path and is skipped; None when no
    cgroup was present in both readings (nothing is known about the interval).
    """
    periods = throttled = 0
    common = 0
    for path, (now_periods, now_throttled) in current.items():
        before = previous.get(path)
        if before is None:
            continue
        delta_periods, delta_throttled = now_periods - before[0], now_throttled - before[1]
        if delta_periods < 0 or delta_throttled < 0:
            continue
        common += 1
        periods += delta_periods
        throttled += delta_throttled
    if common == 0:
        return None
    return 0.0 if periods == 0 else min(throttled / periods, 1.0)


def has_quota(cgroup_path: str) -> bool:
    """Whether a cgroup can be throttled: its cpu.max has a quota (a missing file is given the benefit of doubt)."""
    try:
        return not read_text(os.path.join(cgroup_path, "cpu.max")).startswith("max")
    except OSError:
        return True


def list_quota_cgroups(slice_path: str) -> list[str]:
    """The slice and every cgroup below it that has a CPU quota: only those count CFS periods."""
    found: list[str] = []
    pending = [slice_path]
    while pending:
        path = pending.pop()
        try:
            with os.scandir(path) as entries:
                pending.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
        except OSError:
            continue  # a pod cgroup removed while walking
        if path == slice_path or has_quota(path):
            found.append(path)
    return found


def read_counters(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(nr_periods, nr_throttled) per cgroup; removed or controller-less cgroups are left out."""
    readings: dict[str, tuple[int, int]] = {}
    for path in paths:
        try:
            counters = parse_cpu_stat(read_text(os.path.join(path, "cpu.stat")))
        except (OSError, CgroupFormatError):
            continue
        if counters is not None:
            readings[path] = counters
    return readings


class CgroupCollector:
    """/proc/stat under `proc_root`; the pods' slice under the cgroup v2 mount `cgroup_root`."""

    name = "cgroup"

    def __init__(
        self, *, proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup", pods_cgroup: str | None = None
    ):
        self._stat_path = os.path.join(proc_root, "stat")
        self._cgroup_root = cgroup_root
        self._pods_cgroup = pods_cgroup
        self._slice: str | None = None
        self._quota_cgroups: list[str] = []
        self._listed_at: float | None = None
        self._proc_ok = False
        self._times: CpuTimes | None = None
        self._counters: dict[str, tuple[int, int]] | None = None

    def open(self) -> Availability:
        missing: dict[str, str] = {}
        try:
            parse_proc_stat(read_text(self._stat_path))
            self._proc_ok = True
        except OSError as exc:
            missing[UTILIZATION] = describe_os_error(exc, self._stat_path)
        except CgroupFormatError as exc:
            missing[UTILIZATION] = str(exc)
        reason = self._find_slice()
        if reason is not None:
            missing[THROTTLING] = reason
        metrics = tuple(m for m in (UTILIZATION, THROTTLING) if m not in missing)
        return Availability(self.name, metrics, missing)

    def _find_slice(self) -> str | None:
        """Locate the pods' slice; the reason it is unusable, or None."""
        root = self._cgroup_root
        if not os.path.exists(os.path.join(root, "cgroup.controllers")):
            return (
                f"cgroup v2 is not mounted at {root} (a cgroup v1 or hybrid host; point --cgroup at the cgroup2 mount)"
            )
        candidates = (self._pods_cgroup,) if self._pods_cgroup else POD_SLICES
        for name in candidates:
            path = os.path.join(root, name)
            if os.path.isdir(path):
                break
        else:
            return f"no pods cgroup under {root} (tried {', '.join(candidates)}; set --pods-cgroup)"
        stat_path = os.path.join(path, "cpu.stat")
        try:
            if parse_cpu_stat(read_text(stat_path)) is None:
                return f"the cpu controller is not enabled for {path} (no nr_periods in cpu.stat)"
        except OSError as exc:
            return describe_os_error(exc, stat_path)
        except CgroupFormatError as exc:
            return f"{stat_path}: {exc}"
        self._slice = path
        return None

    def sample(self, now: float) -> dict[str, float]:
        values: dict[str, float] = {}
        if self._proc_ok:
            try:
                times = parse_proc_stat(read_text(self._stat_path))
            except (OSError, CgroupFormatError):
                times = None
            if times is not None and self._times is not None:
                value = utilization(self._times, times)
                if value is not None:
                    values[UTILIZATION] = value
            self._times = times
        if self._slice is not None:
            if self._listed_at is None or now - self._listed_at >= RESCAN_SECONDS:
                self._quota_cgroups, self._listed_at = list_quota_cgroups(self._slice), now
            counters = read_counters(self._quota_cgroups)
            if self._counters is not None:
                ratio = throttling_ratio(self._counters, counters)
                if ratio is not None:
                    values[THROTTLING] = ratio
            self._counters = counters
        return values

    def close(self) -> None:
        return None
