"""In-place resize through the real loop: kubectl resizes a bound pod, and the growth is counted before the
next decision (kube-scheduler counts the larger of spec and what the kubelet allocated or actuated)."""

import json
from pathlib import Path

import pytest

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, scheduler, settings, wait_until
from tests.sim.test_kubectl import KUBECTL, kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
HEURISTIC = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})


def failed(emulator: Emulator, name: str) -> list[dict]:
    return [e for e in events(emulator, "FailedScheduling") if e["involvedObject"]["name"] == name]


def test_a_pod_resized_from_1_to_3_cpu_leaves_no_room_for_a_2_cpu_pod(tmp_path: Path) -> None:
    with Emulator(objects=[node("n1", cpu="4")]) as emulator, scheduler(emulator, HEURISTIC):
        emulator.store.create("pods", pod("a", cpu="1"))
        wait_until(lambda: bound(emulator).get("a") == "n1", timeout=30, what="pod a's binding")
        grow = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "3"}}}]}}
        kubectl(tmp_path, "patch", "pod", "a", "--subresource=resize", "-p", json.dumps(grow), server=emulator.url)
        resized = emulator.store.get("pods", "a", namespace="default")
        assert resized["status"]["containerStatuses"][0]["allocatedResources"]["cpu"] == "3"
        emulator.store.create("pods", pod("b", cpu="2"))
        wait_until(lambda: failed(emulator, "b"), timeout=30, what="pod b's FailedScheduling")
        assert "b" not in bound(emulator)
        assert "Insufficient cpu" in failed(emulator, "b")[0]["message"]
