"""Builds the decision chain from settings: which tiers run, in which order, with what fallback.

The composition root shared by the scheduler loop and the offline `decide` command, so both decide
a pod the same way. `auto` is the production chain (LLM → transformer → heuristic) with the tiers
that are available; naming one tier forces it alone, with no fallback, for inspection.
"""

from typing import Literal

from cluster.clock import Clock
from cluster.config import Settings
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier, Strategy

TierChoice = Literal["auto", "llm", "transformer", "heuristic"]


class TierUnavailableError(RuntimeError):
    """A forced tier cannot run at all (for example the LLM without a token or endpoint)."""


def build_decider(
    settings: Settings, *, tier: TierChoice = "auto", strategy: str | None = None, clock: Clock | None = None
) -> Decider:
    heuristic = HeuristicTier(
        strategy=Strategy(strategy or settings.fallback.strategy), weights=settings.scoring.weights
    )
    if tier in ("llm", "transformer"):
        raise TierUnavailableError(f"the {tier} tier is not available in this build")
    return Decider(heuristic=heuristic, tiers=(), clock=clock, deadline_seconds=settings.llm.deadline_seconds)
