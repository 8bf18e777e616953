"""Node hardware for the interference model: cores, last-level cache, memory bandwidth, and which counters exist.

Each emulated Node carries its hardware as the annotation `sim.ai-scheduler.io/hardware` (compact JSON written by
the scenario loader), so anything holding only the cluster's JSON (the NodeState publisher, the benchmark) can
rebuild it with `from_node`. The scheduler under test never needs it: it sees the NodeState telemetry, as in
production.

The generation presets are one socket of a named part; a node owns its socket's L3 and memory bandwidth (a bare-metal
worker), and a scenario may give it fewer `cores` (the CPUs kubelet may use). Figures:
- `l3_mb`, `cores`: Intel ARK for the named part.
- `mem_bw_gbps`: measured STREAM-like peak, about 70-75 % of the channels' theoretical rate (channels x MT/s x 8 B),
  the efficiency STREAM Triad reaches on these parts; for `nuc-coffee-lake` it is the highest total DRAM traffic in
  the KubeMarla counters (13.6 GB/s p95), which with 8 GB of RAM points to one SO-DIMM, i.e. single-channel
  DDR4-2400 (19.2 GB/s theoretical).
- `core_bw_gbps`: one core's sustainable streaming bandwidth (bounded by its outstanding-miss buffers, not by the
  socket); for the NUC it is the 2.3 GB/s per memBW antagonist in the KubeMarla counters divided by the 250m CPU
  limit of the thesis's memBW manifest.
- `core_speed`: per-core throughput relative to the NUC's Coffee Lake-U core (1.0), from single-thread SPECrate
  ratios of the generations; base latencies of the workload profiles are for a core of speed 1.0.
- Counters: Intel RDT cache monitoring (CMT) exists since Haswell-EP, memory-bandwidth monitoring (MBM) since
  Broadwell-EP; client parts such as the NUC's have neither, so `resctrl` is off there. PSI needs Linux 4.20+.

Pure: no I/O.
"""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

ANNOTATION = "sim.ai-scheduler.io/hardware"
DEFAULT_GENERATION = "cascade-lake"
MAX_FIELD = 1e6
"""Largest value an overridden field may take: a million cores, GiB, MB of L3 or GB/s is beyond any one node by
orders of magnitude, and keeps what is derived from it (memory in MiB, bandwidth shares) finite."""


class HardwareError(ValueError):
    """A hardware description the model cannot use; the message names the field."""


@dataclass(frozen=True)
class Counters:
    """Which telemetry a node can collect (per-node differences: hardware, kernel, permissions)."""

    perf: bool = True
    """Core PMU events (cycles, instructions, LLC references/misses): `cpi`, `llc_miss_rate`, `llc_mpki`."""
    cmt: bool = True
    """resctrl cache monitoring: `llc_occupancy_ratio`."""
    mbm: bool = True
    """resctrl memory-bandwidth monitoring: `memory_bandwidth_gbps`, `memory_bandwidth_ratio`."""
    psi: bool = True
    """Pressure stall information: `psi_cpu_some`, `psi_memory_some`, `psi_io_some`."""
    cgroup: bool = True
    """cgroup v2 `cpu.stat`: `cpu_throttling_ratio`."""

    @property
    def resctrl(self) -> bool:
        return self.cmt or self.mbm


