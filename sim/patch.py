"""The three PATCH flavours of the Kubernetes API: JSON merge patch, strategic merge patch, JSON patch.

Pure functions: they never mutate their inputs and return new values (unchanged subtrees may be shared with
the input, which the store treats as immutable). The strategic merge keys cover the fields schedulers,
kubelets and kubectl touch (pod and node conditions merged by `type`, containers by `name`, ...), taken from
the `patchMergeKey`/`patchStrategy` tags of `k8s.io/api/core/v1/types.go`; any other list is replaced, which is
also what the real server does for lists without a strategy. The store maps `PatchError` to 400/422.
"""

from collections.abc import Mapping
from typing import Any

__all__ = ["PatchError", "PatchTestError", "deep_copy", "json_patch", "merge_patch", "strategic_merge_patch"]

_CONTAINER_KEYS = {("ports",): "containerPort", ("env",): "name", ("volumeMounts",): "mountPath"}
_POD_KEYS: dict[tuple[str, ...], str] = {
    ("spec", "volumes"): "name",
    ("spec", "imagePullSecrets"): "name",
    ("spec", "hostAliases"): "ip",
    ("spec", "topologySpreadConstraints"): "topologyKey",
    ("spec", "resourceClaims"): "name",
    ("spec", "schedulingGates"): "name",
    ("status", "conditions"): "type",
    ("status", "podIPs"): "ip",
    ("status", "hostIPs"): "ip",
}
for _field in ("containers", "initContainers", "ephemeralContainers"):
    _POD_KEYS["spec", _field] = "name"
    for _sub, _key in _CONTAINER_KEYS.items():
        _POD_KEYS[("spec", _field, *_sub)] = _key

_META_KEYS: dict[tuple[str, ...], str] = {("metadata", "ownerReferences"): "uid", ("metadata", "finalizers"): ""}

# kind -> path of field names (list items add nothing) -> merge key ("" merges a list of primitives as a set)
MERGE_KEYS: dict[str, dict[tuple[str, ...], str]] = {
    "Pod": _META_KEYS | _POD_KEYS,
    "Node": _META_KEYS | {("status", "conditions"): "type", ("status", "addresses"): "type", ("spec", "podCIDRs"): ""},
    "Namespace": _META_KEYS | {("status", "conditions"): "type"},
    "PersistentVolumeClaim": _META_KEYS | {("status", "conditions"): "type"},
    "PodDisruptionBudget": _META_KEYS | {("status", "conditions"): "type"},
}

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch document that is malformed or cannot be applied (answered with 400 or 422)."""


class PatchTestError(PatchError):
    """A JSON patch `test` operation did not hold."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Mapping[str, Any], patch: Any, *, kind: str) -> dict[str, Any]:
    """Kubernetes strategic merge patch for an object of `kind` (directives `$patch`, `$retainKeys`, ...)."""
    if not isinstance(patch, Mapping):
        raise PatchError("strategic merge patch must be a JSON object")
    merged = _merge_map(target, patch, (), MERGE_KEYS.get(kind, _META_KEYS))
    return merged if merged is not None else {}


