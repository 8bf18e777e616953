"""Preemption's shell: the PDB and nomination state it reads, and the API calls that carry out its choice.

`scoring.preemption` decides; this module keeps what that decision needs from the informers (the
PodDisruptionBudgets, the pods nominated to nodes) and, for a chosen node, does what kube-scheduler's
`prepareCandidate` and `handleSchedulingFailure` do: remove each victim, record a `Preempted` event on it,
clear the nomination of lower-priority pods nominated to the same node, and set the preemptor's
`status.nominatedNodeName`. A victim goes through `pods/eviction`, so the API server checks its budget once
more and adds the `DisruptionTarget` condition; one the decision chose knowing it violates a
PodDisruptionBudget (the only way to make room), or that the API server refuses for its budget (429), is
removed as kube-scheduler removes every victim: the `DisruptionTarget` condition (reason
`PreemptionByScheduler`), then a delete of that pod's uid, with a warning. The nominator (`with_nominated`)
adds the pods nominated to a node, of at least the deciding pod's priority, to the snapshot a decision
filters against, so the room made for a preemptor is not taken by a pod of lower or equal priority
meanwhile. In shadow mode the same choice is only reported.
"""

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from http import HTTPStatus

import numpy as np

from cluster.clock import Clock
from cluster.disruption import Budget, parse_budget
from cluster.objects import Pod, RawObject
from cluster.parse import ManifestError
from cluster.snapshot import Snapshot
from runtime.cache import DELETED
from runtime.kube import ApiException, Kube, TransportError
from runtime.writer import Writer, preemption_condition
from scoring.framework import Failures, FilterPlugin, PodInfo
from scoring.heuristic import HeuristicTier
from scoring.preemption import POST_FILTER_PREFIX, Preemption, preempt
from scoring.tiers import Decision, clip_reason
from telemetry.logs import fields
from telemetry.stats import Stats

log = logging.getLogger(__name__)
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
"""`policyv1.DisruptionBudgetCause`: the cause the Eviction API gives a 429 it answers for a budget."""


