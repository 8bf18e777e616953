"""The held-out family replays behind the chain-order evidence, and the evidence file the chain reads back."""

import math
from pathlib import Path

import pytest

from cluster.config import Settings
from runtime.assemble import build_decider
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.tiers import Choice, Request, Tier
from scoring.transformer import evidence
from sim import scenario as scenarios
from tests.scoring.transformer.helpers import shipped
from training.evaluate import families


class FirstNode:
    """A tier that stacks every pod on the first feasible node, blind to everything."""

    tier = Tier.TRANSFORMER

    def choose(self, request: Request) -> Choice:
        return Choice(request.names[0], "first", {name: 0.0 for name in request.names})


@pytest.mark.parametrize("mode", [pytest.param(m, id=f"{m} arrivals") for m in families.MODES])
def test_every_arrival_is_priced_against_the_oracle_and_none_beats_it(mode: str) -> None:
    scene = scenarios.load("near-full")
    outcomes = families.trajectory(scene, Decider(heuristic=HeuristicTier()), mode=mode, seed=0).outcomes
    assert len(outcomes) == len(scene.arrivals)
    regrets = [o[0] for o in outcomes if o is not None]
    assert regrets and all(r >= -1e-9 for r in regrets)
    assert any(critical for _, critical in filter(None, outcomes))


def test_a_policy_that_stacks_blindly_shows_a_higher_regret_than_the_heuristic() -> None:
    scene = {"near-full": [scenarios.load("near-full")]}
    table = families.evaluate(
        {
            "stacker": lambda: Decider(heuristic=HeuristicTier(), tiers=[FirstNode()]),
            "heuristic": lambda: Decider(heuristic=HeuristicTier()),
        },
        families=scene,
        seeds=(0,),
    )
    assert table["near-full"]["stacker"].mean_regret > table["near-full"]["heuristic"].mean_regret
    assert table["near-full"]["stacker"].critical_p99_ms > table["near-full"]["heuristic"].critical_p99_ms


def _metrics(regret: float) -> families.FamilyMetrics:
    return families.FamilyMetrics(decisions=10, mean_regret=regret, p95_regret=regret, critical_mean_regret=regret,
                                  unplaced=0, critical_p99_ms=regret)  # fmt: skip


@pytest.mark.parametrize(
    ("transformer", "heuristic", "tiers"),
    [
        pytest.param(0.10, 0.30, [Tier.TRANSFORMER], id="written evidence of a win puts the transformer first"),
        pytest.param(0.50, 0.30, [], id="written evidence of a loss leaves it out"),
        pytest.param(math.nan, 0.30, [], id="a family the transformer was not measured on is no win"),
    ],
)
def test_the_evidence_written_beside_the_weights_is_what_the_chain_reads(
    tmp_path: Path, transformer: float, heuristic: float, tiers: list[Tier]
) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(shipped().read_bytes())
    table = {"near-full": {"transformer": _metrics(transformer), "heuristic": _metrics(heuristic)}}
    written = families.write_evidence(weights, table)
    assert written == evidence.evidence_path(weights)
    settings = Settings.model_validate({"scoring": {"model_path": str(weights)}})
    assert [t.tier for t in build_decider(settings).tiers] == tiers
