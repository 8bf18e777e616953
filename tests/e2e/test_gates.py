"""Scheduling gates through the real loop, with kubectl removing the gate as a queue controller (Kueue) would."""

from pathlib import Path

import pytest

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, scheduler, settings, wait_until
from tests.sim.test_kubectl import KUBECTL, kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
HEURISTIC = settings(scoring={"model_path": "no-weights.pt"}, llm={"enabled": False})


def test_a_gated_pod_stays_pending_until_its_gate_is_removed_then_binds(tmp_path: Path) -> None:
    with Emulator(objects=[node("n1")]) as emulator, scheduler(emulator, HEURISTIC) as running:
        emulator.store.create("pods", pod("gated", schedulingGates=[{"name": "example.com/quota"}]))
        emulator.store.create("pods", pod("plain"))
        wait_until(lambda: "plain" in bound(emulator), timeout=30, what="the ungated pod's binding")
        wait_until(lambda: running.queue.lengths()["gated"] == 1, timeout=10, what="the gated queue to hold it")
        assert "gated" not in bound(emulator)
        assert not [e for e in events(emulator, "FailedScheduling") if e["involvedObject"]["name"] == "gated"]
        patch = '[{"op": "remove", "path": "/spec/schedulingGates"}]'
        kubectl(tmp_path, "patch", "pod", "gated", "--type=json", "-p", patch, server=emulator.url)
        wait_until(lambda: bound(emulator).get("gated") == "n1", timeout=30, what="the ungated pod's binding")
        assert running.queue.lengths()["gated"] == 0
