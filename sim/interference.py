"""The noisy-neighbour model: from the pods on a node to each pod's latency distribution.

Where it sits: `sim.pods` reads pods, `sim.hardware` nodes; this module turns a node's pods into per-resource
pressures and a pod's pressures into a per-request latency distribution (predicted percentiles and samples);
`sim.oracle` and `sim.outcomes` ask it about placements, `sim.counters` reuses its cache-sharing arithmetic for
telemetry. Pure and vectorised with numpy; randomness only through a `numpy.random.Generator` passed in.

Model
-----
Pressure on a target pod, from the *other* pods on its node (the node's system daemons and the pod itself are part
of its baseline), one number per shared resource (Paragon's sources of interference, Delimitrou & Kozyrakis 2013):
- cpu: others' busy cores weighted by their issue intensity, per node core (run-queue waits and, with SMT, port
  sharing grow with how much co-runners actually execute; iBench separates CPU from memory antagonists this way);
- llc: others' cache footprints in units of the node's L3 (footprints add up; a stressor sized to the L3 is 1.0);
- membw: others' DRAM traffic over the node's peak bandwidth; cache thrashers add traffic as the LLC is
  over-subscribed (each pod keeps a footprint-proportional share when the footprints exceed the L3);
- io: others' shares of the node's IO device.

Effect of each pressure P, Bubble-Up style (Mars et al., MICRO 2011: sensitivity curve of the victim x pressure of
the aggressor): e = sensitivity x gain x P^power, and for membw and io a queueing factor 1 / (1 - knee x min(P, 1))
(bandwidth and device latency rise sharply near saturation, as loaded-latency curves and M/M/1 show). Each e
saturates smoothly at `saturation` (a pod cannot lose more than all of a resource).

Non-additive combination, worst pressure dominates (CONTRACTS §1; Paragon, Heracles): E = max(e) + overlap x
(sum(e) - max(e)). Pressure does add up *within* a resource (two cache thrashers fill twice the cache), which is
why stacking antagonists of one kind, or antagonists that all also burn CPU, grows the tail super-linearly, as the
measurements show.

Latency of one request: L = stretch x S + B x W. S is the pod's latency alone (lognormal through its profile's P50
and P99, scaled by the node's core speed); stretch = 1 + E_body slows every request (cache misses and bandwidth
queueing lengthen service time); B ~ Bernoulli(q) and W ~ Exponential(tau) are delays some requests suffer (waiting
for a co-runner's time slice, bursts of contention), with q = q_max (1 - exp(-E_tail / q_scale)) and
tau = wait x P99_alone x E_tail^wait_power. E_body and E_tail combine each resource's e split by its `body` share:
CPU contention is all tail (the measured median barely moves under CPU antagonists while P99 grows 13x), cache
contention is about half body (the median grows 4.9x under four cache thrashers). Percentiles are solved from the
exact distribution function (never one percentile from another); samples come from the same distribution.

Calibration
-----------
Fitted (least squares on log P50/P90/P99 ratios, then checked against the interquartile ranges; scipy Nelder-Mead,
offline) to the KubeMarla measurements in `shared/data/interference-measurements.csv` (nginx 500m/512Mi on a
3-core Minikube node of an Intel NUC; 1-4 iBench CPU, L3 and memBW antagonists and mixes; 1224 load tests): the
model's nginx on `hardware.GENERATIONS["nuc-coffee-lake"]` with `ibench-cpu`, `stress-cache` and `stress-membw`
(the memBW antagonist limited to 250m CPU as in the thesis's manifests). `sim.calibration` rebuilds the comparison;
tests/sim/test_calibration.py asserts every P99 slowdown lies in the measured IQR.

Where literature and measurements disagree, the measurements win:
- Bubble-Up and Heracles report light contention at 1.05-1.25x mean latency, a heavy antagonist at 1.5-3x P99 and
  memory-bandwidth saturation at 3-5x P99; the NUC data agree for one antagonist (P99 1.14x membw, 1.5x L3, 1.6x
  CPU) but four thrashers reach 16x and the 2+2+2 mix 19x, because a 3-core node also runs out of CPU. So the cap
  is not 10x: each effect saturates so that P99 slowdown tops out near `MAX_P99_SLOWDOWN` (about 21x).
- Mixes are super-additive in the data (1 CPU + 1 L3 gives 3.0x against 1.6x and 1.5x alone): every antagonist
  also burns CPU, so the CPU pressure they share adds up. Across resources the model stays worst-dominates.
- Campaigns `Green_Book` and `Rear_Window` contradict the others (2 CPU + 1 memBW antagonists measure 1.7x, below
  2 CPU alone at 5.7x), so no monotone model fits both; the tests compare mixes with the `Memento` campaigns, run
  under the same protocol as the single-kind tests, and check that the contradiction is still in the data.
- IO is not in the measurements: its curve reuses the memory-bandwidth queueing form and gains, and is
  uncalibrated.
- The memBW antagonists move 2.3 GB/s each, and the rig's measured peak is 14 GB/s (single-channel DDR4): these set
  the NUC's `core_bw_gbps` and `mem_bw_gbps`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from sim import workloads
from sim.hardware import Hardware
from sim.pods import Workload
from sim.workloads import Profile

Z99 = NormalDist().inv_cdf(0.99)
PERCENTILES = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class Calibration:
    """The model's fitted constants (see the module docstring)."""

    cpu_gain: float = 2.13
    cpu_power: float = 1.59
    llc_gain: float = 0.494
    llc_power: float = 1.80
    membw_gain: float = 1.04
    membw_power: float = 2.12
    io_gain: float = 1.04
    io_power: float = 2.12
    knee: float = 0.9
    llc_body: float = 0.56
    membw_body: float = 0.3
    io_body: float = 0.3
    overlap: float = 0.3
    q_max: float = 0.14
    q_scale: float = 0.82
    wait: float = 1.63
    wait_power: float = 0.99
    spread: float = 0.3
    saturation: float = 6.0
    run_jitter: float = 0.3
    """Sigma of the lognormal run-to-run factor on the interference excess (spread of repeated KubeMarla runs)."""


