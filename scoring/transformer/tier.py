"""The transformer tier of the decision chain: predicted slowdown on every feasible node, in one forward pass.

`runtime.assemble` builds it once at start (`TransformerTier.from_settings` loads the weights, which
may raise `ModelUnavailableError`); `scoring.decide.Decider` calls `choose` from its decision workers.
For each pod: the feasible nodes become token rows (`features`), the model predicts the pod's P99 (relative
to the reference core) and its harm to latency-critical neighbours on each in one batch (`model.Scorer`), and
`scores` turns both into 0..100 scores and a pick;
the decision JSON gains each node's contention regime.

It declines (`TierDeclinedError`, the heuristic tier decides that pod) when its scoring overran
`scoring.latency_budget_ms` (measured on the injected clock; KubeAttention's 45 ms), when the inputs
or outputs are not finite, and — without running at all — while its latency breaker is open:
`scoring.overrun_threshold` consecutive overruns open it for `scoring.overrun_timeout` seconds, then
one trial pod decides whether it closes (the same breaker as the LLM tier's). It never raises
anything else into the chain.
"""

import logging
from collections.abc import Iterator, KeysView, Mapping
from functools import partial
from typing import Protocol

import numpy as np

from cluster.clock import Clock
from cluster.config import Settings
from cluster.snapshot import Snapshot
from scoring import regimes, slo
from scoring.breaker import CircuitBreaker, State, reporting_listener
from scoring.framework import NodeScores, NodeValues
from scoring.tiers import Choice, DeclineCause, Request, Tier, TierDeclinedError
from scoring.transformer import features, model, model_path, scores
from scoring.transformer.features import NodeInputs, PodInputs
from telemetry.stats import Stats

log = logging.getLogger("scheduler.transformer")


class Predictor(Protocol):
    """What the tier needs from the model (tests substitute a fake)."""

    fill: np.ndarray
    """Per feature, the value of a metric nobody in the cluster measures (the training mean)."""

    def predict(self, tokens: np.ndarray) -> model.Predicted:
        """Both outputs for [N, F] tokens (`model.Predicted`); ValueError on non-finite input or output."""
        ...


