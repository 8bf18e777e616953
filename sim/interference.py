"""The noisy-neighbour model: from the pods on a node to each pod's latency distribution.

Who uses what (all pure functions over frozen dataclasses; randomness only from a `numpy.random.Generator`):
- the NodeState publisher: `sim.counters.node_states(nodes, pods, now=..., rng=...)` → {node: NodeState JSON};
- the benchmark: `sim.scenario.load(name)` for the cluster and arrivals, `sim.oracle.best / regret / inflicted` for
  the oracle's node, a choice's regret and the harm to neighbours (given `ClusterState` when the pod arrived),
  `sim.outcomes.evaluate(state, rng=...)` for each latency-critical pod's samples, percentiles, SLO and noisy node;
- a learned scorer's training: `sim.dataset.generate(rng, decisions=...)` and `sim.dataset.split`.

Where it sits: `sim.pods` reads pods, `sim.hardware` nodes; this module turns a node's pods into per-resource
pressures and a pod's pressures into the parameters of its per-request latency distribution (`sim.latency` solves
its percentiles and draws samples). `sim.oracle` and `sim.outcomes` ask it about placements; `sim.counters` reuses
its cache-sharing and queueing arithmetic for telemetry. Pure, vectorised with numpy; randomness only through a
`numpy.random.Generator` passed in.

Model
-----
Pressure on a target pod from the *other* pods on its node (the node's daemons and the pod itself are its baseline),
one number per shared resource (Paragon's sources of interference, Delimitrou & Kozyrakis, ASPLOS 2013):
- cpu: Erlang C probability that a wakeup finds every core busy, with others' busy cores weighted by their issue
  intensity as the offered load, plus the over-subscription (load - cores) / cores beyond it. Co-runners delay a
  latency-critical thread through run-queue waits and SMT port sharing in proportion to how much they execute
  (iBench separates CPU from memory antagonists so); a big node pools its cores, a small one cannot.
- llc: others' cache footprints in units of the node's L3 (footprints add up; a stressor sized to the L3 is 1.0).
- membw: others' DRAM traffic over the node's peak bandwidth; cache thrashers add traffic as the LLC is
  over-subscribed (each pod keeps a footprint-proportional share when footprints exceed the L3).
- io: others' shares of the node's IO device.

Effect of each pressure P, Bubble-Up style (Mars et al., MICRO 2011: the victim's sensitivity curve at the
aggressors' pressure): e = sensitivity x gain x P^power, times 1 / (1 - knee x min(P, 1)) for membw and io (loaded
memory latency and device queues rise sharply near saturation, as M/M/1 waiting does); each e saturates smoothly at
`saturation` (a pod cannot lose more than all of a resource). Resources combine non-additively, the worst dominating
(CONTRACTS §1; Paragon; Heracles, Lo et al., ISCA 2015): E = max(e) + overlap x (sum(e) - max(e)). Within one
resource pressures do add (two thrashers fill twice the cache), so stacking antagonists grows the tail faster
than linearly, as measured.

Latency: each e splits into a body share (cache: `llc_body`; CPU contention is all tail) and a tail share, combined
into E_body and E_tail. Every request is slowed by stretch = 1 + E_body; its lognormal spread grows by
`spread` x E_tail / (1 + E_tail) (light contention widens the tail before it shifts the median); a fraction
q = q_max (1 - exp(-E_tail / q_scale)) of requests waits an exponential delay of mean
tau = wait x P99_alone x E_tail^wait_power (a co-runner's time slice, a burst of misses). A run's `jitter` (lognormal,
sigma `run_jitter`) scales what interference adds, as repeated real runs of one placement scatter.

Variants
--------
`VARIANTS` holds the interference-model family a learned scorer trains on (`Variant`, one table): the same pressures
and telemetry, other functional forms from pressure to slowdown: `additive` (effects sum, overlap 1), `worst-of`
(overlap 0), `queueing-membw` (bandwidth effect `MM1_GAIN` x P / (1 - P), M/M/1-like), `threshold-cache` (no cache
effect below `THRESHOLD_FILL` of the L3, a steep square after), `runqueue-cpu` (CPU pressure is over-subscription
only, no Erlang C wait). Every function takes `variant=` and defaults to `CALIBRATED`, which is the model below bit for
bit (the benchmark, the oracle and the calibration use nothing else).

Calibration
-----------
Fitted by minimising the objective of `sim.calibration_fit` (log errors of P50/P90/P99 slowdowns, a penalty outside
the P99 interquartile ranges; `python -m sim.calibration_fit` refits) to the KubeMarla measurements
(`data/interference-measurements.csv`: nginx 500m/512Mi on a 3-CPU Minikube node of an Intel NUC, 1-4 iBench
CPU, L3 and memBW antagonists and mixes, 1224 load tests). The model's rig is `sim.calibration.nuc_cluster`: nginx
on the `nuc-coffee-lake` node with `ibench-cpu`, `stress-cache` and `stress-membw` pods (the memBW ones limited to
250m as in the thesis's manifests). Fitted: the constants of `Calibration` and, jointly in the first fit, in
`sim.workloads` the issue intensity of `stress-cache` (0.51) and `stress-membw` (1.0) and the latter's LLC pollution
(0.28 of the L3). P99 slowdown, model against the measured IQR (tests/sim/test_calibration.py recomputes the IQRs
from the CSV and asserts each is met):

    CPU  1: 1.43 [1.39-1.83]    2: 5.87 [3.89-7.17]    3: 11.1 [7.81-11.9]    4: 12.2 [10.5-14.9]
    L3   1: 1.46 [1.38-1.54]    2: 4.13 [3.84-5.43]    3: 10.9 [9.30-12.5]    4: 16.8 [14.4-17.4]
    memBW 1: 1.10 [1.07-1.20]   2: 1.39 [1.22-1.82]    3: 2.21 [1.58-5.69]    4: 5.89 [2.16-9.10]
    1 CPU+1 memBW 1.80 [1.62-4.30]   1 CPU+1 L3 2.98 [2.10-4.24]      1 CPU+1 L3+1 memBW 4.78 [3.49-7.69]
    1 CPU+2 L3 7.56 [6.16-9.28]      2 CPU+2 L3 12.8 [9.39-16.1]      2 L3+2 memBW 9.99 [8.98-15.5]
    2 CPU+2 L3+2 memBW 15.8 [15.7-20.5]                               3 CPU+1 L3 12.0 [8.29-16.8]

On a 16-CPU Cascade Lake node the same constants give nginx (redis): 1.11x (1.21x) P99 and 1.03x median beside four
web backends; 1.45x (1.82x) beside an L3-sized cache thrasher; 1.7x (2.2x), 5.4x (6.7x) and 12x (12x) beside 4, 6
and 8 stream workers (44, 66 and 88 % of the peak bandwidth); 1.05x, 2.3x and 11x beside 8, 12 and 16 CPU spinners.

Where the literature and the measurements disagree, the measurements win:
- Bubble-Up and Heracles put light contention at 1.05-1.25x mean latency, a heavy antagonist at 1.5-3x P99 and
  memory-bandwidth saturation at 3-5x P99. The NUC agrees for one antagonist, but four thrashers reach 16x and the
  2+2+2 mix 19x (a 3-CPU node also runs out of CPU), and 66 % of peak bandwidth already gives 5.9x. So effects
  saturate near `MAX_P99_SLOWDOWN` (about 24x), not 10x, and bandwidth near saturation costs more than 5x.
- Mixes are super-additive in the data (1 CPU + 1 L3: 3.0x against 1.6x and 1.5x alone) because every antagonist
  also burns CPU; the CPU pressure they share adds up, while across resources the model stays worst-dominates.
- The `Green_Book` and `Rear_Window` campaigns contradict the others (2 CPU + 1 memBW measure 1.7x, below 2 CPU alone
  at 5.7x); no monotone model fits both, so mixes are compared with the `Memento` campaigns, run under the protocol
  of the single-kind tests, and a test checks the contradiction is still in the data.
- The measured spread of P99 across runs of one mix (sigma of log excess 0.15-0.57 for L3 and CPU antagonists, more
  for memBW; RPS and replicas vary too) sets `run_jitter` at 0.3.
- IO is not in the measurements: its curve reuses the memory-bandwidth constants and is uncalibrated.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sim import workloads
from sim.hardware import Hardware
from sim.latency import Z99, Latency, quantiles
from sim.pods import Workload
from sim.workloads import Profile


@dataclass(frozen=True)
class Calibration:
    """The model's fitted constants (see the module docstring); a variant can be passed to every function."""

    cpu_gain: float = 40.5
    """Effect per unit of CPU pressure (Erlang-C wait probability plus over-subscription)."""
    cpu_power: float = 1.24
    llc_gain: float = 1.11
    """Effect of neighbours' footprints filling one L3."""
    llc_power: float = 3.0
    membw_gain: float = 15.2
    """Effect scale of neighbours' DRAM traffic as a fraction of the node's peak, before queueing."""
    membw_power: float = 2.42
    io_gain: float = 15.2
    """IO is not in the measurements: the memory-bandwidth constants, uncalibrated."""
    io_power: float = 2.42
    knee: float = 0.9
    """Queueing factor 1 / (1 - knee x utilisation) for bandwidth and IO."""
    llc_body: float = 0.14
    """Share of the cache effect that slows every request (the rest delays some)."""
    membw_body: float = 0.0
    io_body: float = 0.0
    overlap: float = 0.149
    """Share of the non-worst resources' effects that adds to the worst one's."""
    q_max: float = 0.192
    """Largest fraction of requests that wait a delay."""
    q_scale: float = 20.0
    """Tail effect at which the delayed fraction reaches 63 % of `q_max` (so q is almost linear in practice)."""
    wait: float = 0.189
    """Mean delay per unit of tail effect, in units of the pod's P99 alone."""
    wait_power: float = 1.13
    spread: float = 0.709
    """Largest relative growth of the lognormal body's sigma."""
    saturation: float = 18.3
    """Where each resource's effect saturates."""
    run_jitter: float = 0.3
    """Sigma of a run's lognormal factor on what interference adds (repeated KubeMarla runs of one mix)."""


