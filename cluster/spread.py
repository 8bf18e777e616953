"""Services and workload controllers: whose pods a pod is spread against when it has no spread constraints.

kube-scheduler's PodTopologySpread gives a pod without constraints of its own the cluster's default
constraints, over the pods `helper.DefaultSelector` selects (`pkg/scheduler/framework/plugins/helper/spread.go`,
v1.32): the selectors of every Service in the pod's namespace whose selector matches the pod, and that of the
pod's controlling ReplicationController, ReplicaSet or StatefulSet, read from informers by the owner reference's
name. This module is that lister state (`Workloads`, carried by every snapshot, fed by `apply_event` from the
runtime's informers) and `default_selector`, a pure function of a pod and it. Nothing here talks to the API.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cluster.objects import LabelSelector, Pod, Requirement
from cluster.parse import ManifestError, parse_label_selector

ADDED, DELETED = "ADDED", "DELETED"
REPLICATION_CONTROLLER = ("v1", "ReplicationController")
REPLICA_SET = ("apps/v1", "ReplicaSet")
STATEFUL_SET = ("apps/v1", "StatefulSet")
_OPERATORS = {"In": True, "NotIn": True, "Exists": False, "DoesNotExist": False}
"""The label selector operators `metav1.LabelSelectorAsSelector` accepts, and whether each takes values."""


@dataclass(frozen=True)
class Workloads:
    """The selectors of every Service and controller the informers have reported, as `DefaultSelector` reads them.

    `services`: namespace → Service name → `spec.selector` (Services with a nil selector select nothing and are
    left out). `controllers`: (apiVersion, kind, namespace, name) → the controller's selector as a label
    selector, None when it has none a selector can be built from (nil, or invalid: upstream then adds nothing).
    """

    services: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    controllers: Mapping[tuple[str, str, str, str], LabelSelector | None] = field(default_factory=dict)

    def with_service(self, namespace: str, name: str, selector: Mapping[str, str] | None) -> "Workloads":
        """A copy with the Service's selector set, or the Service gone when `selector` is None."""
        in_namespace = dict(self.services.get(namespace, {}))
        if selector is None:
            in_namespace.pop(name, None)
        else:
            in_namespace[name] = selector
        services = dict(self.services)
        if in_namespace:
            services[namespace] = in_namespace
        else:
            services.pop(namespace, None)
        return replace(self, services=services)

    def with_controller(
        self, key: tuple[str, str, str, str], selector: LabelSelector | None, *, present: bool
    ) -> "Workloads":
        """A copy with the controller at `key` holding `selector`, or gone when not `present`."""
        controllers = dict(self.controllers)
        if present:
            controllers[key] = selector
        else:
            controllers.pop(key, None)
        return replace(self, controllers=controllers)


def pod_services(workloads: Workloads, pod: Pod) -> list[str]:
    """`GetPodServices`: the names of the Services in the pod's namespace whose selector matches its labels."""
    services = workloads.services.get(pod.namespace, {})
    return sorted(name for name, selector in services.items() if _set_matches(selector, pod.labels))


def default_selector(workloads: Workloads, pod: Pod) -> LabelSelector:
    """`DefaultSelector`: the matching Services' selectors merged, then the controller's selector added; an empty
    selector (no Service, no known controller) means the pod gets no default spreading."""
    merged: dict[str, str] = {}
    for name in pod_services(workloads, pod):
        merged.update(workloads.services[pod.namespace][name])
    expressions: tuple[Requirement, ...] = ()
    if len(pod.controller) >= 4:
        api_version, kind, _, owner = pod.controller[:4]
        key = (api_version, kind, pod.namespace, owner)
        if key in workloads.controllers:
            selector = workloads.controllers[key]
            if (api_version, kind) == REPLICATION_CONTROLLER and selector is not None:
                merged.update(selector.match_labels)  # `labels.Merge`: the RC's value wins, as upstream
            elif selector is not None:
                expressions = _added(merged, selector)
    return LabelSelector(tuple(sorted(merged.items())), expressions)


def _set_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """`labels.Set(selector).AsSelector().Matches`: every pair present; an empty set matches everything."""
    return all(labels.get(k) == v for k, v in selector.items())


