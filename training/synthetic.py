"""Examples from the simulator: random clusters as the scheduler sees them, with each candidate's true slowdown.

Bootstrapping, as KubeAttention does: `sim.dataset.generate` draws random clusters of the scenario
families, the NodeState telemetry a node agent would publish on each node, one arriving pod, and the
pod's predicted P99 slowdown on every node (the labels). Each decision is rebuilt here as the
scheduler would receive it — Node and Pod JSON from the plan (`sim.generators.entries`,
`sim.manifests`), NodeStates through `cluster.nodestate.parse`, all into a real `Snapshot` — so the
tier's features are computed by the serving code path (no train/serve skew), and the heuristic and
default policies can be scored on the very same snapshots.

The dataset does not return its cluster plans, so they are redrawn from a copy of the generator's
state, as `generate` draws them; `SimSet` checks each redrawn plan against the dataset (node counts,
the fitting candidates) and raises `SimulatorDriftError` if the simulator has changed how it draws.
Each decision is labelled under one interference-model variant (`variants`, in turn; `sim.interference.VARIANTS`)
with the constants of `calibration` (training passes `TRAINING_CALIBRATION`, fitted without the held-out campaigns;
evaluation keeps the world's `CALIBRATION`) and, with `randomise`, drawn with randomised sensitivities, capacities,
core speeds and telemetry lag. The pods a lagging decision placed since its NodeStates are fed to the
fresh-placement estimate (`cluster.estimate`), as the scheduler's cache feeds it, so the model learns on the
telemetry every tier reads in production.
Used by training and evaluation only (it imports the simulator); the serving tier never imports it.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from cluster import estimate, nodestate
from cluster.objects import Node, Pod
from cluster.parse import parse_node, parse_pod
from cluster.snapshot import Snapshot
from sim import dataset, generators, interference, manifests
from sim.dataset import Randomisation
from sim.generators import FAMILIES
from sim.hardware import Hardware
from sim.interference import CALIBRATION, TRAINING_CALIBRATION, Calibration

NOW = 1_800_000_000.0
"""NodeState timestamps of generated clusters (age is not checked when building examples)."""
TRAIN_FAMILIES = tuple(f for f in FAMILIES if f not in dataset.EVAL_FAMILIES)
IMPLAUSIBLE = ("runqueue-cpu",)
"""Variants the real measurements rule out (`sim.calibration.agreement` under one half of the measured mixes): the
run-queue form misses every mix with an iBench CPU hog (two hogs beside nginx on three cores measured 3.9-7.2x,
it says 1.0x). `python -m training.lofo` still holds each of them out as a test world, but nothing trains on them:
where the worlds disagree, a model taught this one learnt that a CPU hog beside a quiet cache is nearly harmless."""
VARIANTS = tuple(v for v in interference.VARIANTS if v not in IMPLAUSIBLE)
"""The interference-model family the shipped model trains on: every variant the measurements allow."""


class SimulatorDriftError(RuntimeError):
    """The redrawn cluster plans no longer match `sim.dataset.generate`'s; the message says where."""


@dataclass(frozen=True, eq=False)
class SimDecision:
    """One arriving pod in one cluster: the snapshot, the pod, the candidates and their true slowdowns."""

    snapshot: Snapshot
    pod: Pod
    feasible: np.ndarray
    """Node indices where the pod's requests fit (kube-scheduler's filters agree; there are no taints)."""
    slowdown: np.ndarray
    """Aligned with `feasible`: predicted P99 over P99 alone."""
    p99_ms: np.ndarray
    profile: str
    family: str
    relative_p99: np.ndarray
    """Aligned with `feasible`: predicted P99 over the pod's P99 alone on the reference core."""
    harm: np.ndarray
    """Aligned with `feasible`: sum over the node's latency-critical pods of ln(P99 with the pod / without)."""
    variant: str = "calibrated"


@lru_cache(maxsize=4096)
def _node(hardware: Hardware) -> Node:
    return parse_node(manifests.node("template", hardware))


@lru_cache(maxsize=8192)
def _pod(profile: str, request: float, limit: float, units: float, hidden: bool) -> Pod:
    entry = generators.pod_entry(profile, request, limit, units=units, hidden=hidden)
    raw = manifests.pod(
        "template",
        entry.get("image", generators.HIDDEN_IMAGE),
        args=entry.get("args"),
        requests=entry["requests"],
        limits=entry.get("limits"),
        annotations=entry.get("annotations"),
        node="template",
    )
    return parse_pod(raw)


