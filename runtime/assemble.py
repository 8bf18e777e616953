"""Builds the decision chain from settings: which tiers run, in which order, with what fallback.

The composition root shared by the scheduler loop and the offline `decide` command, so both decide
a pod the same way. `auto` is the production chain (LLM → transformer → heuristic) with the tiers
that are available, the transformer only when the evidence shipped with its weights says it has earned
its place in front of the heuristic (`scoring.transformer.evidence`); naming one tier forces it alone,
with no fallback, for inspection. The scheduler asks for `background=True`: the transformer tier then
loads on its own thread while the informers list (`scoring.transformer.loading`); `decide` and forced
tiers load it before returning.
"""

import logging
from typing import Literal

from cluster.clock import Clock, SystemClock
from cluster.config import DEFAULT_SCORE_WEIGHTS, Settings
from cluster.errors import UserError
from llm.availability import unavailable_reason
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier, Strategy
from scoring.tiers import TierDecider
from scoring.transformer import ModelUnavailableError, evidence, missing, model_path
from scoring.transformer.loading import BackgroundTier
from telemetry.stats import Stats

log = logging.getLogger("scheduler")

TierChoice = Literal["auto", "llm", "transformer", "heuristic"]


class TierUnavailableError(UserError, RuntimeError):
    """A forced tier cannot run at all (for example the LLM without a token or endpoint)."""


def build_decider(
    settings: Settings,
    *,
    tier: TierChoice = "auto",
    strategy: str | None = None,
    clock: Clock | None = None,
    stats: Stats | None = None,
    background: bool = False,
    every_node: bool = False,
) -> Decider:
    """The chain for `tier`; `stats` receives the tiers' counters (the scheduler loop passes its own);
    `background` loads the transformer tier of the `auto` chain on a thread of its own; `every_node` scores
    every feasible node whatever `scoring.percentage_of_nodes_to_score` says (`decide`, CONTRACTS §4)."""
    clock = clock or SystemClock()
    left_out = sorted(set(DEFAULT_SCORE_WEIGHTS) - set(settings.scoring.weights))
    if left_out:
        log.warning(
            "scoring.weights lists no weight for %s: %s not score (a weights map replaces the whole default)",
            ", ".join(left_out),
            "it does" if len(left_out) == 1 else "they do",
        )
    heuristic = HeuristicTier(
        strategy=Strategy(strategy or settings.fallback.strategy), weights=settings.scoring.weights
    )
    tiers: list[TierDecider] = []
    if tier in ("auto", "llm"):
        llm_unavailable = unavailable_reason(settings)
        if llm_unavailable is None:
            from llm.tier import LLMTier  # noqa: PLC0415 - loads huggingface_hub only when the tier runs

            tiers.append(LLMTier.from_settings(settings, clock=clock, stats=stats))
        elif tier == "llm":
            raise TierUnavailableError(llm_unavailable)
    if tier in ("auto", "transformer"):
        transformer = _transformer(
            settings, clock=clock, stats=stats, forced=tier == "transformer", background=background and tier == "auto"
        )
        if transformer is not None:
            tiers.append(transformer)
    return Decider(
        heuristic=heuristic,
        tiers=tiers,
        clock=clock,
        deadline_seconds=settings.llm.deadline_seconds,
        fallback=tier == "auto",
        percentage_of_nodes_to_score=100 if every_node else settings.scoring.percentage_of_nodes_to_score,
    )


def _transformer(
    settings: Settings, *, clock: Clock, stats: Stats | None, forced: bool, background: bool
) -> TierDecider | None:
    """The transformer tier; when its weights cannot be used, TierUnavailableError if forced, else None and one
    warning (the chain goes on without it); unforced, None when its held-out evidence does not put it first.
    torch is imported only when the weights file exists; in the background, a checkpoint that exists but cannot
    be read is found (and warned about) by the load."""
    try:
        path = model_path(settings.scoring.model_path)
        if not path.is_file():
            raise missing(path)
        if not forced:
            earned = evidence.load_verdict(path)
            if not earned.lead:
                log.info("transformer tier left out of the chain, the heuristic tier leads: %s", earned.reason)
                return None

        def load() -> TierDecider:
            from scoring.transformer.tier import TransformerTier  # noqa: PLC0415 - torch only when the tier runs

            return TransformerTier.from_settings(settings, clock=clock, stats=stats)

        if background:
            return BackgroundTier(load, clock=clock)
        return load()
    except ModelUnavailableError as exc:
        if forced:
            raise TierUnavailableError(str(exc)) from exc
        log.warning("transformer tier disabled: %s; deciding without it", exc)
        return None
