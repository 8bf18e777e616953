"""Random clusters from a seed: scenario families, the `mixed` scenario generator, and plans for training data.

A `Family` says what a kind of cluster looks like (node count and hardware generations, how loaded, how many nodes
host noisy neighbours and how many of those hide, which counters nodes lack, what arrives). `plan` draws one
cluster as arrays (vectorised within the cluster, so the training generator can draw thousands quickly);
`entries` turns a plan into scenario entries that `sim.scenario` validates and builds like hand-written ones. The
scenario files name a generator and its parameters (`generator: {name: mixed, params: {nodes: 100}}`).

Hidden neighbours carry a neutral image and no `ai-scheduler.io/noisy` annotation (only telemetry can reveal
them); their profile is pinned with `sim.ai-scheduler.io/profile`. Randomness only from the generator passed in.
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim import hardware as hw
from sim import pods, workloads

COUNTERS = ("perf", "cmt", "mbm", "psi", "cgroup")
SIZES = (0.25, 0.5, 1.0, 2.0, 4.0)
"""CPU requests (cores) a service pod asks for."""
HIDDEN_IMAGE = "registry.example.com/platform/worker:2.4"


@dataclass(frozen=True)
class Family:
    """A kind of cluster; weights need not sum to one."""

    name: str
    nodes: tuple[int, int]
    generations: Mapping[str, float]
    cores: tuple[int, ...] = ()
    """Node sizes to draw from (capped by the generation); empty keeps the generation's."""
    uniform: bool = False
    """One generation for the whole cluster."""
    background: tuple[int, int] = (0, 3)
    background_profiles: Mapping[str, float] = field(default_factory=dict)
    noisy_nodes: float = 0.3
    antagonists: tuple[int, int] = (1, 2)
    antagonist_profiles: Mapping[str, float] = field(default_factory=dict)
    workers: tuple[int, int] = (1, 4)
    hidden: float = 0.5
    lone: float = 0.0
    """Share of the noisy nodes that run their antagonists alone, without services: a dedicated batch or CI node,
    whose telemetry shows the antagonist's pressure (a busy CPU, say) beside an otherwise quiet node."""
    missing: Mapping[str, float] = field(default_factory=dict)
    """Probability that a node lacks each counter source, on top of its hardware's."""
    critical_replicas: float = 0.0
    """Probability that a latency-critical service pod runs at its profile's reference request (one unit of work, as a
    service's replicas do) instead of one of `SIZES`; drawn only when above 0, so other draws are unchanged."""
    limits: float = 0.3
    arrivals: Mapping[str, float] = field(default_factory=dict)


_SERVICES = {"web-backend": 3.0, "postgres": 1.0, "kafka-broker": 1.0, "best-effort": 1.0, "batch-compute": 1.0}
_ARRIVALS = {
    "redis": 3.0,
    "http-echo": 3.0,
    "nginx": 2.0,
    "memcached": 2.0,
    "web-backend": 1.5,
    "postgres": 0.5,
    "kafka-broker": 0.5,
    "batch-compute": 1.0,
    "batch-analytics": 0.5,
    "ml-training": 0.5,
}
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "kubeattention",
            nodes=(6, 6),
            generations={"cascade-lake": 1.0, "skylake-sp": 1.0},
            cores=(8, 16),
            uniform=True,
            background=(0, 2),
            background_profiles=_SERVICES,
            noisy_nodes=0.33,
            antagonists=(1, 1),
            antagonist_profiles={"stress-cache": 1.0, "stress-membw": 1.0},
            workers=(2, 8),
            hidden=0.5,
            missing={"perf": 0.1, "cmt": 0.1, "mbm": 0.1},
            arrivals=_ARRIVALS,
        ),
        Family(
            "kubemarla",
            nodes=(2, 4),
            generations={"nuc-coffee-lake": 1.0},
            uniform=True,
            background=(0, 1),
            background_profiles={"best-effort": 1.0, "web-backend": 1.0},
            noisy_nodes=0.7,
            antagonists=(1, 4),
            antagonist_profiles={"ibench-cpu": 1.0, "stress-cache": 1.0, "stress-membw": 1.0},
            workers=(1, 1),
            hidden=0.3,
            limits=0.1,
            arrivals={"nginx": 3.0, "redis": 1.0, "http-echo": 1.0, "memcached": 1.0, "web-backend": 1.0},
        ),
        Family(
            "datacenter",
            nodes=(8, 24),
            generations={"skylake-sp": 1.0, "cascade-lake": 2.0, "ice-lake-sp": 2.0, "sapphire-rapids": 1.0},
            cores=(16, 32, 48),
            background=(2, 8),
            background_profiles={**_SERVICES, "batch-analytics": 0.5, "ml-training": 0.5},
            noisy_nodes=0.25,
            antagonists=(1, 2),
            antagonist_profiles={"stress-cache": 1.0, "stress-membw": 1.0, "ibench-cpu": 1.0, "stress-io": 0.5},
            workers=(2, 16),
            missing={"perf": 0.1, "psi": 0.05},
            arrivals=_ARRIVALS,
        ),
        Family(
            "heterogeneous",
            nodes=(4, 12),
            generations=dict.fromkeys(
                ("haswell-ep", "skylake-sp", "cascade-lake", "ice-lake-sp", "sapphire-rapids"), 1.0
            ),
            cores=(8, 16, 32),
            background=(1, 5),
            background_profiles={**_SERVICES, "batch-analytics": 1.0},
            noisy_nodes=0.35,
            antagonists=(1, 3),
            antagonist_profiles={"stress-cache": 1.0, "stress-membw": 1.0, "ibench-cpu": 1.0, "stress-io": 1.0},
            workers=(1, 12),
            hidden=0.7,
            missing={"perf": 0.25, "cmt": 0.2, "mbm": 0.3, "psi": 0.15, "cgroup": 0.05},
            arrivals=_ARRIVALS,
        ),
    )
}


