"""Intel RDT / AMD PQoS monitoring through resctrl: LLC occupancy and memory bandwidth, node-wide.

Reads `mon_data/mon_L3_*/{llc_occupancy,mbm_total_bytes}` of the default group and of every top-level
control group (a control group's files already include its monitoring sub-groups), so the sums cover
every task on the node. `llc_occupancy` is a gauge in bytes, divided by the L3 size from sysfs;
`mbm_total_bytes` is a byte counter, turned into per-interval deltas (modulo the counter width, so a
wrap is a small delta) and a rate. A read of `Unavailable` or `Error` makes that interval unknown.
The groups are listed again every `RESCAN_SECONDS`, or at once when one disappears.
Never mounts resctrl or creates groups: it only reads what the host set up.
"""

import glob
import os
from collections.abc import Mapping

from agent.collector import RESCAN_SECONDS, Availability, read_text

OCCUPANCY = "llc_occupancy_ratio"
BANDWIDTH = "memory_bandwidth_gbps"
BANDWIDTH_RATIO = "memory_bandwidth_ratio"
COUNTER_WIDTH_BITS = 64
MAX_PLAUSIBLE_GBPS = 10_000.0  # far above any node's memory bandwidth: a larger delta is a counter reset
_NOT_GROUPS = {"info", "mon_data", "mon_groups"}
_SIZE_SUFFIX = {"K": 1024, "M": 1024**2, "G": 1024**3}

Reading = Mapping[tuple[str, str], int | None]


def parse_counter(text: str) -> int | None:
    """A mon_data file's value; None for the kernel's `Unavailable` and `Error` answers."""
    value = text.strip()
    if value in ("Unavailable", "Error"):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"resctrl counter is neither a number nor Unavailable/Error: {value!r}") from exc


def parse_cache_size(text: str) -> int:
    """sysfs cache `size` ("32768K") in bytes."""
    value = text.strip()
    factor = _SIZE_SUFFIX.get(value[-1:].upper(), 1)
    digits = value[:-1] if value[-1:].upper() in _SIZE_SUFFIX else value
    return int(digits) * factor


def counter_delta(previous: int, current: int, *, width_bits: int = COUNTER_WIDTH_BITS) -> int:
    """Increase of a counter that wraps at 2**width_bits."""
    return (current - previous) % (1 << width_bits)


def occupancy_ratio(reading: Reading, l3_bytes: int) -> float | None:
    """Summed occupancy over groups and domains / total L3 size; None when any read was unavailable."""
    known = [value for value in reading.values() if value is not None]
    if not known or len(known) != len(reading) or l3_bytes <= 0:
        return None
    return min(sum(known) / l3_bytes, 1.0)


def bandwidth_gbps(previous: Reading, current: Reading, seconds: float) -> float | None:
    """Summed mbm_total_bytes increase per second in GB/s (10**9 bytes).

    None when the interval is empty, a group or domain appeared or vanished, any read was unavailable,
    or the result is implausible (a counter reset, not a wrap).
    """
    if seconds <= 0 or not current or set(previous) != set(current):
        return None
    total = 0
    for key, value in current.items():
        before = previous[key]
        if value is None or before is None:
            return None
        total += counter_delta(before, value)
    rate = total / seconds / 1e9
    return rate if rate <= MAX_PLAUSIBLE_GBPS else None


def bandwidth_ratio(gbps: float, peak_gbps: float) -> float:
    """Share of the node's peak; saturates at 1 when the peak was set too low."""
    return min(gbps / peak_gbps, 1.0)


def l3_size_bytes(sys_root: str) -> int:
    """Total size of the node's distinct L3 caches from sysfs; 0 when none is described."""
    sizes: dict[str, int] = {}
    for level_path in glob.glob(os.path.join(sys_root, "devices/system/cpu/cpu[0-9]*/cache/index[0-9]*/level")):
        index_dir = os.path.dirname(level_path)
        try:
            if read_text(level_path).strip() != "3":
                continue
            identity = _cache_identity(index_dir)
            sizes[identity] = parse_cache_size(read_text(os.path.join(index_dir, "size")))
        except (OSError, ValueError):
            continue
    return sum(sizes.values())


def _cache_identity(index_dir: str) -> str:
    """The cache's `id` where the kernel has it, else the CPUs sharing it (both name one physical cache)."""
    for name in ("id", "shared_cpu_list"):
        try:
            return f"{name}:{read_text(os.path.join(index_dir, name)).strip()}"
        except OSError:
            continue
    return index_dir


