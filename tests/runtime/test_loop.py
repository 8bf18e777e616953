"""The production loop (`runtime.app.build`) on the emulated cluster with a slow LLM: every pod bound quickly."""

import time

from runtime import app
from runtime.kube import Kube
from runtime.writer import REASON, TIER
from sim.apiserver import Emulator, load_objects
from telemetry.stats import Stats
from tests.builders import pod_json
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