def _added(merged: dict[str, str], selector: LabelSelector) -> tuple[Requirement, ...]:
    """A ReplicaSet's or StatefulSet's selector ANDed to the Services' (`selector.Add(r...)`): each matchLabels pair
    joins `merged` (the same requirement), unless `merged` holds another value for its key, when it stays a
    requirement of its own (and the two select nothing together); its expressions are added as they are."""
    conflicting = tuple(Requirement(k, "In", (v,)) for k, v in selector.match_labels if merged.get(k, v) != v)
    merged.update((k, v) for k, v in selector.match_labels if k not in merged)
    return conflicting + selector.match_expressions


# -- the informers' objects --------------------------------------------------------------------------------------


def _meta(raw: Mapping[str, Any], what: str) -> tuple[str, str]:
    meta = raw.get("metadata") if isinstance(raw, Mapping) else None
    if not isinstance(meta, Mapping) or not meta.get("name"):
        raise ManifestError(f"{what} has no metadata.name")
    return str(meta.get("namespace") or "default"), str(meta["name"])


def _spec(raw: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    spec = raw.get("spec")
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ManifestError(f"{what}: spec must be an object")
    return spec


def _service_selector(raw: Mapping[str, Any], what: str) -> Mapping[str, str] | None:
    """`spec.selector` of a Service or ReplicationController: a map of strings, None when absent."""
    selector = _spec(raw, what).get("selector")
    if selector is None:
        return None
    if not isinstance(selector, Mapping) or not all(isinstance(v, str) for v in selector.values()):
        raise ManifestError(f"{what}: spec.selector must be a map of strings")
    return {str(k): v for k, v in selector.items()}


def _label_selector(raw: Mapping[str, Any], what: str) -> LabelSelector | None:
    """`spec.selector` of a ReplicaSet or StatefulSet, None when `LabelSelectorAsSelector` would give nothing to
    add: nil, or invalid (an unknown operator, values where none belong or none where some must be)."""
    try:
        selector = parse_label_selector(_spec(raw, what).get("selector"), f"{what}: spec.selector")
    except ManifestError:
        return None
    if selector is None:
        return None
    for requirement in selector.match_expressions:
        takes_values = _OPERATORS.get(requirement.operator)
        if takes_values is None or takes_values != bool(requirement.values):
            return None
    return selector


def _apply_service(workloads: Workloads, kind: str, raw: Mapping[str, Any]) -> Workloads:
    namespace, name = _meta(raw, "service")
    selector = None if kind == DELETED else _service_selector(raw, f"service {namespace}/{name}")
    return workloads.with_service(namespace, name, selector)


def _controller_applier(api_version: str, kind_name: str, resource: str) -> Callable[..., Workloads]:
    def apply(workloads: Workloads, kind: str, raw: Mapping[str, Any]) -> Workloads:
        namespace, name = _meta(raw, resource)
        key = (api_version, kind_name, namespace, name)
        if kind == DELETED:
            return workloads.with_controller(key, None, present=False)
        what = f"{resource} {namespace}/{name}"
        if (api_version, kind_name) == REPLICATION_CONTROLLER:
            labels = _service_selector(raw, what)
            selector = None if labels is None else LabelSelector(tuple(sorted(labels.items())))
        else:
            selector = _label_selector(raw, what)
        return workloads.with_controller(key, selector, present=True)

    return apply


RESOURCES: Mapping[str, Callable[[Workloads, str, Mapping[str, Any]], Workloads]] = {
    "services": _apply_service,
    "replicationcontrollers": _controller_applier(*REPLICATION_CONTROLLER, "replicationcontroller"),
    "replicasets": _controller_applier(*REPLICA_SET, "replicaset"),
    "statefulsets": _controller_applier(*STATEFUL_SET, "statefulset"),
}
"""Each informer's resource → how one of its events changes `Workloads`."""


def apply_event(workloads: Workloads, resource: str, kind: str, raw: Mapping[str, Any]) -> tuple[Workloads, str | None]:
    """`workloads` after one informer event of `resource`, and why the object was dropped when it cannot be read
    (else None): a Service or controller whose selector cannot be read selects nothing, as upstream's lister
    would fail to convert it."""
    try:
        return RESOURCES[resource](workloads, kind, raw), None
    except ManifestError as exc:
        try:
            return RESOURCES[resource](workloads, DELETED, raw), str(exc)
        except ManifestError:
            return workloads, str(exc)
