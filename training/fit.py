"""Training: examples from the simulator, the measurements and the collector, and a seeded, deterministic fit.

An `Example` is one decision: the candidates' `NodeInputs`, the pod's `PodInputs`, and per candidate
the targets, ln(P99 over P99 alone on the reference core) and the harm to latency-critical neighbours
(NaN where unknown: the measurements and the collector know no harm), and a ranking key (higher is
better; NaN where unknown). Every source reaches its inputs through a `Snapshot` and `NodeInputs.of`,
as the tier does.

The loss per decision is a Huber loss on each target over its labelled candidates plus a ListNet
ranking loss (cross-entropy between the softmax of the true and the predicted keys at temperature
`RANK_TEMPERATURE`) over decisions with two or more ranked candidates, the predicted key being minus
the tier's log cost (`scores.cost`): the regression keeps the scores meaningful across pods, the
ranking spends the model's capacity where a placement is decided. The measurements are ranked by a pairwise
(RankNet) term instead, over every pair of their tests whose P99s differ by the rig's noise margin or more: ListNet
weighs the pairs that involve the best node, the held-out campaigns are judged on all pairs, and at its
temperature ListNet also orders tests whose P99s differ by the rig's run-to-run noise alone (10 % apart weigh
e^-1), which on measured tests is fitting noise. Ranked by RankNet alone, the left-out fine-tuning pairs of
`python -m training.loco` went from 4,621 to 4,705 of 4,948 (seeds 25 and 26, 2026-12-07).

Deterministic: one seed drives example order, augmentation and initialisation; torch runs with
deterministic algorithms on a fixed number of threads. Same seed, data, torch version and thread
count give bit-identical weights.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cluster import nodestate
from cluster.needs import DIMENSIONS, WorkloadClass
from cluster.resources import MAX_QUANTITY
from cluster.snapshot import Snapshot
from scoring import collector
from scoring.framework import PodInfo
from scoring.transformer import features, scores
from scoring.transformer.features import NodeInputs, PodInputs, Scale
from scoring.transformer.model import ModelConfig, SlowdownModel
from training import counters
from training.synthetic import SimDecision, SimSet

RANK_TEMPERATURE = 0.1
"""In ln-slowdown units: a node 10 % slower than the best gets e^-1 of its target weight."""
PAIR_MARGIN = math.log(counters.PAIR_RATIO)
"""Measured P99s closer than this (in ln) are within the rig's run-to-run noise and are not ranked pairwise."""
HUBER_DELTA = 0.5


@dataclass(frozen=True, eq=False)
class Example:
    nodes: NodeInputs
    pod: PodInputs
    target: np.ndarray
    """[N] ln(P99 over P99 alone on the reference core), NaN where unknown."""
    rank: np.ndarray
    """[N] higher is better (minus the log cost), NaN where unknown."""
    weight: float = 1.0
    source: str = "sim"
    harm: np.ndarray | None = None
    """[N] harm to latency-critical neighbours (sum of their ln slowdowns), None or NaN where unknown."""
    pairwise: bool = False
    """Rank every pair of candidates whose keys differ by `PAIR_MARGIN` or more, in place of ListNet (the
    measurements: pairs within the rig's noise are not ranked)."""


@dataclass(frozen=True)
class Settings:
    seed: int = 7
    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    rank_weight: float = 1.0
    threads: int = 1
    config: ModelConfig = field(default_factory=ModelConfig)


SOURCES: dict[str, tuple[str, ...]] = {
    "perf": ("cpi", "llc_miss_rate", "llc_mpki"),
    "cmt": ("llc_occupancy_ratio",),
    "mbm": ("memory_bandwidth_gbps", "memory_bandwidth_ratio"),
    "psi": ("psi_cpu_some", "psi_memory_some", "psi_io_some"),
    "cgroup": ("cpu_throttling_ratio",),
}
"""Counter sources a node may lack (hardware, kernel, permissions) and the metrics each provides."""