CALIBRATION = Calibration()


@dataclass(frozen=True)
class Pressure:
    """Per-resource pressure on target pods (arrays of one shape)."""

    cpu: np.ndarray
    llc: np.ndarray
    membw: np.ndarray
    io: np.ndarray


@dataclass(frozen=True)
class Latency:
    """Parameters of per-request latency distributions (arrays of one shape), in ms."""

    median: np.ndarray
    sigma: np.ndarray
    alone_p99: np.ndarray
    """P99 without interference (the base distribution's), the denominator of a slowdown."""
    stretch: np.ndarray
    q: np.ndarray
    tau: np.ndarray


@dataclass(frozen=True)
class Aggregate:
    """Sums over a set of pods on one node (cpu x intensity, footprint MB, stream and thrash cores, io)."""

    cpu: float = 0.0
    footprint: float = 0.0
    stream: float = 0.0
    thrash: float = 0.0
    io: float = 0.0

    def __add__(self, other: "Aggregate") -> "Aggregate":
        return Aggregate(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def __sub__(self, other: "Aggregate") -> "Aggregate":
        return Aggregate(*(a - b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[float, float, float, float, float]:
        return (self.cpu, self.footprint, self.stream, self.thrash, self.io)


def contribution(profile: Profile | Any, scale: Any, cpu_used: Any, hardware: Hardware | Any) -> Aggregate:
    """What one pod adds to its node's sums; elementwise when the arguments hold arrays (profile, hardware columns)."""
    demand = np.maximum(np.multiply(profile.cpu, scale), 1e-12)
    duty = np.minimum(np.divide(cpu_used, demand), 1.0)
    return Aggregate(
        cpu=cpu_used * profile.intensity,
        footprint=profile.llc_mb * scale + profile.llc_share * hardware.l3_mb,
        stream=cpu_used * profile.stream,
        thrash=cpu_used * profile.thrash,
        io=profile.io * scale * duty,
    )


def of_workload(pod: Workload, hardware: Hardware) -> Aggregate:
    return contribution(pod.profile, pod.scale, pod.cpu_used, hardware)


def system(hardware: Hardware) -> Aggregate:
    """The node's own daemons: in every baseline, never a neighbour."""
    return contribution(workloads.SYSTEM, 1.0, workloads.SYSTEM.cpu, hardware)


def lost_share(footprint_total: np.ndarray | float, l3_mb: np.ndarray | float) -> np.ndarray:
    """Fraction of each pod's footprint that does not fit when all footprints share the L3 proportionally."""
    total = np.asarray(footprint_total, dtype=float)
    return np.where(total > l3_mb, 1.0 - np.asarray(l3_mb) / np.maximum(total, 1e-12), 0.0)


def erlang_c(servers: np.ndarray | float, load: np.ndarray | float) -> np.ndarray:
    """Probability that work arriving at `servers` cores, `load` of them busy on average, must wait (Erlang C).

    Loads at or above the core count are held just below it (every arrival waits).
    """
    c, a = np.broadcast_arrays(np.asarray(servers, dtype=float), np.asarray(load, dtype=float))
    a = np.minimum(a, 0.9999 * c)
    blocking = np.ones_like(a)
    for k in range(1, int(c.max(initial=1)) + 1):
        blocking = np.where(k <= c, a * blocking / (k + a * blocking), blocking)
    return blocking / (1.0 - a / c * (1.0 - blocking))


def pressure(others: Aggregate, own: Aggregate, hardware: Hardware | Any) -> Pressure:
    """Pressure on a pod contributing `own`, from neighbours summing to `others` (system daemons excluded).

    Elementwise when the aggregates and the hardware's fields hold arrays.
    """
    lost = lost_share(others.footprint + own.footprint + system(hardware).footprint, hardware.l3_mb)
    bandwidth = hardware.core_bw_gbps * (others.stream + lost * others.thrash)
    load = np.asarray(others.cpu, dtype=float)
    queue = erlang_c(hardware.cores, load) * (load > 0) + np.maximum(load - hardware.cores, 0.0) / hardware.cores
    return Pressure(
        cpu=queue,
        llc=np.asarray(others.footprint / hardware.l3_mb, dtype=float),
        membw=np.asarray(bandwidth / hardware.mem_bw_gbps, dtype=float),
        io=np.asarray(others.io, dtype=float),
    )


def stack(pressures: Sequence[Pressure]) -> Pressure:
    """Pressures on several pods as one Pressure of arrays."""
    return Pressure(*(np.array([getattr(p, d) for p in pressures], dtype=float) for d in ("cpu", "llc", "membw", "io")))


def latency(
    sensitivity: Sequence[np.ndarray] | Sequence[float],
    pressures: Pressure,
    *,
    p50_ms: np.ndarray | float,
    p99_ms: np.ndarray | float,
    speed: np.ndarray | float,
    jitter: np.ndarray | float = 1.0,
    calibration: Calibration = CALIBRATION,
) -> Latency:
    """Latency distributions of pods with `sensitivity` (cpu, llc, membw, io) under `pressures`.

    `jitter` multiplies the interference excess (1.0 = the prediction; `run_factor` draws a run's).
    """
    c = calibration
    s_cpu, s_llc, s_bw, s_io = (np.asarray(s, dtype=float) for s in sensitivity)

    def queued(p: np.ndarray, gain: float, power: float) -> np.ndarray:
        return gain * p**power / (1.0 - c.knee * np.minimum(p, 1.0))

    raw = (
        s_cpu * c.cpu_gain * pressures.cpu**c.cpu_power,
        s_llc * c.llc_gain * pressures.llc**c.llc_power,
        s_bw * queued(pressures.membw, c.membw_gain, c.membw_power),
        s_io * queued(pressures.io, c.io_gain, c.io_power),
    )
    effects = [c.saturation * -np.expm1(-e / c.saturation) for e in raw]
    bodies = (0.0, c.llc_body, c.membw_body, c.io_body)
    body = combine([b * e for b, e in zip(bodies, effects, strict=True)], c.overlap) * jitter
    tail = combine([(1.0 - b) * e for b, e in zip(bodies, effects, strict=True)], c.overlap) * jitter
    median = np.asarray(p50_ms, dtype=float) / speed
    sigma = np.log(np.asarray(p99_ms, dtype=float) / np.asarray(p50_ms, dtype=float)) / Z99
    alone_p99 = median * np.exp(sigma * Z99)
    shape = np.broadcast(median, body, tail).shape
    return Latency(
        median=np.broadcast_to(median, shape),
        sigma=np.broadcast_to(sigma * (1.0 + c.spread * tail / (1.0 + tail)), shape),
        alone_p99=np.broadcast_to(alone_p99, shape),
        stretch=np.broadcast_to(1.0 + body, shape),
        q=np.broadcast_to(c.q_max * -np.expm1(-tail / c.q_scale), shape),
        tau=np.broadcast_to(c.wait * alone_p99 * tail**c.wait_power, shape),
    )


def combine(effects: Sequence[np.ndarray], overlap: float) -> np.ndarray:
    """Worst pressure dominates; the others add only their `overlap` share (non-additive interference)."""
    stacked = np.stack(np.broadcast_arrays(*effects))
    worst = stacked.max(axis=0)
    return worst + overlap * (stacked.sum(axis=0) - worst)


def run_factor(
    rng: np.random.Generator, shape: tuple[int, ...] = (), calibration: Calibration = CALIBRATION
) -> np.ndarray:
    """A run's multiplier on the interference excess: repeated real runs of one placement spread this much."""
    return np.exp(calibration.run_jitter * rng.standard_normal(shape))


def quantiles(model: Latency, probabilities: Sequence[float] = PERCENTILES) -> np.ndarray:
    """Percentiles of each distribution, solved from its exact survival function; shape (*model, len(probabilities))."""
    probs = np.asarray(probabilities, dtype=float)
    shape = model.median.shape
    mu = np.log(model.median).reshape(-1, 1)
    sigma, stretch = model.sigma.reshape(-1, 1), model.stretch.reshape(-1, 1)
    q, tau = model.q.reshape(-1, 1), np.maximum(model.tau.reshape(-1, 1), 1e-12)
    tail_mass = 1.0 - probs
    z_p = np.array([NormalDist().inv_cdf(p) for p in probs])
    result = stretch * np.exp(mu + sigma * z_p)
    rows = np.flatnonzero(q[:, 0] > 0.0)
    if rows.size:
        mu, sigma, stretch, q, tau = mu[rows], sigma[rows], stretch[rows], q[rows], tau[rows]
        lo = result[rows]
        quarter = stretch * np.exp(mu + sigma * np.array([NormalDist().inv_cdf(1.0 - m / 4) for m in tail_mass]))
        hi = quarter + tau * np.maximum(0.0, np.log(np.maximum(2.0 * q / tail_mass, 1e-300)))
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            above = _survival(mid, (mu, sigma, stretch, q, tau)) > tail_mass
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        result[rows] = 0.5 * (lo + hi)
    return result.reshape(*shape, len(probs))


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
_Z_FLOOR = -8.5


def _survival(x: np.ndarray, shape: tuple[np.ndarray, ...]) -> np.ndarray:
    """P(L > x): the body's exact normal tail, plus the delayed requests' term by Gauss-Legendre over the body."""
    mu, sigma, stretch, q, tau = shape
    z_x = (np.log(x / stretch) - mu) / sigma
    upper = np.maximum(z_x, _Z_FLOOR)
    half = 0.5 * (upper - _Z_FLOOR)
    z = _Z_FLOOR + half[..., None] * (_NODES + 1.0)
    density = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    waits = np.exp(-(x[..., None] - stretch[..., None] * np.exp(mu[..., None] + sigma[..., None] * z)) / tau[..., None])
    delayed = half * np.sum(_WEIGHTS * density * np.minimum(waits, 1.0), axis=-1)
    return normal_sf(z_x) + q * delayed


_ERFC = (
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196,
    1.00002368,
    -1.26551223,
)


def normal_sf(z: np.ndarray) -> np.ndarray:
    """Standard normal survival function (Numerical Recipes' erfc, relative error below 1.2e-7)."""
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.zeros_like(t)
    for coefficient in _ERFC:
        poly = poly * t + coefficient
    erfc = t * np.exp(-x * x + poly)
    return np.where(z >= 0, 0.5 * erfc, 1.0 - 0.5 * erfc)


def sample(model: Latency, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` request latencies (ms) from each distribution; shape (*model, n)."""
    shape = (*model.median.shape, n)
    body = model.stretch[..., None] * np.exp(
        np.log(model.median)[..., None] + model.sigma[..., None] * rng.standard_normal(shape)
    )
    delayed = rng.random(shape) < model.q[..., None]
    return body + np.where(delayed, rng.exponential(1.0, shape) * model.tau[..., None], 0.0)


def for_pod(
    profile: Profile,
    hardware: Hardware | None,
    pressures: Pressure,
    *,
    speed: np.ndarray | float | None = None,
    jitter: np.ndarray | float = 1.0,
    calibration: Calibration = CALIBRATION,
) -> Latency:
    """One profile's latency model under `pressures`, on `hardware` (or cores of `speed`)."""
    s = profile.sensitivity
    return latency(
        (s.cpu, s.llc, s.membw, s.io),
        pressures,
        p50_ms=profile.p50_ms,
        p99_ms=profile.p99_ms,
        speed=hardware.core_speed if hardware is not None else 1.0 if speed is None else speed,
        jitter=jitter,
        calibration=calibration,
    )


def limit_p99_slowdown(calibration: Calibration = CALIBRATION) -> float:
    """P99 slowdown of a pod sensitive to everything under unbounded pressure: the model's cap."""
    huge = np.full(len(workloads.PROFILES), 1e6)
    p50 = np.array([p.p50_ms for p in workloads.PROFILES.values()])
    p99 = np.array([p.p99_ms for p in workloads.PROFILES.values()])
    model = latency(
        (1.0,) * 4, Pressure(huge, huge, huge, huge), p50_ms=p50, p99_ms=p99, speed=1.0, calibration=calibration
    )
    return float(np.max(quantiles(model, (0.99,))[:, 0] / model.alone_p99))


MAX_P99_SLOWDOWN = limit_p99_slowdown()


def with_constants(**changes: float) -> Calibration:
    """A calibration with some constants changed (for sensitivity studies and the offline fit)."""
    return replace(CALIBRATION, **changes)
