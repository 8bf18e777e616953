"""Pod disruption: the `pods/eviction` subresource and the disruption controller that keeps budgets current.

`evict` is `pkg/registry/core/pod/storage/eviction.go` (1.32): a pod that is Pending, finished or already being
deleted is deleted at once; otherwise the one PodDisruptionBudget selecting it must allow a disruption (none
selecting it: allowed; more than one: 500), which the eviction takes from `status.disruptionsAllowed` and
records in `status.disruptedPods` before the pod goes. A budget that allows none answers 429 with "Cannot
evict pod as it would violate the pod's disruption budget." and the `DisruptionBudget` cause; a budget whose
spec the controller has not seen yet (`observedGeneration` behind) answers 429 "still being processed". The
pod gets the `DisruptionTarget` condition (reason `EvictionByEvictionAPI`) just before it is deleted, as
`addConditionAndDeletePod` does.

`DisruptionController` is the emulator's `pkg/controller/disruption`: subscribed to the store, it recomputes
the status of the budgets in a namespace whenever a pod or budget there changes. Expected pods are counted as
upstream's `getExpectedScale` does, one controller at a time, with the emulator's stand-in for a controller's
scale (it serves no ReplicaSets or StatefulSets): the most pods that controller has been seen owning at once, as
a workload controller would replace the pods evicted from it. A pod without a controller counts as itself.
Healthy pods are those `Ready` and neither being deleted nor recently disrupted.
"""

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cluster.clock import Clock
from sim import api_errors
from sim.api_strategy import rfc3339
from sim.api_watch import Change
from sim.selectors import SelectorError, from_label_selector
from sim.store import Store

__all__ = ["DELETION_TIMEOUT", "DisruptionController", "budget_status", "controller_of", "evict", "selects"]

JSON = dict[str, Any]

DELETION_TIMEOUT = 120.0  # seconds a disrupted pod is not counted healthy while it is not deleted (the controller's)
_TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
_DISRUPTION_TARGET = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "EvictionByEvictionAPI",
    "message": "Eviction API: evicting",
}


def selects(pdb: JSON, pod: JSON) -> bool:
    """Whether the budget covers the pod: same namespace and a non-empty selector that matches its labels."""
    if pdb["metadata"].get("namespace") != pod["metadata"].get("namespace"):
        return False
    try:
        selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
    except SelectorError:
        return False  # "This object has an invalid selector, it does not match the pod"
    return selector is not None and selector.matches(pod["metadata"].get("labels"))