def refused_by_budget(error: ApiException) -> bool:
    """Is this the Eviction API's refusal for a PodDisruptionBudget: a 429 whose status names the `DisruptionBudget`
    cause (the budget allows no disruption now, or its status is not current yet), not a throttled request?"""
    if error.status != HTTPStatus.TOO_MANY_REQUESTS:
        return False
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        return False
    details = body.get("details") if isinstance(body, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    return isinstance(causes, list) and any(
        isinstance(c, dict) and c.get("reason") == DISRUPTION_BUDGET_CAUSE for c in causes
    )


class Preemptor:
    """Thread-safe: informer threads feed it, decision workers read it and preempt."""

    def __init__(
        self,
        kube: Kube,
        writer: Writer,
        clock: Clock,
        *,
        stats: Stats | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._kube = kube
        self._stats = stats or Stats()
        self._writer = writer
        self._clock = clock
        self._warn = warn or log.warning
        self._lock = threading.Lock()
        self._budgets: dict[str, Budget] = {}
        self._nominated: dict[str, Pod] = {}
        """Pending pods with a nominated node, by key (upstream's nominator)."""

    # -- informer state ---------------------------------------------------------------------------

    def budget_event(self, kind: str, raw: RawObject) -> None:
        """Apply a PodDisruptionBudget event; a malformed one is reported and leaves the budgets as they were."""
        meta = raw.get("metadata") or {}
        key = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        if kind == DELETED:
            with self._lock:
                self._budgets.pop(key, None)
            return
        try:
            budget = parse_budget(raw)
        except ManifestError as exc:
            self._warn(f"ignoring poddisruptionbudget {key}: {exc}")
            return
        with self._lock:
            self._budgets[budget.key] = budget

    def budgets(self) -> list[Budget]:
        with self._lock:
            return list(self._budgets.values())

    def observe(self, pending: Pod | None, gone: str | None) -> None:
        """Track nominations from the pod informer: a pending pod's `nominatedNodeName`; a bound or deleted pod
        is nominated nowhere."""
        with self._lock:
            if gone is not None:
                self._nominated.pop(gone, None)
            if pending is not None:
                if pending.nominated_node_name:
                    self._nominated[pending.key] = pending
                else:
                    self._nominated.pop(pending.key, None)

    def with_nominated(self, snapshot: Snapshot, pod: Pod) -> Snapshot:
        """`snapshot` with the other pods nominated to a node of at least `pod`'s priority counted there
        (`addNominatedPods`)."""
        with self._lock:
            nominated = [p for p in self._nominated.values() if p.key != pod.key and p.priority >= pod.priority]
        for other in nominated:
            snapshot = snapshot.with_pod(other, other.nominated_node_name)
        return snapshot

    # -- the PostFilter ---------------------------------------------------------------------------

    def post_filter(
        self,
        pod: Pod,
        snapshot: Snapshot,
        failures: Failures,
        *,
        filters: Sequence[FilterPlugin],
        info: PodInfo,
        rejected: bool = False,
        heuristic: HeuristicTier,
        shadow: Decision | None = None,
    ) -> str:
        """Preempt for `pod` if that helps; "" once victims are gone and the pod nominated, otherwise the
        `preemption: ...` message kube-scheduler appends to the FitError. `rejected`: a PreFilter turned every
        node down (upstream's UnschedulableAndUnresolvable everywhere). `shadow`: the pod's decision in shadow
        mode, where what preemption would do is only reported and nothing is written but the recommendation.

        The pod's nomination is the latest known (upstream re-reads the pod): one this replica just set counts
        before the informer echoes it."""
        with self._lock:
            known = self._nominated.get(pod.key)
        nominated = pod
        if known is not None and known.uid == pod.uid and not pod.nominated_node_name:
            nominated = replace(pod, nominated_node_name=known.nominated_node_name)

        def interference_tie_break(names: list[str]) -> str:
            indices = np.array([snapshot.node_index(n) for n in names], dtype=np.int64)
            scored = heuristic.score(info, snapshot, indices)
            return snapshot.names[int(scored.feasible[scored.best])]

        plan = preempt(
            nominated,
            snapshot,
            failures,
            filters=filters,
            info=info,
            budgets=self.budgets(),
            now=self._clock.now(),
            tie_break=interference_tie_break,
            rejected=rejected,
        )
        if shadow is not None:
            self._stats.preemption(None)
            return plan.message if plan.node is None else self._report(pod, plan, shadow)
        if plan.node is None:
            self._stats.preemption(None)
            if plan.clear_nomination:
                self._set_nomination(pod, None)
            return plan.message
        message = self._carry_out(pod, plan)
        self._stats.preemption(None if message else len(plan.victims))
        return message

    def _report(self, pod: Pod, plan: Preemption, decision: Decision) -> str:
        """Shadow mode's PostFilter: what preemption would do, reported and not done. The node and the victims go
        into the recommendation annotations, a `would_preempt` log line and the message that ends the FitError;
        nothing is evicted and nothing nominated."""
        victims = ", ".join(v.key for v in plan.victims)
        violating = ", ".join(v.key for v in plan.victims if v.key in plan.violating)
        would = f"{POST_FILTER_PREFIX}would evict {victims} on node {plan.node}"
        if violating:
            would += f", violating the PodDisruptionBudget of {violating}"
        log.info(
            "would preempt",
            extra=fields(
                event="would_preempt",
                pod=pod.key,
                node=plan.node,
                victims=victims.replace(", ", ","),
                violating=violating.replace(", ", ","),
            ),
        )
        self._writer.recommend(pod, replace(decision, node=plan.node, reason=clip_reason(would)))
        return f"{would} (shadow mode: nothing evicted)."

    def _carry_out(self, pod: Pod, plan: Preemption) -> str:
        """Remove the victims (`prepareCandidate`), then nominate; the message that ends the FitError when a
        victim could not be removed, "" otherwise."""
        node = str(plan.node)
        if not self._writer.may_disrupt():
            return f"{POST_FILTER_PREFIX}not evicting on node {node}: this replica's lease is not certainly current"
        for victim in plan.victims:
            if victim.deleting:
                continue  # its graceful deletion has begun: upstream sends no second call
            try:
                removed = self._remove(pod, victim, node, violating=victim.key in plan.violating)
            except (ApiException, *TransportError) as exc:
                status = getattr(exc, "status", None) or type(exc).__name__
                log.warning("preemption for %s: removing %s failed: %s", pod.key, victim.key, status)
                return f"{POST_FILTER_PREFIX}evicting pod {victim.key} failed: {status}"
            if removed:
                self._writer.event(
                    victim, "Normal", "Preempted", "Preempting", f"Preempted by pod {pod.uid or pod.key} on node {node}"
                )
        victims = ",".join(v.key for v in plan.victims)
        violating = ",".join(v.key for v in plan.victims if v.key in plan.violating)
        log.info(
            "preempted",
            extra=fields(event="preempted", pod=pod.key, node=node, victims=victims, violating=violating),
        )
        with self._lock:
            lower = [p for p in self._nominated.values() if p.nominated_node_name == node and p.priority < pod.priority]
        for other in lower:
            self._set_nomination(other, None)
        self._set_nomination(pod, node)
        return ""

    def _remove(self, pod: Pod, victim: Pod, node: str, *, violating: bool) -> bool:
        """Evict `victim` through `pods/eviction`; one the decision chose knowing it violates a PodDisruptionBudget,
        or that the API server refuses for its budget (429 with the `DisruptionBudget` cause), is deleted as
        kube-scheduler deletes every victim. False when the victim was already gone (upstream records no event
        then). Any other refusal raises, a 429 of the API server's own throttling included."""
        if not violating:
            try:
                self._kube.evict(victim.namespace, victim.name, uid=victim.uid or None)
                return True
            except ApiException as exc:
                if exc.status == HTTPStatus.NOT_FOUND:
                    return False
                if not refused_by_budget(exc):
                    raise
        cause = "chosen" if violating else "eviction_refused"
        log.warning(
            "preemption for %s: deleting %s on node %s despite its PodDisruptionBudget, as kube-scheduler does (%s)",
            pod.key,
            victim.key,
            node,
            "no way to fit without violating one" if violating else "the Eviction API refused it for its budget",
            extra=fields(event="victim_deleted", pod=pod.key, victim=victim.key, node=node, cause=cause),
        )
        return self._delete(pod, victim)

    def _delete(self, pod: Pod, victim: Pod) -> bool:
        """Upstream's `PreemptPod`: the `DisruptionTarget` condition (reason `PreemptionByScheduler`), then the delete,
        here only of the pod with the victim's uid; a victim already gone is no failure."""
        condition = preemption_condition(pod.scheduler_name, self._clock.now())
        try:
            self._kube.patch_pod_condition(victim.namespace, victim.name, condition)
            self._kube.delete_pod(victim.namespace, victim.name, uid=victim.uid or None)
        except ApiException as exc:
            if exc.status == HTTPStatus.NOT_FOUND:
                return False
            raise
        return True

    def _set_nomination(self, pod: Pod, node: str | None) -> None:
        """Patch `status.nominatedNodeName` and count it at once (the informer's echo follows)."""
        with self._lock:
            if node is None:
                self._nominated.pop(pod.key, None)
            else:
                self._nominated[pod.key] = replace(pod, nominated_node_name=node)
        try:
            self._kube.patch_pod_status(pod.namespace, pod.name, {"nominatedNodeName": node})
        except (ApiException, *TransportError) as exc:
            status = getattr(exc, "status", None) or type(exc).__name__
            log.warning("could not set the nominated node of pod %s: %s", pod.key, status)