@dataclass(frozen=True)
class Augmentation:
    """Share of decisions whose nodes lose telemetry, and how: a whole NodeState, or single counter sources.

    CONTRACTS §1: a node may lack any subset of the metrics, or publish nothing; both must read as typical.
    """

    blank_decisions: float = 0.25
    blank_nodes: float = 0.3
    """Within a blanked decision, each node's NodeState is unknown with this probability."""
    drop_decisions: float = 0.25
    drop_sources: float = 0.2
    """Within such a decision, each node loses each counter source with this probability."""


def augmented(snapshot: Snapshot, rng: np.random.Generator, augmentation: Augmentation) -> Snapshot:
    """The snapshot as a less instrumented cluster would report it (see `Augmentation`)."""
    blank = rng.random() < augmentation.blank_decisions
    drop = rng.random() < augmentation.drop_decisions
    out = snapshot
    for state in snapshot.states:
        if blank and rng.random() < augmentation.blank_nodes:
            out = out.with_state(nodestate.unknown(state.node))
        elif drop:
            lost = {m for metrics in SOURCES.values() if rng.random() < augmentation.drop_sources for m in metrics}
            if lost & set(state.metrics):
                kept = {m: v for m, v in state.metrics.items() if m not in lost}
                out = out.with_state(replace(state, metrics=kept))
    return out


def sim_example(decision: SimDecision, *, snapshot: Snapshot | None = None) -> Example:
    """A simulator decision as an example (read from `snapshot`, an augmented copy, when given)."""
    snapshot = snapshot or decision.snapshot
    nodes = NodeInputs.of(snapshot, decision.feasible)
    pod = PodInputs.of(PodInfo.of(decision.pod, snapshot))
    target = np.log(decision.relative_p99)
    harm = np.maximum(decision.harm, 0.0)
    return Example(nodes, pod, target, -np.log(scores.cost(decision.relative_p99, harm)), harm=harm)


def sim_examples(
    simset: SimSet,
    *,
    exclude: Sequence[str] = (),
    augmentation: Augmentation | None = None,
    seed: int = 0,
    progress: bool = True,
) -> list[Example]:
    """Examples of every decision whose pod profile is not in `exclude`, some with less telemetry."""
    augmentation = augmentation or Augmentation()
    rng = np.random.default_rng(seed)
    out = []
    indices = [i for i in range(len(simset)) if str(simset.data.profile[i]) not in exclude]
    for i in tqdm(indices, desc="simulated clusters", unit="decision", disable=not progress, mininterval=1.0):
        decision = simset.decision(i)
        if decision is not None:
            out.append(sim_example(decision, snapshot=augmented(decision.snapshot, rng, augmentation)))
    return out


def real_examples(groups: Iterable[counters.Group], *, weight: float = 1.0) -> list[Example]:
    """One example per measured group: rank by measured P99; target where the campaign has a baseline."""
    out = []
    for group in groups:
        snapshot = counters.snapshot([t.state for t in group.tests])
        everyone = np.arange(len(snapshot))
        nodes = NodeInputs.of(snapshot, everyone)
        pod = PodInputs.of(PodInfo.of(counters.NGINX, snapshot))
        p99 = np.array([t.p99_ms for t in group.tests])
        baseline = np.array([t.baseline_p99_ms or np.nan for t in group.tests])
        target = np.log(np.maximum(p99 / baseline, 1.0))
        out.append(Example(nodes, pod, target, -np.log(p99), weight=weight, source="measured", pairwise=True))
    return out


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float, else None: JSON also holds NaN, Infinity and integers too large for a float
    (OverflowError in arithmetic), none of which is a measurement."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def outcome_label(outcome: Mapping[str, Any] | None) -> float | None:
    """ln(slowdown) an outcome record implies for its node, or None when it says nothing about interference.

    An observed P99 with the pod's P99 alone (finite positive numbers) gives the slowdown; an OOM kill or eviction
    (the pod served nothing there) counts as the scorer's maximum slowdown; restarts alone are not a placement
    signal.
    """
    if not outcome:
        return None
    p99, alone = _finite(outcome.get("p99_ms")), _finite(outcome.get("baseline_p99_ms"))
    if p99 is not None and alone is not None and p99 > 0 and alone > 0:
        return max(math.log(p99) - math.log(alone), 0.0)  # a difference of logs: the ratio may overflow
    if outcome.get("oom_killed") or outcome.get("evicted"):
        return math.log(scores.MAX_SLOWDOWN)
    return None


