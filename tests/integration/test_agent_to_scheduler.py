"""The node agent publishing to the emulated cluster, read back by the scheduler's annotation source.

The real agent (`python -m agent`) samples this machine and patches its node in the emulator;
the scheduler's cache, fed by the real node informer, sees the node's telemetry change once a CPU-hungry
neighbour starts on the machine.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from cluster.clock import SystemClock
from runtime.cache import ADDED, MODIFIED, SchedulerCache
from runtime.kube import Kube
from sim.apiserver import Emulator
from tests.e2e.cluster import node, wait_until

ROOT = Path(__file__).resolve().parents[2]
NODE = "this-machine"


def reading(cache: SchedulerCache, metric: str) -> float | None:
    snapshot = cache.snapshot()
    index = snapshot.node_index(NODE)
    return None if index is None else snapshot.states[index].value(metric)


def test_the_scheduler_sees_the_agents_telemetry_change_when_a_neighbour_starts():
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=SystemClock(), max_age_seconds=120)
    with Emulator(objects=[node(NODE)]) as emulator:
        informer = Kube.connect(server=emulator.url).informer("nodes")
        for kind in (ADDED, MODIFIED):
            informer.add_event_handler(kind, lambda obj, kind=kind: cache.node_event(kind, obj))
        informer.start()
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "--node", NODE, "--api-server", emulator.url,
             "--window", "2", "--publish-interval", "2", "--publish-min-interval", "1", "--metrics-port", "0"],
            cwd=ROOT, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        neighbours: list[subprocess.Popen] = []
        try:
            wait_until(lambda: reading(cache, "cpu_utilization") is not None, timeout=30, what="a first NodeState")
            utilization, pressure = reading(cache, "cpu_utilization"), reading(cache, "psi_cpu_some") or 0.0
            spin = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
            neighbours = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2 * (os.cpu_count() or 2))]

            def busier() -> bool:  # on an idle machine utilisation climbs; on a busy one, CPU pressure does
                now_utilization = reading(cache, "cpu_utilization") or 0.0
                return now_utilization >= min(utilization + 0.15, 0.97) or (
                    (reading(cache, "psi_cpu_some") or 0.0) >= pressure + 10
                )

            wait_until(busier, timeout=30, what="the node's telemetry to show the CPU-hungry neighbour")
        finally:
            for neighbour in neighbours:
                neighbour.kill()
            agent.terminate()
            agent.wait(timeout=10)
            informer.stop()
    state = cache.snapshot().states[0]
    assert state.sources.get("psi") is not None and state.timestamp is not None
    assert time.time() - state.timestamp < 60
