"""Per-kind create and update rules: the defaulting and the field resets the real API server applies.

Mirrors the parts of `pkg/registry/core/{pod,node,namespace}/strategy.go`, `pkg/apis/core/v1/defaults.go`
and the DefaultTolerationSeconds admission plugin that a scheduler can observe: pod defaults (scheduler name,
priority, QoS class, requests from limits), `status` ignored on pod create and on main-resource updates,
`spec` ignored on status updates, and the pod spec being immutable apart from a few fields. Pure functions
over plain dicts; the store calls them inside its write lock with objects it owns.
"""

import functools
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from sim import api_errors, api_objects
from sim.patch import PatchError, PatchTestError, deep_copy, json_patch, merge_patch, strategic_merge_patch

__all__ = [
    "PATCH_TYPES",
    "RESIZABLE",
    "bind_pod",
    "micro_time",
    "parse_quantity",
    "patched",
    "prepare_create",
    "prepare_update",
    "qos_class",
    "rfc3339",
]

JSON = dict[str, Any]

_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_SUFFIXES |= {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3, "M": 10**6}
_SUFFIXES |= {"G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)(e[+-]?[0-9]+|E[+-]?[0-9]+|[a-zA-Z]*)$")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand: no vowels, no 0/1/3


@functools.lru_cache(maxsize=64)
def _rfc3339(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(seconds: float) -> str:
    """A `metav1.Time` (second precision, UTC)."""
    return _rfc3339(int(seconds // 1))


def micro_time(seconds: float) -> str:
    """A `metav1.MicroTime` (microsecond precision, UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_quantity(text: Any) -> Decimal:
    """A resource quantity (`100m`, `1Gi`, `2e3`) as a number, to compare requests with limits."""
    match = _QUANTITY_RE.match(str(text).strip())
    try:
        if match is None:
            raise InvalidOperation
        number, suffix = Decimal(match.group(1)), match.group(2)
        if suffix[:1] in ("e", "E") and suffix[1:].lstrip("+-").isdigit():
            return number * Decimal(10) ** int(suffix[1:])
        return number * Decimal(_SUFFIXES[suffix])
    except (ArithmeticError, KeyError):  # ArithmeticError: InvalidOperation, and Overflow past Decimal's exponents
        raise api_errors.bad_request(f"quantities must match the regular expression '{_QUANTITY_RE.pattern}'") from None


def qos_class(pod: JSON) -> str:
    """`Guaranteed`, `Burstable` or `BestEffort`, as `pkg/apis/core/helper/qos` computes it."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in ("cpu", "memory")}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        if any(parse_quantity(v) != 0 for v in (*requests.values(), *limits.values())):
            any_set = True
        equal = all(parse_quantity(requests.get(k, v)) == parse_quantity(v) for k, v in limits.items())
        if set(limits) != {"cpu", "memory"} or not equal:
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_container(container: JSON) -> JSON:
    resources = container.get("resources")
    if isinstance(resources, dict) and resources.get("limits"):
        requests = dict(resources.get("requests") or {})
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)
        container["resources"] = {**resources, "requests": requests}
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    if "imagePullPolicy" not in container:
        latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
        container["imagePullPolicy"] = "Always" if latest else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    return container


_DEFAULT_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
)


def _default_pod_spec(pod: JSON) -> None:
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        name = pod["metadata"].get("name", "")
        raise api_errors.invalid("Pod", name, "spec.containers", "Required value")
    for field in ("containers", "initContainers"):
        if isinstance(spec.get(field), list):
            spec[field] = [_default_container(dict(c)) for c in spec[field] if isinstance(c, dict)]
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("priority", 0)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    tolerations = list(spec.get("tolerations") or [])
    for default in _DEFAULT_TOLERATIONS:
        if not any(t.get("key") == default["key"] and t.get("effect") in (None, "", "NoExecute") for t in tolerations):
            tolerations.append(dict(default))
    spec["tolerations"] = tolerations


def _default_pod(pod: JSON, *, keep_status: bool) -> None:
    _default_pod_spec(pod)
    status = pod.get("status") if keep_status and isinstance(pod.get("status"), dict) else {}
    status = dict(status)
    status.setdefault("phase", "Pending")
    status["qosClass"] = qos_class(pod)
    conditions = status.get("conditions") or []
    if pod["spec"].get("schedulingGates") and not any(c.get("type") == "PodScheduled" for c in conditions):
        # pkg/registry/core/pod/strategy.go applySchedulingGatedCondition: kubectl shows SchedulingGated
        status["conditions"] = [*conditions, _GATED]
    pod["status"] = status


_GATED = {
    "type": "PodScheduled",
    "status": "False",
    "lastProbeTime": None,
    "lastTransitionTime": None,
    "reason": "SchedulingGated",
    "message": "Scheduling is blocked due to non-empty scheduling gates",
}


MAX_NAME = 253
"""Characters in an object's name (a DNS subdomain's limit, the longest any kind allows)."""
MAX_LABEL = 63
"""Characters in a DNS label (a Namespace's or Service's name)."""

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(\.{_LABEL})*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "subdomain": (
        re.compile(_SUBDOMAIN),
        MAX_NAME,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        f"'{_SUBDOMAIN}')",
    ),
    "label": (
        re.compile(_LABEL),
        MAX_LABEL,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        f"end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{_LABEL}')",
    ),
    "dns1035": (
        re.compile(_DNS1035),
        MAX_LABEL,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
        "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
        f"validation is '{_DNS1035}')",
    ),
}
_NAME_RULE_OF_KIND = {"Pod": "subdomain", "Node": "subdomain", "Namespace": "label", "Service": "dns1035"}
"""The kinds whose names kube-apiserver checks as DNS names (`ValidatePodName`, `ValidateNodeName`,
`ValidateNamespaceName`, `ValidateServiceName`); other kinds take any path segment, as checked below for all."""


