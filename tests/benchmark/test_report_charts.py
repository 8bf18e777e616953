"""The placement benchmark's README tables and charts read as they should: seed counts that say what they
count, intervals clipped to what a metric can be, no whiskers without an interval, no axis around nothing,
a compact results file that reports and draws the same, and each chart's path printed as it is written."""

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from benchmark import report, visualize

POLICIES = ("default", "heuristic", "oracle")


def interval(mean: float, lo: float, hi: float, n: int) -> dict[str, float]:
    return {"mean": mean, "lo": lo, "hi": hi, "n": n}


def metrics(n: int, *, noisy: float = 0.0, spread: float = 0.0) -> dict[str, Any]:
    """One policy's summary across `n` seeds; `spread` widens every interval (past 0 and 100 % when large)."""
    values = {
        "p50_ms": 0.3,
        "p90_ms": 0.8,
        "p95_ms": 1.1,
        "p99_ms": 2.0,
        "noisy_share": noisy,
        "slo_violation_share": 0.48,
        "mean_regret_ms": 0.2,
        "decision_latency_ms_p50": 0.5,
        "decision_latency_ms_p99": 1.5,
        "pods_per_second": 300.0,
        "p99_ms[redis]": 1.0,
    }
    return {k: interval(v, v - spread * max(v, 1), v + spread * max(v, 1), n) for k, v in values.items()}


def results(*, seeds: list[int], noisy: float = 0.0, spread: float = 0.0) -> dict[str, Any]:
    """A results file of benchmark/runner.py with one scenario, small enough to write by hand."""
    n = len(seeds)
    run_summary = {"on_noisy_nodes": 0, "latency_critical_placed": 4}
    entry = {
        "description": "test",
        "nodes": 7,
        "running_pods": 6,
        "arrivals": 19,
        "seeds": seeds,
        "runs": [
            {"policy": p, "note": "", "summary": run_summary, "pods": [{"pod": "a"}], "refused": []}
            for p in POLICIES
            for _ in seeds
        ],
        "summary": {p: metrics(n, noisy=noisy, spread=spread) for p in POLICIES},
    }
    return {
        "version": 1,
        "time": "2026-12-05T04:41:15+00:00",
        "machine": {
            "cpu": "CPU",
            "cpus": 2,
            "python": "3.11.7",
            "commit": "abc1234",
            "load_average_before": [0.1],
            "load_average_after": [0.2],
        },
        "mode": "quick",
        "seeds": n,
        "requests_per_pod": 1000,
        "telemetry": {"period_seconds": 30.0, "cohorts": 5},
        "latency_source": "samples of the calibrated interference model",
        "scenarios": {"seed-001": entry},
        "policies": {p: {"status": "ran", "note": p} for p in POLICIES},
        "real_counters": {"status": "not available yet", "reason": "no data"},
    }


@pytest.mark.parametrize(
    "seeds, label",
    [
        pytest.param([7], "1 run (scenario seed 7)", id="one seed is one run, not seven seeds"),
        pytest.param([7, 8], "2 runs (scenario seeds 7 and 8)", id="two seed values are two runs"),
        pytest.param([1, 2, 3], "3 runs (scenario seeds 1, 2 and 3)", id="three seeds list all three values"),
    ],
)
def test_the_seed_label_counts_runs_and_names_the_seed_values(seeds, label):
    result = results(seeds=seeds)
    assert report.seeds_label(result["scenarios"]["seed-001"]) == label
    assert f"19 arrivals; {label}." in report.markdown([(result, "r.json")])


@pytest.mark.parametrize(
    "metric, name, expected",
    [
        pytest.param(interval(0.48, -0.52, 1.49, 2), "slo_violation_share", "48% [0%, 100%]", id="a share ends at 100"),
        pytest.param(interval(3.0, -0.1, 6.2, 2), "p99_ms", "3.000 [0.000, 6.200]", id="a latency ends at 0 only"),
        pytest.param(interval(0.25, 0.25, 0.25, 1), "noisy_share", "25%", id="one seed has no interval"),
    ],
)
def test_table_intervals_are_clipped_to_what_the_metric_can_be(metric, name, expected):
    fmt = "{:.0%}" if name in report.SHARES else "{:.3f}"
    assert report.cell(metric, fmt, name) == expected


