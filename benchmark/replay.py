"""Plays a scenario's arrivals through the real scheduler loop against the emulated cluster, deterministically.

`replay` starts the emulator with the scenario, the production scheduler (`runtime.app.build`) over HTTP
with the policy's decision chain, and creates the arrivals one at a time in their order, each once the
previous one is bound (or declared unschedulable). Time is virtual: the scenario's `at` gaps cost no
wall time, and both the scheduler and the node agents read the same `ReplayClock`, whose wall time is
the scenario's time (durations and deadlines stay real). That makes a run a function of the seed only:
the same arrivals meet the same telemetry whatever the machine's speed.

Telemetry lag is modelled as a real agent has it: every node publishes its NodeState every
`telemetry_period` scenario seconds (30 s by default, the agent's window), in five staggered cohorts
drawn from the seed, so placements made since a node's last publication are not in its telemetry yet.
The scheduler sees them only through its assume cache and the pods' declared `ai-scheduler.io/noisy`
annotations, as in a real burst. Before each arrival the replay waits until the scheduler's cache holds
every publication due by then.

`burst` creates every arrival at once against a fresh cluster and times the bindings: pods bound per
second through the whole loop (decision, assume, bind, events).
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.policies import Built
from cluster.clock import SystemClock
from cluster.config import Settings
from runtime import app
from runtime.kube import Kube
from runtime.loop import Scheduler
from sim.cluster import SimCluster
from sim.scenario import Scenario
from telemetry.stats import Stats

COHORTS = 5
DECISION_TIMEOUT = 120.0
SYNC_TIMEOUT = 30.0
JSON = dict[str, Any]


class ReplayError(RuntimeError):
    """The replay could not finish (a pod neither bound nor refused in time); the message says which."""


class ReplayClock(SystemClock):
    """Scenario time for timestamps (`now`), real time for intervals, sleeps and waits."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._lock = threading.Lock()

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now

    def now(self) -> float:
        with self._lock:
            return self._now


