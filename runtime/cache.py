"""The scheduler's view of the cluster, fed by the informers, with decisions assumed at once.

As kube-scheduler's cache (`pkg/scheduler/backend/cache`): it holds the nodes, the assigned pods and
each node's telemetry, and hands out an immutable `Snapshot` per decision. A decision is *assumed*
the moment it is taken — the pod counts on its node before the binding is even sent — so neither
concurrent nor successive decisions can overcommit a node; a failed binding forgets the assumption,
and the informer's event for the bound pod confirms it. Node changes that matter for placement
(labels, taints, allocatable, readiness) rebuild the snapshot lazily; telemetry-only updates and pod
changes are applied incrementally. Thread-safe.
"""

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cluster import estimate, nodestate, spread
from cluster.clock import Clock
from cluster.metrics import Telemetry
from cluster.nodestate import NodeState
from cluster.objects import NAMESPACE_NAME_LABEL, Node, Pod, RawObject
from cluster.parse import ManifestError, parse_namespace, parse_node, parse_pod
from cluster.snapshot import Snapshot
from cluster.spread import Workloads
from cluster.volumes import Volumes, apply_event
from runtime.fingerprint import accounting, pod_fingerprint, scheduled_at, scheduling_view
from runtime.placed_log import PlacedLog
from scoring.plugins import load_aware, target_load_packing
from telemetry.sources import Source

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
SOURCE_REFRESH_SECONDS = 1.0
LOOKBACK_SECONDS = max(
    load_aware.DEFAULT_REPORT_INTERVAL_SECONDS, target_load_packing.METRICS_AGENT_REPORTING_INTERVAL_SECONDS
)
"""How long before a NodeState's timestamp the load-aware peers still count a placement, at least (Koordinator looks
back the NodeState's window when it is longer): its placements older than that leave the placed log."""
PLACED_KEPT_SECONDS = 120.0
"""How long past the telemetry age limit a placement time is kept: peers look back up to a report interval
(60 s) before a NodeState's timestamp, and an older NodeState is unknown anyway."""


@dataclass(frozen=True)
class PodChange:
    """What an informer event means for the scheduling queue."""

    pending: Pod | None = None
    """A pod of ours waiting for a node (add or refresh it in the queue)."""
    gone: str | None = None
    """The key of a pod that must leave the queue (bound elsewhere, deleted, no longer ours)."""
    freed: bool = False
    """An assigned pod left its node: unschedulable pods may fit now."""


