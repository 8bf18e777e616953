"""`scheduler.py decide` with the transformer: CONTRACTS §4's output, quiet nodes for latency-critical pods."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.transformer import PROJECT_ROOT
from scoring.transformer.evidence import load_verdict
from tests.scoring.transformer.helpers import shipped

SNAPSHOT = PROJECT_ROOT / "examples" / "cluster-6-workers.json"
PODS = PROJECT_ROOT / "ai-test-pods.yaml"
NOISY_NODES = {"worker-2", "worker-5"}
LATENCY_CRITICAL = ("default/redis-latency", "default/http-echo", "default/frontend-0", "default/frontend-1")


def decide(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scheduler.py", "decide", "--snapshot", str(SNAPSHOT), "--pod", str(PODS), "--json", *args],
        check=False,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def forced() -> dict[str, dict]:
    result = decide("--tier", "transformer")
    assert result.returncode == 0, result.stderr
    return {d["pod"]: d for d in map(json.loads, result.stdout.splitlines())}


@pytest.mark.parametrize("name", LATENCY_CRITICAL)
def test_latency_critical_pods_stay_off_the_noisy_nodes(forced: dict[str, dict], name: str) -> None:
    """Off the nodes running cache and memory-bandwidth antagonists, which score below the pick. Which of the calm
    nodes wins is not asserted: between the measured, lightly used worker-1 and worker-6 (35 % CPU, labelled
    cpu-bound, no cache or bandwidth counters) every weight set measured is within a few points, and one draw of the
    shipped recipe's seeds puts the first pods on one and the next draw on the other (model card, Known limitations,
    "Latency-critical neighbours drawn small")."""
    decision = forced[name]
    assert decision["tier"] == "transformer"
    assert decision["node"] not in NOISY_NODES, name
    assert decision["regimes"][decision["node"]] not in ("llc-bound", "membw-bound"), name
    assert (
        max(decision["scores"][n] for n in NOISY_NODES if n in decision["scores"])
        < decision["scores"][decision["node"]]
    )


def test_every_decision_is_the_contracts_object(forced: dict[str, dict]) -> None:
    assert len(forced) == 10
    for decision in forced.values():
        assert list(decision)[:7] == ["pod", "node", "tier", "reason", "scores", "unschedulable", "latency_ms"]
        assert decision["latency_ms"] > 0
        assert all(0 <= s <= 100 for s in decision["scores"].values())
        if decision["node"] is not None:
            assert set(decision["regimes"]) == set(decision["scores"])
    assert forced["default/too-big"]["node"] is None


def test_auto_without_a_token_decides_with_the_local_tier_the_shipped_evidence_puts_first() -> None:
    result = decide()
    assert result.returncode == 0, result.stderr
    tiers = {d["tier"] for d in map(json.loads, result.stdout.splitlines()) if d["node"]}
    assert tiers == {"transformer" if load_verdict(shipped()).lead else "heuristic"}


def test_missing_weights_fall_back_in_auto_and_fail_clearly_when_forced(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"scoring:\n  model_path: {tmp_path / 'nothing.pt'}\n")
    auto = decide("--config", str(config))
    assert auto.returncode == 0
    assert {json.loads(line)["tier"] for line in auto.stdout.splitlines()} == {"heuristic"}
    assert auto.stderr.count("transformer tier disabled") == 1
    forced = decide("--config", str(config), "--tier", "transformer")
    assert forced.returncode == 2
    assert forced.stdout == ""
    (line,) = forced.stderr.strip().splitlines()
    assert line.startswith("error: ") and "no such file" in line and "python -m training.train" in line
