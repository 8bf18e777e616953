"""The transformer tier of the decision chain: predicted slowdown on every feasible node, in one forward pass.

`scoring.assemble` builds it once at start (`TransformerTier.from_settings` loads the weights, which
may raise `ModelUnavailableError`); `scoring.decide.Decider` calls `choose` from its decision workers.
For each pod: the feasible nodes become token rows (`features`), the model predicts the pod's P99
slowdown on each in one batch (`model.Scorer`), and `scores` turns that into 0..100 scores and a pick;
the decision JSON gains each node's contention regime.

It declines (`TierDeclinedError`, the heuristic tier decides that pod) when its scoring overran
`scoring.latency_budget_ms` (measured on the injected clock; KubeAttention's 45 ms), when the inputs
or outputs are not finite, and — without running at all — while its latency breaker is open:
`scoring.overrun_threshold` consecutive overruns open it for `scoring.overrun_timeout` seconds, then
one trial pod decides whether it closes (the same breaker as the LLM tier's). It never raises
anything else into the chain.
"""

import logging
from collections.abc import Callable
from typing import Protocol

import numpy as np

from cluster.clock import Clock
from cluster.config import Settings
from scoring.breaker import CircuitBreaker, State, Transition
from scoring.decide import Choice, Request, Tier, TierDeclinedError
from scoring.framework import NodeScores
from scoring.transformer import features, model, model_path, regimes, scores
from scoring.transformer.features import NodeInputs, PodInputs
from telemetry.logs import fields
from telemetry.stats import Stats

log = logging.getLogger("scheduler.transformer")


class Predictor(Protocol):
    """What the tier needs from the model (tests substitute a fake)."""

    fill: np.ndarray
    """Per feature, the value of a metric nobody in the cluster measures (the training mean)."""

    def slowdown(self, tokens: np.ndarray) -> np.ndarray:
        """[N] predicted slowdown for [N, F] tokens; ValueError on non-finite input or output."""
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
    ) -> None:
        self.predictor = predictor
        self.clock = clock
        self.budget_ms = budget_ms
        self.breaker = breaker

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock, stats: Stats | None = None) -> "TransformerTier":
        """The tier with the configured weights, budget and breaker; ModelUnavailableError when the weights fail."""
        scoring = settings.scoring
        predictor = model.Scorer.load(model_path(scoring.model_path), threads=scoring.threads)
        stats = stats or Stats()
        breaker = CircuitBreaker(
            name="transformer",
            failure_threshold=scoring.overrun_threshold,
            reset_timeout=scoring.overrun_timeout,
            clock=clock,
            listener=breaker_listener(stats),
        )
        stats.breaker("transformer", State.CLOSED.value, tripped=False)
        return cls(predictor=predictor, clock=clock, budget_ms=scoring.latency_budget_ms, breaker=breaker)

    def __repr__(self) -> str:
        return f"TransformerTier(budget_ms={self.budget_ms:g}, breaker={self.breaker!r})"

    def choose(self, request: Request) -> Choice:
        """The node with the lowest predicted slowdown (see `scores`), or TierDeclinedError."""
        if self.clock.monotonic() >= request.deadline:
            raise TierDeclinedError("the pod's decision deadline had passed before the transformer tier ran")
        permit = self.breaker.acquire() if self.breaker is not None else None
        if self.breaker is not None and permit is None:
            wait = self.breaker.reopens_in()
            detail = f" (trial in {wait:.0f}s)" if wait else " (trial in flight)"
            raise TierDeclinedError(f"latency breaker open after repeated budget overruns{detail}")
        started = self.clock.monotonic()
        try:
            choice = self._score(request)
        except ValueError as exc:
            if permit is not None and self.breaker is not None:
                self.breaker.release(permit)
            raise TierDeclinedError(f"model input or output rejected: {exc}") from exc
        elapsed_ms = (self.clock.monotonic() - started) * 1000
        overrun = elapsed_ms > self.budget_ms
        if permit is not None and self.breaker is not None:
            self.breaker.record(permit, ok=not overrun)
        if overrun:
            raise TierDeclinedError(f"scoring took {elapsed_ms:.1f} ms, over the {self.budget_ms:g} ms budget")
        return choice

    def _score(self, request: Request) -> Choice:
        snapshot, feasible = request.snapshot, request.feasible
        nodes = NodeInputs.of(snapshot, feasible)
        pod = PodInputs.of(request.pod)
        slowdown = self.predictor.slowdown(features.tokens(nodes, pod, self.predictor.fill))
        if slowdown.shape != (len(feasible),):
            raise ValueError(f"{slowdown.shape} predictions for {len(feasible)} nodes")
        own = scores.score(slowdown)
        final = np.minimum(own, scores.noisy_cap(pod.noisy, nodes.declared[:, 0, :]))
        names = snapshot.names
        best = scores.pick(final, request.heuristic.scores, lambda k: names[feasible[k]])
        labels = snapshot.telemetry.derived(regimes.regimes)
        chosen = int(feasible[best])
        reason = scores.reason(
            slowdown=slowdown,
            best=best,
            regime=str(labels[chosen]),
            capped=bool((final < own).any()),
            noisy=pod.noisy,
        )
        return Choice(
            node=names[chosen],
            reason=reason,
            scores=NodeScores(names, feasible, final, decimals=1),
            extra={
                "regimes": {names[i]: labels[i] for i in feasible.tolist()},
                "predicted_slowdown": round(float(slowdown[best]), 3),
            },
        )


def breaker_listener(stats: Stats) -> Callable[[Transition], None]:
    """Logs each state change of the latency breaker and feeds the state gauge and the trip counter."""

    def changed(transition: Transition) -> None:
        stats.breaker("transformer", transition.new.value, tripped=transition.new is State.OPEN)
        level = logging.WARNING if transition.new is State.OPEN else logging.INFO
        log.log(
            level,
            "transformer latency breaker %s -> %s",
            transition.old.value,
            transition.new.value,
            extra=fields(event="breaker", tier="transformer", state=transition.new.value, failures=transition.failures),
        )

    return changed