class SchedulerCache:
    def __init__(
        self,
        *,
        scheduler_name: str,
        clock: Clock,
        max_age_seconds: float,
        source: Source | None = None,
        warn: Callable[[str], None] | None = None,
        contained: Callable[[str], None] | None = None,
    ) -> None:
        """`warn` reports bad input; `contained(where)` counts an exception caught so one object could not
        stop the scheduler (`Stats.internal_error`)."""
        self.scheduler_name = scheduler_name
        self._clock = clock
        self._max_age = max_age_seconds
        self._source = source
        self._warn = warn or log.warning
        self._contained = contained or (lambda where: None)
        self._lock = threading.Lock()
        self._nodes: dict[str, Node] = {}
        self._states: dict[str, NodeState] = {}
        self._assigned: dict[str, Pod] = {}
        self._namespaces: dict[str, dict[str, str]] = {}
        """Namespace name → labels, from the namespace informer: what `namespaceSelector` terms match."""
        self._fingerprints: dict[str, tuple[Any, ...]] = {}
        self._assumed: dict[str, str] = {}
        self._placed = PlacedLog()
        """The recently bound or assumed pods and when, for `cluster.estimate`; pruned past the age limit."""
        self._superseded_by: Telemetry | None = None
        """The telemetry the placed log was last pruned against (`_recent`)."""
        self._volumes = Volumes()
        """The claims, volumes, storage classes, CSINodes, CSIDrivers and capacities (`cluster.volumes`), in every
        snapshot."""
        self._workloads = Workloads()
        """The Services' and controllers' selectors (`cluster.spread`), in every snapshot."""
        self._snapshot: Snapshot | None = None
        self._version = 0
        """Bumped by every change to what the filters see (not by a confirmed pod re-read)."""
        self._source_checked = float("-inf")

    # -- informer events --------------------------------------------------------------------------

    def node_event(self, kind: str, raw: RawObject) -> bool:
        """Apply a node event; True when pods that did not fit may fit now."""
        name = str((raw.get("metadata") or {}).get("name") or "")
        with self._lock:
            if kind == DELETED:
                return self._forget_node(name)
            try:
                node = parse_node(raw, warn=self._warn)
            except ManifestError as exc:
                self._warn(f"ignoring node {name}: {exc}")
                return False
            old = self._nodes.get(name)
            self._nodes[name] = node
            if self._source is None:
                state = self._node_state(node)
                if old is None or self._states.get(name) != state:
                    self._states[name] = state
                    if self._snapshot is not None and old is not None:
                        self._snapshot = self._snapshot.with_state(state)
            if old is None or scheduling_view(old) != scheduling_view(node):
                self._snapshot = None
                self._version += 1
                return True
            return False

    def namespace_event(self, kind: str, raw: RawObject) -> bool:
        """Apply a namespace event; True when its labels changed, so a `namespaceSelector` may select it now."""
        name = str((raw.get("metadata") or {}).get("name") or "")
        with self._lock:
            labels: dict[str, str] | None = None
            if kind != DELETED:
                try:
                    name, labels = parse_namespace(raw)
                except ManifestError as exc:
                    self._warn(f"ignoring namespace {name}: {exc}")
                    return False
            if self._namespaces.get(name) == labels:
                return False
            if labels is None:
                self._namespaces.pop(name, None)
            else:
                self._namespaces[name] = labels
            self._version += 1
            if self._snapshot is not None:
                known = labels if labels is not None else {NAMESPACE_NAME_LABEL: name}
                self._snapshot = replace(self._snapshot, namespaces={**self._snapshot.namespaces, name: known})
            return labels is not None

    def pod_event(self, kind: str, raw: RawObject) -> PodChange:
        """Apply a pod event and say what it means for the queue."""
        meta = raw.get("metadata") or {}
        key = sys.intern(f"{meta.get('namespace') or 'default'}/{meta.get('name')}")
        spec = raw.get("spec") or {}
        terminal = (raw.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        with self._lock:
            if kind == DELETED or terminal:
                self._fingerprints.pop(key, None)
                freed = self._remove_assigned(key)
                return PodChange(gone=key, freed=freed)
            if spec.get("nodeName"):
                fingerprint = pod_fingerprint(raw)
                if self._fingerprints.get(key) == fingerprint and key not in self._assumed:
                    return PodChange(gone=key)
                try:
                    pod = parse_pod(raw, warn=self._warn)
                except ManifestError as exc:
                    self._warn(f"ignoring pod {key}: {exc}")
                    return PodChange(gone=key)
                self._fingerprints[key] = fingerprint
                at = None
                if self._assumed.pop(key, None) is None and key not in self._placed:
                    at = scheduled_at(raw)
                self._place(pod)
                if at is not None and at > self._clock.now() - self._max_age - PLACED_KEPT_SECONDS:
                    self._placed.add(key, pod, at)
                return PodChange(gone=key)
            if spec.get("schedulerName") != self.scheduler_name or meta.get("deletionTimestamp"):
                return PodChange(gone=key)
            if key in self._assumed:
                return PodChange()  # our binding is in flight; the bound pod's event will follow
            try:
                pending = parse_pod(raw)
            except ManifestError as exc:
                self._warn(f"cannot schedule pod {key}: {exc}")
                return PodChange(gone=key)
            return PodChange(pending=pending)

    def volume_event(self, resource: str, kind: str, raw: RawObject) -> bool:
        """Apply a storage object's event (`cluster.volumes.RESOURCES`); True: pods that did not fit may fit now."""
        with self._lock:
            volumes, problem = apply_event(self._volumes, resource, kind, raw)
            if problem is not None:
                self._warn(f"ignoring {problem}")
            self._set_volumes(volumes)
            return True

    def workload_event(self, resource: str, kind: str, raw: RawObject) -> None:
        """Apply a Service's or controller's event (`cluster.spread.RESOURCES`). It changes only whose pods the
        default spread constraints count, a score, so no pod that did not fit fits now (upstream's
        PodTopologySpread registers no Service or controller event either)."""
        with self._lock:
            workloads, problem = spread.apply_event(self._workloads, resource, kind, raw)
            if problem is not None:
                self._warn(f"ignoring {problem}")
            if workloads is self._workloads:
                return
            self._workloads = workloads
            if self._snapshot is not None:
                self._snapshot = replace(self._snapshot, workloads=workloads)

    def volumes(self) -> Volumes:
        with self._lock:
            return self._volumes

    def swap_volumes(self, before: Volumes, after: Volumes) -> None:
        """Volume binding's assumption (and its revert): each object that differs between `before` and `after` takes
        its `after` version, unless an informer event has replaced it meanwhile (the API's word wins)."""
        with self._lock:
            volumes = self._volumes
            for attribute in ("claims", "volumes"):
                old, new, current = getattr(before, attribute), getattr(after, attribute), getattr(volumes, attribute)
                for key in old.keys() | new.keys():
                    if old.get(key) is not new.get(key) and current.get(key) is old.get(key):
                        volumes = volumes.changed(attribute, key, new.get(key))
            self._set_volumes(volumes)

    # -- decisions --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current view, with telemetry older than `telemetry.max_age_seconds` treated as unknown."""
        return self.versioned_snapshot()[0]

    def versioned_snapshot(self) -> tuple[Snapshot, int]:
        """The current view and its version, for `assume(..., decided_at=version)`: telemetry past its age
        limit is unknown, and the rest is raised by the pods placed since it (`cluster.estimate`)."""
        now = self._clock.now()
        with self._lock:
            self._refresh_source()
            aged = self._built().aged(now=now, max_age_seconds=self._max_age)
            return estimate.apply(aged, self._recent(now, aged)), self._version

    def assume(
        self,
        pod: Pod,
        node: str,
        *,
        fits: Callable[[Snapshot], bool] | None = None,
        decided_at: int | None = None,
    ) -> bool:
        """Count `pod` on `node` at once; False when the node is gone or `fits` says it no longer fits.

        `fits` re-checks the decision against the latest view, and is skipped when nothing the filters
        see has changed since the version the decision was taken at.
        """
        with self._lock:
            if node not in self._nodes or pod.key in self._assigned:
                return False
            snapshot = self._built()
            if fits is not None and decided_at != self._version and not fits(snapshot):
                return False
            self._assumed[pod.key] = node
            placed = replace(pod, node_name=node)
            self._place(placed)
            self._placed.add(placed.key, placed, self._clock.now())
            return True

    def forget(self, pod: Pod) -> None:
        """Undo an assumption (the binding failed or the pod is gone) of this incarnation of the pod only: a late
        failure of a deleted pod's binding must not drop the assumption of its re-creation under the same name."""
        with self._lock:
            assumed = self._assigned.get(pod.key) if pod.key in self._assumed else None
            if assumed is not None and assumed.uid == pod.uid:
                self._remove_assigned(pod.key)

    def is_assumed(self, key: str) -> bool:
        with self._lock:
            return key in self._assumed

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"nodes": len(self._nodes), "assigned_pods": len(self._assigned), "assumed_pods": len(self._assumed)}

    # -- internals (lock held) ----------------------------------------------------------------------

    def _built(self) -> Snapshot:
        """The snapshot, built from the nodes, pods, telemetry, namespaces, storage objects and workloads if a
        change dropped it."""
        if self._snapshot is None:
            self._snapshot = Snapshot.build(
                self._nodes.values(),
                self._assigned.values(),
                states=self._states,
                namespaces=self._namespaces,
                volumes=self._volumes,
                workloads=self._workloads,
            )
        return self._snapshot

    def _forget_node(self, name: str) -> bool:
        """Drop a node (deleted, or no longer countable); nothing can fit better for it."""
        self._nodes.pop(name, None)
        self._states.pop(name, None)
        self._snapshot = None
        self._version += 1
        return False

    def _node_state(self, node: Node) -> NodeState:
        """The node's telemetry from its annotation; unknown when reading it fails in any way.

        The annotation is the part of a node its own agent writes, and a failure there (a 400-digit number,
        nesting deep enough to exhaust the recursion limit) must not cost the rest of the node's update:
        a cordon in the same patch still applies.
        """
        try:
            return nodestate.parse(node.annotations.get(nodestate.ANNOTATION), node=node.name, warn=self._warn)
        except (ArithmeticError, RecursionError, ValueError, TypeError) as exc:
            self._warn(f"node {node.name}: NodeState cannot be read ({type(exc).__name__}); all metrics unknown")
            self._contained("node_state")
            return nodestate.unknown(node.name)

    def _set_volumes(self, volumes: Volumes) -> None:
        if volumes is self._volumes:
            return
        self._volumes = volumes
        self._version += 1
        if self._snapshot is not None:
            self._snapshot = replace(self._snapshot, volumes=volumes)

    def _place(self, pod: Pod) -> None:
        key = sys.intern(pod.key)  # one string for the key in every map (and the informer's set)
        old = self._assigned.get(key)
        self._assigned[key] = pod
        if self._snapshot is None:
            return
        if old is not None and accounting(old) == accounting(pod):
            self._snapshot = self._snapshot.replace_pod(pod)
            return
        self._version += 1
        if old is not None:
            self._snapshot = self._snapshot.without_pod(old)
        self._snapshot = self._snapshot.with_pod(pod)

    def _remove_assigned(self, key: str) -> bool:
        self._assumed.pop(key, None)
        self._placed.remove(key)
        old = self._assigned.pop(key, None)
        if old is None:
            return False
        self._version += 1
        if self._snapshot is not None:
            self._snapshot = self._snapshot.without_pod(old)
        return True

    def _recent(self, now: float, snapshot: Snapshot) -> estimate.Placed:
        """The pods placed within the age limit (and a report interval) that an estimator may still count (after
        their node's NodeState less `LOOKBACK_SECONDS`, or its window when longer), as the estimators' columns."""
        self._placed.prune(now - self._max_age - PLACED_KEPT_SECONDS)
        telemetry = self._built().telemetry  # its NodeStates as published: it changes only when one of them does
        if telemetry is not self._superseded_by:
            self._superseded_by = telemetry
            windows = np.array([max(s.window_seconds or 0.0, LOOKBACK_SECONDS) for s in telemetry.states])
            self._placed.supersede(snapshot.table, telemetry.timestamps - windows)
        return self._placed.view(snapshot.table)

    def _refresh_source(self) -> None:
        if self._source is None:
            return
        now = self._clock.monotonic()
        if now - self._source_checked < SOURCE_REFRESH_SECONDS:
            return
        self._source_checked = now
        for name, state in self._source.states().items():
            if name in self._nodes and self._states.get(name) is not state:
                self._states[name] = state
                if self._snapshot is not None:
                    self._snapshot = self._snapshot.with_state(state)
