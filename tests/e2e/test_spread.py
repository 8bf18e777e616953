"""Soft spreading through the real loop: replicas with no constraints of their own spread across nodes."""

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, node, pod, pods, scheduler, settings, wait_until

OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9f", "uid": "6f1d-rs", "controller": True}


def replica(name: str, owner: dict) -> dict:
    body = pod(name)
    body["metadata"].update(labels={"app": "web"}, ownerReferences=[owner])
    return body


def test_a_replicasets_three_replicas_without_constraints_land_on_three_nodes() -> None:
    """Through the production chain, where the transformer decides: on its predictions alone two of them
    shared a node (the model rates the roomy node worse); the system default spreading, hostname maxSkew 3
    weighed 2 against interference's 5, puts each on a node without a sibling."""
    nodes = [
        node("n0", cpu="64", memory="256Gi"),
        node("n1", cpu="8", memory="32Gi"),
        node("n2", cpu="8", memory="32Gi"),
    ]
    with Emulator(objects=nodes) as emulator, scheduler(emulator, settings()):
        for i in range(3):
            emulator.store.create("pods", replica(f"web-{i}", OWNER))
        wait_until(lambda: len(bound(emulator)) == 3, timeout=60, what="3 bindings")
        placed = pods(emulator)
    assert sorted(p["spec"]["nodeName"] for p in placed) == ["n0", "n1", "n2"]