CALIBRATION = Calibration()
TRAINING_CALIBRATION = Calibration(
    cpu_gain=34.2,
    cpu_power=1.11,
    llc_gain=1.08,
    llc_power=2.99,
    membw_gain=16.4,
    membw_power=2.75,
    io_gain=16.4,
    io_power=2.75,
    llc_body=0.138,
    overlap=0.141,
    q_max=0.5,
    q_scale=67.2,
    wait=0.273,
    wait_power=0.989,
    spread=0.676,
    saturation=19.4,
)
"""The same fit without the campaigns the learned scorer is evaluated on (`sim.calibration.HELD_OUT_CAMPAIGNS`):
`python -m sim.calibration_fit --not-held-out`. It labels the training clusters (`training.synthetic`); the benchmark,
the oracle and the held-out evaluations keep `CALIBRATION`, fitted to every measurement. The two differ most where
the data say least (the CPU queue's scale, 20 against 67)."""


@dataclass(frozen=True)
class Variant:
    """How pressure turns into slowdown: one functional form per field; the pressures and telemetry stay as they are.

    A learned scorer trained on one form learns that form's quirks (for example that a node's worst resource
    dominates), so training draws decisions from several (`VARIANTS`) and is evaluated on the one it did not see.
    The calibrated form is the default everywhere (benchmark, oracle, calibration): with it every function of this
    module computes exactly what it did before variants existed.
    """

    name: str
    combine: Literal["worst", "sum", "max"] = "worst"
    """Across resources: worst plus `overlap` x the rest (calibrated), the sum of effects, or the worst alone."""
    cpu: Literal["erlang", "runqueue"] = "erlang"
    """CPU pressure: Erlang C wait probability plus over-subscription, or over-subscription (run queue) only."""
    llc: Literal["power", "threshold"] = "power"
    """Cache effect: gain x P^power, or nothing below `THRESHOLD_FILL` of the L3 and a steep square after."""
    membw: Literal["knee", "mm1"] = "knee"
    """Bandwidth effect: gain x P^power / (1 - knee P), or M/M/1-like waiting `MM1_GAIN` x P / (1 - P)."""
    about: str = field(default="", compare=False)
    """The form in a few words, for the model card (not part of the form: two variants alike but for it are equal)."""


