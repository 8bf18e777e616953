"""Preemption against PodDisruptionBudgets and in shadow mode, end to end: the production scheduler, the real
kubernetes client, the emulator's `pods/eviction` with its budget checks (429 when a budget allows none).

kube-scheduler's DefaultPreemption may pick a victim whose eviction violates a budget when no other way makes
room, and removes it with a delete, never through the Eviction API; the scheduler does the same for such a
victim. Shadow mode evicts nothing and records what preemption would do.
"""

import logging
from typing import Any

import pytest

from sim.apiserver import Emulator
from telemetry.logs import FIELDS
from tests.e2e.cluster import JSON, bound, events, node, pod, pods, scheduler, settings, wait_until

RECOMMENDED = "ai-scheduler.io/recommended-node"
REASON = "ai-scheduler.io/decision-reason"


def running(name: str, priority: int, app: str) -> JSON:
    placed = pod(name, cpu="1", memory="64Mi", nodeName="node-1", priority=priority)
    placed["metadata"]["labels"] = {"app": app}
    return placed


def budget(app: str) -> JSON:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app, "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
    }


def budget_status(emulator: Emulator, name: str) -> dict[str, Any]:
    return emulator.store.get("poddisruptionbudgets", name, namespace="default").get("status") or {}


def by_name(emulator: Emulator) -> dict[str, JSON]:
    return {p["metadata"]["name"]: p for p in pods(emulator)}


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [getattr(r, FIELDS) for r in caplog.records if getattr(r, FIELDS, {}).get("event") == event]


def test_a_pod_whose_only_room_is_a_pdb_protected_pod_binds_after_that_victim_is_deleted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """node-1 (2 CPU) runs `web` (priority 10, the only pod of a budget with minAvailable 1) and `api` (priority
    2000): `urgent` (priority 1000, 1 CPU) fits only in web's place. The Eviction API would refuse web (429)
    forever; the scheduler deletes it as kube-scheduler does, and urgent binds."""
    objects = [node("node-1", cpu="2"), running("web", 10, "web"), running("api", 2000, "api"), budget("web")]
    with Emulator(objects) as emulator:
        gone: list[JSON] = []
        emulator.store.subscribe(lambda c: gone.append(c.object) if c.type == "DELETED" else None)
        with scheduler(emulator), caplog.at_level(logging.INFO, logger="runtime.preemption"):
            wait_until(lambda: budget_status(emulator, "web").get("currentHealthy"), 10, "web's budget status")
            assert budget_status(emulator, "web")["disruptionsAllowed"] == 0
            emulator.store.create("pods", pod("urgent", cpu="1", memory="64Mi", priority=1000))
            wait_until(lambda: bound(emulator).get("urgent") == "node-1", 20, "urgent bound in web's place")
            left = by_name(emulator)
            preempted = events(emulator, "Preempted")
            disrupted = budget_status(emulator, "web").get("disruptedPods") or {}

    assert sorted(left) == ["api", "urgent"]
    assert left["urgent"]["status"]["nominatedNodeName"] == "node-1"
    [web] = [p for p in gone if p["metadata"]["name"] == "web"]
    [target] = [c for c in web["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "PreemptionByScheduler",
        "ai-llama-scheduler: preempting to accommodate a higher priority pod",
    )
    assert disrupted == {}, "deleted, not evicted: the budget never counted web as a disruption it allowed"
    assert [(e["involvedObject"]["name"], e["message"]) for e in preempted] == [
        ("web", f"Preempted by pod {left['urgent']['metadata']['uid']} on node node-1")
    ]
    [warning] = logged(caplog, "victim_deleted")
    assert warning == {
        "event": "victim_deleted",
        "pod": "default/urgent",
        "victim": "default/web",
        "node": "node-1",
        "cause": "chosen",
    }
    [done] = logged(caplog, "preempted")
    assert (done["victims"], done["violating"]) == ("default/web", "default/web")


def test_shadow_mode_evicts_nothing_and_records_the_would_be_victims(caplog: pytest.LogCaptureFixture) -> None:
    """node-1 (2 CPU) runs `web` (priority 10, PDB-protected) and `batch` (priority 5); `urgent` needs both CPUs.
    In shadow mode every pod keeps running; the recommendation, the FailedScheduling event and the log name
    the node and both victims, web as violating its budget."""
    objects = [node("node-1", cpu="2"), running("web", 10, "web"), running("batch", 5, "batch"), budget("web")]
    would = (
        "preemption: would evict default/web, default/batch on node node-1, "
        "violating the PodDisruptionBudget of default/web"
    )
    shadow = settings(scheduler={"shadow_mode": True})
    with (
        Emulator(objects) as emulator,
        scheduler(emulator, shadow) as running_scheduler,
        caplog.at_level(logging.INFO, logger="runtime.preemption"),
    ):
        wait_until(lambda: budget_status(emulator, "web").get("currentHealthy"), 10, "web's budget status")
        emulator.store.create("pods", pod("urgent", cpu="2", memory="64Mi", priority=1000))
        wait_until(
            lambda: RECOMMENDED in (by_name(emulator)["urgent"]["metadata"].get("annotations") or {}),
            20,
            "the recommendation on urgent",
        )
        wait_until(lambda: events(emulator, "FailedScheduling"), 10, "the FailedScheduling event")
        left = by_name(emulator)
        failed = events(emulator, "FailedScheduling")
        attempts = running_scheduler.stats.registry.get_sample_value("scheduler_preemption_attempts_total")
        victims = running_scheduler.stats.registry.get_sample_value("scheduler_preemption_victims_count")

    assert sorted(left) == ["batch", "urgent", "web"]
    assert bound(emulator) == {"batch": "node-1", "web": "node-1"}
    assert not left["urgent"]["status"].get("nominatedNodeName")
    annotations = left["urgent"]["metadata"]["annotations"]
    assert (annotations[RECOMMENDED], annotations[REASON]) == ("node-1", would)
    assert (
        failed[0]["message"] == f"0/1 nodes are available: 1 Insufficient cpu. {would} (shadow mode: nothing evicted)."
    )
    assert events(emulator, "Preempted") == []
    assert logged(caplog, "victim_deleted") == [] and logged(caplog, "preempted") == []
    shadowed = logged(caplog, "would_preempt")
    assert shadowed and shadowed[0] == {
        "event": "would_preempt",
        "pod": "default/urgent",
        "node": "node-1",
        "victims": "default/web,default/batch",
        "violating": "default/web",
    }
    assert attempts >= 1 and victims == 0
