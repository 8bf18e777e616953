"""A stand-in for every node's kubelet: pods bound to a node start running.

Subscribed to the store, it notices a pod that is bound (`spec.nodeName` set), still `Pending` and not yet
started, and after `delay` seconds (default: at once, inside the binding request) writes the status a real
kubelet reports for a healthy pod: phase `Running`, pod and host IPs, start time, the `PodReadyToStartContainers`,
`Initialized`, `Ready`, `ContainersReady` and `PodScheduled` conditions, and ready container statuses, so
`kubectl get pods -o wide` shows `Running 1/1` with its IP. Pods loaded already `Running` but without the
status a kubelet reports (a scenario's neighbours) get it when the kubelet starts, their start time kept. A pod
bound to a node that does not exist stays `Pending`. Container statuses report the allocated requests
(`allocatedResources`) and the `resources` in effect; a resize through `pods/resize` is allocated or reported
pending after `delay`, and actuated `delay` later (`sim.api_resize`); a deferred one is retried when a pod
leaves its node. It never runs anything, restarts containers or finishes pods, and keeps no logs: `kubectl
logs` gets `no_logs`' plain refusal.
"""

import hashlib
import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from cluster.clock import Clock
from sim import api_errors, api_resize
from sim.api_strategy import rfc3339
from sim.api_watch import DELETED, MODIFIED, Change
from sim.store import Store

__all__ = ["Kubelet", "no_logs"]

log = logging.getLogger(__name__)
JSON = dict[str, Any]


def _needs_start(pod: JSON) -> bool:
    """Bound, and never reported by a kubelet: Pending, or Running without a pod IP or container statuses."""
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    return bool(
        (pod.get("spec") or {}).get("nodeName")
        and (phase == "Pending" or (phase == "Running" and not status.get("podIP")))
        and not status.get("containerStatuses")
        and not pod["metadata"].get("deletionTimestamp")
    )


def no_logs(pod: JSON) -> api_errors.ApiError:
    """What `kubectl logs` gets: the emulated kubelet runs no containers, so there is nothing to show."""
    meta = pod["metadata"]
    return api_errors.bad_request(
        f"the API server emulator keeps no container logs: pod {meta.get('namespace', 'default')}/{meta['name']} "
        "runs no containers (its status is emulated); read its events instead: kubectl describe pod "
        f"{meta['name']}"
    )