def _ready(pod: JSON) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _too_many(message: str, retry_after: int = 0) -> api_errors.ApiError:
    """`errors.NewTooManyRequests` with the `DisruptionBudget` cause (a zero retry is omitted, as in Go)."""
    details: JSON = {"causes": [{"reason": "DisruptionBudget", "message": message}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return api_errors.ApiError(429, "TooManyRequests", _TOO_MANY, details)


def _seconds(timestamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _scaled(value: Any, total: int) -> int:
    """`intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)`."""
    text = str(value)
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * total / 100)
    return int(text)


def _allowed_condition(allowed: int, generation: int, old: list[JSON], now: float) -> list[JSON]:
    """`pdbhelper.UpdateDisruptionAllowedCondition`: `DisruptionAllowed`, its transition time kept if unchanged."""
    status, reason = ("True", "SufficientPods") if allowed > 0 else ("False", "InsufficientPods")
    previous = next((c for c in old if c.get("type") == "DisruptionAllowed"), {})
    since = previous.get("lastTransitionTime") if previous.get("status") == status else rfc3339(now)
    condition = {
        "type": "DisruptionAllowed",
        "status": status,
        "reason": reason,
        "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": since,
    }
    return [condition, *(c for c in old if c.get("type") != "DisruptionAllowed")]


def controller_of(pod: JSON) -> str:
    """The uid of the pod's controlling owner, "" for a bare pod."""
    owners = pod["metadata"].get("ownerReferences") or []
    return next((str(o.get("uid", "")) for o in owners if o.get("controller")), "")


def budget_status(pdb: JSON, pods: list[JSON], *, now: float, scales: Mapping[str, int] | None = None) -> JSON:
    """The status the disruption controller writes for `pdb` given the pods of its namespace.

    `scales` are the controllers' scales by owner uid (what the pods of each are expected to number).

    `minAvailable` (a number or a percentage of the expected pods, rounded up) is the healthy count wanted;
    `maxUnavailable` leaves expected minus that many (rounded up). Disruptions allowed are healthy minus wanted,
    never below zero. A disrupted pod stays out of the healthy count until it is deleted or `DELETION_TIMEOUT`
    has passed.
    """
    spec, old = pdb.get("spec") or {}, pdb.get("status") or {}
    matching = {p["metadata"]["name"]: p for p in pods if selects(pdb, p)}
    disrupted = {}
    for name, when in (old.get("disruptedPods") or {}).items():
        pod, at = matching.get(name), _seconds(when)
        gone = pod is None or pod["metadata"].get("deletionTimestamp")
        if not gone and at is not None and now - at < DELETION_TIMEOUT:
            disrupted[name] = when
    owners = {controller_of(p) for p in matching.values()} - {""}
    expected = sum(1 for p in matching.values() if not controller_of(p))
    expected += sum(
        max((scales or {}).get(o, 0), sum(controller_of(p) == o for p in matching.values())) for o in owners
    )
    healthy = sum(
        1
        for name, pod in matching.items()
        if _ready(pod) and not pod["metadata"].get("deletionTimestamp") and name not in disrupted
    )
    if spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected)
    elif spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    else:
        desired = expected
    allowed = max(0, healthy - desired) if expected > 0 else 0
    generation = pdb["metadata"].get("generation", 1)
    status: JSON = {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": _allowed_condition(allowed, generation, old.get("conditions") or [], now),
    }
    if disrupted:
        status["disruptedPods"] = disrupted
    return status


class DisruptionController:
    """Keeps every budget's status current (see the module docstring); writes only when a status changes."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._unsubscribe = None
        self._scales: dict[str, int] = {}  # controller uid -> the most pods seen owned by it at once

    def start(self) -> None:
        """Subscribe, and bring the budgets that exist already up to date."""
        if self._unsubscribe is not None:
            return
        self._unsubscribe = self._store.subscribe(self._on_change, copy=False)
        namespaces = {b["metadata"]["namespace"] for b in self._store.list("poddisruptionbudgets", copy=False).items}
        for namespace in sorted(namespaces):
            self.sync(namespace)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_change(self, change: Change) -> None:
        if change.resource in ("pods", "poddisruptionbudgets"):
            self.sync(change.object["metadata"].get("namespace", "default"))

    def sync(self, namespace: str) -> None:
        """Recompute the status of each budget in `namespace`."""
        budgets = self._store.list("poddisruptionbudgets", namespace=namespace, copy=False).items
        if not budgets:
            return
        pods = self._store.list("pods", namespace=namespace, copy=False).items
        owned = Counter(controller_of(p) for p in pods if not p["metadata"].get("deletionTimestamp"))
        for owner, count in owned.items():
            if owner:
                self._scales[owner] = max(self._scales.get(owner, 0), count)
        now = self._clock.now()
        for pdb in budgets:
            status = budget_status(pdb, pods, now=now, scales=self._scales)
            if status == pdb.get("status"):
                continue
            try:
                self._store.modify(
                    "poddisruptionbudgets",
                    pdb["metadata"]["name"],
                    lambda old, status=status: {**old, "status": status},
                    namespace=namespace,
                    subresource="status",
                    copy=False,
                )
            except api_errors.ApiError:
                continue  # deleted meanwhile


def _can_ignore_budget(pod: JSON) -> bool:
    """`canIgnorePDB`: a pod that is Pending, finished or being deleted disrupts nothing more by going."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def evict(store: Store, namespace: str, name: str, eviction: JSON, *, dry_run: bool = False) -> JSON:
    """Serve `POST pods/NAME/eviction`: the 201 `Status` of a pod evicted, or the `ApiError` refusing it."""
    meta = api_errors.section(eviction, "metadata")
    if meta.get("name") and meta["name"] != name:
        raise api_errors.bad_request("name in URL does not match name in Eviction object")
    options = api_errors.section(eviction, "deleteOptions")
    preconditions = api_errors.section(options, "preconditions")
    dry_run = dry_run or "All" in (options.get("dryRun") or [])
    pod = store.get("pods", name, namespace=namespace, copy=False)
    if not _can_ignore_budget(pod):
        budgets = [
            b for b in store.list("poddisruptionbudgets", namespace=namespace, copy=False).items if selects(b, pod)
        ]
        if len(budgets) > 1:
            raise api_errors.ApiError(
                500,
                "",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )
        if budgets:
            _take_disruption(store, budgets[0], pod, dry_run=dry_run)
    if not dry_run:
        _mark_and_delete(
            store, pod, uid=preconditions.get("uid"), resource_version=preconditions.get("resourceVersion")
        )
    return api_errors.success(201)


def _take_disruption(store: Store, pdb: JSON, pod: JSON, *, dry_run: bool) -> None:
    """`checkAndDecrement`, atomically on the budget's latest version (what the real retry-on-conflict achieves)."""
    spec = pdb.get("spec") or {}
    status = pdb.get("status") or {}
    if not _ready(pod):
        always = spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"
        desired, healthy = status.get("desiredHealthy", 0), status.get("currentHealthy", 0)
        if always or healthy >= desired > 0:
            return  # an unready pod does not count as healthy: nothing to take from the budget
    budget = pdb["metadata"]["name"]

    def decrement(old: JSON) -> JSON:
        status = dict(old.get("status") or {})
        if status.get("observedGeneration", 0) < old["metadata"].get("generation", 1):
            raise _too_many(f"The disruption budget {budget} is still being processed by the server.", 10)
        allowed = status.get("disruptionsAllowed", 0)
        if allowed < 0:
            why = f'poddisruptionbudget.policy "{budget}" is forbidden: pdb disruptions allowed is negative'
            raise api_errors.ApiError(
                403, "Forbidden", why, {"name": budget, "group": "policy", "kind": "poddisruptionbudget"}
            )
        if allowed == 0:
            desired, healthy = status.get("desiredHealthy", 0), status.get("currentHealthy", 0)
            raise _too_many(f"The disruption budget {budget} needs {desired} healthy pods and has {healthy} currently")
        status["disruptionsAllowed"] = allowed - 1
        if allowed == 1:
            now = store.clock.now()
            status["conditions"] = _allowed_condition(
                0, status.get("observedGeneration", 1), status.get("conditions") or [], now
            )
        status["disruptedPods"] = {
            **(status.get("disruptedPods") or {}),
            pod["metadata"]["name"]: rfc3339(store.clock.now()),
        }
        return {**old, "status": status}

    if dry_run:
        decrement(pdb)
        return
    store.modify(
        "poddisruptionbudgets",
        budget,
        decrement,
        namespace=pdb["metadata"]["namespace"],
        subresource="status",
        copy=False,
    )


def _mark_and_delete(store: Store, pod: JSON, *, uid: str | None, resource_version: str | None) -> None:
    """`addConditionAndDeletePod`: the `DisruptionTarget` condition on the latest pod, then the delete."""
    meta = pod["metadata"]

    def mark(latest: JSON) -> JSON:
        latest_meta = latest["metadata"]
        if uid and uid != latest_meta.get("uid"):
            why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {latest_meta.get('uid')}"
            raise api_errors.conflict("pods", meta["name"], why)
        if resource_version and resource_version != latest_meta.get("resourceVersion"):
            why = (
                f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                f"ResourceVersion in object meta: {latest_meta.get('resourceVersion')}"
            )
            raise api_errors.conflict("pods", meta["name"], why)
        status = dict(latest.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        target = {**_DISRUPTION_TARGET, "lastProbeTime": None, "lastTransitionTime": rfc3339(store.clock.now())}
        status["conditions"] = [*conditions, target]
        return {**latest, "status": status}

    marked = store.modify("pods", meta["name"], mark, namespace=meta["namespace"], subresource="status", copy=False)
    store.delete("pods", meta["name"], namespace=meta["namespace"], uid=marked["metadata"].get("uid"), copy=False)
