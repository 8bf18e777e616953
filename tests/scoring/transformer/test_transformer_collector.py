"""The collector: decisions and outcomes as JSONL, off the decision thread, never stopping the scheduler."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from cluster.clock import FakeClock
from scoring import collector
from scoring.collector import Collector
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.transformer.features import NodeInputs
from tests.builders import pod_json
from tests.scoring.transformer.helpers import QUIET, THRASHED, latency_critical, snapshot, state
from training import fit as training


def decided(path: Path, clock: FakeClock, **kwargs):
    snap = snapshot([state("a", **THRASHED), state("b", **QUIET)])
    pod = latency_critical()
    decision = Decider(heuristic=HeuristicTier(), clock=clock).decide(pod, snap)
    sink = Collector(path, clock=clock, **kwargs)
    sink.decision(pod, snap, decision)
    return sink, snap, pod, decision


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_decision_is_recorded_with_the_tiers_inputs(tmp_path: Path, clock: FakeClock) -> None:
    sink, snap, pod, decision = decided(tmp_path / "c.jsonl", clock)
    sink.close()
    (record,) = lines(tmp_path / "c.jsonl")
    assert record["kind"] == "decision"
    assert (record["pod"], record["node"], record["tier"]) == (pod.key, decision.node, "heuristic")
    assert record["candidates"][0] == decision.node
    assert record["pod_inputs"]["class"] == "latency-critical"
    indices = np.array([snap.node_index(n) for n in record["candidates"]])
    expected = NodeInputs.of(snap, indices)
    assert np.allclose(record["nodes"]["telemetry"], expected.telemetry, atol=1e-5, equal_nan=True)
    assert record["nodes"]["declared"] == expected.declared.tolist()


def test_an_oom_kill_of_a_placed_pod_becomes_an_outcome_once(tmp_path: Path, clock: FakeClock) -> None:
    sink, _, pod, decision = decided(tmp_path / "c.jsonl", clock)
    raw = pod_json(pod.name, node=decision.node)
    raw["status"] = {"containerStatuses": [{"restartCount": 1, "lastState": {"terminated": {"reason": "OOMKilled"}}}]}
    sink.observe(raw)
    sink.observe(raw)
    sink.observe(pod_json("someone-else"))
    sink.close()
    records = lines(tmp_path / "c.jsonl")
    assert [r["kind"] for r in records] == ["decision", "outcome"]
    assert records[1] | {"time": None} == records[1] | {
        "time": None,
        "pod": pod.key,
        "node": decision.node,
        "restarts": 1,
        "oom_killed": True,
        "evicted": False,
    }


def test_outcomes_join_their_decision_and_label_the_chosen_node(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "c.jsonl"
    sink, _, pod, _ = decided(path, clock)
    sink.close()
    assert collector.main(["outcome", "--path", str(path), "--pod", pod.key, "--p99-ms", "3", "--baseline-p99-ms",
                           "1.5"], clock=clock) == 0  # fmt: skip
    path.write_text(path.read_text() + "not json\n")
    (joined,), bad = collector.read([path])
    assert bad == 1
    assert joined.outcome["p99_ms"] == 3.0
    examples, skipped = training.collector_examples([path])
    (example,) = examples
    assert example.target[0] == pytest.approx(np.log(2.0))
    assert np.isnan(example.target[1:]).all()
    assert skipped["unreadable lines"] == 1


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        pytest.param(None, None, id="no outcome yet"),
        pytest.param({"restarts": 4}, None, id="restarts alone say nothing about interference"),
        pytest.param({"evicted": True}, np.log(25.0), id="an eviction is the worst slowdown"),
        pytest.param({"p99_ms": 1.0, "baseline_p99_ms": 2.0}, 0.0, id="faster than alone counts as no slowdown"),
    ],
)
def test_outcome_labels(outcome: dict | None, label: float | None) -> None:
    assert training.outcome_label(outcome) == (pytest.approx(label) if label is not None else None)


def test_a_bad_path_warns_once_and_never_raises(tmp_path: Path, clock: FakeClock, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    caplog.set_level(logging.WARNING)
    sink, snap, pod, decision = decided(blocker / "c.jsonl", clock)
    sink.decision(pod, snap, decision)
    sink.close()
    warnings = [r for r in caplog.records if "collector" in r.getMessage()]
    assert len(warnings) == 1
    assert "records are dropped" in warnings[0].getMessage()


def test_the_file_stops_growing_at_its_cap(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "c.jsonl"
    sink, snap, pod, decision = decided(path, clock, max_bytes=1)
    sink.decision(pod, snap, decision)
    sink.close()
    assert path.read_text() == ""


def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path, clock: FakeClock, monkeypatch) -> None:
    monkeypatch.setattr(collector, "QUEUE_SIZE", 1)
    snap = snapshot([state("a", **QUIET)])
    pod = latency_critical()
    decision = Decider(heuristic=HeuristicTier(), clock=clock).decide(pod, snap)
    sink = Collector(tmp_path / "c.jsonl", clock=clock)
    sink._queue.put(("decision", (pod, snap, decision)))  # the writer may take it; refill until full
    for _ in range(50):
        sink.decision(pod, snap, decision)
    assert sink.dropped > 0
    sink.close()


def test_a_record_of_feature_version_1_trains_as_this_version_reads_it(tmp_path: Path, clock: FakeClock) -> None:
    """Outcomes gathered before CPU use went on a log scale still train: the fraction's mean, p95, spread and
    distance from the median are rewritten on the log scale, as if recorded now; an unknown version is counted."""
    cpu = {"a": 0.01, "b": 0.2, "c": 0.6}
    snap = snapshot([state(name, **{**QUIET, "cpu_utilization": value}) for name, value in cpu.items()])
    pod = latency_critical()
    decision = Decider(heuristic=HeuristicTier(), clock=clock).decide(pod, snap)
    path = tmp_path / "c.jsonl"
    sink = Collector(path, clock=clock)
    sink.decision(pod, snap, decision)
    sink.close()
    (record,) = lines(path)
    now = np.array(record["nodes"]["telemetry"])
    then = dict(record, feature_version=1, uid="first")
    first = [[1.0, v, min(1.1 * v, 1.0), 0.05 * v, v - 0.2] for v in (cpu[n] for n in record["candidates"])]
    then["nodes"] = dict(record["nodes"], telemetry=[f + row[5:] for f, row in zip(first, now.tolist(), strict=True)])
    unknown = dict(record, feature_version=7, uid="other")
    outcome = {"kind": "outcome", "pod": pod.key, "uid": "first", "p99_ms": 3.0, "baseline_p99_ms": 1.5}
    path.write_text("".join(json.dumps(r) + "\n" for r in (then, unknown, outcome, dict(outcome, uid="other"))))
    (example,), skipped = training.collector_examples([path])
    assert example.nodes.telemetry == pytest.approx(now, abs=1e-4, nan_ok=True)
    assert skipped["other features"] == 1
