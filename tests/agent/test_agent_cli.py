import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from agent.__main__ import LOG_FORMATS, LOG_LEVELS
from cluster import config
from cluster.config import LoggingSettings
from cluster.nodestate import parse
from tests.telemetry.trees import NodeTree

ROOT = Path(__file__).parents[2]


def _agent(
    *args: str, timeout: float = 30, log_level: str = "INFO", log_format: str = "text"
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NODE_NAME": "cli-node", "LOG_LEVEL": log_level}
    env["LOG_FORMAT"] = log_format
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def test_once_on_this_machine_prints_a_truthful_node_state() -> None:
    result = _agent("--once", "--window", "3")
    assert result.returncode == 0, result.stderr
    warnings: list[str] = []
    state = parse(result.stdout, node="cli-node", warn=warnings.append)
    assert warnings == []
    assert state.window_seconds == 3.0
    assert "cpu_utilization" in state.metrics and state.sources["cgroup"]
    if Path("/proc/pressure/cpu").exists():
        assert {"psi_cpu_some", "psi_memory_some", "psi_io_some"} <= set(state.metrics)
        assert state.sources["psi"]
    for source, metrics in {
        "perf": ("cpi", "llc_miss_rate", "llc_mpki"),
        "resctrl": ("llc_occupancy_ratio", "memory_bandwidth_gbps"),
    }.items():
        assert state.sources[source] == any(m in state.metrics for m in metrics)
    assert "reporting" in result.stderr


def test_once_on_a_fixture_tree_reports_what_the_tree_allows(tmp_path: Path) -> None:
    tree = NodeTree(tmp_path, cpus=8)
    tree.set_cpu_times(busy=100, idle=900)
    tree.set_pressure(cpu=7.5, memory=1.0)
    tree.add_l3(caches=2, size_kb=16384)
    tree.mount_resctrl(domains=2, features=["llc_occupancy"])
    tree.set_resctrl("llc_occupancy", 8 * 2**20, domain=0)
    tree.set_resctrl("llc_occupancy", 0, domain=1)
    tree.enable_cgroup_v2()
    result = _agent("--once", "--window", "1", "--interval", "0.5", *tree.args())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["metrics"]["psi_cpu_some"] == pytest.approx({"mean": 7.5, "std": 0.0, "p95": 7.5})
    assert data["metrics"]["llc_occupancy_ratio"]["mean"] == pytest.approx(0.25)
    assert data["metrics"]["cpu_throttling_ratio"]["mean"] == pytest.approx(0.0)
    assert "cpu_utilization" not in data["metrics"]  # a frozen /proc/stat has no busy share: unknown, not 0
    assert "psi_io_some" not in data["metrics"] and "memory_bandwidth_gbps" not in data["metrics"]
    assert data["sources"] == {"perf": False, "resctrl": True, "psi": True, "cgroup": True}
    assert "unsupported event mbm_total_bytes" in result.stderr
    assert "io does not exist" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--window", "1", "--interval", "2"], "need 0 < interval <= window", id="interval past window"),
        pytest.param(["--memory-bandwidth-peak-gbps", "-5"], "positive number of GB/s", id="a negative peak"),
        pytest.param(["--metrics-port", "70000"], "--metrics-port 70000", id="a port out of range"),
        pytest.param(
            ["--window", "inf"],
            "argument --window: must be a finite, positive number of seconds, got 'inf'",
            id="an infinite window",
        ),
        pytest.param(["--interval", "-1"], "argument --interval: must be a finite, positive", id="a negative interval"),
        pytest.param(
            ["--window", "1e308", "--interval", "1e-308"],
            "--interval 1e-308 and --window 1e+308: need interval >= 0.01s",
            id="a sample count past any float",
        ),
        pytest.param(
            ["--interval", "1e-300", "--window", "1"], "need interval >= 0.01s", id="an interval that would busy-loop"
        ),
        pytest.param(["--window", "100000"], "need at most 3600 samples per window", id="a window of too many samples"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(args: list[str], message: str) -> None:
    result = _agent("--once", *args, timeout=10)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("level", ["verbose", "5", ""])
def test_an_unknown_log_level_is_one_error_line_and_exit_2(level: str) -> None:
    result = _agent("--once", log_level=level, timeout=10)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"python -m agent: error: LOG_LEVEL {level!r}: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]


def test_the_log_levels_are_the_schedulers() -> None:
    assert config.LOG_LEVELS == LOG_LEVELS
    assert typing.get_args(LoggingSettings.model_fields["format"].annotation) == LOG_FORMATS


def test_an_unknown_log_format_is_one_error_line_and_exit_2() -> None:
    """The scheduler refuses LOG_FORMAT=jsonl; the agent fell back to text without a word."""
    result = _agent("--once", log_format="jsonl", timeout=10)
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        ["python -m agent: error: LOG_FORMAT 'jsonl': must be one of text, json"],
    )


def test_the_peak_file_feeds_the_bandwidth_ratio(tmp_path: Path) -> None:
    peak = tmp_path / "peak"
    peak.write_text("not a number\n")
    result = _agent("--once", "--memory-bandwidth-peak-file", str(peak))
    assert result.returncode == 2 and "--memory-bandwidth-peak-file" in result.stderr