def check_shape(obj: JSON) -> None:
    """422 for an object whose metadata or top-level sections have the wrong JSON type, as kube-apiserver's
    ObjectMeta validation (`ValidatePathSegmentName`, string maps for labels and annotations) answers: stored,
    a name of 123 would break every list of its kind (names are sorted) and a `spec` of "x" every table view."""
    meta, kind = obj["metadata"], obj.get("kind", "")
    name = meta.get("name")
    shown = name if isinstance(name, str) else ""

    def refuse(field: str, why: str) -> NoReturn:
        raise api_errors.invalid(kind, shown, field, why)

    if name is not None and not (isinstance(name, str) and 0 < len(name) <= MAX_NAME):
        refuse("metadata.name", f"Invalid value: {name!r}: a name is a string of 1 to {MAX_NAME} characters")
    if isinstance(name, str) and (name in (".", "..") or "/" in name or "%" in name):
        refuse("metadata.name", f'Invalid value: "{name}": may not be "." or ".." and may not contain "/" or "%"')
    if isinstance(name, str):
        check_dns_name(kind, name)
    if not isinstance(meta.get("generateName", ""), str):
        refuse("metadata.generateName", "Invalid value: must be a string")
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is not None and not (isinstance(values, dict) and all(isinstance(v, str) for v in values.values())):
            refuse(f"metadata.{field}", "Invalid value: must be a map of strings to strings")
    for section in ("spec", "status"):
        if section in obj and obj[section] is not None and not isinstance(obj[section], dict):
            refuse(section, "Invalid value: must be an object")
    if kind == "Pod" and isinstance(obj.get("spec"), dict):
        _check_pod_shape(obj["spec"], refuse)


def check_dns_name(kind: str, name: str) -> None:
    """422 for a name that breaks its kind's DNS rule (`_NAME_RULE_OF_KIND`; other kinds have none): a pod
    named `Web` is refused by a real cluster, so the emulator must not let a test pass with it."""
    rule = _NAME_RULES.get(_NAME_RULE_OF_KIND.get(kind, ""))
    if rule is None:
        return
    pattern, longest, what = rule
    if len(name) > longest:
        raise api_errors.invalid(
            kind, name, "metadata.name", f'Invalid value: "{name}": must be no more than {longest} characters'
        )
    if not pattern.fullmatch(name):
        raise api_errors.invalid(kind, name, "metadata.name", f'Invalid value: "{name}": {what}')


def _check_pod_shape(spec: JSON, refuse: Callable[[str, str], NoReturn]) -> None:
    """The pod fields the emulator's defaulting and QoS read: lists of objects, and resources as maps."""
    for field in ("containers", "initContainers", "tolerations"):
        items = spec.get(field)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            refuse(f"spec.{field}", "Invalid value: must be a list of objects")
    for field in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(field) or []):
            resources = container.get("resources")
            if resources is not None and not (
                isinstance(resources, dict)
                and all(isinstance(resources.get(k) or {}, dict) for k in ("requests", "limits"))
            ):
                refuse(f"spec.{field}[{i}].resources", "Invalid value: requests and limits must be maps")


