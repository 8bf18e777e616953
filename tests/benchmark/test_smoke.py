"""`benchmark/runner.py --smoke` end to end: the results file's invariants, its report and its charts."""

import json
from pathlib import Path
from typing import Any

import pytest

from benchmark import report, runner, visualize
from scoring.runtime import PEERS

PERCENTILES = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output = tmp_path_factory.mktemp("smoke") / "results.json"
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("HUGGINGFACE_TOKEN", "LLM_ENDPOINT"):
            patch.delenv(variable, raising=False)
        assert runner.main(["--smoke", "--output", str(output)]) == 0
    return json.loads(output.read_text())


def runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, run) for name, entry in results["scenarios"].items() for run in entry["runs"]]


def test_every_arrival_is_bound_or_refused_and_every_latency_critical_pod_measured(results: dict[str, Any]) -> None:
    assert set(results["scenarios"]) == {
        f"{mode}-30s/{name}" for mode in ("burst", "steady") for name in ("seed-001", "heterogeneous")
    }
    for name, run in runs(results):
        summary = run["summary"]
        arrivals = results["scenarios"][name]["arrivals"]
        assert summary["bound"] + summary["refused"] == arrivals, (name, run["policy"])
        assert summary["latency_critical_placed"] == len(run["pods"]) == summary["latency_critical"]
        timed = results["scenarios"][name]["mode"] == "burst"
        assert ("burst" in summary) == timed, "pods/s is timed once, in the first (burst) group"
        if timed:
            assert summary["burst"]["bound"] + len(run["refused"]) <= summary["burst"]["pods"] == arrivals


def test_the_oracle_has_no_regret_and_no_policy_beats_it(results: dict[str, Any]) -> None:
    for name, entry in results["scenarios"].items():
        by_policy = {run["policy"]: run for run in entry["runs"]}
        assert {"default", "heuristic", "oracle"} <= set(by_policy), name
        assert all(pod["regret_ms"] == 0 for pod in by_policy["oracle"]["pods"])
        for policy, run in by_policy.items():
            assert all(pod["chosen_in_feasible"] for pod in run["pods"]), (name, policy)
            assert all(pod["regret_ms"] >= 0 for pod in run["pods"]), (name, policy)
            assert run["summary"]["mean_regret_ms"] >= by_policy["oracle"]["summary"]["mean_regret_ms"]


def test_percentiles_are_ordered_pooled_and_per_pod(results: dict[str, Any]) -> None:
    for _, run in runs(results):
        for group in run["summary"]["latency_ms"].values():
            values = [group[p] for p in PERCENTILES]
            assert values == sorted(values) and values[0] > 0
        for pod in run["pods"]:
            values = [pod[p] for p in PERCENTILES]
            assert values == sorted(values), pod["pod"]


def test_policies_say_what_ran_and_the_real_counter_check_is_reported(results: dict[str, Any]) -> None:
    policies = results["policies"]
    assert policies["auto"]["status"] == "ran" and "LLM tier is off" in policies["auto"]["note"]
    assert policies["transformer"]["status"] in ("ran", "skipped") and policies["transformer"]["note"]
    counters = results["real_counters"]
    assert counters["status"] in ("ok", "not available yet")
    if counters["status"] == "ok":
        held_out = {name: entry.get("held_out") for name, entry in counters["policies"].items()}
        assert held_out["heuristic"]["pairs"] > 0
        assert all(held_out[peer]["pairs"] == held_out["heuristic"]["pairs"] for peer in PEERS if peer in policies)


def test_the_report_and_the_charts_come_from_the_file(results: dict[str, Any], tmp_path: Path) -> None:
    text = report.markdown([(results, "results.json")])
    assert "**seed-001**" in text and "| oracle |" in text and "calibrated interference model" in text
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nOur text.\n")
    report.write_section("results", text, readme=readme)
    report.write_section("results", text, readme=readme)
    written = readme.read_text()
    assert written.startswith("# Title\n\nOur text.\n") and written.count("<!-- results:start -->") == 1
    files = visualize.draw(results, tmp_path / "charts", ["burst-30s/seed-001"])
    assert sorted(p.name for p in files) == sorted(visualize.CHARTS)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in files)
