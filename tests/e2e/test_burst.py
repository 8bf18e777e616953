"""A burst of pods against the emulated cluster: all placed, nothing overcommitted, everything recorded."""

from collections import Counter, defaultdict

from cluster import resources
from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, pods, scheduled_counts, scheduler, wait_until

NODES = 50
PODS = 2000
LOCAL_TIERS = {"transformer", "heuristic"}  # no token or endpoint: the production chain without the LLM


def test_2000_pods_on_50_nodes_are_all_bound_within_capacity_and_recorded():
    nodes = [node(f"n{i:02d}", cpu="8", memory="32Gi", pods=60) for i in range(NODES)]
    sizes = [("250m", "256Mi"), ("100m", "1Gi"), ("150m", "512Mi")]
    with Emulator(objects=nodes) as emulator, scheduler(emulator) as running:
        for i in range(PODS):
            cpu, memory = sizes[i % len(sizes)]
            emulator.store.create("pods", pod(f"p{i:04d}", cpu=cpu, memory=memory))
        wait_until(lambda: len(bound(emulator)) == PODS, timeout=240, what=f"{PODS} bindings")
        wait_until(lambda: len(events(emulator, "Scheduled")) == PODS, timeout=30, what="Scheduled events")
        summary = running.stats.summary()
        placed = pods(emulator)

    used: dict[str, Counter[str]] = defaultdict(Counter)
    for p in placed:
        requests = p["spec"]["containers"][0]["resources"]["requests"]
        used[p["spec"]["nodeName"]].update({k: resources.to_int(k, v) for k, v in requests.items()} | {"pods": 1})
    for name, totals in used.items():
        assert totals["cpu"] <= 8000 and totals["memory"] <= 32 * 1024**3 and totals["pods"] <= 60, name
    for p in placed:
        annotations = p["metadata"]["annotations"]
        assert annotations["ai-scheduler.io/decision-tier"] in LOCAL_TIERS
        assert 0 <= float(annotations["ai-scheduler.io/decision-score"]) <= 100
        assert len(annotations["ai-scheduler.io/decision-reason"]) <= 256
    assert set(scheduled_counts(emulator).values()) == {1}
    nodes_of = bound(emulator)
    for event in events(emulator, "Scheduled"):
        name = event["involvedObject"]["name"]
        assert event["message"] == f"Successfully assigned default/{name} to {nodes_of[name]}"
    assert summary["bound"] == PODS and summary["failed_bindings"] == 0
    assert set(summary["decisions"]) <= LOCAL_TIERS and sum(summary["decisions"].values()) == PODS