@dataclass(frozen=True)
class _Row:
    """What one candidate's entry of a decision record's `nodes` array may hold."""

    shape: tuple[int, ...]
    low: float
    high: float
    unknown: bool = False
    """NaN allowed: a metric no node of the cluster measured (`cluster_telemetry` leaves it NaN)."""


TELEMETRY_LIMIT = 1e4
"""|value| of a telemetry feature: the transformed scales keep every valid metric within about ±1,500 (the log of
the largest float is 709), and a larger one would overflow the float32 squares the feature scale is fitted with."""

_NODE_ROWS: dict[str, _Row] = {
    "telemetry": _Row((features.TELEMETRY_WIDTH,), -TELEMETRY_LIMIT, TELEMETRY_LIMIT, unknown=True),
    "pressure": _Row((len(DIMENSIONS),), 0.0, 1.0),
    "allocatable": _Row((2,), 0.0, float(MAX_QUANTITY)),
    "requested": _Row((2,), 0.0, float(MAX_QUANTITY)),
    "pods": _Row((), 0.0, float(MAX_QUANTITY)),
    "max_pods": _Row((), 0.0, float(MAX_QUANTITY)),
    "declared": _Row((2, len(DIMENSIONS)), 0.0, float(MAX_QUANTITY)),
}
"""Per array of a decision record's `nodes` (`NodeInputs`): one candidate's entry, in the ranges the scheduler
writes (a value beyond them, or infinite, would make the feature scale, and so every loss, NaN)."""


def _array(value: Any, field: str, count: int, row: _Row) -> np.ndarray:
    """`value` as a float array of `count` entries of `row`; ValueError naming `field` otherwise."""
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list with one entry per candidate")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field}: not an array of numbers (ragged, or a value that is not a float)") from None
    shape = (count, *row.shape)
    if array.shape != shape:
        raise ValueError(f"{field}: shape {list(array.shape)}, expected {list(shape)} for {count} candidates")
    known = ~np.isnan(array)
    if not row.unknown and not known.all():
        raise ValueError(f"{field}: holds NaN, which only telemetry may (a metric nobody measured)")
    if not ((array[known] >= row.low) & (array[known] <= row.high)).all():
        raise ValueError(f"{field}: a value outside [{row.low:g}, {row.high:g}] (or infinite)")
    return array


def _flags(value: Any, field: str) -> tuple[bool, ...]:
    """One JSON boolean per dimension (the collector writes them so; `bool("false")` would read as true)."""
    if not isinstance(value, list) or len(value) != len(DIMENSIONS) or not all(isinstance(f, bool) for f in value):
        raise ValueError(f"{field}: expected {len(DIMENSIONS)} true/false flags, one per dimension")
    return tuple(value)


def _amount(value: Any, field: str) -> float:
    """A pod request: a finite number >= 0 (an infinite one would poison the scale fitted on the tokens)."""
    number = _finite(value)
    if number is None or number < 0:
        raise ValueError(f"{field}: expected a finite number >= 0")
    return number


def collector_inputs(record: Mapping[str, Any]) -> tuple[NodeInputs, PodInputs, int]:
    """A decision record's node and pod inputs and the chosen node's position among its candidates.

    Checked against the shapes `features.tokens` reads, so that a malformed record is refused here rather than in
    the middle of a fit; ValueError naming the field.
    """
    candidates = record.get("candidates")
    if not isinstance(candidates, list) or record.get("node") not in candidates:
        raise ValueError("candidates: expected a list that holds the chosen node")
    raw = record.get("nodes")
    if not isinstance(raw, Mapping):
        raise ValueError("nodes: expected an object of per-candidate arrays")
    arrays = {name: _array(raw.get(name), f"nodes.{name}", len(candidates), row) for name, row in _NODE_ROWS.items()}
    spec = record.get("pod_inputs")
    if not isinstance(spec, Mapping):
        raise ValueError("pod_inputs: expected an object")
    try:
        workload_class = WorkloadClass(spec.get("class"))
    except ValueError:
        raise ValueError(f"pod_inputs.class: expected one of {', '.join(c.value for c in WorkloadClass)}") from None
    pod = PodInputs(
        workload_class,
        _flags(spec.get("sensitivity"), "pod_inputs.sensitivity"),
        _flags(spec.get("noisy"), "pod_inputs.noisy"),
        _amount(spec.get("cpu_millicores"), "pod_inputs.cpu_millicores"),
        _amount(spec.get("memory_bytes"), "pod_inputs.memory_bytes"),
    )
    return NodeInputs(**arrays), pod, candidates.index(record["node"])


