"""The production loop (`runtime.app.build`) on the emulated cluster with a slow LLM: every pod bound quickly."""

import threading
import time
from dataclasses import replace
from typing import NoReturn

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from runtime import app
from runtime.kube import Kube
from runtime.writer import REASON, TIER
from sim.apiserver import Emulator, load_objects
from telemetry.stats import Stats
from tests.builders import pod_json
from tests.e2e.cluster import node, pod, settings
from tests.llm.conftest import SNAPSHOT, llm_settings
from tests.llm.fake_llm import FakeLLM, Reply

PODS = 32


def test_the_loop_binds_every_pod_while_the_llm_takes_a_second_per_answer(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(content=None, delay=1.0))
    nodes = [o for o in load_objects(SNAPSHOT) if o["kind"] == "Node"]
    pods = [pod_json(f"p{i}", cpu=f"{100 + 10 * i}m", memory="64Mi") for i in range(PODS)]
    settings = llm_settings(fake_llm.url, llm={"max_concurrency": 4})
    with Emulator(nodes) as emulator:
        scheduler = app.build(settings, Kube.connect(server=emulator.url), stats=Stats())
        assert scheduler.settings.decision_workers == 5  # max_concurrency + 1
        scheduler.start()
        try:
            assert scheduler.wait_ready(10)
            began = time.monotonic()
            for pod in pods:
                emulator.store.create("pods", pod)
            bound: list[dict] = []
            while time.monotonic() - began < 20:
                listed = emulator.store.list("pods", namespace="default").items
                bound = [p for p in listed if p["spec"].get("nodeName")]
                if len(bound) == PODS:
                    break
                time.sleep(0.05)
            wall = time.monotonic() - began
        finally:
            scheduler.stop()
    assert len(bound) == PODS
    assert wall < 6.0, f"{PODS} pods took {wall:.2f}s"
    tiers = [p["metadata"]["annotations"][TIER] for p in bound]
    assert 1 <= tiers.count("llm") <= PODS and set(tiers) <= {"llm", "heuristic"}
    assert fake_llm.max_in_flight <= 4
    for pod in bound:
        if pod["metadata"]["annotations"][TIER] == "llm":
            assert pod["metadata"]["annotations"][REASON] == "first candidate offered"
    print(f"\nloop: {PODS} pods bound in {wall:.2f}s, {tiers.count('llm')} by the LLM (1 s per answer, 4 slots)")


class Wedged:
    """A decider that never returns until released: a worker stuck mid-decision at shutdown."""

    def __init__(self) -> None:
        self.inside = threading.Semaphore(0)
        self.release = threading.Event()

    def decide(self, pod: Pod, snapshot: Snapshot) -> NoReturn:
        self.inside.release()
        self.release.wait(30)
        raise RuntimeError("released at the end of the test")


def test_stop_gives_wedged_workers_one_grace_period_in_all_not_one_each() -> None:
    """Four workers stuck at SIGTERM: joined one grace period apiece, they would take 4 s and, at the default
    10 s, outlast the pod's 30 s termination grace before the lease is released."""
    wedged = Wedged()
    with Emulator([node("n1")]) as emulator:
        scheduler = app.build(settings(), Kube.connect(server=emulator.url, timeout=5), stats=Stats())
        scheduler.settings = replace(scheduler.settings, decision_workers=4, shutdown_grace=1.0)
        scheduler.decider = wedged  # type: ignore[assignment]
        scheduler.start()
        try:
            assert scheduler.wait_ready(10)
            for i in range(4):
                emulator.store.create("pods", pod(f"p{i}"))
            assert all(wedged.inside.acquire(timeout=10) for _ in range(4)), "four workers inside a decision"
            began = time.monotonic()
            scheduler.stop()
            took = time.monotonic() - began
        finally:
            wedged.release.set()
            scheduler.stop()
    assert 1.0 <= took < 3.0, f"stop took {took:.2f}s with four workers wedged and a 1 s grace"