@dataclass(frozen=True)
class Plan:
    """One random cluster as arrays: nodes (N,), pods already running (P,), arrivals (A,)."""

    family: str
    generation: np.ndarray
    cores: np.ndarray
    counters: np.ndarray
    """(N, 5) booleans: perf, cmt, mbm, psi, cgroup."""
    pod_node: np.ndarray
    pod_profile: np.ndarray
    pod_units: np.ndarray
    """Stressor workers, or multiples of the profile's reference request."""
    pod_request: np.ndarray
    pod_limit: np.ndarray
    """CPU limit in cores, NaN for none."""
    pod_hidden: np.ndarray
    arrival_profile: np.ndarray
    arrival_request: np.ndarray
    arrival_limit: np.ndarray

    def hardware(self, node: int) -> hw.Hardware:
        preset = hw.GENERATIONS[str(self.generation[node])]
        counters = {name: bool(self.counters[node, i]) for i, name in enumerate(COUNTERS)}
        return hw.build(preset.generation, counters=counters, cores=int(self.cores[node]))


def _pick(rng: np.random.Generator, weights: Mapping[str, float], size: int) -> np.ndarray:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return np.array(names, dtype=object)[rng.choice(len(names), size=size, p=p / p.sum())]


def plan(rng: np.random.Generator, family: Family, *, nodes: int | None = None, arrivals: int = 1) -> Plan:
    """Draw one cluster of `family` (with `nodes` nodes when given) and its arrivals."""
    n = int(rng.integers(family.nodes[0], family.nodes[1] + 1)) if nodes is None else nodes
    generation = _pick(rng, family.generations, 1 if family.uniform else n)
    generation = np.repeat(generation, n) if family.uniform else generation
    preset_cores = np.array([hw.GENERATIONS[g].cores for g in generation])
    cores = preset_cores if not family.cores else np.minimum(rng.choice(family.cores, size=n), preset_cores)
    counters = np.array([[getattr(hw.GENERATIONS[g].counters, c) for c in COUNTERS] for g in generation], dtype=bool)
    counters &= rng.random((n, len(COUNTERS))) >= np.array([family.missing.get(c, 0.0) for c in COUNTERS])
    background = rng.integers(family.background[0], family.background[1] + 1, size=n)
    noisy = rng.random(n) < family.noisy_nodes
    if family.lone > 0:
        background = np.where(noisy & (rng.random(n) < family.lone), 0, background)
    count = np.where(noisy, rng.integers(family.antagonists[0], family.antagonists[1] + 1, size=n), 0)
    pod_node = np.concatenate([np.repeat(np.arange(n), background), np.repeat(np.arange(n), count)])
    service = _pick(rng, family.background_profiles, int(background.sum())) if family.background_profiles else []
    stressor = _pick(rng, family.antagonist_profiles, int(count.sum())) if family.antagonist_profiles else []
    profile = np.concatenate([np.asarray(service, dtype=object), np.asarray(stressor, dtype=object)])
    is_stressor = np.arange(len(profile)) >= background.sum()
    workers = rng.integers(family.workers[0], family.workers[1] + 1, size=len(profile))
    request = rng.choice(SIZES, size=len(profile))
    if family.critical_replicas > 0:
        critical = np.array([workloads.PROFILES[p].latency_critical for p in profile], dtype=bool) & ~is_stressor
        replica = critical & (rng.random(len(profile)) < family.critical_replicas)
        request = np.where(replica, _reference(profile), request)
    units = np.where(is_stressor, workers, request / _reference(profile))
    request = np.where(is_stressor, np.minimum(workers, 0.25 * workers + 0.25), request)
    limit = np.where(
        rng.random(len(profile)) < family.limits, request * rng.choice((1.0, 1.5, 2.0), len(profile)), np.nan
    )
    share = np.where(is_stressor, 1.0, 0.6)
    fits = _fit(pod_node, request, cores, share)
    arrival_profile, arrival_request, arrival_limit = _arrivals(rng, family.arrivals, arrivals, family.limits)
    return Plan(
        family=family.name,
        generation=generation,
        cores=cores,
        counters=counters,
        pod_node=pod_node[fits],
        pod_profile=profile[fits],
        pod_units=units[fits],
        pod_request=request[fits],
        pod_limit=limit[fits],
        pod_hidden=(is_stressor & (rng.random(len(profile)) < family.hidden))[fits],
        arrival_profile=arrival_profile,
        arrival_request=arrival_request,
        arrival_limit=arrival_limit,
    )