def _merge_map(
    original: Mapping[str, Any] | None, patch: Mapping[str, Any], path: tuple[str, ...], keys: Mapping
) -> dict[str, Any] | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return _clean(patch, path, keys)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    result = dict(original) if isinstance(original, Mapping) else {}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list")
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub = (*path, key)
        current = result.get(key)
        if isinstance(value, Mapping) and (isinstance(current, Mapping) or current is None):
            merged = _merge_map(current, value, sub, keys)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and sub in keys:
            result[key] = _merge_list(current if isinstance(current, list) else [], value, sub, keys)
        else:
            result[key] = _clean(value, sub, keys)
    for key, value in patch.items():
        if key.startswith(_ORDER) and isinstance(result.get(key[len(_ORDER) :]), list):
            field = key[len(_ORDER) :]
            result[field] = _reorder(result[field], value, keys.get((*path, field), ""))
    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list")
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...], keys: Mapping) -> list[Any]:
    key = keys[path]
    if any(isinstance(item, Mapping) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [_clean(item, path, keys) for item in patch if not (isinstance(item, Mapping) and _DIRECTIVE in item)]
    if not key:
        return original + [item for item in patch if item not in original]
    result = list(original)
    for item in patch:
        if not isinstance(item, Mapping):
            raise PatchError(f"list items of {'.'.join(path)} must be objects merged by {key!r}")
        if key not in item:
            raise PatchError(f"map: {dict(item)} does not contain declared merge key: {key}")
        index = next((i for i, old in enumerate(result) if isinstance(old, Mapping) and old.get(key) == item[key]), -1)
        if item.get(_DIRECTIVE) == "delete":
            if index >= 0:
                del result[index]
            continue
        if index >= 0:
            merged = _merge_map(result[index], item, path, keys)
            if merged is not None:
                result[index] = merged
        else:
            result.append(_clean(item, path, keys))
    return result


def _reorder(items: list[Any], order: Any, key: str) -> list[Any]:
    if not isinstance(order, list):
        raise PatchError("$setElementOrder must be a list")
    wanted = [o.get(key) if key and isinstance(o, Mapping) else o for o in order]

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, Mapping) else item

    ranked = [item for w in wanted for item in items if identity(item) == w]
    return ranked + [item for item in items if identity(item) not in wanted]


def _clean(value: Any, path: tuple[str, ...], keys: Mapping) -> Any:
    """A patch value inserted where nothing was: strip directives, drop items marked for deletion."""
    if isinstance(value, Mapping):
        if value.get(_DIRECTIVE) == "delete":
            return None
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in (_DIRECTIVE, _RETAIN) or k.startswith((_ORDER, _DELETE_PRIMITIVE)) or v is None:
                continue
            cleaned = _clean(v, (*path, k), keys)
            if cleaned is not None:
                out[k] = cleaned
        return out
    if isinstance(value, list):
        out_list = [_clean(item, path, keys) for item in value]
        return [item for item in out_list if item is not None]
    return value


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`), applied to a copy of `target`."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    doc = deep_copy(target)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid json patch operation: {op!r}")
        name, path = op["op"], _pointer(op["path"])
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"missing value for {name} operation at {op['path']}")
        if name == "add":
            doc = _put(doc, path, deep_copy(op["value"]), insert=True)
        elif name == "remove":
            doc, _ = _take(doc, path)
        elif name == "replace":
            _get(doc, path)
            doc = _put(doc, path, deep_copy(op["value"]), insert=False)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            if name == "move":
                doc, value = _take(doc, source)
            else:
                value = deep_copy(_get(doc, source))
            doc = _put(doc, path, value, insert=True)
        elif name == "test":
            if _get(doc, path) != op["value"]:
                raise PatchTestError(f"testing value {op['path']} failed")
        else:
            raise PatchError(f"Unexpected kind: {name}")
    return doc


def deep_copy(value: Any) -> Any:
    """A copy of plain JSON data (several times faster than `copy.deepcopy`)."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def _pointer(text: Any) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def _index(container: list[Any], part: str, *, insert: bool) -> int:
    if insert and part == "-":
        return len(container)
    if not (part.isascii() and part.isdigit() and len(part) <= 19):
        raise PatchError(f"invalid array index: {part!r}")
    index = int(part)
    if index > len(container) or (not insert and index == len(container)):
        raise PatchError(f"array index out of bounds: {index}")
    return index


def _get(doc: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(doc, dict):
            if part not in doc:
                raise PatchError(f"doc is missing key: /{'/'.join(path)}")
            doc = doc[part]
        elif isinstance(doc, list):
            doc = doc[_index(doc, part, insert=False)]
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(path)}")
    return doc


def _put(doc: Any, path: list[str], value: Any, *, insert: bool) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = _index(parent, last, insert=insert)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(path)}")
    return doc


def _take(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        raise PatchError("cannot remove the document root")
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, insert=False))
    raise PatchError(f"doc is missing path: /{'/'.join(path)}")
