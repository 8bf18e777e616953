"""User-supplied training inputs (collector JSONL, the measurements CSV) that are malformed end in a skip count or
a one-line CountersError naming the file and row, never in a traceback in the middle of `python -m training.train`."""

import copy
import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scoring import collector
from scoring.transformer import features
from tests.training.test_pairs import ROW
from training import counters, train
from training import fit as training

MISSING = object()
"""A field deleted from the record."""


def decision(**changes: Any) -> dict[str, Any]:
    """A valid two-candidate decision record as the collector writes it, with `changes` at dotted paths."""
    record: dict[str, Any] = {
        "kind": "decision", "version": collector.RECORD_VERSION, "feature_version": features.FEATURE_VERSION,
        "time": "2026-01-01T00:00:00Z", "pod": "default/web", "uid": "u1", "tier": "heuristic", "node": "n",
        "score": 1.0, "candidates": ["n", "m"], "feasible": 2,
        "pod_inputs": {"class": "latency-critical", "sensitivity": [True, False, False, False], "noisy": [False] * 4,
                       "cpu_millicores": 500.0, "memory_bytes": 2.0**29},
        "nodes": {"telemetry": [[0.5] * features.TELEMETRY_WIDTH] * 2, "pressure": [[0.1] * 4] * 2,
                  "allocatable": [[4000.0, 2.0**33]] * 2, "requested": [[1000.0, 2.0**30]] * 2, "pods": [3, 5],
                  "max_pods": [110, 110], "declared": [[[0, 0, 0, 0], [1, 0, 0, 0]]] * 2},
    }  # fmt: skip
    record = copy.deepcopy(record)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = record
        for key in parents:
            target = target[key]
        if value is MISSING:
            del target[leaf]
        else:
            target[leaf] = value
    return record


OUTCOME = {"kind": "outcome", "pod": "default/web", "uid": "u1", "node": "n", "p99_ms": 3.0, "baseline_p99_ms": 1.5}


def collected(tmp_path: Path, *lines: Any) -> tuple[list[training.Example], dict[str, int]]:
    path = tmp_path / "c.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return training.collector_examples([path])


def test_the_valid_record_becomes_an_example_that_prepares(tmp_path: Path) -> None:
    examples, skipped = collected(tmp_path, decision(), OUTCOME)
    (example,) = examples
    assert example.target[0] == pytest.approx(math.log(2.0))
    assert skipped["unreadable lines"] == 0
    assert training.prepare(examples).tokens[0].shape == (2, len(features.FEATURE_NAMES))