@dataclass
class Watcher:
    """Follows the emulator's pod changes: when each pod was bound, where, and which were refused."""

    bound: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    bound_at: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, change: Any) -> None:
        if change.resource != "pods":
            return
        pod = change.object
        meta = pod["metadata"]
        key = f"{meta.get('namespace') or 'default'}/{meta['name']}"
        node = (pod.get("spec") or {}).get("nodeName")
        conditions = (pod.get("status") or {}).get("conditions") or []
        refusal = next((c for c in conditions if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)
        with self.changed:
            if node and key not in self.bound:
                self.bound[key] = node
                self.order.append(key)
                self.bound_at[key] = time.monotonic()
                self.refused.pop(key, None)
            elif refusal is not None and not node:
                self.refused[key] = str(refusal.get("message", ""))
            if node:
                self.annotations[key] = dict(meta.get("annotations") or {})
            self.changed.notify_all()

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(done, timeout):
                raise ReplayError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass(frozen=True)
class Placement:
    """What one policy did with one scenario: where every arrival went, in the order it was bound."""

    bound: dict[str, str]
    order: list[str]
    refused: dict[str, str]
    annotations: dict[str, dict[str, str]]
    stats: dict[str, Any]
    publications: int
    wall_seconds: float


class Agents:
    """The node agents' publication schedule: each node every `period` s, in staggered cohorts."""

    def __init__(self, world: SimCluster, clock: ReplayClock, *, period: float, seed: int) -> None:
        self.world, self.clock, self.period = world, clock, period
        names = sorted(world.node_names())
        cohort = np.random.default_rng([seed, 30]).permutation(len(names)) % COHORTS
        self.cohorts = [[n for n, c in zip(names, cohort, strict=True) if c == k] for k in range(COHORTS)]
        self.done_until = 0.0
        self.publications = 0

    def publish_all(self, at: float) -> list[str]:
        self.clock.set(at)
        names = [n for group in self.cohorts for n in group]
        self.world.publish(names)
        self.publications += len(names)
        return names

    def advance(self, start: float, until: float) -> list[tuple[float, list[str]]]:
        """Publish every cohort whose turn falls in (done_until, until] (scenario seconds), in time order."""
        due = []
        for k, group in enumerate(self.cohorts):
            turn = (k + 1) * self.period / COHORTS
            while turn <= until:
                if turn > self.done_until and group:
                    due.append((turn, group))
                turn += self.period
        due.sort(key=lambda d: d[0])
        for turn, group in due:
            self.clock.set(start + turn)
            self.world.publish(group)
            self.publications += len(group)
        self.done_until = max(self.done_until, until)
        return [(start + turn, group) for turn, group in due]


def start_scheduler(settings: Settings, world: SimCluster, built: Built, clock: ReplayClock, stats: Stats) -> Scheduler:
    kube = Kube.connect(server=world.url, timeout=settings.scheduler.request_timeout, clock=clock)
    scheduler = app.build(settings, kube, clock=clock, stats=stats, decider=built.decider)
    scheduler.start()
    if not scheduler.wait_ready(SYNC_TIMEOUT):
        scheduler.stop()
        raise ReplayError(f"the scheduler's informers did not sync within {SYNC_TIMEOUT:.0f}s")
    return scheduler


@dataclass
class Run:
    """One policy's scheduler against one fresh emulated cluster, and what watches it."""

    world: SimCluster
    clock: ReplayClock
    agents: Agents
    watcher: Watcher
    built: Built
    scheduler: Scheduler


@contextlib.contextmanager
def running(
    scenario: Scenario, settings: Settings, build: Callable[..., Built], *, seed: int, telemetry_period: float
) -> Iterator[Run]:
    """The scenario loaded and published once, the policy's scheduler ready; everything stopped afterwards."""
    clock = ReplayClock(scenario.start)
    world = SimCluster(scenario, clock=clock)
    stats = Stats(profile=settings.scheduler.name)
    built = build(world=world, clock=clock, stats=stats)
    watcher = Watcher()
    world.emulator.start()
    unsubscribe = world.emulator.store.subscribe(watcher, copy=False)
    try:
        agents = Agents(world, clock, period=telemetry_period, seed=seed)
        agents.publish_all(scenario.start)
        scheduler = start_scheduler(settings, world, built, clock, stats)
        try:
            yield Run(world, clock, agents, watcher, built, scheduler)
        finally:
            scheduler.stop()
    finally:
        unsubscribe()
        world.stop()


def wait_for_states(scheduler: Scheduler, published: list[tuple[float, list[str]]]) -> None:
    """Until the scheduler's cache holds each node's publication (its timestamp, to the second)."""
    if not published:
        return
    wanted: dict[str, float] = {}
    for at, names in published:
        wanted.update(dict.fromkeys(names, float(int(at))))
    deadline = time.monotonic() + SYNC_TIMEOUT
    while time.monotonic() < deadline:
        seen = {s.node: s.timestamp for s in scheduler.cache.snapshot().states}
        if all((seen.get(name) or 0.0) >= at for name, at in wanted.items()):
            return
        time.sleep(0.001)
    raise ReplayError(f"the scheduler's cache did not see {len(wanted)} node publication(s) within {SYNC_TIMEOUT}s")


def _key(pod: JSON) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def replay(
    scenario: Scenario,
    settings: Settings,
    build: Callable[..., Built],
    *,
    seed: int,
    telemetry_period: float = 30.0,
) -> tuple[Placement, Built]:
    """Arrivals in order through the real loop, each after the previous one is decided."""
    with running(scenario, settings, build, seed=seed, telemetry_period=telemetry_period) as run:
        began = time.monotonic()
        watcher = run.watcher
        for arrival in scenario.arrivals:
            published = run.agents.advance(scenario.start, arrival.at - scenario.start)
            wait_for_states(run.scheduler, published)
            run.clock.set(arrival.at)
            key = _key(arrival.pod)
            run.world.create([arrival.pod])
            watcher.wait(lambda k=key: k in watcher.bound or k in watcher.refused, DECISION_TIMEOUT, f"pod {key}")
        wall = time.monotonic() - began
    placement = Placement(
        bound=dict(watcher.bound),
        order=list(watcher.order),
        refused=dict(watcher.refused),
        annotations=dict(watcher.annotations),
        stats=run.scheduler.stats.summary(),
        publications=run.agents.publications,
        wall_seconds=round(wall, 3),
    )
    return placement, run.built


def burst(scenario: Scenario, settings: Settings, build: Callable[..., Built], *, seed: int) -> dict[str, Any]:
    """Every arrival created at once; pods bound per second from the first create to the last binding."""
    keys = [_key(a.pod) for a in scenario.arrivals]
    with running(scenario, settings, build, seed=seed, telemetry_period=30.0) as run:
        watcher = run.watcher
        began = time.monotonic()
        run.world.create(a.pod for a in scenario.arrivals)
        watcher.wait(
            lambda: all(k in watcher.bound or k in watcher.refused for k in keys),
            DECISION_TIMEOUT,
            f"the {len(keys)} pods of a burst",
        )
    bound = [watcher.bound_at[k] for k in keys if k in watcher.bound]
    seconds = (max(bound) - began) if bound else 0.0
    summary = run.scheduler.stats.summary()
    return {
        "pods": len(keys),
        "bound": len(bound),
        "seconds": round(seconds, 4),
        "pods_per_second": round(len(bound) / seconds, 1) if seconds > 0 else 0.0,
        "decision_latency_ms_p50": summary["latency_ms_p50"],
        "decision_latency_ms_p99": summary["latency_ms_p99"],
    }