class TransformerTier:
    """The `TierDecider` for `Tier.TRANSFORMER`; thread-safe."""

    tier = Tier.TRANSFORMER

    def __init__(
        self,
        *,
        predictor: Predictor,
        clock: Clock,
        budget_ms: float = 45.0,
        breaker: CircuitBreaker | None = None,
        burst_log_slope: float = scores.BURST_LOG_SLOPE,
        harm_weight: float = scores.HARM_WEIGHT,
    ) -> None:
        self.predictor = predictor
        self.clock = clock
        self.budget_ms = budget_ms
        self.breaker = breaker
        self.burst_log_slope = burst_log_slope
        self.harm_weight = harm_weight

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock, stats: Stats | None = None) -> "TransformerTier":
        """The tier with the configured weights, budget, breaker, burst calibration and harm weight;
        ModelUnavailableError when the weights fail."""
        scoring = settings.scoring
        predictor = model.Scorer.load(model_path(scoring.model_path), threads=scoring.threads)
        stats = stats or Stats()
        breaker = CircuitBreaker(
            name="transformer",
            failure_threshold=scoring.overrun_threshold,
            reset_timeout=scoring.overrun_timeout,
            clock=clock,
            listener=reporting_listener(stats, "transformer", "transformer latency breaker", log),
        )
        stats.breaker("transformer", State.CLOSED.value, tripped=False)
        slope = scores.BURST_LOG_SLOPE if scoring.burst_log_slope is None else scoring.burst_log_slope
        return cls(
            predictor=predictor,
            clock=clock,
            budget_ms=scoring.latency_budget_ms,
            breaker=breaker,
            burst_log_slope=slope,
            harm_weight=scores.HARM_WEIGHT if scoring.harm_weight is None else scoring.harm_weight,
        )

    def __repr__(self) -> str:
        return f"TransformerTier(budget_ms={self.budget_ms:g}, breaker={self.breaker!r})"

    def choose(self, request: Request) -> Choice:
        """The node with the lowest predicted slowdown (see `scores`), or TierDeclinedError."""
        if self.clock.monotonic() >= request.deadline:
            raise TierDeclinedError(
                DeclineCause.DEADLINE, "the pod's decision deadline had passed before the transformer tier ran"
            )
        permit = self.breaker.acquire() if self.breaker is not None else None
        if self.breaker is not None and permit is None:
            wait = self.breaker.reopens_in()
            trial = f"trial in {wait:.0f}s" if wait else "trial in flight"
            raise TierDeclinedError(
                DeclineCause.BREAKER_OPEN, f"latency breaker open after repeated budget overruns ({trial})"
            )
        started = self.clock.monotonic()
        try:
            choice = self._score(request)
        except ValueError as exc:
            if permit is not None and self.breaker is not None:
                self.breaker.release(permit)
            raise TierDeclinedError(DeclineCause.INVALID, f"model input or output rejected: {exc}") from exc
        elapsed_ms = (self.clock.monotonic() - started) * 1000
        overrun = elapsed_ms > self.budget_ms
        if permit is not None and self.breaker is not None:
            self.breaker.record(permit, ok=not overrun)
        if overrun:
            raise TierDeclinedError(
                DeclineCause.OVERRUN, f"scoring took {elapsed_ms:.1f} ms, over the {self.budget_ms:g} ms budget"
            )
        return choice

    def _score(self, request: Request) -> Choice:
        snapshot, feasible = request.snapshot, request.feasible
        nodes = NodeInputs.of(snapshot, feasible)
        pod = PodInputs.of(request.pod)
        predicted = self.predictor.predict(features.tokens(nodes, pod, self.predictor.fill))
        if predicted.relative_p99.shape != (len(feasible),) or predicted.harm.shape != (len(feasible),):
            raise ValueError(f"{predicted.relative_p99.shape} predictions for {len(feasible)} nodes")
        fresh = snapshot.fresh.pods[feasible] if snapshot.fresh is not None else np.zeros(len(feasible))
        relative_p99 = scores.burst_calibrated(predicted.relative_p99, fresh, slope=self.burst_log_slope)
        assessed = scores.assess(relative_p99, predicted.harm, nodes, pod, harm_weight=self.harm_weight)
        final = scores.with_preference(assessed.final, request.heuristic.preference)
        names = snapshot.names

        def name_of(k: int) -> str:
            return names[feasible[k]]

        best = scores.pick(final, request.heuristic.scores, name_of)
        preferred = final is not assessed.final and best != scores.pick(
            assessed.final, request.heuristic.scores, name_of
        )
        verdict = slo.apply(request.pod.needs.p99_target_ms, assessed.slowdown, final, best)
        best = verdict.best if verdict is not None else best
        chosen = int(feasible[best])
        regime = str(regimes.regimes(snapshot.telemetry.metrics[[chosen]])[0])
        reason = scores.reason(
            slowdown=assessed.slowdown,
            best=best,
            regime=regime,
            capped=bool((assessed.final < assessed.own).any()),
            noisy=pod.noisy,
            harm=assessed.harm,
            preferred=preferred and (verdict is None or verdict.note is None),
        )
        return Choice(
            node=names[chosen],
            reason=slo.reason_with(reason, verdict),
            slo_unmet=verdict is not None and verdict.unmet,
            scores=Scores(names, feasible, final, snapshot.table.index),
            extra={
                "regime": regime,
                "regimes": NodeValues(names, feasible, partial(_labels, snapshot, feasible), decimals=None),
                "predicted_slowdown": round(float(assessed.slowdown[best]), 3),
                "predicted_harm": round(float(assessed.harm[best]), 3),
            },
        )


def _labels(snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
    """Regime per feasible node (`decide --json` shows them), labelled only when read: the scheduler loop never
    reads them, and labelling every node of a 1,000-node cluster costs half a millisecond a decision (the
    estimate of the pods placed since telemetry makes every decision's telemetry new)."""
    return snapshot.telemetry.derived(regimes.regimes)[feasible]


class Scores(Mapping[str, float]):
    """Feasible nodes' scores by name, lazy like `NodeScores`, and one node's score without building the mapping.

    The scheduler loop reads only the chosen node's score; `decide --json` reads them all (then the whole
    mapping is built once, by `NodeScores`).
    """

    __slots__ = ("_all", "_feasible", "_index", "_values", "_whole")

    def __init__(self, names: tuple[str, ...], feasible: np.ndarray, values: np.ndarray, index: Mapping[str, int]):
        self._feasible = feasible
        self._index = index
        self._values = np.round(values, 1)
        self._whole = NodeScores(names, feasible, self._values, decimals=None)
        self._all = False

    def __getitem__(self, node: str) -> float:
        if self._all:
            return self._whole[node]
        position = np.flatnonzero(self._feasible == self._index.get(node, -1))
        if not len(position):
            raise KeyError(node)
        return float(self._values[position[0]])

    def __iter__(self) -> Iterator[str]:
        self._all = True
        return iter(self._whole)

    def __len__(self) -> int:
        return len(self._feasible)

    def keys(self) -> KeysView[str]:
        self._all = True
        return self._whole.keys()
