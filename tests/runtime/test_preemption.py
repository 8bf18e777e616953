"""Preemption end to end: the production loop, the real kubernetes client, the emulator's eviction and PDBs.

A high-priority pod on a full cluster evicts the fewest lower-priority pods (a PDB-protected one is
reprieved), is nominated to the node, and binds once they are gone; a `preemptionPolicy: Never` pod
evicts nothing and stays Pending.
"""

import logging
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.clock import FakeClock
from cluster.config import Settings
from cluster.parse import parse_pod
from cluster.snapshot import Snapshot
from runtime import app
from runtime.assemble import build_decider
from runtime.kube import Kube
from runtime.leader import FencedWriter, LeaseGate
from runtime.loop import Scheduler
from runtime.preemption import Preemptor
from runtime.writer import Writer
from scoring.framework import PodInfo
from sim.apiserver import Emulator
from telemetry.logs import FIELDS
from tests import tools
from tests.builders import make_node, node_json, pod_json

WAIT_SECONDS = 20.0
KUBECTL = tools.which("kubectl")


def running(name: str, node: str, priority: int, *, app_label: str) -> dict[str, Any]:
    return pod_json(name, node=node, cpu="1", memory="64Mi", labels={"app": app_label}, spec={"priority": priority})


@pytest.fixture
def cluster() -> Iterator[tuple[Emulator, Scheduler]]:
    """Two full 2-CPU nodes: node-1 runs `web` (priority 10, the only pod of a PDB with minAvailable 1) and
    `batch-1` (priority 10); node-2 runs two pods of priority 20. The scheduler runs its heuristic tier."""
    objects = [
        node_json("node-1", cpu="2"),
        node_json("node-2", cpu="2"),
        running("web", "node-1", 10, app_label="web"),
        running("batch-1", "node-1", 10, app_label="batch"),
        running("api-1", "node-2", 20, app_label="api"),
        running("api-2", "node-2", 20, app_label="api"),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
    ]
    with Emulator(objects) as emulator:
        scheduler = app.build(Settings(), Kube.connect(server=emulator.url), tier="heuristic")
        scheduler.start()
        try:
            assert scheduler.wait_ready(10)
            yield emulator, scheduler
        finally:
            scheduler.stop()


