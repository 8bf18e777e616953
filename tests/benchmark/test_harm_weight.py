"""The harm-weight sweep replays the chain at each `scoring.harm_weight` and tabulates what each trades."""

import argparse
import json
from pathlib import Path

import pytest

from benchmark import harm_weight


def test_weights_are_read_in_order_without_repeats_and_out_of_range_ones_refused() -> None:
    assert harm_weight.weights_arg("1, 0.5,0,1") == (1.0, 0.5, 0.0)
    for bad in ("", "one", "-0.5", "11"):
        with pytest.raises(argparse.ArgumentTypeError):
            harm_weight.weights_arg(bad)


def test_the_table_compares_each_weight_with_the_first() -> None:
    by_weight = {
        "1": {"p99_ms": 1.25, "beside_noisy": 2, "slo_violations": 3, "latency_critical": 36},
        "0": {"p99_ms": 1.5, "beside_noisy": 4, "slo_violations": 5, "latency_critical": 36},
    }
    result = {
        "weights": ["1", "0"],
        "seeds": 2,
        "requests": 20_000,
        "cells": {"burst-30s/x": {"scenario": "x", "mode": "burst", "held_out": True, "by_weight": by_weight}},
    }
    row = harm_weight.markdown(result, "python benchmark/harm_weight.py").splitlines()[-1]
    assert row == "| x | yes | burst | 1.250 | 1.500 (+20.0%) | 2 of 36 | 4 of 36 | 3 | 5 |"


def test_a_sweep_on_a_small_scenario_replays_each_weight(tmp_path: Path) -> None:
    """seed-001, one seed, both modes: each weight gets a cell per mode, with every latency-critical arrival placed;
    ignoring the neighbours (weight 0) no longer spares the pods already placed and raises the pooled P99 in at least
    one mode (by 20 % steady with the shipped weights; in a burst they are within 1 %), so the weight did reach the
    tier."""
    out = tmp_path / "sweep.json"
    code = harm_weight.main(
        ["--scenario", "seed-001", "--seeds", "1", "--weights", "1,0", "--requests", "500", "--output", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["weights"] == ["1", "0"]
    assert sorted(result["cells"]) == ["burst-30s/seed-001", "steady-30s/seed-001"]
    for row in result["cells"].values():
        assert set(row["by_weight"]) == {"1", "0"}
        assert all(cell["latency_critical"] == 12 and cell["p99_ms"] > 0 for cell in row["by_weight"].values())
    rises = [row["by_weight"]["0"]["p99_ms"] / row["by_weight"]["1"]["p99_ms"] for row in result["cells"].values()]
    assert max(rises) > 1.05


def test_an_unknown_scenario_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert harm_weight.main(["--scenario", "no-such-scenario"]) == 2
    assert "no-such-scenario" in capsys.readouterr().err


def test_a_bad_config_exits_2_with_the_key_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scoring:\n  harm_weight: -1\n")
    assert harm_weight.main(["--config", str(bad)]) == 2
    assert "harm_weight" in capsys.readouterr().err
