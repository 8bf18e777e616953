"""The REST verbs of the emulated API on top of the store (everything but watch, which streams).

Called by the HTTP facade with a parsed route, query and JSON body; answers `(code, payload)` or raises
`ApiError`. Translates between the wire form of the addressed group/version and the stored form, renders
`Table`s when kubectl asks for them, and implements the binding and eviction subresources as the real server
does. No sockets here.
"""

import re
import threading
from collections.abc import Mapping
from typing import Any

from sim import api_disruption, api_errors, api_kubelet, tables
from sim.api_routes import Route
from sim.store import Listing, Store

__all__ = ["PATCH_CONTENT_TYPES", "handle", "parse_resource_version"]

JSON = dict[str, Any]

PATCH_CONTENT_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}


_UINT64 = re.compile(r"[0-9]{1,20}")
"""A resourceVersion as etcd writes it: ASCII digits (`str.isdigit` also takes "²"), at most a uint64's 20."""
_INT64 = re.compile(r"-?[0-9]{1,19}")


def parse_resource_version(value: str | None) -> int | None:
    """A resourceVersion query parameter: None when absent or empty, 400 when not a number."""
    if not value:
        return None
    if not _UINT64.fullmatch(value):
        raise api_errors.bad_request(f'Invalid value: "{value}": resourceVersion must be a non-negative integer')
    return int(value)


def _int_param(query: Mapping[str, str], name: str) -> int:
    value = query.get(name, "")
    if value == "":
        return 0
    if not _INT64.fullmatch(value):
        raise api_errors.bad_request(f'{name}: Invalid value: "{value}": must be an integer')
    return int(value)


def watch_timeout(query: Mapping[str, str], default: float) -> float:
    """A watch's `timeoutSeconds`: `default` when absent or not a positive integer (0 asks for the default), and
    at most what a wait can take (`threading.TIMEOUT_MAX`; a larger one broke the stream after its first events)."""
    asked = query.get("timeoutSeconds", "")
    if not _INT64.fullmatch(asked) or int(asked) <= 0:
        return default
    return min(float(asked), threading.TIMEOUT_MAX)


def _object_body(body: Any, what: str) -> JSON:
    if not isinstance(body, dict):
        raise api_errors.bad_request(f"the body of the request must be a {what} object")
    return body


def handle(
    store: Store,
    route: Route,
    query: Mapping[str, str],
    body: Any,
    *,
    content_type: str = "",
    table: bool = False,
    now: float = 0.0,
) -> tuple[int, JSON]:
    """Serve one non-watch request."""
    r, ns, name = route.resource, route.namespace, route.name
    dry_run = query.get("dryRun") == "All"
    store_name = r.store_name
    if route.subresource == "binding" or r.plural == "bindings":
        return _bind(store, route, _object_body(body, "Binding"), dry_run)
    if route.subresource == "eviction":
        eviction = _object_body(body, "Eviction")
        return 201, api_disruption.evict(store, ns or "default", name, eviction, dry_run=dry_run)
    if route.subresource == "log":
        raise api_kubelet.no_logs(store.get(store_name, name, namespace=ns, copy=False))
    if route.verb == "get":
        obj = store.get(store_name, name, namespace=ns, copy=False)
        if table:
            return 200, _table(
                route, [obj], now=now, rv=str(obj["metadata"].get("resourceVersion", "")), token="", query=query
            )
        return 200, r.to_wire(obj)
    if route.verb == "list":
        listing = _list(store, route, query)
        if table:
            rv = str(listing.resource_version)
            return 200, _table(route, listing.items, now=now, rv=rv, token=listing.continue_token, query=query)
        return 200, _list_body(route, listing)
    if route.verb == "create":
        obj = r.from_wire(_object_body(body, r.kind))
        created = store.create(store_name, obj, namespace=ns, copy=False, dry_run=dry_run)
        return 201, r.to_wire(created)
    if route.verb == "update":
        obj = r.from_wire(_object_body(body, r.kind))
        meta = obj.get("metadata")
        if isinstance(meta, dict) and meta.get("name") not in (None, name):
            raise api_errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if isinstance(meta, dict):
            meta.setdefault("name", name)
        updated = store.update(
            store_name, obj, namespace=ns, subresource=route.subresource, copy=False, dry_run=dry_run
        )
        return 200, r.to_wire(updated)
    if route.verb == "patch":
        patch_type = PATCH_CONTENT_TYPES.get(content_type.split(";", maxsplit=1)[0].strip())
        if patch_type is None:
            raise api_errors.unsupported_media_type(content_type)
        via = r if r.converted else None
        patched = store.patch(
            store_name,
            name,
            body,
            patch_type=patch_type,
            namespace=ns,
            subresource=route.subresource,
            via=via,
            copy=False,
            dry_run=dry_run,
        )
        return 200, r.to_wire(patched)
    if route.verb == "delete":
        preconditions = api_errors.section(body, "preconditions")
        deleted = store.delete(
            store_name,
            name,
            namespace=ns,
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            copy=False,
            dry_run=dry_run,
        )
        return 200, r.to_wire(deleted)
    if route.verb == "deletecollection":
        listing = _list(store, route, query)
        for obj in listing.items:
            meta = obj["metadata"]
            store.delete(store_name, meta["name"], namespace=meta.get("namespace"), copy=False, dry_run=dry_run)
        return 200, _list_body(route, listing)
    raise api_errors.method_not_allowed()