@dataclass(frozen=True)
class Hardware:
    """One node's hardware, as the interference model needs it."""

    generation: str
    cores: int
    """CPUs the node's pods may use (its allocatable CPU, rounded up)."""
    l3_mb: float
    """Last-level cache shared by those CPUs, MB."""
    mem_bw_gbps: float
    """Measured peak memory bandwidth, GB/s."""
    core_bw_gbps: float
    """One core's sustainable streaming bandwidth, GB/s."""
    core_speed: float
    """Per-core throughput relative to the reference core (the KubeMarla NUC's); latencies scale by its inverse."""
    memory_gib: float
    counters: Counters = Counters()

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise HardwareError(f"hardware {self.generation}: cores must be at least 1, got {self.cores}")
        for name in ("l3_mb", "mem_bw_gbps", "core_bw_gbps", "core_speed", "memory_gib"):
            if not getattr(self, name) > 0:
                raise HardwareError(f"hardware {self.generation}: {name} must be positive, got {getattr(self, name)}")

    def to_json(self) -> str:
        """Compact JSON for the node annotation."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


GENERATIONS: dict[str, Hardware] = {
    # Intel NUC8 (Core i5-8259U, 4C/8T, 6 MB L3), one Minikube node pinned to 3 logical CPUs: KubeMarla's rig.
    "nuc-coffee-lake": Hardware(
        "nuc-coffee-lake",
        cores=3,
        l3_mb=6.0,
        mem_bw_gbps=14.0,
        core_bw_gbps=9.2,
        core_speed=1.0,
        memory_gib=3.0,
        counters=Counters(cmt=False, mbm=False),
    ),
    # Xeon E5-2690 v3: 12 cores, 30 MB, 4 x DDR4-2133 (68 GB/s theoretical). CMT but no MBM.
    "haswell-ep": Hardware(
        "haswell-ep",
        cores=12,
        l3_mb=30.0,
        mem_bw_gbps=50.0,
        core_bw_gbps=8.0,
        core_speed=0.8,
        memory_gib=128.0,
        counters=Counters(mbm=False),
    ),
    # Xeon Gold 6148: 20 cores, 27.5 MB, 6 x DDR4-2666 (128 GB/s).
    "skylake-sp": Hardware(
        "skylake-sp", cores=20, l3_mb=27.5, mem_bw_gbps=95.0, core_bw_gbps=11.0, core_speed=0.95, memory_gib=192.0
    ),
    # Xeon Gold 6248: 20 cores, 27.5 MB, 6 x DDR4-2933 (141 GB/s).
    "cascade-lake": Hardware(
        "cascade-lake", cores=20, l3_mb=27.5, mem_bw_gbps=105.0, core_bw_gbps=11.5, core_speed=1.0, memory_gib=192.0
    ),
    # Xeon Platinum 8380: 40 cores, 60 MB, 8 x DDR4-3200 (205 GB/s).
    "ice-lake-sp": Hardware(
        "ice-lake-sp", cores=40, l3_mb=60.0, mem_bw_gbps=150.0, core_bw_gbps=13.0, core_speed=1.1, memory_gib=512.0
    ),
    # Xeon Platinum 8480+: 56 cores, 105 MB, 8 x DDR5-4800 (307 GB/s).
    "sapphire-rapids": Hardware(
        "sapphire-rapids", cores=56, l3_mb=105.0, mem_bw_gbps=225.0, core_bw_gbps=15.0, core_speed=1.2, memory_gib=512.0
    ),
}

_OVERRIDABLE = {f.name for f in fields(Hardware)} - {"generation", "counters"}
_COUNTERS = {f.name for f in fields(Counters)}


def build(
    generation: str = DEFAULT_GENERATION, *, counters: Mapping[str, Any] | None = None, **overrides: Any
) -> Hardware:
    """A preset, with fields (`cores`, `l3_mb`, ...; each positive and at most MAX_FIELD) and counters overridden;
    raises HardwareError naming the key."""
    if generation not in GENERATIONS:
        raise HardwareError(f"unknown hardware generation {generation!r}; known: {', '.join(sorted(GENERATIONS))}")
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise HardwareError(f"unknown hardware field {sorted(unknown)[0]!r}; known: {', '.join(sorted(_OVERRIDABLE))}")
    base = GENERATIONS[generation]
    values: dict[str, Any] = {}
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_FIELD:
            raise HardwareError(
                f"hardware field {name!r} must be a positive number of at most {MAX_FIELD:g}, got {value!r}"
            )
        values[name] = int(value) if name == "cores" else float(value)
    if counters is not None:
        bad = set(counters) - _COUNTERS
        if bad:
            raise HardwareError(f"unknown counter {sorted(bad)[0]!r}; known: {', '.join(sorted(_COUNTERS))}")
        for name, value in counters.items():
            if not isinstance(value, bool):
                raise HardwareError(f"counter {name!r} must be true or false, got {value!r}")
        values["counters"] = replace(base.counters, **counters)
    return replace(base, **values)


def from_node(node: Mapping[str, Any]) -> Hardware:
    """The hardware of a Node JSON: its annotation, else the default generation sized to its allocatable CPU/memory."""
    metadata = node.get("metadata") or {}
    raw = (metadata.get("annotations") or {}).get(ANNOTATION)
    if raw:
        try:
            data = json.loads(raw)
            counters = Counters(**data.pop("counters", {}))
            return Hardware(counters=counters, **data)
        except (ValueError, TypeError) as exc:
            raise HardwareError(f"node {metadata.get('name')!r}: annotation {ANNOTATION} is not valid: {exc}") from exc
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    overrides: dict[str, Any] = {}
    if "cpu" in allocatable:
        overrides["cores"] = max(1, round(quantity(allocatable["cpu"]) + 0.499))
    if "memory" in allocatable:
        overrides["memory_gib"] = max(quantity(allocatable["memory"]) / 2**30, 0.125)
    return build(DEFAULT_GENERATION, **overrides)


_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_SUFFIXES = {**_DECIMAL, **_BINARY}


def quantity(value: Any) -> float:
    """A Kubernetes quantity (`"500m"`, `"2Gi"`, `1.5`, `"1e3"`) as a float; ValueError when malformed.

    Our own parser, so the simulator stays independent of the product's resource code.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid quantity {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        suffix = next((s for s in _BINARY if text.endswith(s)), "")
        if not suffix and text and text[-1] in "numkMGTPE" and not text[:-1].lower().endswith("e"):
            suffix = text[-1]
        try:
            number = float(text[: len(text) - len(suffix)]) * _SUFFIXES[suffix]
        except ValueError:
            raise ValueError(f"invalid quantity {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"invalid quantity {value!r}")
    return number
