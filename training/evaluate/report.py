"""The whole evaluation of a transformer checkpoint: held-out simulated sets, real-counter pairs, regimes, the gate.

`run` is what `python -m training.evaluate` and the end of `python -m training.train` execute; `gate` says
which configured floor a result falls below. The held-out sets are drawn with fixed seeds that
training never uses, from workload profiles and a scenario family that training never sees.
"""

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from tqdm import tqdm

from cluster.clock import SystemClock
from cluster.config import ScoringSettings
from scoring import regimes
from scoring.runtime import KUBE_SCORE_WEIGHTS, PEERS
from scoring.transformer.tier import Predictor, TransformerTier
from sim import dataset
from training import counters
from training.evaluate import families, heldout, pairs
from training.synthetic import TRAIN_FAMILIES, SimDecision, SimSet

TRANSFORMER = "transformer"
POLICIES = (TRANSFORMER, "heuristic", "default", heldout.RANDOM)
C0_ALONE = "c0-residency"
"""The real-counter reference: the NodeState's CPU utilisation alone, which on the measured rig is C0 residency."""


@dataclass(frozen=True)
class HeldOutSet:
    name: str
    description: str
    seed: int
    families: tuple[str, ...]
    profiles: tuple[str, ...] | None
    exclude: tuple[str, ...] = ()


SETS = (
    HeldOutSet(
        "held-out profiles",
        f"arriving pods of profiles never trained on ({', '.join(dataset.EVAL_PROFILES)}) in clusters of the "
        f"training families ({', '.join(TRAIN_FAMILIES)})",
        seed=2101,
        families=TRAIN_FAMILIES,
        profiles=dataset.EVAL_PROFILES,
    ),
    HeldOutSet(
        "held-out scenarios",
        f"clusters of a scenario family never trained on ({', '.join(dataset.EVAL_FAMILIES)}: five hardware "
        "generations, more hidden neighbours and missing counters), training profiles",
        seed=2102,
        families=dataset.EVAL_FAMILIES,
        profiles=None,
        exclude=dataset.EVAL_PROFILES,
    ),
    HeldOutSet(
        "both held out",
        "held-out profiles in clusters of the held-out scenario family",
        seed=2103,
        families=dataset.EVAL_FAMILIES,
        profiles=dataset.EVAL_PROFILES,
    ),
)


@dataclass(frozen=True)
class Report:
    held_out: Mapping[str, Mapping[str, heldout.Metrics]]
    """Set name → policy → metrics."""
    by_profile: Mapping[str, Mapping[str, heldout.Metrics]]
    """Held-out profile → policy → metrics (the held-out profiles set)."""
    pairs: Mapping[str, Mapping[str, pairs.PairAccuracy]]
    """Policy → "held-out campaigns" / "fine-tuning campaigns" → accuracy."""
    regimes: Mapping[str, Mapping[str, int]]
    """Measured antagonist kind → regime label → tests."""
    by_family: Mapping[str, Mapping[str, families.FamilyMetrics]] = field(default_factory=dict)
    """Held-out scenario family → policy → replay metrics (`training.evaluate.families`): the chain-order evidence."""
    sets: Sequence[HeldOutSet] = field(default=SETS)


def _kind(mix: tuple[int, int, int]) -> str:
    cpu, l3, membw = mix
    if not any(mix):
        return "none (baseline)"
    kinds = [name for name, count in (("cpu", cpu), ("l3", l3), ("membw", membw)) if count]
    return f"{kinds[0]} only" if len(kinds) == 1 else "mixed"


def regime_table(groups: Sequence[counters.Group]) -> dict[str, dict[str, int]]:
    """How the regime labels of the measured tests spread over their antagonists' kind."""
    table: dict[str, Counter[str]] = {}
    for group in groups:
        snapshot = counters.snapshot([t.state for t in group.tests])
        labels = regimes.regimes(snapshot.metrics)
        for test, label in zip(group.tests, labels, strict=True):
            table.setdefault(_kind(test.mix), Counter())[str(label)] += 1
    return {kind: dict(sorted(counts.items())) for kind, counts in sorted(table.items())}


