"""Soft spreading through the real loop: replicas with no constraints of their own spread across nodes when a
Service or their controller selects them (upstream's `DefaultSelector`), and only then."""

from collections import Counter

import pytest

from runtime.writer import REASON
from sim.apiserver import Emulator
from tests.e2e.cluster import bound, node, pod, pods, scheduler, settings, wait_until

OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9f", "uid": "6f1d-rs", "controller": True}
REPLICA_SET = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web-7c9f", "namespace": "default"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}
NODES = [  # n0 big enough that the model alone would put every replica there, not so big that spreading cannot win
    node("n0", cpu="128", memory="512Gi"),
    node("n1", cpu="8", memory="32Gi"),
    node("n2", cpu="8", memory="32Gi"),
]


def replica(name: str, owner: dict | None) -> dict:
    body = pod(name)
    body["metadata"]["labels"] = {"app": "web"}
    if owner is not None:
        body["metadata"]["ownerReferences"] = [owner]
    return body


@pytest.mark.parametrize(
    ("objects", "owner", "spread"),
    [
        pytest.param([REPLICA_SET], OWNER, True, id="a ReplicaSet's three replicas land on three nodes"),
        pytest.param([SERVICE], None, True, id="three bare replicas a Service selects land on three nodes"),
        pytest.param([], None, False, id="three bare pods no Service or controller selects are not spread"),
    ],
)
def test_default_spreading_follows_the_services_and_controllers(objects: list, owner: dict | None, spread: bool):
    """Through the production chain, where the transformer decides: the system default spreading, hostname
    maxSkew 3 weighed 2 against interference's 5, puts each replica on a node without a sibling once the
    scheduler's Service and controller informers say whose siblings they are (here it moves the second replica
    off the node the model alone would pick). Bare pods get no such preference: wherever the model puts them, no
    decision is the spread preference's."""
    with Emulator(objects=[*NODES, *objects]) as emulator, scheduler(emulator, settings()):
        for i in range(3):
            emulator.store.create("pods", replica(f"web-{i}", owner))
        wait_until(lambda: len(bound(emulator)) == 3, timeout=60, what="3 bindings")
        placed = pods(emulator)
    nodes = Counter(p["spec"]["nodeName"] for p in placed)
    reasons = [p["metadata"]["annotations"][REASON] for p in placed]
    preferred = [r for r in reasons if r.startswith("spread/affinity preference")]
    if spread:
        assert sorted(nodes) == ["n0", "n1", "n2"], nodes
        assert preferred, reasons
    else:
        assert not preferred, reasons