def collector_examples(paths: Sequence[str | Path], *, weight: float = 1.0) -> tuple[list[Example], dict[str, int]]:
    """Labelled decisions of the collector's JSONL files (the chosen node's outcome), and counts of what was skipped.

    A malformed decision (see `collector_inputs`) counts as an unreadable line; one recorded under an earlier feature
    version is read as this version reads it (`features.upgraded_telemetry`), and one it cannot read is counted.
    """
    joined, unreadable = collector.read(paths)
    skipped = {"unreadable lines": unreadable, "no outcome": 0, "outcome without a label": 0, "other features": 0}
    out = []
    for item in joined:
        record = item.decision
        label = outcome_label(item.outcome)
        if item.outcome is None:
            skipped["no outcome"] += 1
            continue
        if label is None:
            skipped["outcome without a label"] += 1
            continue
        version = record.get("feature_version")
        if type(version) is not int or version not in features.READABLE_VERSIONS:
            skipped["other features"] += 1
            continue
        try:
            nodes, pod, chosen = collector_inputs(record)
        except ValueError:
            skipped["unreadable lines"] += 1
            continue
        nodes = replace(nodes, telemetry=features.upgraded_telemetry(nodes.telemetry, version))
        target = np.full(len(nodes), np.nan)
        target[chosen] = label
        out.append(Example(nodes, pod, target, np.full(len(nodes), np.nan), weight=weight, source="collector"))
    return out, skipped


# -- fitting ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Prepared:
    """Examples as token matrices, with the scale fitted on them."""

    tokens: list[np.ndarray]
    examples: list[Example]
    scale: Scale


def prepare(examples: Sequence[Example]) -> Prepared:
    raw = [features.tokens(e.nodes, e.pod) for e in examples]
    scale = Scale.fit(np.concatenate(raw))
    filled = [np.where(np.isnan(t), scale.mean, t).astype(np.float32) for t in raw]
    return Prepared(filled, list(examples), scale)


def _batch(prepared: Prepared, positions: Sequence[int]) -> tuple[torch.Tensor, ...]:
    size = max(len(prepared.examples[p].target) for p in positions)
    width = prepared.tokens[positions[0]].shape[1]
    x = np.zeros((len(positions), size, width), np.float32)
    mask = np.zeros((len(positions), size), bool)
    target = np.full((len(positions), size, 2), np.nan, np.float32)
    rank = np.full((len(positions), size), np.nan, np.float32)
    weight = np.zeros(len(positions), np.float32)
    pairwise = np.zeros(len(positions), bool)
    for row, p in enumerate(positions):
        example, n = prepared.examples[p], len(prepared.examples[p].target)
        x[row, :n] = prepared.tokens[p]
        mask[row, :n] = True
        target[row, :n, 0] = example.target
        if example.harm is not None:
            target[row, :n, 1] = example.harm
        rank[row, :n] = example.rank
        weight[row] = example.weight
        pairwise[row] = example.pairwise
    return tuple(torch.from_numpy(a) for a in (x, mask, target, rank, weight, pairwise))