def wait_for(condition: Callable[[], Any]) -> Any:
    """Poll the emulator's store until `condition` holds (the loop runs on real threads and a real clock)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT_SECONDS}s")


def pods(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in emulator.store.list("pods", namespace="default").items}


def events(emulator: Emulator, reason: str) -> list[dict[str, Any]]:
    return [e for e in emulator.store.list("events", namespace="default").items if e.get("reason") == reason]


def test_a_high_priority_pod_evicts_the_fewest_lower_priority_pods_and_binds(
    cluster: tuple[Emulator, Scheduler], tmp_path: Path
) -> None:
    emulator, scheduler = cluster
    wait_for(
        lambda: (emulator.store.get("poddisruptionbudgets", "web", namespace="default").get("status") or {}).get(
            "currentHealthy"
        )
    )
    emulator.store.create("pods", pod_json("urgent", cpu="1", memory="64Mi", spec={"priority": 1000}))

    bound = wait_for(lambda: pods(emulator)["urgent"]["spec"].get("nodeName"))

    left = pods(emulator)
    assert bound == "node-1"
    assert sorted(left) == ["api-1", "api-2", "urgent", "web"], "only batch-1 is evicted: web's PDB reprieves it"
    assert left["urgent"]["status"].get("nominatedNodeName") == "node-1"
    if KUBECTL is not None:  # and as kubectl shows it
        command = [KUBECTL, "--server", emulator.url, "--cache-dir", str(tmp_path / "cache"), "get", "pod", "urgent"]
        shown = subprocess.run(
            [*command, "-o", "jsonpath={.spec.nodeName} {.status.nominatedNodeName}"],
            capture_output=True,
            text=True,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            timeout=60,
            check=True,
        )
        assert shown.stdout == "node-1 node-1"
    preempted = events(emulator, "Preempted")
    assert [(e["involvedObject"]["name"], e["message"]) for e in preempted] == [
        ("batch-1", f"Preempted by pod {left['urgent']['metadata']['uid']} on node node-1")
    ]
    registry = scheduler.stats.registry
    assert registry.get_sample_value("scheduler_preemption_victims_count") == 1
    assert registry.get_sample_value("scheduler_preemption_victims_sum") == 1


def test_a_pod_with_preemption_policy_never_evicts_nothing(cluster: tuple[Emulator, Scheduler]) -> None:
    emulator, _ = cluster
    polite = pod_json("polite", cpu="1", memory="64Mi", spec={"priority": 1000, "preemptionPolicy": "Never"})
    emulator.store.create("pods", polite)

    failed = wait_for(lambda: events(emulator, "FailedScheduling"))

    assert failed[0]["message"] == (
        "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    )
    left = pods(emulator)
    assert sorted(left) == ["api-1", "api-2", "batch-1", "polite", "web"]
    assert not left["polite"]["spec"].get("nodeName")
    assert not events(emulator, "Preempted")
    assert cluster[1].stats.registry.get_sample_value("scheduler_preemption_attempts_total") >= 1
    assert cluster[1].stats.registry.get_sample_value("scheduler_preemption_victims_count") == 0


@pytest.mark.parametrize(
    ("priority", "name", "fits"),
    [
        pytest.param(10, "later", False, id="a lower-priority pod does not take the room made for a nominated pod"),
        pytest.param(1000, "later", False, id="an equal-priority pod does not take it either (addNominatedPods)"),
        pytest.param(2000, "later", True, id="a higher-priority pod ignores the nomination"),
        pytest.param(1000, "urgent", True, id="the nominated pod itself is not counted against itself"),
    ],
)
def test_the_nominator_holds_the_room(priority: int, name: str, fits: bool) -> None:
    with Emulator([node_json("node-1", cpu="2")]) as emulator:
        kube = Kube.connect(server=emulator.url)
        writer = Writer(kube, scheduler_name="ai-llama-scheduler", instance="test", clock=FakeClock())
        try:
            nominator = Preemptor(kube, writer, FakeClock())
            nominated = pod_json("urgent", cpu="2", memory="64Mi", spec={"priority": 1000})
            nominated["status"] = {"nominatedNodeName": "node-1"}
            nominator.observe(parse_pod(nominated), None)
            snapshot = Snapshot.build([make_node("node-1", cpu="2")])
            incoming = parse_pod(pod_json(name, cpu="1", memory="64Mi", spec={"priority": priority}))
            decider = build_decider(Settings(), tier="heuristic")
            assert decider.fits(incoming, nominator.with_nominated(snapshot, incoming), "node-1") is fits
            nominator.observe(None, "default/urgent")  # bound or deleted: nominated nowhere
            assert decider.fits(incoming, nominator.with_nominated(snapshot, incoming), "node-1")
        finally:
            writer.close()


def preempt_for_urgent(emulator: Emulator, preemptor: Preemptor, snapshot: Snapshot) -> str:
    """Create `urgent` (priority 1000, 1 CPU) and run the PostFilter for it with the heuristic profile's filters."""
    urgent = parse_pod(emulator.store.create("pods", pod_json("urgent", cpu="1", spec={"priority": 1000})))
    decider = build_decider(Settings(), tier="heuristic")
    info = PodInfo.of(urgent, snapshot)
    return preemptor.post_filter(
        urgent,
        snapshot,
        decider.filter(info, snapshot).failures,
        filters=decider.filter_profile.filters,
        info=info,
        heuristic=decider.heuristic,
    )


@pytest.mark.parametrize(
    ("lease_current", "message", "left"),
    [
        pytest.param(True, "", ["keeper"], id="the leader evicts the lowest-priority pod and nominates"),
        pytest.param(
            False,
            "preemption: not evicting on node node-1: this replica's lease is not certainly current",
            ["keeper", "victim"],
            id="a replica whose lease may have passed to another evicts nothing",
        ),
    ],
)
def test_evictions_are_fenced_by_the_lease(lease_current: bool, message: str, left: list[str]) -> None:
    victim = running("victim", "node-1", 5, app_label="batch")
    keeper = running("keeper", "node-1", 10, app_label="batch")
    with Emulator([node_json("node-1", cpu="2"), victim, keeper]) as emulator:
        kube = Kube.connect(server=emulator.url)
        clock = FakeClock()
        gate = LeaseGate(clock, validity=10)
        if lease_current:
            gate.renewed(clock.monotonic())
        writer = FencedWriter(kube, scheduler_name="ai-llama-scheduler", instance="test", clock=clock, gate=gate)
        try:
            preemptor = Preemptor(kube, writer, clock)
            snapshot = Snapshot.build([make_node("node-1", cpu="2")], [parse_pod(victim), parse_pod(keeper)])
            got = preempt_for_urgent(emulator, preemptor, snapshot)
            nominated = emulator.store.get("pods", "urgent", namespace="default")["status"].get("nominatedNodeName")
        finally:
            writer.close()
        assert got == message
        assert sorted(set(pods(emulator)) - {"urgent"}) == left
        assert nominated == ("node-1" if lease_current else None)