BAD_DECISIONS = [
    pytest.param("nodes.pods", [10**400, 1], "nodes.pods: not an array of numbers", id="E3 pods beyond a float"),
    pytest.param("candidates", ["n", "m", "x"], "nodes.telemetry: shape [2, 55], expected [3, 55]",
                 id="E4 more candidates than nodes"),
    pytest.param("candidates", ["m"], "candidates: expected a list that holds the chosen node",
                 id="chosen node not a candidate"),
    pytest.param("nodes.pressure", [[0.1] * 3] * 2, "nodes.pressure: shape [2, 3], expected [2, 4]",
                 id="E5 pressure rows 3 wide"),
    pytest.param("pod_inputs.noisy", [False] * 3, "pod_inputs.noisy: expected 4 true/false flags",
                 id="E6 three noisy flags"),
    pytest.param("nodes.pods", 0, "nodes.pods: expected a list", id="pods a scalar"),
    pytest.param("nodes.declared", [[[0, 0, 0, 0]]] * 2, "nodes.declared: shape [2, 1, 4], expected [2, 2, 4]",
                 id="declared without the noisy row"),
    pytest.param("nodes.max_pods", [[1, 2], [3]], "nodes.max_pods: not an array of numbers", id="ragged max_pods"),
    pytest.param("nodes.allocatable", MISSING, "nodes.allocatable: expected a list", id="no allocatable"),
    pytest.param("nodes", [], "nodes: expected an object", id="nodes a list"),
    pytest.param("pod_inputs.class", "gold", "pod_inputs.class: expected one of", id="unknown class"),
    pytest.param("pod_inputs.sensitivity", "llc", "pod_inputs.sensitivity: expected 4", id="sensitivity a string"),
    pytest.param("pod_inputs.cpu_millicores", 10**400, "pod_inputs.cpu_millicores: expected a finite number",
                 id="cpu beyond a float"),
    pytest.param("pod_inputs.memory_bytes", "1Gi", "pod_inputs.memory_bytes: expected a finite number",
                 id="memory a quantity string"),
    pytest.param("nodes.telemetry", [[1e300] * features.TELEMETRY_WIDTH] * 2,
                 "nodes.telemetry: a value outside [-10000, 10000]", id="telemetry past what any metric gives"),
    pytest.param("nodes.telemetry", [[math.inf] * features.TELEMETRY_WIDTH] * 2,
                 "nodes.telemetry: a value outside", id="infinite telemetry"),
    pytest.param("nodes.pressure", [[0.1, 0.1, 0.1, 1.5]] * 2, "nodes.pressure: a value outside [0, 1]",
                 id="pressure above saturated"),
    pytest.param("nodes.pressure", [[0.1, 0.1, 0.1, math.nan]] * 2, "nodes.pressure: holds NaN",
                 id="NaN pressure"),
    pytest.param("nodes.allocatable", [[math.inf, 2.0**33]] * 2, "nodes.allocatable: a value outside",
                 id="infinite allocatable"),
    pytest.param("nodes.pods", [-1, 5], "nodes.pods: a value outside [0, ", id="negative pod count"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value", "message"), BAD_DECISIONS)
def test_a_malformed_decision_is_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        training.collector_inputs(decision(**{field: value}))


@pytest.mark.parametrize(("field", "value", "message"), BAD_DECISIONS)
def test_a_malformed_decision_is_skipped_before_training(tmp_path: Path, field: str, value: Any, message: str) -> None:
    examples, skipped = collected(tmp_path, decision(**{field: value}), OUTCOME)
    assert examples == []
    assert skipped["unreadable lines"] == 1


def test_unknown_telemetry_is_kept_and_a_bad_record_cannot_poison_the_scale(tmp_path: Path) -> None:
    """NaN telemetry is a metric nobody measured (filled with the training mean). A value past what any metric
    gives used to reach the feature scale: 1e30 stretched it so that every good record's telemetry standardised
    to one value, and one past float32 (1e300, infinity) made the scale, and so every loss, NaN."""
    unknown = [[math.nan] * features.TELEMETRY_WIDTH, [0.5] * features.TELEMETRY_WIDTH]
    huge = [[1e30] * features.TELEMETRY_WIDTH] * 2
    lines = [decision(**{"nodes.telemetry": unknown}), OUTCOME, decision(**{"uid": "u2", "nodes.telemetry": huge}),
             {**OUTCOME, "uid": "u2"}]  # fmt: skip
    examples, skipped = collected(tmp_path, *lines)
    assert len(examples) == 1
    assert skipped["unreadable lines"] == 1
    prepared = training.prepare(examples + examples)
    assert np.isfinite(prepared.scale.std).all()
    assert np.isfinite(prepared.tokens[0]).all()


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param({"p99_ms": 10**400, "baseline_p99_ms": 1.0}, id="E1 p99 beyond a float"),
        pytest.param({"p99_ms": 3.0, "baseline_p99_ms": 10**400}, id="baseline beyond a float"),
        pytest.param({"p99_ms": math.inf, "baseline_p99_ms": 1.0}, id="Infinity"),
        pytest.param({"p99_ms": True, "baseline_p99_ms": 1.0}, id="a boolean is not a latency"),
    ],
)
def test_an_outcome_whose_latencies_are_not_finite_numbers_has_no_label(tmp_path: Path, outcome: dict) -> None:
    assert training.outcome_label(outcome) is None
    examples, skipped = collected(tmp_path, decision(), {**OUTCOME, **outcome})
    assert examples == []
    assert skipped["outcome without a label"] == 1


