"""The runner's arrival modes and telemetry periods: what each replays, how the results and the report group them,
and the options' errors."""

import json
from typing import Any

import pytest
import yaml

from benchmark import report, runner

TINY = {
    "name": "tiny",
    "seed": 3,
    "family": "near-full",
    "nodes": [{"name": "n", "count": 2, "hardware": {"generation": "skylake-sp", "cores": 8}}],
    "pods": [
        {
            "name": "hog",
            "node": "n-1",
            "image": "registry.example.com/platform/worker:2.4",
            "args": ["--stream", "4", "--timeout", "0"],
            "profile": "stress-membw",
        },
    ],
    "arrivals": [
        {
            "name": "redis",
            "image": "redis:7",
            "count": 3,
            "at": 0,
            "every": 35,
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "annotations": {"ai-scheduler.io/workload-class": "latency-critical"},
        },
    ],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("modes")
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    output = folder / "results.json"
    argv = ["--scenario", str(folder / "tiny.yaml"), "--policy", "default", "--seeds", "1", "--periods", "10,60",
            "--requests", "200", "--no-burst", "--output", str(output)]  # fmt: skip
    assert runner.main(argv) == 0
    return json.loads(output.read_text())


def test_a_burst_runs_once_and_steady_runs_once_per_period(results: dict[str, Any]) -> None:
    assert set(results["scenarios"]) == {"burst-10s/tiny", "steady-10s/tiny", "steady-60s/tiny"}, "named by its name"
    for key, entry in results["scenarios"].items():
        assert key == runner.group_key(entry["scenario"], entry["mode"], entry["period_seconds"])
        assert entry["family"] == "near-full" and entry["held_out"] is True
        assert entry["runs"][0]["summary"]["bound"] == 3
    assert results["arrival_modes"] == ["burst", "steady"] and results["telemetry"]["periods_seconds"] == [10, 60]


def test_steady_arrivals_meet_fresh_telemetry_and_a_burst_meets_none(results: dict[str, Any]) -> None:
    published = {
        (e["mode"], e["period_seconds"]): e["runs"][0]["summary"]["publications"] for e in results["scenarios"].values()
    }
    nodes = len(TINY["nodes"]) * TINY["nodes"][0]["count"]
    assert published[("burst", 10)] == nodes, "only the publication before the first arrival"
    assert published[("steady", 10)] > published[("steady", 60)] > published[("burst", 10)]


def test_the_report_groups_tables_by_mode_and_period(results: dict[str, Any]) -> None:
    text = report.markdown([(results, "results.json")])
    headings = [line for line in text.splitlines() if line.startswith("##### ")]
    assert headings == [
        "##### Burst: every arrival at once, telemetry every 10 s",
        "##### Steady: arrivals at their own times, telemetry every 10 s",
        "##### Steady: arrivals at their own times, telemetry every 60 s",
    ]
    assert "held out from training" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--periods", "0"], "every period must be a positive number", id="a zero period"),
        pytest.param(["--periods", "10,inf"], "every period must be a positive number", id="an infinite period"),
        pytest.param(["--periods", "ten"], "seconds separated by commas", id="a period that is not a number"),
        pytest.param(["--mode", "sideways"], "invalid choice: 'sideways'", id="an unknown mode"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        runner.parse_args(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "modes", "periods"),
    [
        pytest.param(["--quick"], ["burst", "steady"], (30.0,), id="quick runs both modes at 30 s"),
        pytest.param(["--periods", "60,10,60"], ["burst", "steady"], (60.0, 10.0), id="periods keep their order once"),
        pytest.param(["--mode", "steady", "--mode", "burst"], ["burst", "steady"], (30.0,), id="modes in fixed order"),
        pytest.param(["--mode", "steady"], ["steady"], (30.0,), id="one mode alone"),
    ],
)
def test_modes_and_periods_from_the_options(argv: list[str], modes: list[str], periods: tuple[float, ...]) -> None:
    args = runner.parse_args(argv)
    assert (args.mode, args.periods) == (modes, periods)


def test_the_schedule_runs_a_burst_at_the_first_period_only() -> None:
    assert runner.schedule(["burst", "steady"], (10.0, 30.0, 60.0)) == [
        ("burst", 10.0),
        ("steady", 10.0),
        ("steady", 30.0),
        ("steady", 60.0),
    ]


def test_quick_leaves_the_slow_scenario_out_unless_named() -> None:
    quick = runner.scenario_names(runner.parse_args(["--quick"]))
    assert quick[0] == "seed-001" and "mixed-100" not in quick
    assert {"cpu-antagonists", "near-full", "replica-burst", "counter-gaps", "heterogeneous"} <= set(quick)
    assert runner.scenario_names(runner.parse_args(["--quick", "--scenario", "mixed-100"])) == ["mixed-100"]
    assert "mixed-100" in runner.scenario_names(runner.parse_args([]))