THRESHOLD_FILL = 0.7
"""Threshold-cache form: neighbours' footprints below this share of the L3 cost nothing; at 1.0 it meets the
calibrated effect (`llc_gain`), and it grows with the square of the excess."""
MM1_GAIN = 5.2
"""Queueing memory-bandwidth form: the calibrated effect at half the peak bandwidth, so the forms cross there."""
MM1_CAP = 0.98
"""Utilisation at which the M/M/1 form stops growing (it diverges at 1)."""

VARIANTS: Mapping[str, Variant] = {
    v.name: v
    for v in (
        Variant("calibrated", about="the calibrated model"),
        Variant("additive", combine="sum", about="effects that add up"),
        Variant("worst-of", combine="max", about="the worst resource alone"),
        Variant("queueing-membw", membw="mm1", about="M/M/1-like memory-bandwidth waiting P/(1-P)"),
        Variant(
            "threshold-cache",
            llc="threshold",
            about="a cache that costs nothing below 70 % of the L3 and rises steeply after",
        ),
        Variant("runqueue-cpu", cpu="runqueue", about="CPU delayed by over-subscription only"),
    )
}
"""The interference-model family: `calibrated` is the project's model; a learned scorer trains on the members the
real measurements allow (`training.synthetic.VARIANTS`) and is tested on each."""
CALIBRATED = VARIANTS["calibrated"]


