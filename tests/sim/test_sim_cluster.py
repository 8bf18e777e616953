"""The simulated cluster's stand-in node agents: telemetry follows the pods as they come and go."""

import json
import time

from cluster import nodestate
from sim.cluster import SimCluster
from sim.scenario import load

ANNOTATION = "ai-scheduler.io/node-state"


def state(world: SimCluster, name: str) -> nodestate.NodeState:
    raw = world.emulator.store.get("nodes", name)["metadata"]["annotations"][ANNOTATION]
    return nodestate.parse(raw, node=name, warn=lambda message: (_ for _ in ()).throw(AssertionError(message)))


def wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_every_node_has_a_valid_state_at_start_and_missing_counters_are_absent():
    with SimCluster(load("seed-001")) as world:
        states = {name: state(world, name) for name in world.node_names()}
    assert all(s.known for s in states.values())
    assert states["worker-5"].value("memory_bandwidth_ratio") > 0.5  # the hidden bandwidth hog shows up
    assert states["worker-3"].value("llc_occupancy_ratio") is None  # no resctrl on worker-3
    assert states["worker-6"].value("cpi") is None and states["worker-6"].sources["perf"] is False


def test_a_noisy_pod_bound_to_a_quiet_node_changes_that_nodes_telemetry():
    hog = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hog", "namespace": "default"},
        "spec": {
            "schedulerName": "ai-llama-scheduler",
            "containers": [{"name": "c", "image": "alexeiled/stress-ng:0.17", "args": ["--stream", "8"],
                            "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}],
        },
    }  # fmt: skip
    with SimCluster(load("seed-001"), publish_interval=0.1) as world:
        before = state(world, "worker-1").value("memory_bandwidth_ratio")
        world.create([hog])
        world.emulator.store.bind("default", "hog", "worker-1")
        assert wait(lambda: state(world, "worker-1").value("memory_bandwidth_ratio") > before + 0.3)
        published = world.emulator.store.get("nodes", "worker-1")["metadata"]["annotations"][ANNOTATION]
    assert json.loads(published)["node"] == "worker-1"
