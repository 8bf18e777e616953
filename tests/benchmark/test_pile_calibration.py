"""The pile calibration measures every candidate of the transformer's burst decisions against the simulator."""

import numpy as np
import pytest

from benchmark import pile_calibration
from benchmark.pile_calibration import Columns
from cluster.config import Settings
from scoring.transformer.scores import TRAINED_FRESH_PODS
from tests.scoring.transformer.helpers import shipped


def test_the_slope_is_fitted_beyond_the_trained_range_with_an_intercept() -> None:
    pods = np.arange(16.0)
    error = 0.3 + 0.05 * np.maximum(pods - TRAINED_FRESH_PODS, 0.0)
    assert pile_calibration.slope(pods, error) == pytest.approx(0.05)
    assert np.isnan(pile_calibration.slope(np.full(5, float(TRAINED_FRESH_PODS)), np.zeros(5)))


def test_the_summary_bins_candidates_by_pile_and_fits_the_chosen_nodes_apart() -> None:
    fresh = np.array([0, 0, 2, 6, 6, 12, 12, 20], dtype=float)
    predicted = np.ones(8)
    columns = Columns(
        fresh=fresh,
        predicted_p99=predicted,
        simulated_p99=np.exp(0.02 * np.maximum(fresh - TRAINED_FRESH_PODS, 0.0)),
        simulated_slowdown=np.exp(0.04 * np.maximum(fresh - TRAINED_FRESH_PODS, 0.0)),
        predicted_harm=np.full(8, 0.1),
        simulated_harm=0.1 + 0.08 * np.maximum(fresh - TRAINED_FRESH_PODS, 0.0),
        chosen=np.array([True, False, True, True, False, True, False, True]),
        critical=np.array([True, True, False, True, True, True, True, True]),
    )
    result = pile_calibration.summary(columns)
    assert (result["candidates"], result["decisions"], result["beyond"]) == (8, 5, 5)
    assert [(b["pods"], b["candidates"]) for b in result["bins"]] == [("0", 2), ("1-2", 1), ("5-6", 2), ("10-14", 2),
                                                                        ("15+", 1)]  # fmt: skip
    assert result["every_candidate"]["log_p99_slope"] == pytest.approx(0.02, abs=1e-4)
    assert result["every_candidate"]["harm_slope"] == pytest.approx(0.08, abs=1e-4)
    assert result["chosen_latency_critical_speed_left_out"] == {"decisions": 4, "log_p99_slope": pytest.approx(0.04)}
    assert result["bins"][-1]["simulated_harm"] == pytest.approx(0.1 + 0.08 * 16, abs=1e-3)


def test_a_small_burst_is_traced_decision_by_decision() -> None:
    settings = Settings.model_validate({"scoring": {"model_path": str(shipped())}})
    scenario = pile_calibration.cluster(8, 12, 5)
    traced = pile_calibration.Traced(settings)
    placement, _ = pile_calibration.replay.replay(scenario, settings, traced, seed=5)
    assert traced.tracer is not None
    decisions = traced.tracer.decisions
    assert decisions and set(decisions) <= set(placement.bound)
    for key, recorded in decisions.items():
        assert recorded.chosen == placement.bound[key]
        assert len(recorded.names) == len(recorded.relative_p99) == len(recorded.harm) == len(recorded.fresh)
    rows = list(pile_calibration.truth(scenario, placement.order, placement.bound, decisions))
    assert len(rows) == len(decisions)
    assert all(np.all(r["harm"] >= 0) and np.all(r["relative_p99"] > 0) for r in rows)
    result = pile_calibration.summary(Columns.of(rows))
    assert result["decisions"] == len(decisions)
    assert result["candidates"] == sum(len(r.names) for r in decisions.values())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cluster", "40:x:1"], "is not NODES:ARRIVALS:FIRST_SEED"),
        (["--cluster", "0:120:1"], "nodes and arrivals must be positive"),
        (["--seeds", "0"], "at least 1"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        pile_calibration.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_config_is_refused_with_its_error(tmp_path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("scoring:\n  burst_log_slope: -1\n")
    assert pile_calibration.main(["--config", str(bad), "--seeds", "1"]) == 2
    assert "burst_log_slope" in capsys.readouterr().err
