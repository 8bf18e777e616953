"""The decision chain reads a pod's annotations once: the decision carries the parsed needs and their warnings."""

import pytest

from cluster import needs as needs_module
from cluster.needs import parse_needs
from cluster.snapshot import Snapshot
from scoring import collector, decide, framework
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from tests.builders import make_node, make_pod

ANNOTATIONS = {
    "ai-scheduler.io/workload-class": "latency-critical",
    "ai-scheduler.io/sensitivity": "llc,membw,bogus",
}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pods whose needs were parsed, wherever the chain, the fit re-check or the collector asked."""
    seen: list[str] = []

    def counting(pod):
        seen.append(pod.key)
        return needs_module.parse_needs(pod)

    for module in (decide, framework):
        monkeypatch.setattr(module, "parse_needs", counting)
    return seen


def test_one_decision_with_its_fit_check_and_record_parses_the_pod_once(parses: list[str]) -> None:
    snapshot = Snapshot.build([make_node("a"), make_node("b")], [])
    pod = make_pod("p", cpu="1", annotations=ANNOTATIONS)
    decider = Decider(heuristic=HeuristicTier())
    decision = decider.decide(pod, snapshot)
    assert decision.node is not None
    assert decider.fits(pod, snapshot, decision.node, needs=decision.needs)
    assert collector.decision_record(pod, snapshot, decision, now=0.0) is not None
    assert parses == ["default/p"]


def test_the_decision_keeps_the_parsed_needs_and_the_ignored_annotations(parses: list[str]) -> None:
    snapshot = Snapshot.build([make_node("a")], [])
    pod = make_pod("p", annotations=ANNOTATIONS)
    decision = Decider(heuristic=HeuristicTier()).decide(pod, snapshot)
    expected = parse_needs(pod)
    assert decision.needs == expected.needs
    assert decision.warnings == expected.warnings and "bogus" in decision.warnings[0]
    assert decision.to_json()["warnings"] == list(expected.warnings)
