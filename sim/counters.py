"""Synthetic NodeState telemetry (CONTRACTS §1) from the pods on each node, as a node agent would publish it.

For the publisher of the emulated cluster (`node_states`: Node and Pod JSON in, one NodeState JSON per node out,
for the `ai-scheduler.io/node-state` annotation) and for the training generator (`simulate` on padded arrays).

Each node is simulated second by second over the window: every pod's load follows an AR(1) process around its
profile's CPU use (coefficient of variation `burst`), capped by its CPU limit and, on an over-subscribed second,
shared out by weighted max-min fairness with weights from CPU requests (CFS cpu.weight; BestEffort pods weigh
least). From the per-second state:
- `cpu_utilization`: cores in use / cores. `cpu_throttling_ratio`: share of the CFS periods of CPU-limited pods in
  which demand exceeded the quota (ramping from 90 % to 110 % of the limit).
- `cpi`: total cycles / total instructions. Each pod's CPI rises with its lost cache share (`stall_gain`) and,
  slightly, with bandwidth utilisation (loaded memory latency). The node's CPI is a cycle-weighted harmonic mix,
  so adding a high-IPC CPU antagonist *lowers* it (the confound the KubeMarla counters show: CPI 1.13 at
  baseline, 0.74 with four CPU antagonists).
- `llc_miss_rate`, `llc_mpki`: per-pod references (`apki`) and miss rates, rising with the lost cache share.
- `llc_occupancy_ratio`: footprints over the L3 (monitored groups hold at most 95 % of it).
- `memory_bandwidth_gbps` / `_ratio`: DRAM traffic (streaming plus thrash-induced), at most the node's peak.
- `psi_cpu_some`: Erlang-C probability that runnable work finds every core busy. `psi_memory_some`: reclaim stalls
  once requested memory passes 85 % of the node. `psi_io_some`: device utilisation^1.5 (M/M/1 waiting).
Per-sample measurement noise is 2 % (perf, resctrl) or 0.2 points (PSI). Each stat is over the window's samples
(mean, population std, linear-interpolated p95).

A node lacking a counter source (`hardware.Counters`) omits its metrics and reports the source false: unknown is
never zero. `cpu_utilization` comes from /proc/stat and is always present. Pure; randomness only from the
`numpy.random.Generator` passed in; `now` is passed in.
"""

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sim import interference, workloads
from sim.cluster_state import ClusterState
from sim.hardware import Hardware
from sim.pods import Workload

VERSION = 1
ANNOTATION = "ai-scheduler.io/node-state"
WINDOW_SECONDS = 30
METRICS = (
    "cpu_utilization",
    "cpu_throttling_ratio",
    "cpi",
    "llc_miss_rate",
    "llc_mpki",
    "llc_occupancy_ratio",
    "memory_bandwidth_gbps",
    "memory_bandwidth_ratio",
    "psi_cpu_some",
    "psi_memory_some",
    "psi_io_some",
)
SOURCES = ("perf", "resctrl", "psi", "cgroup")
_SOURCE_OF = {
    "cpu_throttling_ratio": "cgroup",
    "cpi": "perf",
    "llc_miss_rate": "perf",
    "llc_mpki": "perf",
    "llc_occupancy_ratio": "cmt",
    "memory_bandwidth_gbps": "mbm",
    "memory_bandwidth_ratio": "mbm",
    "psi_cpu_some": "psi",
    "psi_memory_some": "psi",
    "psi_io_some": "psi",
}
_COUNTER_FLAGS = ("perf", "cmt", "mbm", "psi", "cgroup")
SYSTEM_WEIGHT = 1.0
"""CPU weight of the node's daemons, in request cores (system.slice beside kubepods)."""
MIN_WEIGHT = 0.002
"""A BestEffort pod's CPU weight in request cores (cpu.shares 2)."""
PROFILE_FIELDS = ("intensity", "stream", "thrash", "cpi", "apki", "miss", "miss_gain", "stall_gain", "burst")
_POD_FIELDS = ("cpu", "limit", "weight", "footprint", "io", "memory", *PROFILE_FIELDS)