class ResctrlCollector:
    """Reads a mounted resctrl filesystem at `resctrl_root`; L3 sizes from `sys_root`."""

    name = "resctrl"

    def __init__(self, *, resctrl_root: str = "/sys/fs/resctrl", sys_root: str = "/sys", peak_gbps: float | None):
        self._root = resctrl_root
        self._sys_root = sys_root
        self._peak_gbps = peak_gbps
        self._events: tuple[str, ...] = ()
        self._l3_bytes = 0
        self._previous: dict[tuple[str, str], int | None] | None = None
        self._previous_at = 0.0
        self._domains: list[tuple[str, str]] = []
        self._listed_at: float | None = None

    def open(self) -> Availability:
        metrics = (OCCUPANCY, BANDWIDTH, BANDWIDTH_RATIO)
        if not os.path.isdir(os.path.join(self._root, "info")):
            reason = f"resctrl is not mounted at {self._root} (needs RDT/PQoS hardware and `mount -t resctrl`)"
            return Availability(self.name, (), dict.fromkeys(metrics, reason))
        features_path = os.path.join(self._root, "info", "L3_MON", "mon_features")
        try:
            features = set(read_text(features_path).split())
        except OSError:
            reason = f"no L3 monitoring on this CPU or kernel ({features_path} missing)"
            return Availability(self.name, (), dict.fromkeys(metrics, reason))
        missing: dict[str, str] = {}
        if "llc_occupancy" not in features:
            missing[OCCUPANCY] = "unsupported event llc_occupancy (not in info/L3_MON/mon_features)"
        else:
            self._l3_bytes = l3_size_bytes(self._sys_root)
            if self._l3_bytes == 0:
                missing[OCCUPANCY] = f"L3 size unknown (no level-3 cache under {self._sys_root}/devices/system/cpu)"
        if "mbm_total_bytes" not in features:
            reason = "unsupported event mbm_total_bytes (not in info/L3_MON/mon_features)"
            missing[BANDWIDTH] = missing[BANDWIDTH_RATIO] = reason
        elif self._peak_gbps is None:
            missing[BANDWIDTH_RATIO] = (
                "no peak memory bandwidth configured (--memory-bandwidth-peak-gbps) "
                "or measured (--memory-bandwidth-peak-file)"
            )
        self._events = tuple(e for e in ("llc_occupancy", "mbm_total_bytes") if e in features)
        return Availability(self.name, tuple(m for m in metrics if m not in missing), missing)

    def _list_domains(self) -> list[tuple[str, str]]:
        """(group, mon_L3_* directory) for the default group and every top-level control group."""
        groups = [self._root] + [
            entry.path
            for entry in os.scandir(self._root)
            if entry.is_dir() and entry.name not in _NOT_GROUPS and os.path.isdir(os.path.join(entry.path, "mon_data"))
        ]
        return [
            (group, domain)
            for group in groups
            for domain in sorted(glob.glob(os.path.join(group, "mon_data", "mon_L3_*")))
        ]

    def _read(self, event: str) -> dict[tuple[str, str], int | None]:
        reading: dict[tuple[str, str], int | None] = {}
        for group, domain in self._domains:
            key = (group, os.path.basename(domain))
            try:
                reading[key] = parse_counter(read_text(os.path.join(domain, event)))
            except OSError:
                reading[key] = None
                self._listed_at = None  # a group went away: list again at the next sample
            except ValueError:
                reading[key] = None
        return reading

    def sample(self, now: float) -> dict[str, float]:
        values: dict[str, float] = {}
        try:
            if self._listed_at is None or now - self._listed_at >= RESCAN_SECONDS:
                self._domains, self._listed_at = self._list_domains(), now
            if "llc_occupancy" in self._events and self._l3_bytes:
                ratio = occupancy_ratio(self._read("llc_occupancy"), self._l3_bytes)
                if ratio is not None:
                    values[OCCUPANCY] = ratio
            if "mbm_total_bytes" in self._events:
                current = self._read("mbm_total_bytes")
                if self._previous is not None:
                    gbps = bandwidth_gbps(self._previous, current, now - self._previous_at)
                    if gbps is not None:
                        values[BANDWIDTH] = gbps
                        if self._peak_gbps:
                            values[BANDWIDTH_RATIO] = bandwidth_ratio(gbps, self._peak_gbps)
                self._previous, self._previous_at = current, now
        except OSError:
            self._previous, self._listed_at = None, None  # resctrl was unmounted; start over when it returns
        return values

    def close(self) -> None:
        return None