def test_no_table_cell_shows_a_share_above_100_percent():
    text = report.markdown([(results(seeds=[1, 2], noisy=0.5, spread=2.0), "r.json")])
    assert "48% [0%, 100%]" in text and "[-" not in text and "150%" not in text


def chart_axes(result: dict[str, Any], metric: str, scale: float) -> plt.Axes:
    _, ax = plt.subplots()
    summary = result["scenarios"]["seed-001"]["summary"]
    visualize._bars(ax, summary, list(POLICIES), metric, fmt="{:.0f}", scale=scale)
    return ax


def whiskers_of(ax: plt.Axes) -> ErrorbarContainer | None:
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    return bars.errorbar


def test_an_all_zero_panel_has_an_axis_from_zero_and_says_so():
    ax = chart_axes(results(seeds=[1, 2]), "noisy_share", 100.0)
    assert ax.get_ylim() == pytest.approx((0.0, 100.0))
    assert any(t.get_text() == "0 for every policy" for t in ax.texts)
    plt.close(ax.figure)


@pytest.mark.parametrize(
    "seeds, whiskers",
    [
        pytest.param([1], False, id="one seed draws no whiskers"),
        pytest.param([1, 2], True, id="two seeds draw the interval"),
    ],
)
def test_whiskers_only_where_there_is_an_interval_and_the_title_says_what_they_are(seeds, whiskers):
    result = results(seeds=seeds, spread=0.5)
    ax = chart_axes(result, "p99_ms", 1.0)
    assert (whiskers_of(ax) is not None) is whiskers
    top = ax.get_ylim()[1]
    assert top >= (3.0 if whiskers else 2.0)  # the whisker's end (2.0 + 0.5 × 2.0) stays inside the axis
    plt.close(ax.figure)
    subtitle = visualize._subtitle(result, "seed-001")
    assert ("whiskers: 95 % interval across 2 seeds" in subtitle) is whiskers
    assert ("one seed: no interval to show" in subtitle) is not whiskers


def test_a_share_whisker_stops_at_100_percent():
    ax = chart_axes(results(seeds=[1, 2], noisy=0.5, spread=2.0), "noisy_share", 100.0)
    (_, caps, _) = whiskers_of(ax).lines
    assert max(max(cap.get_ydata()) for cap in caps) == pytest.approx(100.0)
    assert min(min(cap.get_ydata()) for cap in caps) == pytest.approx(0.0)
    plt.close(ax.figure)


def test_the_compact_file_reports_and_draws_as_the_full_one(tmp_path: Path, capsys):
    full = tmp_path / "results" / "quick.json"
    full.parent.mkdir()
    full.write_text(json.dumps(results(seeds=[1, 2])))
    small = tmp_path / "published" / "quick.json"
    assert report.main(["--input", str(full), "--compact", str(small)]) == 0
    compacted = json.loads(small.read_text())
    assert all("pods" not in run for run in compacted["scenarios"]["seed-001"]["runs"])
    original = json.loads(full.read_text())
    assert compacted["scenarios"]["seed-001"]["summary"] == original["scenarios"]["seed-001"]["summary"]
    printed = capsys.readouterr().out
    assert f"wrote {small}" in printed and "| oracle |" in printed

    assert visualize.main(["--input", str(small)]) == 0
    lines = capsys.readouterr().out.splitlines()
    folder = small.with_suffix("") / "seed-001"
    assert lines[:-1] == [f"wrote {folder / chart}" for chart in visualize.CHARTS]
    assert all((folder / chart).read_bytes().startswith(b"\x89PNG") for chart in visualize.CHARTS)


def test_the_readme_section_shows_the_charts_drawn_from_its_source(tmp_path: Path):
    folder = tmp_path / "docs" / "benchmark" / "quick" / "seed-001"
    folder.mkdir(parents=True)
    for chart in visualize.CHARTS:
        (folder / chart).write_bytes(b"\x89PNG")
    lines = report.charts("docs/benchmark/quick.json", "seed-001", root=tmp_path)
    assert "![seed-001: dashboard](docs/benchmark/quick/seed-001/dashboard.png)" in lines
    assert any("[p99 comparison](docs/benchmark/quick/seed-001/p99_comparison.png)" in line for line in lines)
    assert report.charts("docs/benchmark/other.json", "seed-001", root=tmp_path) == []
