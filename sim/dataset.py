"""Training data for a learned scorer: random clusters, their NodeStates, a pod, and each node's predicted slowdown.

One *decision* is a random cluster of a `sim.generators.Family` plus one arriving pod; its *examples* are the
(pod, node) pairs. For every node: the NodeState telemetry a node agent would publish (`metrics`: mean/std/p95 of
the eleven metrics, NaN where the node lacks the counter), and the labels: the pod's predicted P99 there over its
P99 alone on that node (`slowdown`), in ms (`p99_ms`, which includes the node's core speed), over its P99 alone on
the reference core (`relative_p99`: what the user feels, node speed included), and the harm it does there (`harm`:
the sum over the latency-critical pods already on the node of ln(their P99 after it joins / before)). `candidates`
marks the nodes where the pod's requests fit. Everything is computed on arrays, so about 100k examples take well
under a minute on two cores:

    data = dataset.generate(np.random.default_rng(7), decisions=10_000)
    train, test = dataset.split(data, by="profile")          # memcached, ml-training, kafka-broker held out
    train, test = dataset.split(data, by="family")           # the heterogeneous family held out
    example = data.example(0, now=1.7e9)                      # NodeState JSON, Pod JSON, candidates, labels

The model behind the labels is `sim.interference` with its prediction (no run-to-run jitter), in the functional
form of each decision's interference-model `variant` (`variants=`, in turn; the calibrated one by default). With
`randomise=Randomisation()` each decision also draws per-profile sensitivities, per-node cache and bandwidth
capacities and core speeds, and telemetry lag (pods placed since the NodeState, `fresh`); without it the draws are
those of the calibrated simulator alone. Pure; randomness only from the generator passed in.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from sim import counters, generators, interference, latency, manifests, workloads
from sim import hardware as hw
from sim.generators import FAMILIES, Plan

EVAL_PROFILES = ("memcached", "ml-training", "kafka-broker")
"""Profiles held out by `split(by="profile")`: one latency-critical, one batch, one throughput."""
EVAL_FAMILIES = ("heterogeneous",)
"""Scenario families held out by `split(by="family")`."""
NODE_PREFIX = "node"
_HARDWARE = ("l3_mb", "mem_bw_gbps", "core_bw_gbps", "core_speed", "memory_gib")
_ORDER = (*workloads.PROFILES, "system")
_INDEX = {name: i for i, name in enumerate(_ORDER)}
_CRITICAL = np.array([p.latency_critical for p in (*workloads.PROFILES.values(), workloads.SYSTEM)])


def _table() -> dict[str, np.ndarray]:
    profiles = [*workloads.PROFILES.values(), workloads.SYSTEM]
    names = [f.name for f in fields(workloads.Profile) if f.type is float]
    table = {name: np.array([getattr(p, name) for p in profiles]) for name in names}
    for dimension in workloads.DIMENSIONS:
        table[f"s_{dimension}"] = np.array([p.sensitivity.of(dimension) for p in profiles])
    return table


_TABLE = _table()


def _columns(index: np.ndarray) -> SimpleNamespace:
    """Profile attributes as arrays for the profiles at `index` (positions in `_ORDER`)."""
    return SimpleNamespace(**{name: values[index] for name, values in _TABLE.items()})


@dataclass(frozen=True)
class Randomisation:
    """What a decision randomises beyond the scenario family's draw (lognormal sigmas, probabilities).

    Hardware and sensitivities drawn here shape both the labels and the telemetry (they are physical); the
    scheduler sees only the telemetry, as in production. Measurement noise and missing counters are already
    the node agent's (`sim.counters`) and the family's (`Family.missing`) draws.
    """

    sensitivity: float = 0.3
    """Per decision and profile, each sensitivity times a lognormal factor of this sigma."""
    capacity: float = 0.2
    """Per node, its L3 size and memory bandwidth each times a lognormal factor."""
    speed: float = 0.1
    """Per node, its core speed times a lognormal factor."""
    lag_decisions: float = 0.5
    """Share of decisions whose telemetry lags placement."""
    lag_pods: float = 0.3
    """In such a decision, each running pod was placed since the NodeState with this probability."""
    critical_neighbours: float = 1.0
    """Draw weight of each of `CRITICAL_NEIGHBOURS` among the family's running services (the families run no
    latency-critical pod, so without them there would be no harm to learn)."""
    critical_replicas: float = 0.5
    """Probability that each latency-critical neighbour runs at its profile's reference request, as a service's
    replicas do (`generators.Family.critical_replicas`), instead of one of the sizes services ask for (an http-echo
    asking 4 cores runs 40 of its replicas' work). Drawn only among them at their sizes, nodes carrying
    latency-critical pods were always busy, and the model read every such node as one where a new pod harms them:
    on a quiet node of small replicas it predicted ten times the harm the simulator gives. At 0 the draws are those
    without it."""
    antagonist_kinds: float = 1.0
    """Draw weight of each of `ANTAGONISTS` a family does not run already, among its antagonists. Each family
    runs the antagonists of its source's experiments (kubeattention's no CPU hog, kubemarla's no IO stressor);
    a model that never sees a kind of contention on a kind of hardware learns that it does not happen there."""
    stacks: float = 0.0
    """Share of decisions that also carry stacks (`generators.stack`: `STACK_NODES` nodes, each with `STACK_PODS`
    more of the family's arriving pods). A scheduler's own placements pile onto the nodes that look best, so late
    arrivals meet nodes carrying far more pods than a family's background; a model trained without stacks never saw
    such a node and kept piling arrivals onto one. Off by default (`python -m training.train --stacks` sets it; the
    shipped weights were trained without: model card, Known limitations); at 0 the draws are those without it."""
    stack_fresh: float = 0.5
    """Each stacked pod was placed since the NodeState (a burst's) with this probability; the others are in it."""
    requests: float = 0.0
    """Sigma of a lognormal factor, per decision, on the arriving pod's CPU request as the model reads it (capped at
    its limit; the labels keep the real request). A request tells a pod's use only roughly, and a model that trusts
    it fully extrapolates along it for a pod unlike every training profile. Off by default (`python -m
    training.train --request-noise` sets it; judged at 0.3 and not shipped: model card, Known limitations); at 0 the
    draws are those without it."""


STACK_NODES = (1, 3)
"""How many nodes of a decision with stacks carry one."""
STACK_PODS = (2, 12)
"""How many pods a stack holds before the fit (300 arrivals piled up to 14-21 onto one node of 100 or 40)."""
CRITICAL_NEIGHBOURS = ("nginx", "redis", "http-echo")
"""Latency-critical training profiles a randomised cluster may already run (memcached is held out)."""
ANTAGONISTS = tuple(workloads.STRESSORS)
"""Every kind of antagonist the simulator models (one per interference dimension)."""


def family_of(
    name: str, *, profiles: Sequence[str] | None = None, randomise: Randomisation | None = None
) -> generators.Family:
    """The scenario family a decision is drawn from: its arrivals restricted to `profiles` when given, and with
    latency-critical neighbours among its services and every kind of antagonist when randomised."""
    family = FAMILIES[name]
    if profiles is not None:
        family = replace(family, arrivals=dict.fromkeys(profiles, 1.0))
    if randomise is not None and randomise.critical_neighbours > 0:
        extra = dict.fromkeys(CRITICAL_NEIGHBOURS, randomise.critical_neighbours)
        family = replace(
            family,
            background_profiles={**family.background_profiles, **extra},
            critical_replicas=randomise.critical_replicas,
        )
    if randomise is not None and randomise.antagonist_kinds > 0:
        kinds = dict.fromkeys(ANTAGONISTS, randomise.antagonist_kinds)
        family = replace(family, antagonist_profiles={**kinds, **family.antagonist_profiles})
    return family


@dataclass(frozen=True)
class TrainingSet:
    """Decisions (D) over up to N nodes each; arrays are (D, ...) and padded where a cluster has fewer nodes."""

    family: np.ndarray
    profile: np.ndarray
    """The arriving pod's profile."""
    request: np.ndarray
    """(D, 2): the arriving pod's CPU (cores) and memory (bytes) requests."""
    limit: np.ndarray
    """The arriving pod's CPU limit (cores), NaN for none."""
    nodes: np.ndarray
    """(D, N) booleans: a real node."""
    generation: np.ndarray
    """(D, N) hardware generation names ('' where padded)."""
    metrics: np.ndarray
    """(D, N, 11, 3) float32: mean/std/p95 of `counters.METRICS`; NaN where unknown or padded."""
    sources: np.ndarray
    """(D, N, 4) booleans: perf, resctrl, psi, cgroup."""
    candidates: np.ndarray
    """(D, N) booleans: the pod's requests fit the node."""
    slowdown: np.ndarray
    """(D, N) float32: predicted P99 over P99 alone."""
    p99_ms: np.ndarray
    """(D, N) float32: predicted P99."""
    relative_p99: np.ndarray
    """(D, N) float32: predicted P99 over the pod's P99 alone on the reference core (node speed included)."""
    harm: np.ndarray
    """(D, N) float32: sum over the node's latency-critical pods of ln(P99 with the pod / without), >= 0."""
    variant: np.ndarray
    """(D,) the interference-model variant that labelled the decision (`sim.interference.VARIANTS`)."""
    fresh: np.ndarray
    """(D,) object: per decision, a boolean per running pod of its plan, True where the pod was placed after the
    NodeState (its load is not in the telemetry)."""

    def __len__(self) -> int:
        return len(self.family)

    @property
    def examples(self) -> int:
        """(pod, node) pairs over real nodes."""
        return int(self.nodes.sum())

    def subset(self, mask: np.ndarray) -> "TrainingSet":
        return replace(self, **{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def example(self, i: int, *, now: float) -> dict[str, Any]:
        """Decision `i` as JSON: node states by node name, the pod, candidates, and per-node labels."""
        names = [f"{NODE_PREFIX}-{k + 1:03d}" for k in range(int(self.nodes[i].sum()))]
        profile = str(self.profile[i])
        entry = generators.pod_entry(profile, float(self.request[i, 0]), float(self.limit[i]), units=1.0, hidden=False)
        pod = manifests.pod(
            f"{profile}-{i}",
            entry.get("image", generators.HIDDEN_IMAGE),
            args=entry.get("args"),
            requests=entry["requests"],
            limits=entry.get("limits"),
            annotations=entry.get("annotations"),
            scheduler="ai-llama-scheduler",
            created=now,
        )
        return {
            "family": str(self.family[i]),
            "pod": pod,
            "node_states": {
                name: counters.to_json(name, self.metrics[i, k], self.sources[i, k], now=now)
                for k, name in enumerate(names)
            },
            "candidates": [name for k, name in enumerate(names) if self.candidates[i, k]],
            "slowdown": {name: float(self.slowdown[i, k]) for k, name in enumerate(names)},
            "p99_ms": {name: float(self.p99_ms[i, k]) for k, name in enumerate(names)},
            "relative_p99": {name: float(self.relative_p99[i, k]) for k, name in enumerate(names)},
            "harm": {name: float(self.harm[i, k]) for k, name in enumerate(names)},
        }


def generate(
    rng: np.random.Generator,
    *,
    decisions: int,
    families: Sequence[str] = tuple(FAMILIES),
    profiles: Sequence[str] | None = None,
    window: int = counters.WINDOW_SECONDS,
    variants: Sequence[str] = ("calibrated",),
    randomise: Randomisation | None = None,
    calibration: interference.Calibration = interference.CALIBRATION,
) -> TrainingSet:
    """`decisions` random clusters, families in turn, each with one arriving pod (of `profiles` when given).

    Decision d is labelled by `variants[(d // len(families)) % len(variants)]`, so every family meets every variant,
    each with the constants of `calibration` (training labels with `interference.TRAINING_CALIBRATION`).
    """
    unknown = [f for f in families if f not in FAMILIES] + [p for p in profiles or () if p not in workloads.PROFILES]
    if unknown:
        raise ValueError(f"unknown family or profile {unknown[0]!r}")
    strange = [v for v in variants if v not in interference.VARIANTS]
    if strange or not variants:
        raise ValueError(
            f"unknown interference variant {strange[0] if strange else None!r}; "
            f"known: {', '.join(interference.VARIANTS)}"
        )
    drawn = [draw(rng, families[d % len(families)], profiles=profiles, randomise=randomise) for d in range(decisions)]
    chosen = [variants[(d // len(families)) % len(variants)] for d in range(decisions)]
    return _label(
        [plan for plan, _ in drawn],
        rng,
        window=window,
        variants=chosen,
        randomise=randomise,
        calibration=calibration,
        stacked=np.concatenate([mask for _, mask in drawn]),
    )


def draw(
    rng: np.random.Generator,
    family: str,
    *,
    profiles: Sequence[str] | None = None,
    randomise: Randomisation | None = None,
) -> tuple[Plan, np.ndarray]:
    """One decision's cluster as `generate` draws it, and a boolean per running pod: True for a stacked pod placed
    since the NodeState."""
    plan = generators.plan(rng, family_of(family, profiles=profiles, randomise=randomise), arrivals=1)
    before = len(plan.pod_node)
    if randomise is None or randomise.stacks <= 0 or rng.random() >= randomise.stacks:
        return plan, np.zeros(before, dtype=bool)
    plan = generators.stack(rng, plan, FAMILIES[family], nodes=STACK_NODES, pods=STACK_PODS, exclude=EVAL_PROFILES)
    stacked = np.arange(len(plan.pod_node)) >= before
    return plan, stacked & (rng.random(len(stacked)) < randomise.stack_fresh)


_SUMS = ("cpu", "footprint", "stream", "thrash", "io")


def _label(
    plans: Sequence[Plan],
    rng: np.random.Generator,
    *,
    window: int,
    variants: Sequence[str],
    randomise: Randomisation | None,
    calibration: interference.Calibration,
    stacked: np.ndarray,
) -> TrainingSet:
    sizes = np.array([len(p.cores) for p in plans])
    width, total = int(sizes.max()), int(sizes.sum())
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    generation = np.concatenate([p.generation for p in plans]).astype(str)
    machine = SimpleNamespace(
        cores=np.concatenate([p.cores for p in plans]).astype(float),
        **{f: np.array([getattr(hw.GENERATIONS[g], f) for g in generation]) for f in _HARDWARE},
    )
    flags = np.concatenate([p.counters for p in plans])
    pod_node = np.concatenate([p.pod_node + o for p, o in zip(plans, offset, strict=True)]).astype(int)
    pod_index = np.array([_INDEX[name] for p in plans for name in p.pod_profile], dtype=int)
    pod_counts = np.array([len(p.pod_profile) for p in plans])
    units = np.concatenate([p.pod_units for p in plans]).astype(float)
    limit = np.nan_to_num(np.concatenate([p.pod_limit for p in plans]).astype(float), nan=np.inf)
    request = np.concatenate([p.pod_request for p in plans]).astype(float)
    decision = np.repeat(np.arange(len(plans)), sizes)
    pod_decision = np.repeat(np.arange(len(plans)), pod_counts)
    sensitivity = np.ones((len(plans), len(_ORDER), len(workloads.DIMENSIONS)))
    fresh = stacked
    if randomise is not None:
        sensitivity = np.exp(randomise.sensitivity * rng.standard_normal(sensitivity.shape))
        machine.l3_mb = machine.l3_mb * np.exp(randomise.capacity * rng.standard_normal(total))
        machine.mem_bw_gbps = machine.mem_bw_gbps * np.exp(randomise.capacity * rng.standard_normal(total))
        machine.core_speed = machine.core_speed * np.exp(randomise.speed * rng.standard_normal(total))
        lagged = rng.random(len(plans)) < randomise.lag_decisions
        fresh = stacked | (lagged[pod_decision] & (rng.random(len(pod_node)) < randomise.lag_pods))
    variant = np.array(variants)
    columns = _columns(pod_index)
    used = np.minimum(columns.cpu * units, limit)
    node_hw = SimpleNamespace(**{k: v[pod_node] for k, v in vars(machine).items()})
    parts = interference.contribution(columns, units, used, node_hw)
    sums = {name: np.bincount(pod_node, getattr(parts, name), total) for name in _SUMS}
    requested = np.bincount(pod_node, request, total)
    memory = np.bincount(pod_node, columns.memory_mib * np.maximum(units, 1.0) * 2**20, total)

    arrival = np.array([_INDEX[str(p.arrival_profile[0])] for p in plans], dtype=int)
    a_request, a_limit, shown = _arrival_requests(plans, randomise, rng)
    a = _columns(arrival[decision])
    a_units = a_request[decision] / a.reference_cpu
    a_used = np.minimum(a.cpu * a_units, np.nan_to_num(a_limit[decision], nan=np.inf))
    own = interference.contribution(a, a_units, a_used, machine)
    others = interference.Aggregate(**sums)
    factor = sensitivity[decision, arrival[decision]]
    p99, alone = _p99(
        (a.s_cpu * factor[:, 0], a.s_llc * factor[:, 1], a.s_membw * factor[:, 2], a.s_io * factor[:, 3]),
        others,
        own,
        machine,
        variant[decision],
        p50_ms=a.p50_ms,
        p99_ms=a.p99_ms,
        calibration=calibration,
    )
    harm = _harm(
        pod_index,
        pod_node,
        pod_decision,
        parts=parts,
        sums=sums,
        joining=own,
        machine=machine,
        sensitivity=sensitivity,
        variant=variant,
        total=total,
        calibration=calibration,
    )
    a_memory = a.memory_mib * 2**20
    fits = (requested + a_request[decision] <= machine.cores + 1e-9) & (
        memory + a_memory <= machine.memory_gib * manifests.ALLOCATABLE_MEMORY * 2**30
    )
    seen = ~fresh
    telemetry = _telemetry(
        machine,
        flags,
        pod_node=pod_node[seen],
        pod_index=pod_index[seen],
        units=units[seen],
        limit=limit[seen],
        request=request[seen],
        total=total,
        rng=rng,
        window=window,
    )

    slot = np.arange(total) - offset[decision]

    def pad(values: np.ndarray, fill: Any, dtype: Any = None) -> np.ndarray:
        out = np.full((len(plans), width, *values.shape[1:]), fill, dtype=dtype or values.dtype)
        out[decision, slot] = values
        return out

    return TrainingSet(
        family=np.array([p.family for p in plans]),
        profile=np.array([_ORDER[i] for i in arrival]),
        request=np.stack([shown, _columns(arrival).memory_mib * 2**20], axis=1),
        limit=a_limit,
        nodes=pad(np.ones(total, dtype=bool), False),
        generation=pad(generation.astype(object), "", object).astype(str),
        metrics=pad(telemetry.values.astype(np.float32), np.nan),
        sources=pad(telemetry.sources, False),
        candidates=pad(fits, False),
        slowdown=pad((p99 / alone).astype(np.float32), np.nan),
        p99_ms=pad(p99.astype(np.float32), np.nan),
        relative_p99=pad((p99 / a.p99_ms).astype(np.float32), np.nan),
        harm=pad(harm.astype(np.float32), np.nan),
        variant=variant,
        fresh=_ragged(np.split(fresh, np.cumsum(pod_counts)[:-1])),
    )


def _arrival_requests(
    plans: Sequence[Plan], randomise: Randomisation | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per decision, the arriving pod's CPU request and limit, and the request as the model reads it
    (`Randomisation.requests`; nothing is drawn at 0)."""
    request = np.array([float(p.arrival_request[0]) for p in plans])
    limit = np.array([float(p.arrival_limit[0]) for p in plans])
    if randomise is None or not randomise.requests:
        return request, limit, request
    noisy = request * np.exp(randomise.requests * rng.standard_normal(len(plans)))
    return request, limit, np.where(np.isfinite(limit), np.minimum(noisy, limit), noisy)


def _harm(
    pod_index: np.ndarray,
    pod_node: np.ndarray,
    pod_decision: np.ndarray,
    *,
    parts: interference.Aggregate,
    sums: dict[str, np.ndarray],
    joining: interference.Aggregate,
    machine: SimpleNamespace,
    sensitivity: np.ndarray,
    variant: np.ndarray,
    total: int,
    calibration: interference.Calibration,
) -> np.ndarray:
    """Per node, the sum over its latency-critical pods of ln(P99 once the arriving pod, `joining` there, runs
    beside them / P99 before): what the oracle's `inflicted` reports, in one log."""
    critical = np.flatnonzero(_CRITICAL[pod_index])
    at = pod_node[critical]
    mine = interference.Aggregate(*(getattr(parts, name)[critical] for name in _SUMS))
    around = interference.Aggregate(*(sums[name][at] - getattr(mine, name) for name in _SUMS))
    joined = around + interference.Aggregate(*(getattr(joining, name)[at] for name in _SUMS))
    victim = _columns(pod_index[critical])
    v_factor = sensitivity[pod_decision[critical], pod_index[critical]]
    v_sensitivity = tuple(getattr(victim, f"s_{d}") * v_factor[:, k] for k, d in enumerate(workloads.DIMENSIONS))
    v_hw = SimpleNamespace(**{k: v[at] for k, v in vars(machine).items()})
    common = {"p50_ms": victim.p50_ms, "p99_ms": victim.p99_ms, "calibration": calibration}
    before, _ = _p99(v_sensitivity, around, mine, v_hw, variant[pod_decision[critical]], **common)
    after, _ = _p99(v_sensitivity, joined, mine, v_hw, variant[pod_decision[critical]], **common)
    return np.bincount(at, np.log(np.maximum(after / before, 1.0)), total)


def _ragged(parts: Sequence[np.ndarray]) -> np.ndarray:
    """A (D,) object array holding one array per decision (numpy would otherwise stack equal lengths)."""
    out = np.empty(len(parts), dtype=object)
    for i, part in enumerate(parts):
        out[i] = part
    return out


def _p99(
    sensitivity: tuple[np.ndarray, ...],
    others: interference.Aggregate,
    own: interference.Aggregate,
    machine: SimpleNamespace,
    variant: np.ndarray,
    *,
    p50_ms: np.ndarray,
    p99_ms: np.ndarray,
    calibration: interference.Calibration,
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted P99 and P99 alone of each target (arrays aligned), each under its row's interference variant."""
    p99 = np.empty(len(variant))
    alone = np.empty(len(variant))
    for name in np.unique(variant):
        rows = np.flatnonzero(variant == name)
        form = interference.VARIANTS[str(name)]

        def take(values: Any, rows: np.ndarray = rows) -> Any:
            return values[rows] if np.ndim(values) else values

        model = interference.latency(
            tuple(take(s) for s in sensitivity),
            interference.pressure(
                interference.Aggregate(*(take(v) for v in others.astuple())),
                interference.Aggregate(*(take(v) for v in own.astuple())),
                SimpleNamespace(**{k: take(v) for k, v in vars(machine).items()}),
                variant=form,
            ),
            p50_ms=take(p50_ms),
            p99_ms=take(p99_ms),
            speed=take(machine.core_speed),
            variant=form,
            calibration=calibration,
        )
        p99[rows] = latency.quantiles(model, (0.99,))[:, 0]
        alone[rows] = model.alone_p99
    return p99, alone


def _telemetry(
    machine: SimpleNamespace,
    flags: np.ndarray,
    *,
    pod_node: np.ndarray,
    pod_index: np.ndarray,
    units: np.ndarray,
    limit: np.ndarray,
    request: np.ndarray,
    total: int,
    rng: np.random.Generator,
    window: int,
) -> counters.Telemetry:
    """NodeStates of every node, the system daemons in column 0 and the pods after it."""
    system = np.full(total, _INDEX["system"])
    node = np.concatenate([np.arange(total), pod_node])
    index = np.concatenate([system, pod_index])
    scale = np.concatenate([np.ones(total), units])
    columns = _columns(index)
    demand = columns.cpu * scale
    cap = np.concatenate([np.full(total, np.inf), limit])
    weight = np.concatenate([np.full(total, counters.SYSTEM_WEIGHT), np.maximum(request, counters.MIN_WEIGHT)])
    order = np.argsort(node, kind="stable")
    node, index, scale, demand, cap, weight = (a[order] for a in (node, index, scale, demand, cap, weight))
    columns = _columns(index)
    position = np.arange(len(node)) - np.searchsorted(node, node, side="left")
    width = int(position.max()) + 1
    l3 = machine.l3_mb[node]
    rows = {
        "cpu": demand,
        "limit": cap,
        "weight": weight,
        "footprint": columns.llc_mb * scale + columns.llc_share * l3,
        "io": columns.io * scale / np.maximum(demand, 1e-12),
        "memory": columns.memory_mib * scale * 2**20,
        **{name: getattr(columns, name) for name in counters.PROFILE_FIELDS},
    }
    pods: dict[str, np.ndarray] = {}
    for name, values in rows.items():
        padded = np.full((total, width), np.inf if name == "limit" else 0.0)
        padded[node, position] = values
        pods[name] = padded
    mask = np.zeros((total, width), dtype=bool)
    mask[node, position] = True
    hardware = {"cores": machine.cores, **{f: getattr(machine, f) for f in _HARDWARE}}
    chunks = []
    for start in range(0, total, 20_000):
        part = slice(start, start + 20_000)
        batch = counters.NodeBatch(
            hardware={k: v[part] for k, v in hardware.items()},
            pods={k: v[part] for k, v in pods.items()},
            mask=mask[part],
            counters=flags[part],
        )
        chunks.append(counters.simulate(batch, rng, window=window))
    return counters.Telemetry(
        values=np.concatenate([c.values for c in chunks]), sources=np.concatenate([c.sources for c in chunks])
    )


def split(data: TrainingSet, *, by: str, held_out: Sequence[str] | None = None) -> tuple[TrainingSet, TrainingSet]:
    """(train, test): decisions whose arriving pod's profile (`by="profile"`) or family (`by="family"`) is held out
    go to test."""
    if by == "profile":
        column, default = data.profile, EVAL_PROFILES
    elif by == "family":
        column, default = data.family, EVAL_FAMILIES
    else:
        raise ValueError(f"split by 'profile' or 'family', not {by!r}")
    test = np.isin(column, list(held_out or default))
    return data.subset(~test), data.subset(test)