@dataclass(frozen=True)
class Pressure:
    """Per-resource pressure on target pods (arrays of one shape)."""

    cpu: np.ndarray
    llc: np.ndarray
    membw: np.ndarray
    io: np.ndarray


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


def pressure(others: Aggregate, own: Aggregate, hardware: Hardware | Any, *, variant: Variant = CALIBRATED) -> Pressure:
    """Pressure on a pod contributing `own`, from neighbours summing to `others` (system daemons excluded).

    Elementwise when the aggregates and the hardware's fields hold arrays. The run-queue variant leaves the
    Erlang C wait out of the CPU pressure (only over-subscription delays a thread).
    """
    lost = lost_share(others.footprint + own.footprint + system(hardware).footprint, hardware.l3_mb)
    bandwidth = hardware.core_bw_gbps * (others.stream + lost * others.thrash)
    load = np.asarray(others.cpu, dtype=float)
    queue = np.maximum(load - hardware.cores, 0.0) / hardware.cores
    if variant.cpu == "erlang":
        queue = erlang_c(hardware.cores, load) * (load > 0) + queue
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
    variant: Variant = CALIBRATED,
) -> Latency:
    """Latency distributions of pods with `sensitivity` (cpu, llc, membw, io) under `pressures`.

    `jitter` scales what interference adds (stretch - 1, the spread's growth and the delay length; 1.0 is the
    prediction, `run_factor` draws a run's). `variant` picks the functional form (`Variant`).
    """
    c = calibration
    s_cpu, s_llc, s_bw, s_io = (np.asarray(s, dtype=float) for s in sensitivity)

    def queued(p: np.ndarray, gain: float, power: float) -> np.ndarray:
        return gain * p**power / (1.0 - c.knee * np.minimum(p, 1.0))

    if variant.llc == "threshold":
        excess = np.maximum(pressures.llc - THRESHOLD_FILL, 0.0) / (1.0 - THRESHOLD_FILL)
        cache = c.llc_gain * excess**2
    else:
        cache = c.llc_gain * pressures.llc**c.llc_power
    if variant.membw == "mm1":
        utilisation = np.minimum(pressures.membw, MM1_CAP)
        bandwidth = MM1_GAIN * utilisation / (1.0 - utilisation)
    else:
        bandwidth = queued(pressures.membw, c.membw_gain, c.membw_power)
    raw = (
        s_cpu * c.cpu_gain * pressures.cpu**c.cpu_power,
        s_llc * cache,
        s_bw * bandwidth,
        s_io * queued(pressures.io, c.io_gain, c.io_power),
    )
    effects = [c.saturation * -np.expm1(-e / c.saturation) for e in raw]
    bodies = (0.0, c.llc_body, c.membw_body, c.io_body)
    overlap = {"worst": c.overlap, "sum": 1.0, "max": 0.0}[variant.combine]
    body = combine([b * e for b, e in zip(bodies, effects, strict=True)], overlap)
    tail = combine([(1.0 - b) * e for b, e in zip(bodies, effects, strict=True)], overlap)
    median = np.asarray(p50_ms, dtype=float) / speed
    sigma = np.log(np.asarray(p99_ms, dtype=float) / np.asarray(p50_ms, dtype=float)) / Z99
    alone_p99 = median * np.exp(sigma * Z99)
    shape = np.broadcast(median, body, tail, jitter).shape
    return Latency(
        median=np.broadcast_to(median, shape),
        sigma=np.broadcast_to(sigma * (1.0 + c.spread * jitter * tail / (1.0 + tail)), shape),
        alone_p99=np.broadcast_to(alone_p99, shape),
        stretch=np.broadcast_to(1.0 + jitter * body, shape),
        q=np.broadcast_to(c.q_max * -np.expm1(-tail / c.q_scale), shape),
        tau=np.broadcast_to(jitter * c.wait * alone_p99 * tail**c.wait_power, shape),
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


def for_pod(
    profile: Profile,
    hardware: Hardware | None,
    pressures: Pressure,
    *,
    speed: np.ndarray | float | None = None,
    jitter: np.ndarray | float = 1.0,
    calibration: Calibration = CALIBRATION,
    variant: Variant = CALIBRATED,
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
        variant=variant,
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