def loss(
    prediction: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    rank: torch.Tensor,
    weight: torch.Tensor,
    *,
    rank_weight: float,
    pairwise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted Huber on each target plus `rank_weight` x (ListNet, or RankNet where `pairwise`) on the log cost
    (module docstring).

    `prediction` and `target` are [B, N, 2] (relative P99, harm), the rest [B, N] or [B].
    """
    regression = torch.zeros(())
    for k in range(prediction.shape[-1]):
        labelled = mask & ~torch.isnan(target[..., k])
        huber = torch.nn.functional.huber_loss(
            prediction[..., k], torch.nan_to_num(target[..., k]), reduction="none", delta=HUBER_DELTA
        )
        per_decision = (huber * labelled).sum(1) / labelled.sum(1).clamp(min=1)
        used = weight * labelled.any(1)
        regression = regression + (per_decision * used).sum() / used.sum().clamp(min=1e-9)
    ranked = mask & ~torch.isnan(rank)
    usable = ranked.sum(1) >= 2
    if not bool(usable.any()):
        return regression
    true = torch.where(ranked, torch.nan_to_num(rank) / RANK_TEMPERATURE, torch.tensor(float("-inf")))
    true = true - true.max(dim=1, keepdim=True).values.nan_to_num(0.0)
    log_cost = prediction[..., 0] + scores.HARM_WEIGHT * prediction[..., 1]
    guess = torch.where(ranked, -log_cost / RANK_TEMPERATURE, torch.tensor(float("-inf")))
    p_true = torch.softmax(true[usable], dim=1)
    log_guess = torch.log_softmax(guess[usable], dim=1)
    ranking = -(p_true * torch.where(ranked[usable], log_guess, torch.zeros_like(log_guess))).sum(1)
    if pairwise is not None and bool(pairwise[usable].any()):
        ranknet = _ranknet(-log_cost[usable], rank[usable], ranked[usable])
        ranking = torch.where(pairwise[usable], ranknet, ranking)
    w = weight[usable]
    return regression + rank_weight * (ranking * w).sum() / w.sum().clamp(min=1e-9)


def _ranknet(key: torch.Tensor, rank: torch.Tensor, ranked: torch.Tensor) -> torch.Tensor:
    """Per decision, the mean logistic loss over the pairs whose true keys differ by `PAIR_MARGIN` or more
    (RankNet at `RANK_TEMPERATURE`): every clear pair counts, not only the pairs that involve the best node."""
    true = torch.nan_to_num(rank)
    valid = ranked[:, :, None] & ranked[:, None, :] & (true[:, :, None] - true[:, None, :] >= PAIR_MARGIN)
    margin = (key[:, :, None] - key[:, None, :]) / RANK_TEMPERATURE
    losses = torch.nn.functional.softplus(-margin) * valid
    return losses.sum((1, 2)) / valid.sum((1, 2)).clamp(min=1)


def _order(prepared: Prepared, rng: np.random.Generator, batch_size: int) -> list[list[int]]:
    """Batches of similar size (less padding), in a random order."""
    positions = rng.permutation(len(prepared.examples))
    sizes = np.array([len(prepared.examples[p].target) for p in positions])
    positions = positions[np.argsort(sizes, kind="stable")]
    batches = [positions[i : i + batch_size].tolist() for i in range(0, len(positions), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(
    prepared: Prepared,
    settings: Settings,
    *,
    progress: bool = True,
    on_epoch: Callable[[int, SlowdownModel, float], None] | None = None,
) -> tuple[SlowdownModel, list[float]]:
    """Train a fresh model; returns it (in eval mode) and the mean training loss per epoch."""
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(settings.threads)
    rng = np.random.default_rng(settings.seed)
    model = SlowdownModel(settings.config, prepared.scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps = settings.epochs * math.ceil(len(prepared.examples) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.learning_rate, total_steps=steps)
    history = []
    bar = tqdm(total=steps, desc="training", unit="batch", disable=not progress, mininterval=1.0)
    for epoch in range(settings.epochs):
        model.train()
        total, count = 0.0, 0
        for positions in _order(prepared, rng, settings.batch_size):
            x, mask, target, rank, weight, pairwise = _batch(prepared, positions)
            value = loss(
                model(x, mask), mask, target, rank, weight, rank_weight=settings.rank_weight, pairwise=pairwise
            )
            optimizer.zero_grad()
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += float(value.detach()) * len(positions)
            count += len(positions)
            bar.update()
        history.append(total / max(count, 1))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if on_epoch is not None:
            on_epoch(epoch, model, history[-1])
    bar.close()
    model.eval()
    return model, history