def stack(
    rng: np.random.Generator,
    plan: Plan,
    family: Family,
    *,
    nodes: tuple[int, int],
    pods: tuple[int, int],
    exclude: Collection[str] = (),
) -> Plan:
    """`plan` with a burst's stacks appended to its running pods (they come last): between `nodes[0]` and `nodes[1]`
    nodes drawn at random, each given between `pods[0]` and `pods[1]` more of the family's arriving pods (less
    `exclude`), drawn as arrivals are and kept in order while the node's requests stay within its cores.

    In a burst the scheduler's own placements pile onto the nodes that looked quietest at the last publication; a
    stack is what such a node carries."""
    n = len(plan.cores)
    chosen = rng.choice(n, size=min(n, int(rng.integers(nodes[0], nodes[1] + 1))), replace=False)
    node = np.repeat(chosen, rng.integers(pods[0], pods[1] + 1, size=len(chosen)))
    weights = {p: w for p, w in family.arrivals.items() if p not in exclude}
    profile, request, limit = _arrivals(rng, weights, len(node), family.limits)
    already = np.bincount(plan.pod_node, plan.pod_request, n)
    keep = _fit(node, request, plan.cores.astype(float), np.ones(len(node)), already)
    return replace(
        plan,
        pod_node=np.concatenate([plan.pod_node, node[keep]]),
        pod_profile=np.concatenate([plan.pod_profile, profile[keep]]),
        pod_units=np.concatenate([plan.pod_units, (request / _reference(profile))[keep]]),
        pod_request=np.concatenate([plan.pod_request, request[keep]]),
        pod_limit=np.concatenate([plan.pod_limit, limit[keep]]),
        pod_hidden=np.concatenate([plan.pod_hidden, np.zeros(int(keep.sum()), dtype=bool)]),
    )