def prepare_create(store: str, obj: JSON, *, now: float, keep_status: bool = False) -> JSON:
    """Apply the server's defaulting to a new object it owns (name generation, uid, timestamps, kind rules)."""
    check_shape(obj)
    meta = obj["metadata"]
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise api_errors.invalid(
                obj.get("kind", ""), "", "metadata.name", "Required value: name or generateName is required"
            )
        meta["name"] = prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
        check_dns_name(obj.get("kind", ""), meta["name"])  # a prefix such as "Web-" makes an invalid name
    if not keep_status or not meta.get("uid"):
        meta["uid"] = str(uuid.uuid4())
    if not keep_status or not meta.get("creationTimestamp"):
        meta["creationTimestamp"] = rfc3339(now)
    for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
        meta.pop(transient, None)
    if store == "pods":
        _default_pod(obj, keep_status=keep_status)
    elif store == "nodes":
        _complete_node_info(obj)
    elif store == "namespaces":
        meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"} if not keep_status else obj.get("status") or {"phase": "Active"}
    else:
        api_objects.prepare_create(store, obj, keep_status=keep_status)
    return obj


_NODE_INFO_FIELDS = (
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
)


def _complete_node_info(node: JSON) -> None:
    """Fill the `status.nodeInfo` fields a kubelet always reports, so typed clients can read hand-written nodes."""
    status = node.get("status")
    if isinstance(status, dict) and isinstance(status.get("nodeInfo"), dict):
        status["nodeInfo"] = {field: "" for field in _NODE_INFO_FIELDS} | status["nodeInfo"]


_MUTABLE_POD_SPEC = ("activeDeadlineSeconds", "terminationGracePeriodSeconds", "tolerations", "schedulingGates")


def _comparable_spec(spec: JSON) -> JSON:
    out = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_SPEC}
    for field in ("containers", "initContainers"):
        if isinstance(out.get(field), list):
            out[field] = [{k: v for k, v in c.items() if k != "image"} for c in out[field] if isinstance(c, dict)]
    return out


def _check_pod_spec(old: JSON, new: JSON) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    _check_gates(old["metadata"]["name"], old_spec.get("schedulingGates") or [], new_spec.get("schedulingGates") or [])
    removed = [t for t in old_spec.get("tolerations") or [] if t not in (new_spec.get("tolerations") or [])]
    if _comparable_spec(old_spec) != _comparable_spec(new_spec) or removed:
        why = (
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
            "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
            "to 1 if it was previously negative)"
        )
        raise api_errors.invalid("Pod", old["metadata"]["name"], "spec", why)


def _check_gates(name: str, old: list[JSON], new: list[JSON]) -> None:
    """Scheduling gates may be removed, never added, after creation (`ValidatePodUpdate`, 1.30 GA)."""
    before = {gate.get("name") for gate in old}
    for i, gate in enumerate(new):
        if gate.get("name") not in before:
            why = f"Forbidden: only deletion is allowed, but found new scheduling gate '{gate.get('name')}'"
            raise api_errors.invalid("Pod", name, f"spec.schedulingGates[{i}].name", why)


RESIZABLE = ("cpu", "memory")  # what `pods/resize` may change (ValidatePodResize)


def _resized(old: JSON, new: JSON) -> JSON:
    """What `pods/resize` keeps of an update: the containers' resources and resize policies, nothing else.

    `pkg/registry/core/pod/strategy.go` dropNonResizeUpdates and `ValidatePodResize` (1.33): only cpu and
    memory may change, and the pod's QoS class must stay what it was.
    """
    name = old["metadata"]["name"]
    by_name = {c.get("name"): c for c in (new.get("spec") or {}).get("containers") or [] if isinstance(c, dict)}
    containers = []
    for i, container in enumerate(old["spec"].get("containers") or []):
        wanted = by_name.get(container.get("name"))
        if wanted is None:
            containers.append(container)
            continue
        before, after = container.get("resources") or {}, wanted.get("resources") or {}
        for part in ("requests", "limits"):
            changed = {
                k
                for k in set(before.get(part) or {}) | set(after.get(part) or {})
                if (before.get(part) or {}).get(k) != (after.get(part) or {}).get(k)
            }
            if changed - set(RESIZABLE):
                field = f"spec.containers[{i}].resources.{part}"
                raise api_errors.invalid("Pod", name, field, "Forbidden: only cpu and memory resources are mutable")
        resized = {**container, "resources": after}
        if "resizePolicy" in wanted:
            resized["resizePolicy"] = wanted["resizePolicy"]
        containers.append(resized)
    pod = {**old, "metadata": dict(old["metadata"]), "spec": {**old["spec"], "containers": containers}}
    qos = (old.get("status") or {}).get("qosClass") or qos_class(old)
    if qos_class(pod) != qos:
        why = f'Invalid value: "{qos_class(pod)}": Pod QOS Class may not change as a result of resizing'
        raise api_errors.invalid("Pod", name, "spec", why)
    return pod


