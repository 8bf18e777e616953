"""The chain-order rule: the transformer leads the heuristic only on evidence, for these very weights, of no loss."""

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from cluster.config import Settings
from runtime.assemble import build_decider
from scoring.tiers import Tier
from scoring.transformer import evidence
from tests.scoring.transformer.helpers import QUIET, THRASHED, latency_critical, shipped, snapshot, state

SHA = "ab" * 32


def _evidence(regrets: dict[str, tuple[float | None, float | None]], *, sha: str = SHA) -> dict[str, Any]:
    """An evidence object with the transformer's and the heuristic's chain-order metric per family."""
    return {
        "model_sha256": sha,
        "families": {
            family: {"transformer": {evidence.METRIC: ours}, "heuristic": {evidence.METRIC: theirs}, "loadaware": {}}
            for family, (ours, theirs) in regrets.items()
        },
    }


@pytest.mark.parametrize(
    ("body", "lead", "why"),
    [
        pytest.param(
            _evidence({"near-full": (0.10, 0.40), "counter-gaps": (0.20, 0.25)}),
            True,
            "loses to the heuristic tier on no held-out family",
            id="a transformer that wins every family leads",
        ),
        pytest.param(
            _evidence({"near-full": (0.10, 0.40), "counter-gaps": (0.40, 0.30)}),
            False,
            "counter-gaps (0.400 vs 0.300)",
            id="one lost family is enough to put the heuristic first",
        ),
        pytest.param(
            _evidence({"near-full": (0.3004, 0.3)}),
            True,
            "no held-out family",
            id="a tie within a tenth of a percent is not a loss",
        ),
        pytest.param(
            _evidence({"near-full": (0.1, 0.4)}, sha="cd" * 32),
            False,
            "for other weights",
            id="evidence for other weights is no evidence",
        ),
        pytest.param(None, False, "no held-out evidence", id="no evidence file means the heuristic leads"),
        pytest.param(_evidence({}), False, "names no family", id="evidence naming no family is no evidence"),
        pytest.param(
            _evidence({"near-full": (float("nan"), 0.4), "replica-burst": (None, 0.2)}),
            False,
            f"lacks both tiers' {evidence.METRIC} on near-full, replica-burst",
            id="an unmeasured family does not count as a win",
        ),
    ],
)
def test_the_transformer_leads_only_without_a_loss_on_any_held_out_family(body, lead: bool, why: str) -> None:
    earned = evidence.verdict(body, SHA)
    assert earned.lead is lead
    assert why in earned.reason


def _weights_with(tmp_path: Path, body: Any) -> Path:
    """A copy of the shipped weights with `body` as its evidence file (a callable gets the weights' digest)."""
    weights = tmp_path / "model.pt"
    shutil.copyfile(shipped(), weights)
    text = body if isinstance(body, str) else json.dumps(body(evidence.digest(weights)))
    evidence.evidence_path(weights).write_text(text)
    return weights


def _auto(weights: Path) -> list[Tier]:
    settings = Settings.model_validate({"scoring": {"model_path": str(weights)}})
    return [t.tier for t in build_decider(settings).tiers]


@pytest.mark.parametrize(
    ("body", "tiers"),
    [
        pytest.param(
            lambda sha: _evidence({"near-full": (0.1, 0.4), "heterogeneous": (0.2, 0.3)}, sha=sha),
            [Tier.TRANSFORMER],
            id="weights that won every held-out family go in front of the heuristic",
        ),
        pytest.param(
            lambda sha: _evidence({"near-full": (0.1, 0.4), "heterogeneous": (0.5, 0.3)}, sha=sha),
            [],
            id="weights that lost a held-out family are left out of the chain",
        ),
        pytest.param(
            lambda sha: _evidence({"near-full": (0.1, 0.4)}, sha="0" * 64),
            [],
            id="evidence written for earlier weights does not vouch for retrained ones",
        ),
        pytest.param("{not json", [], id="an unreadable evidence file counts as none"),
        pytest.param("[1, 2]", [], id="an evidence file that is not an object counts as none"),
    ],
)
def test_the_production_chain_orders_its_tiers_by_the_evidence_beside_the_weights(
    tmp_path: Path, caplog, body, tiers: list[Tier]
) -> None:
    caplog.set_level(logging.INFO)
    assert _auto(_weights_with(tmp_path, body)) == tiers
    left_out = [r for r in caplog.records if "left out of the chain" in r.getMessage()]
    assert len(left_out) == (0 if tiers else 1)


def test_a_left_out_transformer_still_runs_when_forced_and_the_heuristic_decides_in_auto(tmp_path: Path) -> None:
    weights = _weights_with(tmp_path, lambda sha: _evidence({"near-full": (0.9, 0.1)}, sha=sha))
    settings = Settings.model_validate({"scoring": {"model_path": str(weights)}})
    cluster = snapshot([state("a", **THRASHED), state("b", **QUIET)])
    decision = build_decider(settings).decide(latency_critical(), cluster)
    assert (decision.tier, decision.node) == (Tier.HEURISTIC, "b")
    forced = build_decider(settings, tier="transformer").decide(latency_critical(), cluster)
    assert (forced.tier, forced.node) == (Tier.TRANSFORMER, "b")


def test_the_shipped_evidence_is_for_the_shipped_weights() -> None:
    """`python -m training.evaluate` wrote it for these weights; a retrain without it would silently demote them."""
    body = json.loads(evidence.evidence_path(shipped()).read_text())
    assert body["model_sha256"] == evidence.digest(shipped())
    assert set(body["families"]) >= {"cpu-antagonists", "near-full", "replica-burst", "counter-gaps"}
