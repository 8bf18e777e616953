"""Held-out evaluation on simulated clusters: how close each policy's pick comes to the oracle's.

For every decision of a held-out set (workload profiles or a scenario family never seen in training,
`sets`), each policy picks a node among the candidates through its serving code: the transformer tier's
`choose`, the heuristic tier (kube-scheduler's scoring plus InterferenceAware) and kube-scheduler's
default scoring (`scoring.runtime.KUBE_SCORE_WEIGHTS`), and any whole decision chain (`decider_policy`: the
load-aware peers with their own filters). The oracle is the candidate with the lowest true P99 in milliseconds
(the simulator's prediction, node speed included: what the user feels). Reported per policy:
- top-1 agreement: the pick's P99 is within 1 % of the oracle's (near-ties are frequent: half the
  decisions have a runner-up within 1 %), and strict top-1 (the very same node);
- regret: the pick's P99 over the oracle's, minus 1 (0.10 = a 10 % higher P99), mean and p95, and the mean
  over latency-critical arriving pods; a chain that leaves the pod unplaced is counted apart;
- cost regret: the pick's ln P99 plus the harm it does there (the simulator's sum of ln slowdowns of the
  latency-critical pods already on the node, weighed by `HARM_WEIGHT` as the tier's cost weighs it), minus the
  lowest such cost among the candidates. The regret above prices the arriving pod alone, so a model that spares
  its neighbours can only lose there; this one counts what the pick does to them too;
- `random`: the expectation of a uniformly random pick, for scale.
Pure given the decisions; the simulator is reached only through `training.synthetic`.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from cluster.config import DEFAULT_SCORE_WEIGHTS
from scoring.decide import Decider
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.runtime import KUBE_SCORE_WEIGHTS
from scoring.tiers import HeuristicScores, Request, TierDecider, TierDeclinedError
from scoring.transformer.scores import HARM_WEIGHT
from sim import workloads
from training.synthetic import SimDecision

AGREEMENT = 0.01
"""Relative slowdown within which a pick agrees with the oracle."""
RANDOM = "random"

Policy = Callable[[SimDecision, PodInfo, HeuristicScores], int | None]
"""Returns the picked position in `decision.feasible`, or None when the policy leaves the pod unplaced."""


@dataclass
class Tally:
    """Per-decision outcomes of one policy on one set."""

    regret: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    agree: list[float] = field(default_factory=list)
    strict: list[float] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    unplaced: int = 0

    def add(self, regret: float, agree: float, strict: float, profile: str, cost: float) -> None:
        self.regret.append(regret)
        self.cost.append(cost)
        self.agree.append(agree)
        self.strict.append(strict)
        self.profiles.append(profile)

    def summary(self, profile: str | None = None) -> "Metrics":
        keep = [i for i, p in enumerate(self.profiles) if profile is None or p == profile]
        regret = np.array([self.regret[i] for i in keep])
        critical = np.array([self.regret[i] for i in keep if workloads.PROFILES[self.profiles[i]].latency_critical])
        return Metrics(
            decisions=len(keep),
            top1=float(np.mean([self.agree[i] for i in keep])) if keep else float("nan"),
            strict_top1=float(np.mean([self.strict[i] for i in keep])) if keep else float("nan"),
            mean_regret=float(regret.mean()) if keep else float("nan"),
            p95_regret=float(np.percentile(regret, 95)) if keep else float("nan"),
            critical_mean_regret=float(critical.mean()) if len(critical) else float("nan"),
            mean_cost_regret=float(np.mean([self.cost[i] for i in keep])) if keep else float("nan"),
            unplaced=self.unplaced if profile is None else 0,
        )


@dataclass(frozen=True)
class Metrics:
    decisions: int
    top1: float
    strict_top1: float
    mean_regret: float
    p95_regret: float
    critical_mean_regret: float = float("nan")
    """Mean regret over the latency-critical arriving pods."""
    mean_cost_regret: float = float("nan")
    """Mean regret of ln P99 plus the harm to latency-critical neighbours (the module docstring)."""
    unplaced: int = 0


def heuristic_policy(weights: Mapping[str, int] = DEFAULT_SCORE_WEIGHTS) -> Policy:
    """A HeuristicTier with `weights` (resource_balanced): kube-scheduler's plugins, optionally InterferenceAware."""
    tier = HeuristicTier(weights=weights)

    def choose(decision: SimDecision, pod: PodInfo, _: HeuristicScores) -> int:
        return tier.score(pod, decision.snapshot, decision.feasible).best

    return choose


def tier_policy(tier: TierDecider) -> Policy:
    """A decision-chain tier's pick; when it declines, the heuristic's (what the chain would do)."""

    def choose(decision: SimDecision, pod: PodInfo, heuristic: HeuristicScores) -> int:
        request = Request(pod, decision.snapshot, decision.feasible, heuristic, deadline=float("inf"))
        try:
            node = tier.choose(request).node
        except TierDeclinedError:
            return heuristic.best
        index = decision.snapshot.node_index(node)
        return int(np.flatnonzero(decision.feasible == index)[0])

    return choose


def decider_policy(build: Callable[[], Decider]) -> Policy:
    """A whole decision chain's pick (its own filters included; one chain per policy, built once)."""
    decider = build()

    def choose(decision: SimDecision, _: PodInfo, __: HeuristicScores) -> int | None:
        node = decider.decide(decision.pod, decision.snapshot).node
        index = decision.snapshot.node_index(node) if node is not None else None
        position = np.flatnonzero(decision.feasible == index) if index is not None else []
        return int(position[0]) if len(position) else None

    return choose


def default_policies() -> dict[str, Policy]:
    return {"heuristic": heuristic_policy(DEFAULT_SCORE_WEIGHTS), "default": heuristic_policy(KUBE_SCORE_WEIGHTS)}


def evaluate(decisions: Iterable[SimDecision], policies: Mapping[str, Policy]) -> dict[str, Tally]:
    """Each policy's tally over `decisions`, plus `random`'s expectation."""
    hint = HeuristicTier(weights=DEFAULT_SCORE_WEIGHTS)
    tallies = {name: Tally() for name in (*policies, RANDOM)}
    for decision in decisions:
        pod = PodInfo.of(decision.pod, decision.snapshot)
        heuristic = hint.score(pod, decision.snapshot, decision.feasible)
        p99 = decision.p99_ms
        best = int(np.argmin(p99))
        ratio = p99 / p99[best]
        cost = np.log(p99) + HARM_WEIGHT * np.nan_to_num(decision.harm)
        cost_regret = cost - cost.min()
        for name, policy in policies.items():
            k = policy(decision, pod, heuristic)
            if k is None:
                tallies[name].unplaced += 1
                continue
            tallies[name].add(
                float(ratio[k] - 1),
                float(ratio[k] <= 1 + AGREEMENT),
                float(k == best),
                decision.profile,
                float(cost_regret[k]),
            )
        tallies[RANDOM].add(
            float(np.mean(ratio - 1)),
            float(np.mean(ratio <= 1 + AGREEMENT)),
            1 / len(ratio),
            decision.profile,
            float(np.mean(cost_regret)),
        )
    return tallies