def prepare_update(store: str, old: JSON, new: JSON, *, subresource: str = "") -> JSON:
    """Carry over what an update may not change (identity, and `status` or `spec` per endpoint)."""
    meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
    check_shape({**new, "metadata": {**meta, "name": old_meta["name"]}})
    if meta.get("uid") and meta["uid"] != old_meta["uid"]:
        why = f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {old_meta['uid']}"
        raise api_errors.conflict(store, old_meta["name"], why)
    for kept in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
        if kept in old_meta:
            meta[kept] = old_meta[kept]
    if store == "pods" and subresource == "resize":
        resized = _resized(old, new)
        new.clear()
        new.update(resized)
        return new
    if subresource == "status":
        if "spec" in old:
            new["spec"] = old["spec"]
        if store == "pods":
            meta["ownerReferences"] = old_meta.get("ownerReferences")
            if meta["ownerReferences"] is None:
                del meta["ownerReferences"]
    elif store in ("pods", "nodes", "namespaces"):
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
        if store == "pods":
            _default_pod_spec(new)
            _check_pod_spec(old, new)
    if store == "namespaces":
        meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": old_meta["name"]}
    return api_objects.prepare_update(store, old, new, subresource=subresource)


def bind_pod(
    pod: JSON,
    node: str,
    *,
    annotations: dict[str, str] | None = None,
    uid: str | None = None,
    resource_version: str | None = None,
    now: float,
) -> JSON:
    """The pod bound to `node`, as `pkg/registry/core/pod/storage.BindingREST` does it (a new dict).

    Sets `spec.nodeName`, copies the binding's annotations and sets `PodScheduled=True`; a 409 `Conflict` on
    `pods/binding` when a precondition (uid, resourceVersion) fails, or the pod is being deleted, bound already
    or still has scheduling gates ("Reject binding to a scheduling un-ready Pod").
    """
    meta, name = pod["metadata"], pod["metadata"]["name"]
    refuse = None
    if uid and uid != meta.get("uid"):
        refuse = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}"
    elif resource_version and resource_version != meta.get("resourceVersion"):
        refuse = "the object has been modified; please apply your changes to the latest version and try again"
    elif meta.get("deletionTimestamp"):
        refuse = f"pod {name} is being deleted, cannot be assigned to a host"
    elif pod["spec"].get("nodeName"):
        refuse = f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"'
    elif pod["spec"].get("schedulingGates"):
        refuse = f"pod {name} has non-empty .spec.schedulingGates"
    if refuse:
        raise api_errors.conflict("pods/binding", name, refuse)
    status = dict(pod.get("status") or {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    scheduled = {"type": "PodScheduled", "status": "True", "lastProbeTime": None}
    scheduled["lastTransitionTime"] = (
        previous.get("lastTransitionTime") if previous.get("status") == "True" else rfc3339(now)
    )
    status["conditions"] = [scheduled, *conditions]
    new_meta = dict(meta)
    if annotations:
        new_meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return {**pod, "metadata": new_meta, "spec": {**pod["spec"], "nodeName": node}, "status": status}


PATCH_TYPES = ("merge", "strategic", "json")


def patched(old: JSON, patch: Any, *, patch_type: str, kind: str, via: Any = None) -> JSON:
    """`old` with a patch applied, as a new object the caller owns; malformed patches are 400, failed tests 422.

    `via` (a `Resource`) converts to and from the wire form the patch is written in (events.k8s.io events).
    """
    base = via.to_wire(old) if via else old
    try:
        if patch_type == "merge":
            new = merge_patch(base, patch)
        elif patch_type == "strategic":
            new = strategic_merge_patch(base, patch, kind=kind)
        else:
            new = json_patch(base, patch)
    except PatchTestError as exc:
        raise api_errors.ApiError(422, "Invalid", str(exc)) from None
    except PatchError as exc:
        raise api_errors.bad_request(str(exc)) from None
    if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
        raise api_errors.bad_request("the patched object is not a valid object")
    new = via.from_wire(new) if via else new
    return deep_copy(new) if patch_type != "json" else new
