"""Storage building blocks: indexed tables of one resource, list pages, continue tokens, copying.

Used by the store (under its lock) to keep objects by namespace/name with indexes for hot field selectors
(`spec.nodeName`, `spec.schedulerName`), and to turn request bodies into objects the store owns. Nothing here
locks, keeps time or knows about HTTP.
"""

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sim import api_errors
from sim.api_resources import RESOURCES, STORAGE, Resource, get_path
from sim.patch import deep_copy
from sim.selectors import FieldSelector, LabelSelector, SelectorError, parse_field_selector, parse_label_selector

__all__ = [
    "Listing",
    "Table",
    "decode_continue",
    "deep_copy",
    "encode_continue",
    "object_key",
    "own",
    "rewind",
    "selectors",
    "stored_form",
]

JSON = dict[str, Any]
Key = tuple[str, str]


@dataclass
class Listing:
    """One page of a list: the items, the resourceVersion they were read at, and where the next page starts."""

    items: list[JSON]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class Table:
    """The objects of one resource, with a namespace index and value indexes for hot field selectors."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.objects: dict[Key, JSON] = {}
        self.by_namespace: dict[str, set[Key]] = {}
        self.indexes: dict[str, dict[str, set[Key]]] = {f: {} for f in resource.indexed}
        self._paths = {f: (resource.fields[f], resource.fields[f].split(".")[0]) for f in resource.indexed}

    def put(self, key: Key, new: JSON | None, old: JSON | None) -> None:
        for name, index in self.indexes.items():
            path, top = self._paths[name]
            if old is not None and new is not None and old.get(top) is new.get(top):
                continue  # e.g. a status write shares the spec it did not touch
            before = None if old is None else get_path(old, path)
            after = None if new is None else get_path(new, path)
            if before == after:
                continue
            if before is not None:
                index.get(before, set()).discard(key)
            if after is not None:
                index.setdefault(after, set()).add(key)
        if new is None:
            self.objects.pop(key, None)
            self.by_namespace.get(key[0], set()).discard(key)
        else:
            self.objects[key] = new
            self.by_namespace.setdefault(key[0], set()).add(key)

    def candidates(self, namespace: str | None, fields: FieldSelector) -> Iterable[Key]:
        keys: set[Key] | None = None
        for name, index in self.indexes.items():
            value = fields.equals(name)
            if value is not None:
                found = index.get(value, set())
                keys = found if keys is None or len(found) < len(keys) else keys
        if namespace is not None:
            in_ns = self.by_namespace.get(namespace, set())
            keys = in_ns if keys is None or len(in_ns) < len(keys) else keys
        return self.objects.keys() if keys is None else keys


def selectors(resource: Resource, labels: Any, fields: Any) -> tuple[LabelSelector, FieldSelector]:
    """Parsed label and field selectors (strings or already parsed); 400 `BadRequest` when malformed."""
    try:
        label_sel = labels if isinstance(labels, LabelSelector) else parse_label_selector(labels)
        field_sel = fields if isinstance(fields, FieldSelector) else parse_field_selector(fields, resource.fields)
    except SelectorError as exc:
        raise api_errors.bad_request(str(exc)) from None
    return label_sel, field_sel


def own(obj: Any, resource: Resource, namespace: str | None, *, copy: bool) -> JSON:
    """A request body as an object the store owns: copied if asked, kind, apiVersion and namespace set."""
    if not isinstance(obj, dict):
        raise api_errors.bad_request(f"a {resource.kind} must be a JSON object")
    obj = deep_copy(obj) if copy else obj
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise api_errors.bad_request("metadata must be a JSON object")
    if resource.namespaced:
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            raise api_errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    obj["kind"] = resource.kind
    obj["apiVersion"] = resource.api_version
    return obj


def rewind(objects: dict[Key, JSON], history: Iterable[Any], *, rv: int, resource: str) -> dict[Key, JSON]:
    """The objects of `resource` as they were at `rv`, by undoing the newer changes of `history` (oldest first)."""
    past = dict(objects)
    for change in reversed(list(history)):
        if change.resource_version <= rv:
            break
        if change.resource != resource:
            continue
        key = object_key(change.object)
        if change.type == "ADDED":
            past.pop(key, None)
        elif change.old is not None:
            past[key] = change.old
    return past


def object_key(obj: JSON) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def stored_form(obj: JSON) -> tuple[str, JSON]:
    """The store resource for a manifest and the manifest in stored form (events.k8s.io events converted)."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion", "v1")
    for resource in RESOURCES:
        stored = resource.store_name in STORAGE and resource.plural != "bindings"
        if resource.kind == kind and resource.api_version == api_version and stored:
            return resource.store_name, resource.from_wire(obj)
    raise ValueError(f"cannot load a {kind!r} ({api_version}): the emulator serves {sorted(STORAGE)}")


def encode_continue(rv: int, key: Key) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[int, Key]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, _, name = data["start"].partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, binascii.Error):
        raise api_errors.bad_request(f"continue key is not valid: {token}") from None
