"""Builds the decision chain from settings: which tiers run, in which order, with what fallback.

The composition root shared by the scheduler loop and the offline `decide` command, so both decide
a pod the same way. `auto` is the production chain (LLM → transformer → heuristic) with the tiers
that are available; naming one tier forces it alone, with no fallback, for inspection.
"""

from typing import Literal

from cluster.clock import Clock, SystemClock
from cluster.config import Settings
from cluster.errors import UserError
from llm.availability import unavailable_reason
from scoring.decide import Decider, TierDecider
from scoring.heuristic import HeuristicTier, Strategy
from telemetry.stats import Stats

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
) -> Decider:
    """The chain for `tier`; `stats` receives the LLM tier's counters (the scheduler loop passes its own)."""
    clock = clock or SystemClock()
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
    if tier == "transformer":
        raise TierUnavailableError(f"the {tier} tier is not available in this build")
    return Decider(
        heuristic=heuristic,
        tiers=tiers,
        clock=clock,
        deadline_seconds=settings.llm.deadline_seconds,
        fallback=tier == "auto",
    )
