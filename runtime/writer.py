"""What the scheduler writes to the API (CONTRACTS §3), on a bounded pool of workers.

- placed: the binding, carrying the decision annotations (the API server merges a Binding's
  annotations into the pod as it sets the node), then a `Scheduled` Event
  ("Successfully assigned <namespace>/<pod> to <node>");
- shadow mode: the recommendation annotations only, never a binding;
- no node fits: the `PodScheduled=False/Unschedulable` condition and a `FailedScheduling` Event with
  kube-scheduler's message; repeats of the same event are counted on one Event, as the event
  recorder's correlator does, instead of piling up;
- ignored annotations: a `Warning` Event on the pod naming them.
Only the binding's outcome decides what happens to the pod; a failed annotation or Event is logged.
"""

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from cluster.clock import Clock
from cluster.objects import Pod
from runtime.kube import ApiException, Kube, TransportError
from scoring.tiers import Decision

PREFIX = "ai-scheduler.io/"
TIER = PREFIX + "decision-tier"
REASON = PREFIX + "decision-reason"
SCORE = PREFIX + "decision-score"
RECOMMENDED = PREFIX + "recommended-node"
EVENT_MEMORY = 4096

log = logging.getLogger(__name__)


def decision_annotations(decision: Decision, *, shadow: bool) -> dict[str, str]:
    """CONTRACTS §3's annotations for a placed (or, in shadow mode, recommended) pod."""
    brief = decision.summary()
    annotations = {TIER: brief["tier"], REASON: brief["reason"]}
    if shadow:
        annotations[RECOMMENDED] = str(brief["node"])
    elif brief["score"] is not None:
        annotations[SCORE] = f"{max(0.0, min(100.0, brief['score'])):.1f}"
    return annotations


def unschedulable_condition(message: str, now: float) -> dict[str, Any]:
    return {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": _time(now),
        "lastProbeTime": None,
    }


def preemption_condition(scheduler_name: str, now: float) -> dict[str, Any]:
    """The `DisruptionTarget` condition kube-scheduler puts on a victim it deletes (`PreemptPod`)."""
    return {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
        "lastTransitionTime": _time(now),
    }


def _time(epoch: float, *, micro: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


class Writer:
    def __init__(
        self,
        kube: Kube,
        *,
        scheduler_name: str,
        instance: str,
        clock: Clock,
        workers: int = 16,
    ) -> None:
        self._kube = kube
        self._component = scheduler_name
        self._instance = instance
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="binder")
        self._events: OrderedDict[tuple[str, str, str], tuple[str, int, str]] = OrderedDict()
        self._events_lock = threading.Lock()

    # -- placements -------------------------------------------------------------------------------

    def bind_async(
        self,
        pod: Pod,
        decision: Decision,
        done: Callable[[Exception | None], None],
        *,
        pre_bind: Callable[[], None] | None = None,
    ) -> Future:
        """Annotate, bind and record in the background; `done` gets None once bound, else the exception. `pre_bind`
        (volume binding) runs first, and its failure is the binding's."""

        def work() -> None:
            try:
                if pre_bind is not None:
                    pre_bind()
                self.bind(pod, decision)
            except Exception as exc:  # every failure goes back to the loop's handler
                done(exc)
                return
            done(None)

        return self._pool.submit(work)

    def bind(self, pod: Pod, decision: Decision) -> None:
        """Bind the pod (raising on any error: no status is taken to mean "bound"), then record the event."""
        node = str(decision.node)
        annotations = decision_annotations(decision, shadow=False)
        self._kube.bind(pod.namespace, pod.name, node, uid=pod.uid or None, annotations=annotations)
        self.event(pod, "Normal", "Scheduled", "Binding", f"Successfully assigned {pod.key} to {node}")

    def may_disrupt(self) -> bool:
        """May this replica evict pods now? Always here; `FencedWriter` only while its lease is certainly current."""
        return True

    def recommend(self, pod: Pod, decision: Decision) -> Future:
        """Shadow mode: say where the pod would go, bind nothing (in the background)."""
        annotations = decision_annotations(decision, shadow=True)
        return self._pool.submit(
            self._quietly,
            "recommend",
            pod,
            lambda: self._kube.patch_pod_annotations(pod.namespace, pod.name, annotations),
        )

    # -- failures and warnings ----------------------------------------------------------------------

    def unschedulable(self, pod: Pod, message: str) -> Future:
        """kube-scheduler's record of a failed attempt, in the background: condition and FailedScheduling event."""
        condition = unschedulable_condition(message, self._clock.now())

        def work() -> None:
            self._quietly("condition", pod, lambda: self._kube.patch_pod_condition(pod.namespace, pod.name, condition))
            self.event(pod, "Warning", "FailedScheduling", "Scheduling", message)

        return self._pool.submit(work)

    def warn(self, pod: Pod, message: str) -> Future:
        """A Warning event about the pod's ignored annotations, in the background."""
        return self._pool.submit(self.event, pod, "Warning", "InvalidAnnotation", "Scheduling", message)

    def event(self, pod: Pod, kind: str, reason: str, action: str, message: str) -> None:
        """Create the Event, or count a repeat of the same one on the existing Event."""
        now = self._clock.now()
        key = (pod.uid or pod.key, reason, message)
        with self._events_lock:
            seen = self._events.get(key)
            if seen is not None:
                name, count, first = seen
                self._events[key] = (name, count + 1, first)
                self._events.move_to_end(key)
            else:
                digest = hashlib.sha1(f"{key}{now}".encode(), usedforsecurity=False).hexdigest()[:10]
                name = f"{pod.name}.{digest}"
                self._events[key] = (name, 1, _time(now))
                while len(self._events) > EVENT_MEMORY:
                    self._events.popitem(last=False)
        if seen is not None:
            body = {"count": seen[1] + 1, "lastTimestamp": _time(now)}
            self._quietly("event", pod, lambda: self._kube.patch_event(pod.namespace, name, body))
            return
        event = {
            "metadata": {"name": name, "namespace": pod.namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.name,
                "namespace": pod.namespace,
                "uid": pod.uid or None,
                "resourceVersion": pod.resource_version or None,
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "action": action,
            "count": 1,
            "firstTimestamp": _time(now),
            "lastTimestamp": _time(now),
            "eventTime": _time(now, micro=True),
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
            "source": {"component": self._component},
        }
        self._quietly("event", pod, lambda: self._kube.create_event(event))

    def close(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _quietly(self, what: str, pod: Pod, call: Callable[[], Any]) -> None:
        try:
            call()
        except (ApiException, *TransportError) as exc:
            status = getattr(exc, "status", None) or type(exc).__name__
            log.warning("could not write %s for pod %s: %s", what, pod.key, status)