@dataclass(frozen=True)
class NodeBatch:
    """Nodes and their pods as padded arrays: `hardware[name]` has shape (N,), `pods[name]` (N, M), `mask` (N, M).

    The node's system daemons are one of the columns. `counters` is (N, 5): perf, cmt, mbm, psi, cgroup.
    """

    hardware: Mapping[str, np.ndarray]
    pods: Mapping[str, np.ndarray]
    mask: np.ndarray
    counters: np.ndarray

    @classmethod
    def from_nodes(cls, nodes: Sequence[tuple[Hardware, Sequence[Workload]]]) -> "NodeBatch":
        """From (hardware, active pods) pairs."""
        width = 1 + max((len(pods) for _, pods in nodes), default=0)
        rows = {name: np.zeros((len(nodes), width)) for name in _POD_FIELDS}
        rows["limit"][:] = np.inf
        mask = np.zeros((len(nodes), width), dtype=bool)
        for i, (hardware, pods) in enumerate(nodes):
            members = [(workloads.SYSTEM, 1.0, workloads.SYSTEM.cpu, None, SYSTEM_WEIGHT)]
            members += [(p.profile, p.scale, p.cpu_demand, p.cpu_limit, p.cpu_request) for p in pods]
            for j, (profile, scale, demand, limit, request) in enumerate(members):
                values = pod_row(profile, scale, demand, limit, hardware, request=request)
                for name in _POD_FIELDS:
                    rows[name][i, j] = values[name]
                mask[i, j] = True
        flags = np.array([[getattr(h.counters, f) for f in _COUNTER_FLAGS] for h, _ in nodes], dtype=bool)
        return cls(hardware=_hardware_arrays([h for h, _ in nodes]), pods=rows, mask=mask, counters=flags)


def pod_row(
    profile: workloads.Profile, scale: float, demand: float, limit: float | None, hw: Hardware, *, request: float
) -> dict[str, float]:
    """One pod's column of a NodeBatch: `io` is per busy core, so a throttled pod issues less."""
    return {
        "cpu": demand,
        "limit": np.inf if limit is None else limit,
        "weight": max(request, MIN_WEIGHT),
        "footprint": profile.llc_mb * scale + profile.llc_share * hw.l3_mb,
        "io": profile.io * scale / max(demand, 1e-12),
        "memory": profile.memory_mib * scale * 2**20,
        **{name: getattr(profile, name) for name in PROFILE_FIELDS},
    }


def _hardware_arrays(hardware: Sequence[Hardware]) -> dict[str, np.ndarray]:
    fields = ("cores", "l3_mb", "mem_bw_gbps", "core_bw_gbps", "core_speed", "memory_gib")
    return {f: np.array([float(getattr(h, f)) for h in hardware]) for f in fields}


@dataclass(frozen=True)
class Telemetry:
    """Window summaries: `values` (N, 11, 3) as mean/std/p95 with NaN where unknown; `sources` (N, 4)."""

    values: np.ndarray
    sources: np.ndarray


