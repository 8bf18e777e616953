"""The scheduling loop, as kube-scheduler's `schedule_one.go`: pop, decide, assume, bind asynchronously.

Informers keep the cache and the queue current; decision workers pop pods, decide them against a
snapshot, assume the placement in the cache (re-checking the node against the latest snapshot, so
parallel decisions cannot overcommit it) and hand the binding to the writer's pool; one handler
deals with each binding's outcome. With leader election only the lease holder schedules, and losing
the lease stops scheduling at once. `stop` closes the queue, waits a bounded time for the bindings
in flight and logs the final stats.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from cluster.clock import Clock
from cluster.objects import Pod, RawObject
from cluster.snapshot import Snapshot
from cluster.spread import RESOURCES as WORKLOAD_RESOURCES
from cluster.volumes import RESOURCES as STORAGE_RESOURCES
from runtime.cache import ADDED, DELETED, MODIFIED, SchedulerCache
from runtime.kube import Kube, SharedInformer, stop_informers
from runtime.preemption import Preemptor
from runtime.queue import QueuedPod, SchedulingQueue
from runtime.volumes import VolumeBinder
from runtime.writer import Writer
from scoring.collector import Collector
from scoring.decide import Decider
from scoring.framework import NodeValues, PodInfo
from scoring.plugins.volume_binding import VolumeBindingError
from scoring.tiers import Decision
from telemetry import logs
from telemetry.logs import fields
from telemetry.sources import Source
from telemetry.stats import Stats

log = logging.getLogger("scheduler")
# kube-scheduler lists every pod but terminal ones: they hold nothing and are never scheduled.
POD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
INFORMERS = ("nodes", "namespaces", "poddisruptionbudgets", "pods")
"""The informers whose first list readiness waits for, in the order they start: pods last, onto known nodes and
namespaces."""
INFORMER_NAMES = (*INFORMERS[:-1], *STORAGE_RESOURCES, *WORKLOAD_RESOURCES, INFORMERS[-1])
"""Every informer in the order they start, the storage and workload ones (first lists awaited in `start`) before
pods."""


@dataclass(frozen=True)
class LoopSettings:
    scheduler_name: str
    shadow_mode: bool = False
    decision_workers: int = 1
    stats_interval: float = 60.0
    max_age_seconds: float = 120.0
    shutdown_grace: float = 10.0
    stall_seconds: float = 120.0
    """Liveness bound: a pod ready for a worker this long with none taken meanwhile fails `/healthz`."""


class Scheduler:
    def __init__(
        self,
        *,
        kube: Kube,
        decider: Decider,
        settings: LoopSettings,
        clock: Clock,
        stats: Stats,
        writer: Writer,
        source: Source | None = None,
        leading: bool = True,
        collector: Collector | None = None,
    ) -> None:
        self.kube = kube
        self.decider = decider
        self.settings = settings
        self.clock = clock
        self.stats = stats
        self.writer = writer
        self.source = source
        self.collector = collector
        self.cache = SchedulerCache(
            scheduler_name=settings.scheduler_name,
            clock=clock,
            max_age_seconds=settings.max_age_seconds,
            source=source,
            contained=stats.internal_error,
        )
        self.queue = SchedulingQueue(clock)
        self.preemptor = Preemptor(kube, writer, clock, stats=stats)
        self.volume_binder = VolumeBinder(kube, clock, volumes=self.cache.volumes, assume=self.cache.swap_volumes)
        self._leading = threading.Event()
        if leading:
            self._leading.set()
        self.stats.leader.set(1 if leading else 0)
        self._stop = threading.Event()
        self._synced = {name: threading.Event() for name in INFORMERS}
        self._informers: list[SharedInformer] = []
        self._threads: list[threading.Thread] = []
        self._bindings: set[Future] = set()
        self._bindings_lock = threading.Lock()
        self._shadowed: set[str] = set()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> "Scheduler":
        """Start the informers (nodes and namespaces first, so pods land on known nodes and namespaces), the
        workers and the ticker."""
        log.info(
            "scheduler starting",
            extra=fields(
                event="start",
                scheduler=self.settings.scheduler_name,
                workers=self.settings.decision_workers,
                shadow=self.settings.shadow_mode,
            ),
        )
        if self.source is not None:
            self.source.start()
        nodes = self.kube.informer("nodes", on_synced=self._synced["nodes"].set)
        for kind in (ADDED, MODIFIED, DELETED):
            nodes.add_event_handler(kind, self._handler(kind, self._on_node, "node_informer"))
        nodes.start()
        namespaces = self.kube.informer("namespaces", on_synced=self._synced["namespaces"].set)
        for kind in (ADDED, MODIFIED, DELETED):
            namespaces.add_event_handler(kind, self._handler(kind, self._on_namespace, "namespace_informer"))
        namespaces.start()
        self._synced["nodes"].wait(timeout=60)
        self._synced["namespaces"].wait(timeout=60)
        budgets = self.kube.informer("poddisruptionbudgets", on_synced=self._synced["poddisruptionbudgets"].set)
        for kind in (ADDED, MODIFIED, DELETED):
            budgets.add_event_handler(kind, self._handler(kind, self.preemptor.budget_event, "pdb_informer"))
        budgets.start()
        listed = self._listed_informers()
        pods = self.kube.informer("pods", field_selector=POD_SELECTOR, on_synced=self._synced["pods"].set)
        for kind in (ADDED, MODIFIED, DELETED):
            pods.add_event_handler(kind, self._handler(kind, self._on_pod, "pod_informer"))
        pods.start()
        self._informers = [nodes, namespaces, budgets, *listed, pods]
        for i in range(self.settings.decision_workers):
            self._spawn(f"decide-{i}", self._work)
        self._spawn("ticker", self._tick)
        return self

    def _listed_informers(self) -> list[SharedInformer]:
        """Started informers feeding the storage objects and the Services and workload controllers to the cache,
        their first lists awaited together (60 s at most, as the node informer's): a pod decided before its claim
        is known would be refused for a claim that exists, and one decided before its Service is known would not
        be spread. Without the permission to list them, pods are still scheduled after that wait (those with claims
        refused, none spread by the default constraints)."""
        informers, synced = [], []
        handlers = {r: self._on_storage for r in STORAGE_RESOURCES} | {r: self._on_workload for r in WORKLOAD_RESOURCES}
        for resource, on_event in handlers.items():
            listed = threading.Event()
            informer = self.kube.informer(resource, on_synced=listed.set)
            for kind in (ADDED, MODIFIED, DELETED):
                apply = functools.partial(on_event, resource)
                informer.add_event_handler(kind, self._handler(kind, apply, f"{resource}_informer"))
            informer.start()
            informers.append(informer)
            synced.append(listed)
        deadline = self.clock.monotonic() + 60
        for listed in synced:
            listed.wait(timeout=max(0.0, deadline - self.clock.monotonic()))
        return informers

    def ready(self) -> bool:
        """Informers have delivered their first list and are still running (the `/readyz` condition)."""
        return all(event.is_set() for event in self._synced.values()) and not self._dead_informers()

    def health(self) -> str | None:
        """Why the scheduler is not live (the `/healthz` condition), or None while it makes progress.

        Dead: a decision worker or an informer thread ended. Stuck: while this replica schedules, a pod has
        waited `stall_seconds` for a worker with no worker taking any pod meanwhile. Either way only a
        restart helps, so the probe fails and the kubelet restarts the container.
        """
        if self._stop.is_set():
            return None
        dead = [t.name for t in self._threads if not t.is_alive()] + self._dead_informers()
        if dead:
            return f"dead: {', '.join(dead)}"
        if self._leading.is_set() and self._synced["pods"].is_set():
            stalled = self.queue.stalled_for()
            if stalled > self.settings.stall_seconds:
                return f"stuck: a pending pod has waited {stalled:.0f}s with no scheduling attempt"
        return None

    def _dead_informers(self) -> list[str]:
        dead = []
        for resource, informer in zip(INFORMER_NAMES, self._informers, strict=False):
            thread = getattr(informer, "_thread", None)
            if thread is None or not thread.is_alive():
                dead.append(f"{resource} informer")
        return dead

    def wait_ready(self, timeout: float) -> bool:
        return all(event.wait(timeout) for event in self._synced.values())

    def set_leading(self, leading: bool) -> None:
        """Leader election's callbacks: only the lease holder schedules."""
        self.stats.leader.set(1 if leading else 0)
        if leading:
            self._leading.set()
            log.info("became the leader; scheduling")
        else:
            self._leading.clear()
            log.warning("lost the lease; scheduling stopped")

    def stop(self) -> None:
        """Stop taking pods, let in-flight decisions and bindings finish (`shutdown_grace` in all), stop the
        informers together, log the final stats: the whole stays inside the pod's termination grace period."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.queue.close()
        deadline = time.monotonic() + self.settings.shutdown_grace  # real threads: the real clock
        for thread in self._threads:  # a worker mid-decision submits its binding before the wait below
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._bindings_lock:
            pending = list(self._bindings)
        _, unfinished = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        if unfinished:
            log.warning("%d binding(s) still in flight after %.0fs", len(unfinished), self.settings.shutdown_grace)
        self.writer.close(wait=not unfinished)
        if self.collector is not None:
            self.collector.close()
        for informer in self._informers:
            logs.stopping(getattr(getattr(informer, "_thread", None), "ident", None))
        stop_informers(self._informers)
        if self.source is not None:
            self.source.stop()
        self.log_stats(final=True)

    def log_stats(self, *, final: bool = False) -> None:
        summary = self.stats.summary()
        log.info("stats" if not final else "final stats", extra=fields(event="stats", **summary))

    # -- informer events --------------------------------------------------------------------------

    def _handler(self, kind: str, apply: Callable[[str, Any], None], where: str) -> Callable[[Any], None]:
        """An informer handler that contains an exception to the one object that raised it (logged, counted)."""

        def handle(obj: Any) -> None:
            if not isinstance(obj, dict):
                return
            try:
                apply(kind, obj)
            except Exception:
                meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k))
                log.exception("%s: handling %s of %s failed; the object is skipped", where, kind, name or "?")
                self.stats.internal_error(where)

        return handle

    def _on_node(self, kind: str, raw: RawObject) -> None:
        if self.cache.node_event(kind, raw):
            self.queue.move_all()

    def _on_namespace(self, kind: str, raw: RawObject) -> None:
        if self.cache.namespace_event(kind, raw):
            self.queue.move_all()

    def _on_storage(self, resource: str, kind: str, raw: RawObject) -> None:
        if self.cache.volume_event(resource, kind, raw):
            self.queue.move_all()

    def _on_workload(self, resource: str, kind: str, raw: RawObject) -> None:
        self.cache.workload_event(resource, kind, raw)

    def _on_pod(self, kind: str, raw: RawObject) -> None:
        change = self.cache.pod_event(kind, raw)
        self.preemptor.observe(change.pending, change.gone)
        if change.gone is not None:
            self.queue.delete(change.gone)
            self._shadowed.discard(change.gone)
        if change.pending is not None and change.pending.key not in self._shadowed:
            self.stats.pod_seen(change.pending.key)
            self.queue.add(change.pending)
        if change.freed:
            self.queue.move_all()
        if self.collector is not None:
            self.collector.observe(raw)

    # -- decisions --------------------------------------------------------------------------------

    def _work(self) -> None:
        """Decide queued pods, once the pod informer's first list is in (as kube-scheduler waits for its
        caches): a pod decided earlier could land on a node whose running pods are not counted yet.

        Nothing one pod does ends a worker: an exception is logged with the pod, counted in
        `ai_scheduler_internal_errors_total{where="decision_worker"}`, and the pod backs off."""
        while not self._stop.is_set():
            if not self._synced["pods"].wait(timeout=0.5) or not self._leading.wait(timeout=0.5):
                continue
            queued = None
            try:
                queued = self.queue.pop(timeout=0.5)
                if queued is not None:
                    self.schedule_one(queued)
            except Exception:
                log.exception("scheduling pod %s failed", queued.key if queued else "(none popped)")
                self.stats.internal_error("decision_worker")
                if queued is not None:
                    self.stats.error()
                    self.queue.retry(queued)
                else:
                    self.clock.wait(self._stop, 0.5)  # the queue itself failed: do not spin on it

    def schedule_one(self, queued: QueuedPod) -> None:
        pod = queued.pod
        snapshot, version = self.cache.versioned_snapshot()
        snapshot = self.preemptor.with_nominated(snapshot, pod)
        decision = self.decider.decide(pod, snapshot)
        if self.collector is not None:
            self.collector.decision(pod, snapshot, decision)
        self.stats.decided(
            tier=decision.tier.value,
            placed=decision.node is not None,
            latency_ms=decision.latency_ms,
            fallbacks=decision.fallbacks,
            slo_unmet=decision.slo_unmet,
        )
        self._log(decision)
        if decision.warnings and queued.attempts == 0:
            self.writer.warn(pod, "; ".join(decision.warnings))
        if decision.node is None:
            message = decision.reason
            if self._leading.is_set() and not decision.declined:
                message = " ".join(filter(None, (message, self._post_filter(pod, snapshot, decision))))
            self.writer.unschedulable(pod, message)
            self.queue.unschedulable(queued)
            return
        if self.settings.shadow_mode:
            self.writer.recommend(pod, decision)
            self._shadowed.add(pod.key)
            self.queue.forget(queued)
            return
        if not self._leading.is_set():
            self.queue.activate(queued)
            return
        node = decision.node
        fits = lambda latest: self.decider.fits(pod, latest, node, needs=decision.needs)  # noqa: E731
        if not self.cache.assume(pod, node, fits=fits, decided_at=version):
            self.queue.activate(queued)  # a concurrent decision took the room first: decide again
            return
        pre_bind = None
        if pod.claims:
            try:
                reservation = self.volume_binder.reserve(pod, node, self.cache.snapshot())
            except VolumeBindingError as exc:
                self._bound(queued, decision, exc)
                return
            if reservation is not None:
                pre_bind = functools.partial(self.volume_binder.pre_bind, reservation)
        done = lambda error: self._bound(queued, decision, error)  # noqa: E731
        future = self.writer.bind_async(pod, decision, done, pre_bind=pre_bind)
        with self._bindings_lock:
            self._bindings.add(future)
        future.add_done_callback(self._binding_finished)

    def _post_filter(self, pod: Pod, snapshot: Snapshot, decision: Decision) -> str:
        """Preemption, for a pod no node fits (kube-scheduler's PostFilter): "" when it nominated a node. In shadow
        mode only what it would do, reported."""
        info = PodInfo.of(pod, snapshot, decision.needs)
        outcome = self.decider.filter(info, snapshot)
        return self.preemptor.post_filter(
            pod,
            snapshot,
            outcome.failures,
            filters=self.decider.filter_profile.filters,
            info=info,
            heuristic=self.decider.heuristic,
            rejected=bool(outcome.pre_filter_message),
            shadow=decision if self.settings.shadow_mode else None,
        )

    def _binding_finished(self, future: Future) -> None:
        with self._bindings_lock:
            self._bindings.discard(future)

    def _bound(self, queued: QueuedPod, decision: Decision, error: Exception | None) -> None:
        """The one handler for every binding's outcome, as kube-scheduler's: bound, or a failure of any kind.

        A failed binding forgets the assumption and returns the pod to the queue with backoff; whether it
        was in fact bound (elsewhere, or by a request whose answer was lost) or deleted is the informer's to
        say, and its event removes the pod from the queue. No status code is trusted to mean "bound".
        """
        pod = queued.pod
        try:
            if error is None:
                attempts = queued.attempts + 1
                self.stats.bound(attempts)
                log.info("bound", extra=fields(event="bound", pod=pod.key, node=decision.node, attempts=attempts))
                self.queue.forget(queued)
                return
            described = _describe(error)
            log.warning(
                "binding %s to %s failed: %s",
                pod.key,
                decision.node,
                described,
                extra=fields(event="binding_failed", pod=pod.key, node=decision.node, error=described),
            )
            self.stats.binding_failed()
            self.cache.forget(pod)
            self.queue.retry(queued)
        except Exception:
            log.exception("handling the binding of pod %s failed", pod.key)
            self.stats.internal_error("binding_handler")

    def _log(self, decision: Decision) -> None:
        values = {"event": "decision", **decision.summary()}
        # A tier's own facts about the decision (`llm`: where its answer came from). Its per-node maps are left to
        # `decide --json`: a line per pod listing every node would be as long as the cluster, and they are lazy.
        values.update((key, value) for key, value in decision.extra.items() if not isinstance(value, NodeValues))
        log.info("decision" if decision.node else "unschedulable", extra=fields(**values))

    # -- background -------------------------------------------------------------------------------

    def _tick(self) -> None:
        last_stats = self.clock.monotonic()
        while not self._stop.is_set():
            self.clock.wait(self._stop, 1.0)
            self.queue.wake()
            self.stats.queue_lengths(self.queue.lengths())
            if self.clock.monotonic() - last_stats >= self.settings.stats_interval:
                last_stats = self.clock.monotonic()
                self.log_stats()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def _describe(error: object) -> str:
    status = getattr(error, "status", None)
    return f"HTTP {status}" if status else f"{type(error).__name__}: {error}"