class SimSet:
    """Generated decisions; `decision(i)` builds the i-th as a snapshot (None when no node fits the pod)."""

    def __init__(
        self,
        seed: int,
        *,
        decisions: int,
        families: Sequence[str] = TRAIN_FAMILIES,
        profiles: Sequence[str] | None = None,
        variants: Sequence[str] = ("calibrated",),
        randomise: Randomisation | None = None,
        calibration: Calibration = CALIBRATION,
    ) -> None:
        rng = np.random.default_rng(seed)
        twin = np.random.default_rng()
        twin.bit_generator.state = rng.bit_generator.state
        self.seed = seed
        self.families = tuple(families)
        self.profiles = tuple(profiles) if profiles is not None else None
        self.variants = tuple(variants)
        self.data = dataset.generate(
            rng,
            decisions=decisions,
            families=families,
            profiles=profiles,
            variants=variants,
            randomise=randomise,
            calibration=calibration,
        )
        self.plans = [
            dataset.draw(twin, families[d % len(families)], profiles=profiles, randomise=randomise)[0]
            for d in range(decisions)
        ]
        for d, plan in enumerate(self.plans):
            if len(plan.cores) != int(self.data.nodes[d].sum()) or str(plan.arrival_profile[0]) != self.data.profile[d]:
                raise SimulatorDriftError(
                    f"decision {d}: the redrawn plan has {len(plan.cores)} nodes and pod {plan.arrival_profile[0]}, "
                    f"sim.dataset has {int(self.data.nodes[d].sum())} and {self.data.profile[d]}; update "
                    "training.synthetic to draw plans as sim.dataset.generate does"
                )

    def __len__(self) -> int:
        return len(self.plans)

    def decision(self, i: int) -> SimDecision | None:
        data, plan = self.data, self.plans[i]
        candidates = np.flatnonzero(data.candidates[i])
        if not len(candidates):
            return None
        example = data.example(i, now=NOW)
        entries = generators.entries(plan)
        nodes = [_named(_node(plan.hardware(k)), entry["name"]) for k, entry in enumerate(entries["nodes"])]
        pods = [
            replace(
                _pod(
                    str(plan.pod_profile[j]),
                    float(plan.pod_request[j]),
                    float(plan.pod_limit[j]),
                    float(plan.pod_units[j]),
                    bool(plan.pod_hidden[j]),
                ),
                name=entry["name"],
                node_name=entry["node"],
            )
            for j, entry in enumerate(entries["pods"])
        ]
        states = {name: nodestate.parse(raw, node=name) for name, raw in example["node_states"].items()}
        snapshot = Snapshot.build(nodes, pods, states=states)
        fresh = data.fresh[i]
        if fresh.any():
            snapshot = estimate.apply(snapshot, estimate.Placed.of((pods[j], NOW) for j in np.flatnonzero(fresh)))
        names = [f"{dataset.NODE_PREFIX}-{k + 1:03d}" for k in candidates]
        feasible = np.array([snapshot.node_index(name) for name in names], dtype=np.int64)
        if set(example["candidates"]) != set(names) or any(i is None for i in feasible):
            raise SimulatorDriftError(f"decision {i}: candidates of the rebuilt snapshot differ from sim.dataset's")
        return SimDecision(
            snapshot=snapshot,
            pod=parse_pod(example["pod"]),
            feasible=feasible,
            slowdown=data.slowdown[i, candidates].astype(float),
            p99_ms=data.p99_ms[i, candidates].astype(float),
            profile=str(data.profile[i]),
            family=str(data.family[i]),
            relative_p99=data.relative_p99[i, candidates].astype(float),
            harm=data.harm[i, candidates].astype(float),
            variant=str(data.variant[i]),
        )

    def __iter__(self) -> Iterator[SimDecision]:
        for i in range(len(self)):
            decision = self.decision(i)
            if decision is not None:
                yield decision


def _named(node: Node, name: str) -> Node:
    return replace(node, name=name, labels={**node.labels, "kubernetes.io/hostname": name})


def training_set(
    seed: int,
    *,
    decisions: int,
    variants: Sequence[str] = VARIANTS,
    stacks: float = Randomisation.stacks,
    requests: float = Randomisation.requests,
) -> SimSet:
    """The simulated clusters a member of `seed` trains on: the training families under `variants`, randomised (with
    stacks of arrivals in `stacks` of them, `Randomisation.stacks`, and the arriving pod's request read with noise of
    sigma `requests`, `Randomisation.requests`), and labelled by `TRAINING_CALIBRATION` (the simulator fitted without
    the held-out campaigns)."""
    return SimSet(
        seed,
        decisions=decisions,
        variants=variants,
        randomise=Randomisation(stacks=stacks, requests=requests),
        calibration=TRAINING_CALIBRATION,
    )