def simulate(batch: NodeBatch, rng: np.random.Generator, *, window: int = WINDOW_SECONDS) -> Telemetry:
    """Per-second samples of every node over the window, summarised."""
    hw, p, mask = batch.hardware, batch.pods, batch.mask
    n, m = mask.shape
    activity = _activity(rng, p["burst"], (n, m, window))
    demand = np.where(mask, p["cpu"], 0.0)[..., None] * activity
    used = np.minimum(demand, p["limit"][..., None])
    cores = hw["cores"][:, None]
    received = _share(used, np.where(mask, p["weight"], MIN_WEIGHT), hw["cores"])
    footprint = np.where(mask, p["footprint"], 0.0)
    lost = interference.lost_share(footprint.sum(axis=1), hw["l3_mb"])[:, None, None]
    traffic = hw["core_bw_gbps"][:, None, None] * received * (p["stream"] + p["thrash"] * lost[..., 0])[..., None]
    bandwidth = np.minimum(traffic.sum(axis=1), hw["mem_bw_gbps"][:, None])
    ratio = bandwidth / hw["mem_bw_gbps"][:, None]
    miss = np.clip(p["miss"] + p["miss_gain"] * lost[..., 0], 0.0, 1.0)[..., None]
    cpi = (np.where(mask, p["cpi"], 1.0) * (1.0 + p["stall_gain"] * lost[..., 0]))[..., None] * (
        1.0 + 0.25 * ratio[:, None, :] ** 4
    )
    instructions = received / cpi
    references = instructions * p["apki"][..., None]
    limited = np.isfinite(p["limit"])[..., None] & mask[..., None]
    throttled = np.clip((demand / np.where(limited, p["limit"][..., None], 1.0) - 0.9) / 0.2, 0.0, 1.0)
    periods = np.where(limited, np.maximum(received, 1e-6), 0.0)
    memory = np.where(mask, p["memory"], 0.0).sum(axis=1, keepdims=True) / (hw["memory_gib"][:, None] * 2**30)
    io = (np.where(mask, p["io"], 0.0)[..., None] * received).sum(axis=1)
    samples = np.stack(
        [
            np.clip(received.sum(axis=1) / cores, 0.0, 1.0),
            (throttled * periods).sum(axis=1) / np.maximum(periods.sum(axis=1), 1e-12),
            received.sum(axis=1) / np.maximum(instructions.sum(axis=1), 1e-12),
            (references * miss).sum(axis=1) / np.maximum(references.sum(axis=1), 1e-12),
            (references * miss).sum(axis=1) / np.maximum(instructions.sum(axis=1), 1e-12),
            np.broadcast_to(np.minimum(footprint.sum(axis=1) / hw["l3_mb"], 1.0)[:, None] * 0.95, (n, window)),
            bandwidth,
            ratio,
            100.0 * interference.erlang_c(hw["cores"][:, None], used.sum(axis=1)),
            100.0 * 0.3 * np.clip((memory - 0.85) / 0.15, 0.0, 1.0) ** 2 * np.ones((1, window)),
            100.0 * np.minimum(io, 1.0) ** 1.5,
        ],
        axis=1,
    )  # (N, 11, T)
    samples = _measure(rng, samples)
    summary = np.stack([samples.mean(axis=2), samples.std(axis=2), np.percentile(samples, 95, axis=2)], axis=2)
    known = _known(batch.counters)
    values = np.where(known[..., None], summary, np.nan)
    flags = batch.counters
    sources = np.stack([flags[:, 0], flags[:, 1] | flags[:, 2], flags[:, 3], flags[:, 4]], axis=1)
    return Telemetry(values=values, sources=sources)


def _share(used: np.ndarray, weight: np.ndarray, cores: np.ndarray) -> np.ndarray:
    """CPU each pod receives: its use, or on an over-subscribed second a weighted max-min fair share (CFS with
    cpu.weight from requests), so a light pod with a large request is not squeezed by heavy low-weight ones."""
    over = used.sum(axis=1) > cores[:, None]
    rows = np.flatnonzero(over.any(axis=1))
    if not rows.size:
        return used
    demand, w, capacity = used[rows], weight[rows][..., None], cores[rows][:, None]
    lo, hi = np.zeros((len(rows), 1, used.shape[2])), (demand / w).max(axis=1, keepdims=True)
    for _ in range(40):
        level = 0.5 * (lo + hi)
        full = np.minimum(demand, level * w).sum(axis=1) > capacity
        lo, hi = np.where(full[:, None, :], lo, level), np.where(full[:, None, :], level, hi)
    received = used.copy()
    received[rows] = np.where(over[rows][:, None, :], np.minimum(demand, lo * w), demand)
    return received