def offline_tier(predictor: Predictor) -> TransformerTier:
    """The transformer tier as the offline evaluations run it: no latency budget (a slow CPU must not turn a
    replay into the heuristic's)."""
    return TransformerTier(predictor=predictor, clock=SystemClock(), budget_ms=math.inf)


def run(
    predictor: Predictor,
    *,
    decisions: int = 1500,
    groups: Sequence[counters.Group] | None = None,
    progress: bool = True,
) -> Report:
    """Evaluate `predictor` through the transformer tier against the heuristic and default policies."""
    policies = {TRANSFORMER: heldout.tier_policy(offline_tier(predictor)), **heldout.default_policies()}
    held_out: dict[str, dict[str, heldout.Metrics]] = {}
    by_profile: dict[str, dict[str, heldout.Metrics]] = {}
    for spec in SETS:
        simset = SimSet(spec.seed, decisions=decisions, families=spec.families, profiles=spec.profiles)
        tallies = heldout.evaluate(_decisions(simset, spec, progress=progress), policies)
        held_out[spec.name] = {name: tallies[name].summary() for name in POLICIES}
        if spec is SETS[0]:
            by_profile = {
                profile: {name: tallies[name].summary(profile) for name in POLICIES}
                for profile in dataset.EVAL_PROFILES
            }
    groups = counters.load() if groups is None else groups
    fine_tuning = sorted({g.campaign for g in counters.fine_tuning(groups)})
    scorers = {
        TRANSFORMER: pairs.transformer_scorer(predictor),
        "heuristic": pairs.heuristic_scorer(),
        "default": pairs.heuristic_scorer(KUBE_SCORE_WEIGHTS),
        **{peer: pairs.peer_scorer(peer) for peer in PEERS},
        C0_ALONE: pairs.counter_scorer("cpu_utilization"),
    }
    pair_table = {
        name: {
            "held-out campaigns": pairs.pair_counts(scorer, groups=groups),
            "fine-tuning campaigns": pairs.pair_counts(scorer, groups=groups, campaigns=fine_tuning),
        }
        for name, scorer in scorers.items()
    }
    by_family = families.evaluate(families.policies(partial(offline_tier, predictor)))
    return Report(held_out, by_profile, pair_table, regime_table(groups), by_family)


def _decisions(simset: SimSet, spec: HeldOutSet, *, progress: bool) -> Iterator[SimDecision]:
    chosen = [i for i in range(len(simset)) if str(simset.data.profile[i]) not in spec.exclude]
    for i in tqdm(chosen, desc=spec.name, unit="decision", disable=not progress, mininterval=1.0):
        decision = simset.decision(i)
        if decision is not None:
            yield decision


def gate(report: Report, scoring: ScoringSettings) -> list[str]:
    """Why the transformer must not ship (empty when it may): below a `scoring.*_floor`, or no better than the
    heuristic tier on a held-out set's mean regret."""
    problems = []
    for name, table in report.held_out.items():
        top1 = table[TRANSFORMER].top1
        if not top1 >= scoring.accuracy_floor:
            problems.append(f"{name}: top-1 agreement {top1:.3f} < scoring.accuracy_floor {scoring.accuracy_floor}")
        ours, theirs = table[TRANSFORMER].mean_regret, table["heuristic"].mean_regret
        if not ours < theirs:
            problems.append(f"{name}: mean regret {ours:.4f} is not below the heuristic tier's {theirs:.4f}")
    accuracy = report.pairs[TRANSFORMER]["held-out campaigns"].accuracy
    if not accuracy >= scoring.pair_accuracy_floor:
        floor = scoring.pair_accuracy_floor
        problems.append(f"real counters: pairwise accuracy {accuracy:.3f} < scoring.pair_accuracy_floor {floor}")
    return problems