class Kubelet:
    """Starts bound pods, at once or `delay` seconds (on `clock`) after they were bound."""

    def __init__(self, store: Store, *, clock: Clock, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError(f"kubelet delay must not be negative, not {delay}")
        self._store = store
        self._clock = clock
        self.delay = delay
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, str, str, str]] = []  # due, order, action, namespace, name
        self._seq = itertools.count()
        self._pod_ips = itertools.count(1)
        self._host_ips: dict[str, str] = {}
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = None

    def start(self) -> None:
        """Subscribe to the store (and, with a delay, start the timer thread); also starts pods bound already."""
        if self._unsubscribe is not None:
            return
        self._stopped.clear()
        self._unsubscribe = self._store.subscribe(self._on_change, copy=False)
        if self.delay > 0:
            self._thread = threading.Thread(target=self._run, name="sim-kubelet", daemon=True)
            self._thread.start()
        for pod in self._store.list("pods", copy=False).items:
            if _needs_start(pod):
                self._schedule(pod["metadata"]["namespace"], pod["metadata"]["name"])

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _on_change(self, change: Change) -> None:
        if change.resource != "pods":
            return
        pod, meta = change.object, change.object["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        if change.type == DELETED:
            if node:
                self._retry_deferred(node)
        elif _needs_start(pod):
            self._schedule(meta["namespace"], meta["name"])
        elif change.type == MODIFIED and node and _resources(change.old) != _resources(pod):
            self._schedule(meta["namespace"], meta["name"], "resize")

    def _retry_deferred(self, node: str) -> None:
        """A pod left `node`: a resize deferred for want of room there may fit now."""
        for pod in self._store.list("pods", fields=f"spec.nodeName={node}", copy=False).items:
            conditions = (pod.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "PodResizePending" and c.get("reason") == "Deferred" for c in conditions):
                self._schedule(pod["metadata"]["namespace"], pod["metadata"]["name"], "resize")

    def _schedule(self, namespace: str, name: str, action: str = "start") -> None:
        if self.delay <= 0:
            self._act(action, namespace, name)
            return
        with self._lock:
            due = self._clock.monotonic() + self.delay
            heapq.heappush(self._due, (due, next(self._seq), action, namespace, name))
        self._wake.set()

    def _act(self, action: str, namespace: str, name: str) -> None:
        if action == "start":
            self._start_pod(namespace, name)
        elif action == "resize":
            self._resize(namespace, name)
        else:
            self._actuate(namespace, name)

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                due = self._due[0][0] if self._due else None
            if due is None:
                self._wake.wait()
                self._wake.clear()
                continue
            remaining = due - self._clock.monotonic()
            if remaining > 0:
                self._clock.wait(self._wake, remaining)
                self._wake.clear()
                continue
            with self._lock:
                _, _, action, namespace, name = heapq.heappop(self._due)
            self._act(action, namespace, name)

    def _start_pod(self, namespace: str, name: str) -> None:
        try:
            pod = self._store.get("pods", name, namespace=namespace, copy=False)
            node = self._store.get("nodes", pod["spec"].get("nodeName", ""), copy=False)
        except api_errors.ApiError:
            return  # the pod is gone, or its node does not exist: nothing runs it
        host_ip = self._host_ip(node)
        try:
            self._store.modify(
                "pods", name, lambda p: self._running(p, host_ip), namespace=namespace, subresource="status", copy=False
            )
        except api_errors.ApiError as exc:
            log.debug("kubelet could not start %s/%s: %s", namespace, name, exc.message)

    def _resize(self, namespace: str, name: str) -> None:
        """Allocate a resize that fits (and actuate it after the delay) or report it pending."""
        try:
            pod = self._store.get("pods", name, namespace=namespace, copy=False)
            node = self._store.get("nodes", pod["spec"].get("nodeName", ""), copy=False)
        except api_errors.ApiError:
            return
        if not api_resize.resized(pod):  # resized back to what it has: nothing is pending any more
            self._write_status(namespace, name, api_resize.settled)
            return
        others = [
            p
            for p in self._store.list("pods", fields=f"spec.nodeName={node['metadata']['name']}", copy=False).items
            if p["metadata"]["uid"] != pod["metadata"]["uid"]
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        reason, message = api_resize.verdict(pod, node, others)
        now = self._clock.now()

        def change(latest: JSON) -> JSON:
            if latest["metadata"]["uid"] != pod["metadata"]["uid"] or latest["spec"] != pod["spec"]:
                return latest  # changed meanwhile: that change schedules its own resize
            if reason:
                return api_resize.resize_pending(latest, reason, message, now=now)
            return api_resize.allocated(latest, now=now)

        self._write_status(namespace, name, change)
        if not reason:
            self._schedule(namespace, name, "actuate")

    def _actuate(self, namespace: str, name: str) -> None:
        self._write_status(namespace, name, api_resize.actuated)

    def _write_status(self, namespace: str, name: str, change: Callable[[JSON], JSON]) -> None:
        try:
            self._store.modify("pods", name, change, namespace=namespace, subresource="status", copy=False)
        except api_errors.ApiError as exc:
            log.debug("kubelet could not update %s/%s: %s", namespace, name, exc.message)

    def _host_ip(self, node: JSON) -> str:
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                return address["address"]
        name = node["metadata"]["name"]
        with self._lock:
            if name not in self._host_ips:
                n = len(self._host_ips) + 1
                self._host_ips[name] = f"10.0.{n // 250}.{n % 250 + 1}"
            return self._host_ips[name]

    def _running(self, pod: JSON, host_ip: str) -> JSON:
        """The pod (read-only, as stored) with a running status: a new dict, nothing of `pod` mutated."""
        if not _needs_start(pod):
            return pod
        now = rfc3339(self._clock.now())
        n = next(self._pod_ips)
        pod_ip = f"10.244.{n // 250}.{n % 250 + 1}"
        status = dict(pod.get("status") or {})
        scheduled = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        conditions = [
            {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
        ]
        conditions.append(
            scheduled or {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        )
        status.update(
            phase="Running",
            conditions=conditions,
            hostIP=host_ip,
            hostIPs=[{"ip": host_ip}],
            podIP=pod_ip,
            podIPs=[{"ip": pod_ip}],
            startTime=status.get("startTime") or now,
            containerStatuses=[_container_status(c, now, running=True) for c in pod["spec"].get("containers", [])],
        )
        init = pod["spec"].get("initContainers")
        if init:
            status["initContainerStatuses"] = [_container_status(c, now, running=False) for c in init]
        return {**pod, "status": status}


def _resources(pod: JSON | None) -> list[Any]:
    return [c.get("resources") for c in ((pod or {}).get("spec") or {}).get("containers") or []]


def _container_status(container: JSON, now: str, *, running: bool) -> JSON:
    image = str(container.get("image", ""))
    digest = hashlib.sha256(image.encode()).hexdigest()
    container_id = hashlib.sha256(f"{container.get('name')}/{now}/{image}".encode()).hexdigest()
    state = (
        {"running": {"startedAt": now}}
        if running
        else {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}
    )
    status: JSON = {
        "name": container.get("name", ""),
        "state": state,
        "lastState": {},
        "ready": running,
        "restartCount": 0,
        "image": image,
        "imageID": f"{image.split('@', maxsplit=1)[0]}@sha256:{digest}",
        "containerID": f"containerd://{container_id}",
        "started": running,
    }
    resources = api_resize.spec_resources(container)
    if resources.get("requests"):
        status["allocatedResources"] = resources["requests"]
    if resources:
        status["resources"] = resources
    return status
