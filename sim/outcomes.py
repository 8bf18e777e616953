"""What each latency-critical pod experiences once the pods are placed: request latencies, SLO verdicts, noisy nodes.

For the benchmark, after all placements: `evaluate(state, rng=...)` draws every latency-critical pod's request
latencies from the interference model (one run: the prediction times a run-to-run factor, as repeated real runs of
one placement spread), and reports percentiles computed from those samples, the slowdown against running alone on
the same node, the SLO verdict against its `ai-scheduler.io/p99-target-ms` (else its profile's typical target), and
whether it shares its node with a noisy neighbour (a pod that on its own would push an all-sensitive pod's P99 past
1.25x, annotated or hidden). Regret against the oracle is `sim.oracle.regret`, taken with the state when the pod
arrived.

Pure; randomness only from the generator passed in.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from sim import interference, latency, oracle, workloads
from sim.cluster_state import ClusterState
from sim.interference import CALIBRATION, Calibration


@dataclass(frozen=True)
class Outcome:
    """One latency-critical pod's run."""

    key: str
    node: str
    profile: str
    samples: np.ndarray
    """Request latencies, ms."""
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    predicted_p99_ms: float
    """The model's P99 for this placement, without the run's jitter."""
    alone_p99_ms: float
    slowdown: float
    """Measured P99 over P99 alone on the same node."""
    target_ms: float | None
    noisy_neighbours: tuple[str, ...]

    @property
    def slo_violated(self) -> bool | None:
        """P99 above target; None without a target."""
        return None if self.target_ms is None else self.p99_ms > self.target_ms

    @property
    def noisy_node(self) -> bool:
        return bool(self.noisy_neighbours)


NOISY_SLOWDOWN = 1.25
"""A neighbour is noisy when, alone with it, a pod sensitive to everything (nginx) would see its P99 grow past the
top of the light-contention band (1.05-1.25x)."""


def noisy_neighbours(state: ClusterState, node: str, *, excluding: str | None = None) -> tuple[str, ...]:
    """Pods on `node` that interfere noticeably on their own (ground truth: hidden ones included)."""
    hardware = state.nodes[node].hardware
    others = [p for p in state.on(node) if p.key != excluding]
    if not others:
        return ()
    reference = workloads.PROFILES["nginx"]
    own = interference.contribution(reference, 1.0, reference.cpu, hardware)
    stacked = interference.stack(
        [interference.pressure(interference.of_workload(p, hardware), own, hardware) for p in others]
    )
    model = interference.for_pod(reference, hardware, stacked)
    slowdown = latency.quantiles(model, (0.99,))[:, 0] / model.alone_p99
    return tuple(p.key for p, s in zip(others, slowdown, strict=True) if s > NOISY_SLOWDOWN)


def evaluate(
    state: ClusterState,
    *,
    rng: np.random.Generator,
    requests: int = 20_000,
    pods: Iterable[str] | None = None,
    jitter: bool = True,
    calibration: Calibration = CALIBRATION,
) -> Mapping[str, Outcome]:
    """A run of every bound latency-critical pod (or of `pods`, by `namespace/name`), in key order."""
    if pods is None:
        chosen = sorted((p for p in state.pods if p.active and oracle.is_latency_critical(p)), key=lambda p: p.key)
    else:
        chosen = [state.pod(key) for key in sorted(pods)]
        unbound = [p.key for p in chosen if not p.active]
        if unbound:
            raise ValueError(f"pod {unbound[0]} is not running on a node")
    if not chosen:
        return {}
    stacked = state.pressures([(pod, str(pod.node)) for pod in chosen])
    sensitivity = [np.array([p.profile.sensitivity.of(d) for p in chosen]) for d in ("cpu", "llc", "membw", "io")]
    common = {
        "p50_ms": np.array([p.profile.p50_ms for p in chosen]),
        "p99_ms": np.array([p.profile.p99_ms for p in chosen]),
        "speed": np.array([state.nodes[p.node].hardware.core_speed for p in chosen]),
        "calibration": calibration,
    }
    predicted = latency.quantiles(interference.latency(sensitivity, stacked, **common), (0.99,))[:, 0]
    factor = interference.run_factor(rng, (len(chosen),), calibration) if jitter else 1.0
    run = interference.latency(sensitivity, stacked, jitter=factor, **common)
    samples = latency.sample(run, requests, rng)
    percentiles = np.percentile(samples, [50, 90, 95, 99], axis=1)
    outcomes = {}
    for i, pod in enumerate(chosen):
        target = pod.p99_target_ms if pod.p99_target_ms is not None else pod.profile.p99_target_ms
        outcomes[pod.key] = Outcome(
            key=pod.key,
            node=str(pod.node),
            profile=pod.profile.name,
            samples=samples[i],
            p50_ms=float(percentiles[0, i]),
            p90_ms=float(percentiles[1, i]),
            p95_ms=float(percentiles[2, i]),
            p99_ms=float(percentiles[3, i]),
            mean_ms=float(samples[i].mean()),
            predicted_p99_ms=float(predicted[i]),
            alone_p99_ms=float(run.alone_p99[i]),
            slowdown=float(percentiles[3, i] / run.alone_p99[i]),
            target_ms=target,
            noisy_neighbours=noisy_neighbours(state, str(pod.node), excluding=pod.key),
        )
    return outcomes