def _list(store: Store, route: Route, query: Mapping[str, str]) -> Listing:
    rv = parse_resource_version(query.get("resourceVersion"))
    exact = query.get("resourceVersionMatch") == "Exact"
    if exact and not rv:
        raise api_errors.bad_request('resourceVersionMatch "Exact" requires a non-zero resourceVersion')
    if rv and not exact and rv > store.resource_version:
        raise api_errors.too_large_resource_version(rv, store.resource_version)
    limit = _int_param(query, "limit")
    return store.list(
        route.resource.store_name,
        namespace=route.namespace,
        labels=query.get("labelSelector"),
        fields=query.get("fieldSelector"),
        limit=max(0, limit),
        continue_token=query.get("continue", ""),
        resource_version=rv if exact else None,
        via=route.resource,
        copy=False,
    )


def _list_body(route: Route, listing: Listing) -> JSON:
    metadata: JSON = {"resourceVersion": str(listing.resource_version)}
    if listing.continue_token:
        metadata["continue"] = listing.continue_token
        if listing.remaining is not None:
            metadata["remainingItemCount"] = listing.remaining
    r = route.resource
    return {
        "kind": f"{r.kind}List",
        "apiVersion": r.api_version,
        "metadata": metadata,
        "items": [r.to_wire(obj) for obj in listing.items],
    }


def _table(route: Route, objects: list[JSON], *, now: float, rv: str, token: str, query: Mapping[str, str]) -> JSON:
    return tables.table(
        route.resource.kind,
        objects,
        now=now,
        resource_version=rv,
        continue_token=token,
        include_object=query.get("includeObject", "Metadata"),
        wire=route.resource.to_wire,
    )


def _bind(store: Store, route: Route, binding: JSON, dry_run: bool) -> tuple[int, JSON]:
    meta = api_errors.section(binding, "metadata")
    name = route.name or meta.get("name", "")
    if route.name and meta.get("name") and meta["name"] != route.name:
        raise api_errors.bad_request("name in URL does not match name in Binding object")
    if not name:
        raise api_errors.invalid("Binding", "", "metadata.name", "Required value: name or generateName is required")
    target = binding.get("target") or {}
    if not isinstance(target, dict) or not isinstance(target.get("name", ""), str):
        raise api_errors.invalid("Binding", name, "target", "Invalid value: must be an object naming a node")
    if target.get("kind") not in (None, "", "Node"):
        raise api_errors.invalid(
            "Binding", name, "target.kind", f"Invalid value: \"{target['kind']}\": must be empty or 'Node'"
        )
    store.bind(
        route.namespace or "default",
        name,
        target.get("name", ""),
        annotations=meta.get("annotations"),
        uid=meta.get("uid"),
        resource_version=meta.get("resourceVersion"),
        copy=False,
        dry_run=dry_run,
    )
    return 201, api_errors.success(201)