WEB_BUDGET = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "web", "namespace": "default", "generation": 1},
    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    "status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1},
}


@pytest.mark.parametrize(
    ("budget", "throttled", "stored_uid", "message", "disruption", "cause"),
    [
        pytest.param(
            "known",
            False,
            "victim",
            "",
            "PreemptionByScheduler",
            "chosen",
            id="a victim the decision knows violates its budget is marked and deleted as kube-scheduler does",
        ),
        pytest.param(
            "server only",
            False,
            "victim",
            "",
            "PreemptionByScheduler",
            "eviction_refused",
            id="a victim the Eviction API refuses for a budget the decision did not know is deleted the same way",
        ),
        pytest.param(
            None,
            True,
            "victim",
            "preemption: evicting pod default/victim failed: 429",
            None,
            None,
            id="a 429 of the API server's throttling (no budget cause) deletes nothing: the pod is retried",
        ),
        pytest.param(
            None,
            False,
            "victim",
            "",
            "EvictionByEvictionAPI",
            None,
            id="a victim that violates no budget goes through the Eviction API, which marks it",
        ),
        pytest.param(
            None,
            False,
            None,
            "",
            None,
            None,
            id="a victim already gone is no failure: the pod is nominated and nobody gets a Preempted event",
        ),
        pytest.param(
            None,
            False,
            "someone-else",
            "preemption: evicting pod default/victim failed: 409",
            None,
            None,
            id="a pod re-created under the victim's name is left alone and the preemption fails",
        ),
        pytest.param(
            "known",
            False,
            "someone-else",
            "preemption: evicting pod default/victim failed: 409",
            None,
            "chosen",
            id="a violating victim re-created under its name is not deleted either",
        ),
    ],
)
def test_how_a_victim_is_removed(
    budget: str | None,
    throttled: bool,
    stored_uid: str | None,
    message: str,
    disruption: str | None,
    cause: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`known`: the PDB is in the emulator and the preemptor's informer state; `server only`: in the emulator only
    (created after the decision read the budgets)."""
    victim = running("victim", "node-1", 5, app_label="web")
    victim["metadata"]["uid"] = "victim"
    stored = [] if stored_uid is None else [{**victim, "metadata": {**victim["metadata"], "uid": stored_uid}}]
    budgets = [WEB_BUDGET] if budget else []
    with Emulator([node_json("node-1", cpu="1"), *stored, *budgets]) as emulator:
        removed: list[dict[str, Any]] = []
        emulator.store.subscribe(lambda c: removed.append(c.object) if c.type == "DELETED" else None)
        if throttled:
            emulator.faults.fail_next(1, verb="create", resource="pods/eviction", code=429)
        kube = Kube.connect(server=emulator.url)
        clock = FakeClock()
        writer = Writer(kube, scheduler_name="ai-llama-scheduler", instance="test", clock=clock)
        try:
            preemptor = Preemptor(kube, writer, clock)
            if budget == "known":
                preemptor.budget_event("ADDED", WEB_BUDGET)
            snapshot = Snapshot.build([make_node("node-1", cpu="1")], [parse_pod(victim)])
            with caplog.at_level(logging.WARNING, logger="runtime.preemption"):
                got = preempt_for_urgent(emulator, preemptor, snapshot)
            nominated = emulator.store.get("pods", "urgent", namespace="default")["status"].get("nominatedNodeName")
        finally:
            writer.close()
        left = sorted(pods(emulator))
        preempted = events(emulator, "Preempted")
    assert got == message
    assert nominated == (None if message else "node-1")
    deleted = [p for p in removed if p["metadata"]["name"] == "victim"]
    if disruption is None:
        assert deleted == []
        assert left == (["urgent", "victim"] if stored_uid else ["urgent"])
        assert preempted == []
    else:
        assert left == ["urgent"]
        [target] = [c for c in deleted[0]["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert (target["status"], target["reason"]) == ("True", disruption)
        assert [e["involvedObject"]["name"] for e in preempted] == ["victim"]
    causes = [
        getattr(r, FIELDS)["cause"] for r in caplog.records if getattr(r, FIELDS, {}).get("event") == "victim_deleted"
    ]
    assert causes == ([cause] if cause else [])