def test_a_slowdown_beyond_a_float_still_labels_finitely() -> None:
    assert training.outcome_label({"p99_ms": 1e300, "baseline_p99_ms": 1e-300}) == pytest.approx(600 * math.log(10))


def test_a_line_nested_past_the_parsers_recursion_is_one_unreadable_line(tmp_path: Path) -> None:
    examples, skipped = collected(tmp_path, "[" * 100_000 + "]" * 100_000, decision(), OUTCOME)
    assert len(examples) == 1
    assert skipped["unreadable lines"] == 1


# -- the measurements CSV --------------------------------------------------------------------------


def measurements(tmp_path: Path, *rows: dict[str, str], cut: int | None = None) -> Path:
    """A measurements CSV of `rows`, the last one cut to its first `cut` cells (a short row)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, list(ROW), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    lines = out.getvalue().splitlines()
    if cut is not None:
        lines[-1] = ",".join(lines[-1].split(",")[:cut])
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("rows", "cut", "message"),
    [
        pytest.param([ROW, ROW], 2, "row 2 (campaign 'C1'): the row ends before column 'rps'", id="F1 short: int"),
        pytest.param([ROW, ROW], 10, "row 2 (campaign 'C1'): the row ends before column 'ipc_std'",
                     id="F1 short: float"),
        pytest.param([{**ROW, "ipc_mean": "1e200"}], None, "row 1 (campaign 'C1'): OverflowError", id="F2 ipc 1e200"),
        pytest.param([{**ROW, "ipc_mean": "0"}], None, "row 1 (campaign 'C1'): ZeroDivisionError", id="ipc 0"),
        pytest.param([{**ROW, "p99_ms": "fast"}], None, "row 1 (campaign 'C1'): could not convert", id="not a number"),
    ],
)  # fmt: skip
def test_a_malformed_measurements_row_is_named(tmp_path: Path, rows: list, cut: int | None, message: str) -> None:
    path = measurements(tmp_path, *rows, cut=cut)
    with pytest.raises(counters.CountersError, match=f"^{re.escape(str(path))}: measurements {re.escape(message)}"):
        counters.load(path)


def test_a_row_with_more_cells_than_the_header_is_named(tmp_path: Path) -> None:
    """An unquoted comma in a campaign's name shifts every later cell one column on; the numbers may still
    parse, so the row must be refused rather than read into the wrong counters."""
    path = measurements(tmp_path, ROW, ROW)
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace("C1", "C1,rerun", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(counters.CountersError, match=r"measurements row 2 \(campaign 'C1'\): the row has 1 more cells"):
        counters.load(path)


def test_a_measurements_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = measurements(tmp_path, ROW)
    path.write_bytes(path.read_bytes().replace(b"C1", b"C\xff"))
    with pytest.raises(
        counters.CountersError, match=f"^{re.escape(str(path))}: not UTF-8 text .*; pass --counters PATH"
    ):
        counters.load(path)


def test_a_cell_past_the_csv_field_limit_is_named(tmp_path: Path) -> None:
    path = measurements(tmp_path, {**ROW, "campaign": "C" * 200_000})
    with pytest.raises(counters.CountersError, match=f"^{re.escape(str(path))}: line 2: not CSV"):
        counters.load(path)


def test_train_exits_2_with_one_line_on_a_bad_measurements_file(tmp_path: Path, capsys) -> None:
    path = measurements(tmp_path, ROW)
    path.write_bytes(b"\xff" + path.read_bytes())
    assert train.main(["--counters", str(path), "--no-eval", "--quiet", "--out", str(tmp_path / "w.pt")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {path}: not UTF-8 text")
