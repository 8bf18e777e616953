"""The emulator's object store: one resourceVersion counter, indexed objects, a bounded history, watchers.

Everything the emulated API server knows lives here, as plain JSON dicts. The HTTP facade and in-process
components (the built-in kubelet, demos, tests) call the same thread-safe methods, so a write from either side
produces the same watch events. Stored objects are immutable values: every write builds a new dict, which lets
watch events, history and listings share them without copying. Public methods copy what crosses the boundary
unless called with `copy=False` (the facade, which only serialises). Subscribers are called after each write,
outside the lock, in resourceVersion order. No HTTP and no sleeping here.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from cluster.clock import Clock, SystemClock
from sim import api_errors, api_strategy
from sim.api_index import (
    Listing,
    Table,
    decode_continue,
    deep_copy,
    encode_continue,
    own,
    rewind,
    selectors,
    stored_form,
)
from sim.api_resources import STORAGE, Resource
from sim.api_watch import ADDED, DELETED, MODIFIED, Change, Notifier, Watcher, WatchEvent
from sim.selectors import FieldSelector, LabelSelector

__all__ = ["Change", "Listing", "Store", "deep_copy"]

log = logging.getLogger(__name__)
JSON = dict[str, Any]
Key = tuple[str, str]


class Store:
    """Thread-safe storage with Kubernetes semantics (see the module docstring)."""

    def __init__(self, *, clock: Clock | None = None, history: int = 10_000, watch_capacity: int = 10_000) -> None:
        self.clock = clock or SystemClock()
        self.watch_capacity = watch_capacity
        self._lock = threading.RLock()
        self._rv = 0
        self._tables = {name: Table(resource) for name, resource in STORAGE.items()}
        self._history: deque[Change] = deque(maxlen=max(1, history))
        self._floor = 0  # the oldest resourceVersion a watch or list can still start from
        self._watchers: dict[str, list[Watcher]] = {name: [] for name in STORAGE}
        self._notifier = Notifier()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create("namespaces", {"metadata": {"name": ns}}, copy=False)

    # -- reads ------------------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def progress(self) -> int:
        """The current resourceVersion, read under the lock: every change up to it has reached the watchers."""
        with self._lock:
            return self._rv

    def get(self, resource: str, name: str, *, namespace: str | None = None, copy: bool = True) -> JSON:
        """One object; 404 `NotFound` when absent."""
        table = self._table(resource)
        with self._lock:
            obj = table.objects.get(self._key(table, namespace, name))
        if obj is None:
            raise api_errors.not_found(resource, name, table.resource.group)
        return deep_copy(obj) if copy else obj

    def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        labels: str | LabelSelector | None = None,
        fields: str | FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
        resource_version: int | None = None,
        via: Resource | None = None,
        copy: bool = True,
    ) -> Listing:
        """Objects sorted by namespace/name; `resource_version` lists exactly at that version (410 when gone).

        `via` is the API resource whose field names the field selector uses, when that is not the stored one.
        """
        table = self._table(resource)
        api = via or table.resource
        label_sel, field_sel = selectors(api, labels, fields)
        start: Key | None = None
        if continue_token:
            resource_version, start = decode_continue(continue_token)
        with self._lock:
            rv = self._rv if resource_version is None else resource_version
            if rv > self._rv:
                raise api_errors.too_large_resource_version(rv, self._rv)
            if rv < self._rv:
                objects = self._snapshot(table, rv, continue_token)
                keys: Iterable[Key] = objects.keys()
            else:
                objects, keys = table.objects, table.candidates(namespace, field_sel)
            selected = sorted(
                (key, obj)
                for key in keys
                if (start is None or key > start)
                and (namespace is None or key[0] == namespace)
                and label_sel.matches((obj := objects[key])["metadata"].get("labels"))
                and field_sel.matches(lambda f, o=obj: api.field_value(o, f))
            )
        page = selected[:limit] if limit > 0 else selected
        token, remaining = "", None
        if limit > 0 and len(selected) > limit:
            token = encode_continue(rv, page[-1][0])
            remaining = len(selected) - limit
        items = [deep_copy(obj) if copy else obj for _, obj in page]
        return Listing(items, rv, token, remaining)

    def _snapshot(self, table: Table, rv: int, continue_token: str) -> dict[Key, JSON]:
        """The table as it was at `rv`, rebuilt by undoing the retained history."""
        if rv < self._floor:
            if continue_token:
                raise api_errors.expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter."
                )
            raise api_errors.expired(f"too old resource version: {rv} ({self._floor})")
        return rewind(table.objects, self._history, rv=rv, resource=table.resource.store_name)

    # -- writes -----------------------------------------------------------------------------------------------

    def create(
        self,
        resource: str,
        obj: JSON,
        *,
        namespace: str | None = None,
        copy: bool = True,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> JSON:
        """Create with the server's defaulting (`keep_status` keeps a loaded snapshot's status); 409 if taken."""
        table = self._table(resource)
        obj = own(obj, table.resource, namespace, copy=copy)
        with self._lock:
            api_strategy.prepare_create(resource, obj, now=self.clock.now(), keep_status=keep_status)
            key = self._key(table, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if key in table.objects:
                raise api_errors.already_exists(resource, key[1], table.resource.group)
            if not dry_run:
                if table.resource.namespaced and ("", key[0]) not in self._tables["namespaces"].objects:
                    self._commit(self._tables["namespaces"], ADDED, ("", key[0]), self._new_namespace(key[0]), None)
                obj = self._commit(table, ADDED, key, obj, None)
        self._deliver()
        return deep_copy(obj) if copy else obj

    def load(self, objects: Iterable[JSON]) -> int:
        """Add objects as they are (status, uid and timestamps kept), e.g. a cluster snapshot; returns the count."""
        count = 0
        for obj in objects:
            resource, stored = stored_form(obj)
            name = (stored.get("metadata") or {}).get("name")
            if resource == "namespaces" and ("", name) in self._tables["namespaces"].objects:
                continue
            self.create(resource, stored, keep_status=True)
            count += 1
        return count

    def update(
        self,
        resource: str,
        obj: JSON,
        *,
        namespace: str | None = None,
        subresource: str = "",
        copy: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        """Replace an object; a stale `metadata.resourceVersion` is a 409 `Conflict`."""
        table = self._table(resource)
        obj = own(obj, table.resource, namespace, copy=copy)
        name = obj["metadata"].get("name", "")
        expected = obj["metadata"].get("resourceVersion")
        return self._write(
            table,
            name,
            namespace=obj["metadata"].get("namespace"),
            build=lambda _old: obj,
            expected=expected,
            subresource=subresource,
            copy=copy,
            dry_run=dry_run,
        )

    def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        namespace: str | None = None,
        subresource: str = "",
        via: Resource | None = None,
        copy: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        """Apply a `merge`, `strategic` or `json` patch atomically; a resourceVersion in it is a precondition.

        `via` is the API resource whose wire form the patch is written in, when that differs from the stored form.
        """
        table = self._table(resource)
        if patch_type not in api_strategy.PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {api_strategy.PATCH_TYPES}, not {patch_type!r}")
        expected = None
        if patch_type != "json" and isinstance(patch, dict) and isinstance(patch.get("metadata") or {}, dict):
            expected = (patch.get("metadata") or {}).get("resourceVersion")

        def apply(old: JSON) -> JSON:
            return api_strategy.patched(old, patch, patch_type=patch_type, kind=table.resource.kind, via=via)

        return self._write(
            table,
            name,
            namespace=namespace,
            build=apply,
            expected=expected,
            subresource=subresource,
            copy=copy,
            dry_run=dry_run,
        )

    def modify(
        self,
        resource: str,
        name: str,
        change: Callable[[JSON], JSON],
        *,
        namespace: str | None = None,
        subresource: str = "",
        copy: bool = True,
    ) -> JSON:
        """Atomic read-modify-write: `change` gets a private copy of the object and returns the new one.

        With `copy=False`, `change` gets the stored object itself, must not mutate it and returns a new dict
        (which may share unchanged parts with it); the result is then not copied either.
        """
        table = self._table(resource)

        def build(old: JSON) -> JSON:
            return change(deep_copy(old) if copy else old)

        return self._write(table, name, namespace=namespace, build=build, subresource=subresource, copy=copy)

    def bind(
        self,
        namespace: str,
        name: str,
        node: str,
        *,
        annotations: dict[str, str] | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        copy: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        """What `POST pods/NAME/binding` does: set `spec.nodeName` and `PodScheduled=True`; 409 if bound."""
        if not node:
            raise api_errors.invalid("Binding", name, "target.name", "Required value")

        def assign(pod: JSON) -> JSON:
            return api_strategy.bind_pod(
                pod, node, annotations=annotations, uid=uid, resource_version=resource_version, now=self.clock.now()
            )

        return self._write(
            self._tables["pods"],
            name,
            namespace=namespace,
            build=assign,
            subresource="binding",
            copy=copy,
            dry_run=dry_run,
        )

    def delete(
        self,
        resource: str,
        name: str,
        *,
        namespace: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        copy: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        """Remove at once (no graceful deletion); a namespace takes its objects with it."""
        table = self._table(resource)
        with self._lock:
            key = self._key(table, namespace, name)
            old = table.objects.get(key)
            if old is None:
                raise api_errors.not_found(resource, name, table.resource.group)
            meta = old["metadata"]
            if uid and uid != meta.get("uid"):
                why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}"
                raise api_errors.conflict(resource, name, why, table.resource.group)
            if resource_version and resource_version != meta.get("resourceVersion"):
                why = (
                    f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                    f"ResourceVersion in object meta: {meta.get('resourceVersion')}"
                )
                raise api_errors.conflict(resource, name, why, table.resource.group)
            final = old
            if not dry_run:
                if resource == "namespaces":
                    for other in self._tables.values():
                        for child in sorted(other.by_namespace.get(name, set())):
                            self._commit(other, DELETED, child, None, other.objects[child])
                final = self._commit(table, DELETED, key, None, old)
        self._deliver()
        return deep_copy(final) if copy else final

    # -- watching and subscribing -----------------------------------------------------------------------------

    def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        labels: str | LabelSelector | None = None,
        fields: str | FieldSelector | None = None,
        since: int | None = None,
        capacity: int | None = None,
    ) -> tuple[Watcher, list[WatchEvent]]:
        """Open a watcher; the initial events are synthetic ADDEDs (`since` None/0) or the history after `since`.

        410 `Expired` when `since` is older than the retained history; 504 `Timeout` with the
        `ResourceVersionTooLarge` cause when it is newer than the store's (a client that saw another, later
        history: the server's state was reset).
        """
        table = self._table(resource.store_name)
        label_sel, field_sel = selectors(resource, labels, fields)
        with self._lock:
            start = since or self._rv
            if since and since < self._floor:
                raise api_errors.expired(f"too old resource version: {since} ({self._floor})")
            if since and since > self._rv:
                raise api_errors.too_large_resource_version(since, self._rv)
            watcher = Watcher(
                resource,
                namespace=namespace,
                labels=label_sel,
                fields=field_sel,
                since=start,
                capacity=capacity or self.watch_capacity,
            )
            if not since:
                initial = [
                    WatchEvent(ADDED, obj, None) for _, obj in sorted(table.objects.items()) if watcher.matches(obj)
                ]
            else:
                translated = (watcher.translate(c) for c in self._history if c.resource == table.resource.store_name)
                initial = [event for event in translated if event is not None]
            self._watchers[table.resource.store_name].append(watcher)
        return watcher, initial

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            watchers = self._watchers[watcher.resource.store_name]
            if watcher in watchers:
                watchers.remove(watcher)

    def drop_watches(self, why: str = "dropped") -> int:
        """End every open watch stream; returns how many there were."""
        with self._lock:
            watchers = [w for ws in self._watchers.values() for w in ws]
        for watcher in watchers:
            watcher.close(why)
        return len(watchers)

    def expire_history(self) -> None:
        """Forget the history, so that resuming any watch or continuing any list answers 410."""
        with self._lock:
            self._history.clear()
            self._floor = self._rv

    def reset(self) -> int:
        """Restart the resourceVersion counter, keeping the objects, as an API server restored onto a fresh etcd.

        Every object gets a new, lower resourceVersion; the history is gone and every watch ends, so a
        client resuming from a version it saw before is ahead of the server (504 `ResourceVersionTooLarge`)
        and must list again. Subscribers are not told: nothing changed but the versions. Returns the new
        resourceVersion.
        """
        with self._lock:
            self._history.clear()
            self._rv = self._floor = 0
            for name, old in self._tables.items():
                table = self._tables[name] = Table(old.resource)
                for key, obj in sorted(old.objects.items()):
                    self._rv += 1
                    table.put(key, {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}, None)
            rv = self._rv
        self.drop_watches("stopped")
        return rv

    def subscribe(self, callback: Callable[[Change], None], *, copy: bool = True) -> Callable[[], None]:
        """Call `callback(change)` after every write (in order, outside the lock); returns the unsubscriber.

        Callbacks may read and write the store (their writes are delivered after the current change) but must
        not wait for other threads that write to it. With `copy=False` the change's objects are the stored
        ones and must not be mutated.
        """
        return self._notifier.subscribe(callback, copy=copy)

    # -- internals --------------------------------------------------------------------------------------------

    def _table(self, resource: str) -> Table:
        table = self._tables.get(resource)
        if table is None:
            raise ValueError(f"unknown resource {resource!r}; the store holds {sorted(self._tables)}")
        return table

    @staticmethod
    def _key(table: Table, namespace: str | None, name: str) -> Key:
        if table.resource.namespaced:
            return (namespace or "default", name)
        return ("", name)

    def _new_namespace(self, name: str) -> JSON:
        obj: JSON = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}}
        return api_strategy.prepare_create("namespaces", obj, now=self.clock.now())

    def _write(
        self,
        table: Table,
        name: str,
        *,
        namespace: str | None,
        build: Callable[[JSON], JSON],
        expected: str | None = None,
        subresource: str = "",
        copy: bool = True,
        dry_run: bool = False,
    ) -> JSON:
        resource, group = table.resource.store_name, table.resource.group
        with self._lock:
            key = self._key(table, namespace, name)
            old = table.objects.get(key)
            if old is None:
                raise api_errors.not_found(resource, name, group)
            if expected and expected != old["metadata"].get("resourceVersion"):
                raise api_errors.stale(resource, name, group)
            new = build(old)
            if not isinstance(new.get("metadata"), dict):
                raise api_errors.invalid(table.resource.kind, name, "metadata", "Invalid value: must be an object")
            if new["metadata"].get("name", name) != name:
                other = new["metadata"].get("name")
                raise api_errors.bad_request(
                    f"the name of the object ({other}) does not match the name on the URL ({name})"
                )
            new["metadata"] = dict(new["metadata"])
            if subresource != "binding":
                api_strategy.prepare_update(resource, old, new, subresource=subresource)
            new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
            if dry_run or (subresource != "binding" and new == old):
                return deep_copy(new) if copy else new
            new = self._commit(table, MODIFIED, key, new, old)
        self._deliver()
        return deep_copy(new) if copy else new

    def _commit(self, table: Table, kind: str, key: Key, new: JSON | None, old: JSON | None) -> JSON:
        """Record a write (under the lock): bump the version, index, append history, feed watchers."""
        self._rv += 1
        version = str(self._rv)
        if new is None:
            assert old is not None
            final = {**old, "metadata": {**old["metadata"], "resourceVersion": version}}
        else:
            final = new
            final["metadata"] = {**final["metadata"], "resourceVersion": version}
        table.put(key, new and final, old)
        change = Change(kind, table.resource.store_name, final, old, self._rv)
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].resource_version
        self._history.append(change)
        for watcher in self._watchers[change.resource]:
            watcher.offer(change)
        self._notifier.queue(change)
        return final

    def _deliver(self) -> None:
        self._notifier.deliver(self._lock)