def _arrivals(
    rng: np.random.Generator, weights: Mapping[str, float], count: int, limits: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profiles, CPU requests (cores) and CPU limits (NaN for none) of `count` arriving pods."""
    profile = _pick(rng, weights, count)
    request = rng.choice(SIZES[:4], size=count)
    return profile, request, np.where(rng.random(count) < limits, request * 2.0, np.nan)


def _reference(profiles: np.ndarray) -> np.ndarray:
    return np.array([workloads.PROFILES[p].reference_cpu for p in profiles], dtype=float)


def _fit(
    node: np.ndarray, request: np.ndarray, capacity: np.ndarray, share: np.ndarray, used: np.ndarray | None = None
) -> np.ndarray:
    """Keep pods, in order, while their node's requests (beside `used`, already there) stay within `share` of its
    `capacity` (never over-committed)."""
    used = np.zeros(len(capacity)) if used is None else used.astype(float)
    keep = np.zeros(len(node), dtype=bool)
    for i, (n, r) in enumerate(zip(node, request, strict=True)):
        if used[n] + r <= capacity[n] * share[i]:
            used[n] += r
            keep[i] = True
    return keep


def pod_entry(profile: str, request: float, limit: float, *, units: float, hidden: bool) -> dict[str, Any]:
    """A scenario pod entry for a profile: image, arguments, resources and the contract's annotations."""
    spec = workloads.PROFILES[profile]
    entry: dict[str, Any] = {
        "requests": {"cpu": f"{round(request * 1000)}m", "memory": f"{int(spec.memory_mib * max(units, 1))}Mi"}
    }
    if not np.isnan(limit):
        entry["limits"] = {"cpu": f"{round(limit * 1000)}m"}
    flag = spec.stressors[0] if spec.stressors else None
    if flag is not None:
        entry["args"] = [flag, str(int(units)), "--timeout", "0"]
    if hidden or (flag is None and not spec.images):
        entry.update(image=HIDDEN_IMAGE, profile=profile)
    else:
        entry["image"] = "alexeiled/stress-ng:0.17" if flag is not None else f"{spec.images[0]}:stable"
    if hidden:
        return entry
    annotations = {pods.CLASS_ANNOTATION: spec.workload_class}
    if spec.noisy:
        annotations[pods.NOISY_ANNOTATION] = ",".join(spec.noisy)
    if spec.latency_critical:
        dims = [d for d in workloads.DIMENSIONS if spec.sensitivity.of(d) >= 0.5]
        annotations[pods.SENSITIVITY_ANNOTATION] = ",".join(dims)
        annotations[pods.TARGET_ANNOTATION] = f"{spec.p99_target_ms:g}"
    entry["annotations"] = annotations
    return entry


def entries(cluster: Plan, *, prefix: str = "node", spacing: float = 1.0) -> dict[str, list[dict[str, Any]]]:
    """Scenario entries (nodes, pods, arrivals) for a plan."""
    names = [f"{prefix}-{i + 1:03d}" for i in range(len(cluster.cores))]
    nodes = []
    for i, name in enumerate(names):
        counters = {c: bool(cluster.counters[i, k]) for k, c in enumerate(COUNTERS)}
        nodes.append(
            {
                "name": name,
                "hardware": {"generation": str(cluster.generation[i]), "cores": int(cluster.cores[i])},
                "counters": counters,
            }
        )
    running = []
    for j, profile in enumerate(cluster.pod_profile):
        entry = pod_entry(
            str(profile),
            float(cluster.pod_request[j]),
            float(cluster.pod_limit[j]),
            units=float(cluster.pod_units[j]),
            hidden=bool(cluster.pod_hidden[j]),
        )
        running.append({"name": f"{profile}-{j + 1:04d}", "node": names[int(cluster.pod_node[j])], **entry})
    arriving = []
    for j, profile in enumerate(cluster.arrival_profile):
        entry = pod_entry(
            str(profile), float(cluster.arrival_request[j]), float(cluster.arrival_limit[j]), units=1.0, hidden=False
        )
        arriving.append({"name": f"{profile}-new-{j + 1:04d}", "at": j * spacing, **entry})
    return {"nodes": nodes, "pods": running, "arrivals": arriving}


def mixed(
    rng: np.random.Generator,
    *,
    nodes: int = 100,
    arrivals: int = 300,
    family: str = "datacenter",
    lone: float | None = None,
    noisy: float | None = None,
) -> dict[str, list[Any]]:
    """A large mixed cluster: `nodes` nodes of `family` and `arrivals` arriving pods, one a second; `lone` overrides
    the family's share of noisy nodes whose antagonists run alone (`Family.lone`), `noisy` its share of nodes that
    host antagonists (`Family.noisy_nodes`)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    if nodes < 1 or arrivals < 0:
        raise ValueError(f"nodes must be at least 1 and arrivals non-negative, got {nodes} and {arrivals}")
    if lone is not None and not 0.0 <= lone <= 1.0:
        raise ValueError(f"lone is a share of the noisy nodes, from 0 to 1, got {lone}")
    if noisy is not None and not 0.0 <= noisy <= 1.0:
        raise ValueError(f"noisy is a share of the nodes, from 0 to 1, got {noisy}")
    chosen = FAMILIES[family]
    chosen = chosen if lone is None else replace(chosen, lone=lone)
    chosen = chosen if noisy is None else replace(chosen, noisy_nodes=noisy)
    return entries(plan(rng, chosen, nodes=nodes, arrivals=arrivals))


GENERATORS: dict[str, Callable[..., dict[str, list[Any]]]] = {"mixed": mixed}
