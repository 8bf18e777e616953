"""Unschedulable pods, injected faults and shadow mode, end to end against the emulated cluster."""

import threading

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, pods, scheduled_counts, scheduler, settings, wait_until


def condition(emulator: Emulator, name: str) -> dict | None:
    for p in pods(emulator):
        if p["metadata"]["name"] == name:
            return next((c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled"), None)
    return None


def test_an_unschedulable_pod_is_reported_retried_and_bound_once_a_node_fits():
    nodes = [node(f"n{i}", cpu="4") for i in range(3)] + [node("tainted", cpu="64")]
    nodes[-1]["spec"] = {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}
    message = (
        "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu. "
        "preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
        "3 No preemption victims found for incoming pod."
    )
    with Emulator(objects=nodes) as emulator, scheduler(emulator) as running:
        emulator.store.create("pods", pod("big", cpu="32"))
        wait_until(lambda: events(emulator, "FailedScheduling"), timeout=10, what="FailedScheduling")
        event = events(emulator, "FailedScheduling")[0]
        assert event["message"] == message and event["type"] == "Warning"
        wait_until(lambda: condition(emulator, "big") is not None, timeout=10, what="the PodScheduled condition")
        assert condition(emulator, "big") | {"lastTransitionTime": None, "lastProbeTime": None} == {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": None,
            "lastProbeTime": None,
        }
        # the worker records the failure (writer first, then queue): the queue may trail the Event by a moment
        wait_until(lambda: running.queue.lengths()["unschedulable"] == 1, timeout=10, what="the unschedulable queue")
        # a node change that does not help: the pod is retried (after its backoff) and fails the same way,
        # which is counted on the same Event rather than piling up new ones
        emulator.store.patch("nodes", "n0", {"metadata": {"labels": {"rack": "r1"}}})
        wait_until(
            lambda: any(e.get("count") == 2 for e in events(emulator, "FailedScheduling")),
            timeout=15,
            what="a second attempt after the cluster changed",
        )
        assert len(events(emulator, "FailedScheduling")) == 1
        emulator.store.create("nodes", node("large", cpu="48"))
        wait_until(lambda: bound(emulator).get("big") == "large", timeout=15, what="the pod on the new node")
        assert running.stats.summary()["unschedulable"] >= 2


def test_faults_lose_no_pod_and_bind_none_twice():
    nodes = [node(f"n{i:02d}", cpu="8") for i in range(20)] + [node("doomed", cpu="8", labels={"pool": "doomed"})]
    with Emulator(objects=nodes) as emulator, scheduler(emulator) as running:
        emulator.faults.fail_next(15, verb="create", resource="pods/binding", code=500)
        emulator.faults.fail_next(3, verb="create", resource="pods/binding", code=503)
        for i in range(150):
            emulator.store.create("pods", pod(f"a{i:03d}"))
        emulator.faults.drop_watches()
        wait_until(lambda: len(bound(emulator)) >= 100, timeout=60, what="the first hundred bindings")
        emulator.faults.expire_history()
        emulator.faults.drop_watches()  # the informers resume from a version that is gone: 410, then a re-list
        # a pod deleted between its decision and its binding
        emulator.faults.add_latency(1.0, verb="create", resource="pods/binding", count=1)
        emulator.store.create("pods", pod("vanishing"))
        threading.Timer(0.5, lambda: emulator.store.delete("pods", "vanishing", namespace="default")).start()
        # pods queued for a node that is deleted under them
        emulator.store.create("nodes", node("late", cpu="1", labels={"pool": "late"}))
        for i in range(5):
            emulator.store.create("pods", pod(f"stranded{i}", cpu="2", nodeSelector={"pool": "late"}))
        emulator.store.delete("nodes", "late")
        for i in range(50):
            emulator.store.create("pods", pod(f"b{i:03d}"))
        emulator.faults.drop_watches()
        wait_until(lambda: len(bound(emulator)) == 200, timeout=90, what="every schedulable pod bound")
        wait_until(lambda: len(events(emulator, "FailedScheduling")) >= 5, timeout=30, what="the stranded pods' events")
        summary = running.stats.summary()
        alive = all(thread.is_alive() for thread in running._threads)

    names = {p["metadata"]["name"] for p in pods(emulator)}
    assert "vanishing" not in names
    assert {f"stranded{i}" for i in range(5)} <= names and not any(n.startswith("stranded") for n in bound(emulator))
    assert max(scheduled_counts(emulator).values()) == 1
    assert summary["failed_bindings"] >= 18
    assert alive


def test_shadow_mode_binds_nothing_and_annotates_every_pod():
    nodes = [node(f"n{i}") for i in range(4)]
    configured = settings(scheduler={"shadow_mode": True})
    with Emulator(objects=nodes) as emulator, scheduler(emulator, configured):
        for i in range(20):
            emulator.store.create("pods", pod(f"p{i}"))

        def all_annotated() -> bool:
            recommended = "ai-scheduler.io/recommended-node"
            return all(recommended in p["metadata"].get("annotations", {}) for p in pods(emulator))

        wait_until(all_annotated, timeout=20, what="recommendations on every pod")
        assert bound(emulator) == {}
        assert events(emulator, "Scheduled") == []
        for p in pods(emulator):
            annotations = p["metadata"]["annotations"]
            assert annotations["ai-scheduler.io/recommended-node"] in {f"n{i}" for i in range(4)}
            assert annotations["ai-scheduler.io/decision-tier"] in {"transformer", "heuristic"}
            assert annotations["ai-scheduler.io/decision-reason"]


def test_no_pod_is_decided_before_every_running_pod_is_counted():
    """A pending pod listed before the pods already running must not be placed as if the node were empty."""
    filler = [pod(f"m-{i:05d}", cpu="1m", memory="1Mi", nodeName="big") for i in range(3000)]
    objects = [
        node("small", cpu="2", labels={"disk": "ssd"}),
        node("big", cpu="64", pods=5000),
        pod("a-pending", cpu="1", nodeSelector={"disk": "ssd"}),  # listed first: names sort
        *filler,
        pod("z-running", cpu="1500m", nodeName="small"),  # listed last: fills "small"
    ]
    with Emulator(objects=objects) as emulator, scheduler(emulator) as running:
        wait_until(lambda: running.stats.summary()["unschedulable"] >= 1, timeout=30, what="a-pending's attempt")
        assert "a-pending" not in bound(emulator)
        assert "Insufficient cpu" in events(emulator, "FailedScheduling")[0]["message"]
