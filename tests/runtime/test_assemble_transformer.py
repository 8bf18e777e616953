"""The transformer in the chain: on in `auto` when its weights load, alone when forced, never a crash without them."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.config import Settings
from runtime.assemble import TierUnavailableError, build_decider
from scoring.tiers import Tier
from scoring.transformer import PROJECT_ROOT, evidence, scores
from scoring.transformer.tier import TransformerTier
from telemetry.stats import Stats
from tests.scoring.transformer.helpers import QUIET, THRASHED, latency_critical, shipped, snapshot, state, vouched


def with_weights(path: Path | str) -> Settings:
    return Settings.model_validate({"scoring": {"model_path": str(path)}})


def test_auto_without_an_llm_decides_with_a_transformer_whose_evidence_puts_it_first(tmp_path: Path) -> None:
    weights = vouched(tmp_path)
    stats = Stats()
    decider = build_decider(with_weights(weights), stats=stats)
    assert [t.tier for t in decider.tiers] == [Tier.TRANSFORMER]
    assert decider.fallback is True
    decision = decider.decide(latency_critical(), snapshot([state("a", **THRASHED), state("b", **QUIET)]))
    assert (decision.tier, decision.node) == (Tier.TRANSFORMER, "b")
    assert decision.extra["regimes"] == {"a": "llc-bound", "b": "quiet"}


def test_forcing_the_transformer_runs_it_alone_with_the_configured_budget() -> None:
    settings = Settings.model_validate(
        {"scoring": {"model_path": str(shipped()), "latency_budget_ms": 12, "overrun_threshold": 2}}
    )
    decider = build_decider(settings, tier="transformer")
    (tier,) = decider.tiers
    assert isinstance(tier, TransformerTier)
    assert (tier.budget_ms, tier.breaker.policy.failure_threshold) == (12, 2)
    assert decider.fallback is False


@pytest.mark.parametrize(
    ("configured", "slope"),
    [
        pytest.param(None, scores.BURST_LOG_SLOPE, id="unset: the fitted slope"),
        pytest.param(0.0, 0.0, id="0: the calibration off"),
        pytest.param(0.1, 0.1, id="a slope of the operator's"),
    ],
)
def test_the_burst_calibration_is_configured(configured: float | None, slope: float) -> None:
    settings = Settings.model_validate({"scoring": {"model_path": str(shipped()), "burst_log_slope": configured}})
    (tier,) = build_decider(settings, tier="transformer").tiers
    assert isinstance(tier, TransformerTier)
    assert tier.burst_log_slope == slope


def test_the_harm_weight_is_configured_and_unset_is_the_trained_one() -> None:
    default = build_decider(Settings.model_validate({"scoring": {"model_path": str(shipped())}}), tier="transformer")
    configured = Settings.model_validate({"scoring": {"model_path": str(shipped()), "harm_weight": 0.5}})
    (tier,) = build_decider(configured, tier="transformer").tiers
    assert isinstance(tier, TransformerTier) and tier.harm_weight == 0.5
    assert [t.harm_weight for t in default.tiers if isinstance(t, TransformerTier)] == [scores.HARM_WEIGHT]


@pytest.mark.parametrize("weight", [-0.5, 11.0])
def test_a_harm_weight_out_of_range_is_refused_with_the_key_named(weight: float) -> None:
    with pytest.raises(ValueError, match="harm_weight"):
        Settings.model_validate({"scoring": {"harm_weight": weight}})


def test_a_negative_burst_slope_is_refused_with_the_key_named() -> None:
    with pytest.raises(ValueError, match="burst_log_slope"):
        Settings.model_validate({"scoring": {"burst_log_slope": -0.1}})


def _corrupt(path: Path) -> Path:
    """Weights that cannot be read, with evidence that would put them first (so that `auto` tries to load them)."""
    path.write_bytes(b"PK\x03\x04 not really")
    won = {"transformer": {evidence.METRIC: 0.1}, "heuristic": {evidence.METRIC: 0.2}}
    body = {"model_sha256": evidence.digest(path), "families": {"near-full": won}}
    evidence.evidence_path(path).write_text(json.dumps(body))
    return path


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        pytest.param(lambda tmp: tmp / "absent.pt", "no such file", id="missing weights"),
        pytest.param(lambda tmp: _corrupt(tmp / "model.pt"), "unreadable", id="corrupt weights"),
    ],
)
def test_unusable_weights_leave_the_chain_without_the_transformer(tmp_path: Path, caplog, weights, message) -> None:
    caplog.set_level(logging.WARNING)
    path = weights(tmp_path)
    decider = build_decider(with_weights(path))
    assert decider.tiers == ()
    (warning,) = [r for r in caplog.records if "transformer tier disabled" in r.getMessage()]
    assert message in warning.getMessage()
    decision = decider.decide(latency_critical(), snapshot([state("a", **THRASHED), state("b", **QUIET)]))
    assert (decision.tier, decision.node) == (Tier.HEURISTIC, "b")
    with pytest.raises(TierUnavailableError, match=message):
        build_decider(with_weights(path), tier="transformer")


def test_a_relative_model_path_is_found_from_any_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    decider = build_decider(Settings(), tier="transformer")
    assert [t.tier for t in decider.tiers] == [Tier.TRANSFORMER]


def test_torch_is_not_imported_unless_the_transformer_runs() -> None:
    code = (
        "import sys; from cluster.config import Settings; from runtime.assemble import build_decider; "
        "build_decider(Settings(), tier='heuristic'); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
