"""The perf table judges each goal from the results file, and shows before -> after against a baseline."""

import copy
from typing import Any

import pytest

from benchmark import perf_report

RESULT: dict[str, Any] = {
    "time": "2026-01-05T09:00:00+00:00",
    "mode": "quick",
    "seconds": 60,
    "machine": {
        "cpus": 2,
        "cpu": "Test CPU",
        "python": "3.11.7",
        "commit": "abc1234",
        "load_average_before": [0.5, 0.5, 0.5],
        "load_average_after": [0.7, 0.6, 0.5],
    },
    "goals": dict(perf_report.GOALS),
    "latency": {
        "1000": {
            "heuristic": {"p50": 0.8, "p99": 1.5, "max": 3.0, "n": 290, "warmup": 10},
            "transformer": {"skipped": "no weights"},
        },
    },
    "throughput": {
        "cluster": {"nodes": 1000, "pods": 10000, "pending": 2000},
        "bind_only_ceiling": {"binds_per_second": 500.0, "processes": 2, "threads": 4},
        "scheduler": {
            "pending": 2000,
            "pods_per_second": 250.0,
            "seconds_to_ready": 3.0,
            "peak_rss_mb": 180.0,
            "metrics": {"decisions[transformer]": 1990.0, "decisions[heuristic]": 10.0},
        },
        "share_of_ceiling": 0.5,
        "heuristic_only": {
            "pods_per_second": 450.0,
            "seconds_to_ready": 2.0,
            "peak_rss_mb": 120.0,
            "share_of_ceiling": 0.9,
        },
    },
}


def rows(result: dict[str, Any], baseline: dict[str, Any] | None = None) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in perf_report.goal_rows(result, baseline)}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        pytest.param("heuristic decision p99, 1,000 nodes", ["<= 2 ms", "1.50 ms", "yes"], id="a met latency goal"),
        pytest.param("pods/s, burst, production chain", [">= 300", "250", "**no**"], id="a missed rate"),
        pytest.param("transformer decision p99, 1,000 nodes", ["<= 5 ms", "not measured", "-"], id="a skipped tier"),
        pytest.param("peak RSS, 5,000 nodes and 50,000 pods", ["<= 500 MB", "not measured", "-"], id="a part not run"),
    ],
)
def test_goals_are_judged_from_the_measured_values(label: str, expected: list[str]) -> None:
    assert rows(RESULT)[label] == expected


def test_a_baseline_adds_the_before_column() -> None:
    after = copy.deepcopy(RESULT)
    after["throughput"]["scheduler"]["pods_per_second"] = 320.0
    assert rows(after, RESULT)["pods/s, burst, production chain"] == [">= 300", "250", "320", "yes"]


def test_the_burst_line_counts_fallbacks_by_cause_when_the_results_have_them() -> None:
    assert "fallbacks" not in perf_report.details(RESULT)[0]
    counted = copy.deepcopy(RESULT)
    counted["throughput"]["scheduler"]["fallbacks"] = {"transformer: overrun": 9, "transformer: loading": 1}
    assert perf_report.details(counted)[0].endswith("; fallbacks: transformer: overrun 9, transformer: loading 1.")


def test_the_markdown_names_its_source_machine_and_tiers() -> None:
    text = perf_report.markdown(RESULT, source="benchmark/results/perf-x.json")
    assert "python benchmark/perf.py --input benchmark/results/perf-x.json --readme" in text
    assert "decided by heuristic 10, transformer 1990" in text and "heuristic tier alone 450 pods/s" in text
    assert "2 × Test CPU" in text and "| heuristic | 0.80 / 1.50 |" in text and "| transformer | skipped |" in text