def _activity(rng: np.random.Generator, burst: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """AR(1) load factors around 1 with stationary coefficient of variation `burst` (floored at 5 %)."""
    phi = 0.7
    noise = rng.standard_normal(shape) * np.sqrt(1.0 - phi**2)
    level = rng.standard_normal(shape[:2])
    out = np.empty(shape)
    for t in range(shape[2]):
        level = phi * level + noise[..., t]
        out[..., t] = level
    return np.maximum(1.0 + burst[..., None] * out, 0.05)


def _measure(rng: np.random.Generator, samples: np.ndarray) -> np.ndarray:
    """Sensor noise per sample, clipped to each metric's range."""
    relative = np.array([0.01, 0.0, 0.02, 0.02, 0.02, 0.01, 0.02, 0.02, 0.0, 0.0, 0.0])[None, :, None]
    absolute = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.2, 0.2])[None, :, None]
    noisy = samples * (1.0 + relative * rng.standard_normal(samples.shape)) + absolute * np.abs(
        rng.standard_normal(samples.shape)
    )
    upper = np.array([1, 1, np.inf, 1, np.inf, 1, np.inf, 1, 100, 100, 100], dtype=float)[None, :, None]
    lower = np.array([0, 0, 0.05, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)[None, :, None]
    return np.clip(noisy, lower, upper)


def _known(counters: np.ndarray) -> np.ndarray:
    """(N, 11): which metrics each node can report."""
    column = {flag: i for i, flag in enumerate(_COUNTER_FLAGS)}
    always = np.ones(len(counters), dtype=bool)
    return np.stack([counters[:, column[_SOURCE_OF[m]]] if m in _SOURCE_OF else always for m in METRICS], axis=1)


def to_json(
    node: str, values: np.ndarray, sources: np.ndarray, *, now: float, window: int = WINDOW_SECONDS
) -> dict[str, Any]:
    """One node's NodeState JSON (CONTRACTS §1) from its row of a Telemetry."""
    metrics = {
        name: {stat: round(float(values[i, k]), 6) for k, stat in enumerate(("mean", "std", "p95"))}
        for i, name in enumerate(METRICS)
        if not np.isnan(values[i, 0])
    }
    return {
        "version": VERSION,
        "node": node,
        "timestamp": datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_seconds": window,
        "metrics": metrics,
        "sources": {name: bool(flag) for name, flag in zip(SOURCES, sources, strict=True)},
    }


def node_states(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    *,
    now: float,
    rng: np.random.Generator,
    window: int = WINDOW_SECONDS,
) -> dict[str, dict[str, Any]]:
    """Each node's NodeState JSON from the cluster's Node and Pod JSON.

    One draw from `rng` seeds every node's own stream (keyed by its name), so a node's state depends only on that
    draw, its name and its pods: e.g. `numpy.random.default_rng([seed, int(now)])` per refresh gives states that
    depend only on the seed, the time and the node's pods.
    """
    return states_of(ClusterState.from_objects(nodes, pods), now=now, rng=rng, window=window)


def states_of(
    state: ClusterState, *, now: float, rng: np.random.Generator, window: int = WINDOW_SECONDS
) -> dict[str, dict[str, Any]]:
    """Each node's NodeState JSON from a ClusterState (see `node_states`)."""
    base = int(rng.integers(2**63))
    states = {}
    for name in sorted(state.nodes):
        batch = NodeBatch.from_nodes([(state.nodes[name].hardware, state.on(name))])
        stream = np.random.default_rng([base, zlib.crc32(name.encode())])
        telemetry = simulate(batch, stream, window=window)
        states[name] = to_json(name, telemetry.values[0], telemetry.sources[0], now=now, window=window)
    return states
