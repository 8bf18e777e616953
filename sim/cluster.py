"""An emulated cluster that behaves like a real one: the API server, a scenario, and node agents.

`SimCluster` loads a scenario into the API server emulator and plays the node agents' part: whenever
pods come or go on a node, that node's NodeState is recomputed from the interference model and
published as its `ai-scheduler.io/node-state` annotation (a merge patch through the store, so
informers see an ordinary MODIFIED event). As a real agent, it publishes at most every
`publish_interval` seconds per change, and refreshes every node every `refresh_interval` seconds so
timestamps stay fresh. The demo, the end-to-end tests and the benchmark run the real scheduler
against it over HTTP.

Independent of the product's model code (the import contract keeps it so): it knows the scenario,
the interference model and the emulator, nothing about how the scheduler decides.
"""

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from cluster.clock import Clock, SystemClock
from sim import counters
from sim.apiserver import Emulator
from sim.cluster_state import ClusterState
from sim.scenario import Scenario

log = logging.getLogger(__name__)
JSON = dict[str, Any]


class SimCluster:
    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: Clock | None = None,
        publish_interval: float = 1.0,
        refresh_interval: float = 30.0,
        kubelet_delay: float = 0.0,
        kubelet: bool = True,
        history: int = 10_000,
    ) -> None:
        self.scenario = scenario
        self.clock = clock or SystemClock()
        self.publish_interval = publish_interval
        self.refresh_interval = refresh_interval
        self.emulator = Emulator(
            objects=[*scenario.nodes, *scenario.pods],
            clock=self.clock,
            kubelet=kubelet,
            kubelet_delay=kubelet_delay,
            history=history,
        )
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, name="sim-agents", daemon=True)
        self._unsubscribe: Any = None
        self.publications = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the cluster and publish every node's telemetry once before returning the URL."""
        url = self.emulator.start(host, port)
        self._unsubscribe = self.emulator.store.subscribe(self._on_change, copy=False)
        self.publish(self.node_names())
        self._thread.start()
        return url

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.emulator.stop()

    def __enter__(self) -> "SimCluster":
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.emulator.url

    # -- reading and writing the cluster ------------------------------------------------------------

    def node_names(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.emulator.store.list("nodes", copy=False).items]

    def pods(self) -> list[JSON]:
        return self.emulator.store.list("pods").items

    def create(self, pods: Iterable[JSON]) -> None:
        """Create pods (as a user would with kubectl apply)."""
        for pod in pods:
            self.emulator.store.create("pods", pod)

    def state(self) -> ClusterState:
        """The interference model's view of the cluster as it is now (bound pods on their nodes)."""
        nodes = self.emulator.store.list("nodes").items
        return ClusterState.from_objects(nodes, self._with_profiles(self.pods()))

    def _with_profiles(self, pods: list[JSON]) -> list[JSON]:
        """Pods as the scenario knows them: its hidden neighbours keep their true profile."""
        out = []
        for pod in pods:
            meta = pod["metadata"]
            profile = self.scenario.profiles.get(f"{meta.get('namespace', 'default')}/{meta['name']}")
            annotations = meta.get("annotations") or {}
            if profile and "sim.ai-scheduler.io/profile" not in annotations:
                annotations = {**annotations, "sim.ai-scheduler.io/profile": profile}
                out.append({**pod, "metadata": {**meta, "annotations": annotations}})
            else:
                out.append(pod)
        return out

    # -- the node agents ------------------------------------------------------------------------------

    def publish(self, names: Iterable[str]) -> None:
        """Recompute and publish the NodeState of `names` now."""
        wanted = set(names)
        if not wanted:
            return
        nodes = [n for n in self.emulator.store.list("nodes").items if n["metadata"]["name"] in wanted]
        pods = [p for p in self.pods() if p["spec"].get("nodeName") in wanted]
        now = self.clock.now()
        rng = np.random.default_rng([self.scenario.seed, int(now)])
        states = counters.node_states(nodes, self._with_profiles(pods), now=now, rng=rng)
        for name, state in states.items():
            body = {"metadata": {"annotations": {counters.ANNOTATION: json.dumps(state, separators=(",", ":"))}}}
            self.emulator.store.patch("nodes", name, body)
            self.publications += 1

    def _on_change(self, change: Any) -> None:
        if change.resource == "pods":
            old = (change.old or {}).get("spec") or {}
            nodes = {(change.object.get("spec") or {}).get("nodeName"), old.get("nodeName")} - {None, ""}
            if nodes:
                with self._lock:
                    self._dirty |= nodes
                self._wake.set()
        elif change.resource == "nodes" and change.type == "ADDED":
            with self._lock:
                self._dirty.add(change.object["metadata"]["name"])
            self._wake.set()

    def _publish_loop(self) -> None:
        last_refresh = self.clock.monotonic()
        while not self._stop.is_set():
            self.clock.wait(self._wake, self.publish_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            if self.clock.monotonic() - last_refresh >= self.refresh_interval:
                dirty |= set(self.node_names())
                last_refresh = self.clock.monotonic()
            try:
                self.publish(dirty)
            except Exception:
                log.exception("publishing node telemetry failed")
            self.clock.wait(self._stop, self.publish_interval)
