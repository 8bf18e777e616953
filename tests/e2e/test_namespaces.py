"""Pod affinity's namespaceSelector through the real loop: the namespace informer feeds namespace labels, and
labelling a namespace with kubectl makes a pod waiting on such a selector schedulable."""

from pathlib import Path

import pytest

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, scheduler, settings, wait_until
from tests.sim.test_kubectl import KUBECTL, kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
HEURISTIC = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def database(name: str, namespace: str, node_name: str) -> dict:
    body = pod(name, namespace=namespace, nodeName=node_name)
    body["metadata"]["labels"] = {"app": "db"}
    return body


def near_storage_teams_db(name: str, *, required: bool) -> dict:
    term = {
        "labelSelector": {"matchLabels": {"app": "db"}},
        "namespaceSelector": {"matchLabels": {"team": "storage"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    if required:
        affinity = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    else:
        affinity = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}
    return pod(name, affinity={"podAffinity": affinity})


def test_a_required_namespace_selector_waits_for_the_label_then_binds_beside_that_namespaces_pod(
    tmp_path: Path,
) -> None:
    with Emulator(objects=[node("n1"), node("n2")]) as emulator:
        emulator.store.create("namespaces", namespace("data"))
        emulator.store.create("namespaces", namespace("scratch", team="web"))
        emulator.store.create("pods", database("db", "data", "n2"))
        emulator.store.create("pods", database("decoy", "scratch", "n1"))
        with scheduler(emulator, HEURISTIC):
            emulator.store.create("pods", near_storage_teams_db("app", required=True))
            wait_until(
                lambda: any(e["involvedObject"]["name"] == "app" for e in events(emulator, "FailedScheduling")),
                timeout=30,
                what="FailedScheduling for a selector no namespace matches yet",
            )
            assert "app" not in bound(emulator)
            kubectl(tmp_path, "label", "namespace", "data", "team=storage", server=emulator.url)
            wait_until(lambda: "app" in bound(emulator), timeout=30, what="the binding after the label")
            assert bound(emulator)["app"] == "n2"


def test_a_preferred_namespace_selector_places_the_pod_beside_the_labelled_namespaces_pod() -> None:
    with Emulator(objects=[node("n1"), node("n2")]) as emulator:
        emulator.store.create("namespaces", namespace("data", team="storage"))
        emulator.store.create("namespaces", namespace("scratch", team="web"))
        emulator.store.create("pods", database("db", "data", "n2"))
        emulator.store.create("pods", database("decoy", "scratch", "n1"))
        with scheduler(emulator, HEURISTIC):
            emulator.store.create("pods", near_storage_teams_db("app", required=False))
            wait_until(lambda: "app" in bound(emulator), timeout=30, what="the binding")
            assert bound(emulator)["app"] == "n2"
