"""The only module that imports the kubernetes client: connection, and every call the product makes.

Everything else works on plain JSON (`RawObject`) and the typed model. Every call carries a request
timeout so a dead connection cannot hang a caller. The client's `SharedInformer`s get raw JSON instead
of the client's models (`raw_lister`): the scheduler parses pods into its own frozen model, skipping
the model round trip keeps a burst of watch events cheap, and a list reaches the handlers one item at
a time as it is decoded (`_Informer`); their store keeps keys only (`KeysOnlyStore`), since the
scheduler keeps its own model.
"""

import functools
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.informer import ADDED, DELETED, ERROR, MODIFIED, SharedInformer
from kubernetes.informer.cache import ObjectCache
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock
from urllib3.exceptions import HTTPError

from cluster.clock import Clock, SystemClock
from cluster.errors import UserError
from runtime.listing import Listing, chunks

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# Server-side watch timeout, and how much longer the client waits before calling the connection dead.
WATCH_SECONDS = 300
WATCH_GRACE = 30
STOP_POLL_SECONDS = 0.05
STOP_SECONDS = 10.0
"""How long an informer's `stop` waits for its thread. The thread is a daemon: one wedged in a handler is left
behind, with a warning, rather than hold the shutdown (and the lease) past the pod's termination grace period."""
RESOURCE_PATHS = {
    "pods": "/api/v1/pods",
    "nodes": "/api/v1/nodes",
    "namespaces": "/api/v1/namespaces",
    "poddisruptionbudgets": "/apis/policy/v1/poddisruptionbudgets",
    "persistentvolumeclaims": "/api/v1/persistentvolumeclaims",
    "persistentvolumes": "/api/v1/persistentvolumes",
    "storageclasses": "/apis/storage.k8s.io/v1/storageclasses",
    "csinodes": "/apis/storage.k8s.io/v1/csinodes",
    "csidrivers": "/apis/storage.k8s.io/v1/csidrivers",
    "csistoragecapacities": "/apis/storage.k8s.io/v1/csistoragecapacities",
    "services": "/api/v1/services",
    "replicationcontrollers": "/api/v1/replicationcontrollers",
    "replicasets": "/apis/apps/v1/replicasets",
    "statefulsets": "/apis/apps/v1/statefulsets",
}

log = logging.getLogger(__name__)

__all__ = [
    "ApiException",
    "Kube",
    "KubeConnectError",
    "SharedInformer",
    "TransportError",
    "to_plain",
]

TransportError = (HTTPError, OSError)
"""Connection-level failures (refused, reset, timed out) the callers treat like a 5xx."""


def to_plain(obj: Any) -> Any:
    """A kubernetes client model (`V1Pod`, `V1Node`) as the API's JSON, which `cluster.parse` reads (camelCase
    keys, RFC 3339 times); JSON passes through."""
    if isinstance(obj, Mapping):
        return obj
    return client.ApiClient().sanitize_for_serialization(obj)


class KubeConnectError(UserError, RuntimeError):
    """No cluster configuration could be loaded (no kubeconfig, not in a cluster)."""


def _camel(name: str) -> str:
    """A query parameter's name on the wire: `field_selector` -> `fieldSelector`."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _read(response: Any) -> bytes:
    """Read a raw (`_preload_content=False`) response and give its connection back to the pool.

    An unread raw response keeps its connection checked out, so the next call opens a new one.
    """
    try:
        return response.data
    finally:
        response.release_conn()


def _body(response: Any) -> Any:
    data = _read(response)
    return json.loads(data) if data else None


class _Timed:
    """Forwards API calls with the request timeout added (the library's LeaseLock passes none)."""

    def __init__(self, api: Any, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._api, name), _request_timeout=self._timeout)


@dataclass
class Kube:
    """A connection to one API server, with the request timeout applied to every call."""

    api: client.ApiClient
    timeout: float = 10.0
    clock: Clock = SystemClock()  # noqa: RUF009 - the clock adapter is stateless

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        server: str | None = None,
        timeout: float = 10.0,
        pool_size: int = 32,
        clock: Clock | None = None,
    ) -> "Kube":
        """In-cluster config when running in a pod, else the kubeconfig (or `server` for a plain URL)."""
        configuration = client.Configuration()
        if server:
            configuration.host = server
        else:
            in_cluster = kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
            source = "the in-cluster service account" if in_cluster else kubeconfig or "the default kubeconfig"
            try:
                if in_cluster:
                    config.load_incluster_config(client_configuration=configuration)
                else:
                    config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            except (ConfigException, OSError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
                raise KubeConnectError(f"cannot load Kubernetes configuration from {source}: {exc}") from exc
        configuration.connection_pool_maxsize = pool_size
        return cls(api=client.ApiClient(configuration), timeout=timeout, clock=clock or SystemClock())

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, path: str, **query: Any) -> Any:
        """GET `path` through the client's request layer, with `query` in the generated clients' snake_case
        (`field_selector`, `watch`, ...): the raw urllib3 response, its body unread; ApiException if not 2xx.

        The generated `CoreV1Api` would do the same, but importing it (and the models it names) costs about
        a second of start-up, for two list calls the scheduler makes in the shape `kubernetes.watch.Watch`
        calls them (`_preload_content=False`, `_request_timeout`, and the query as keywords).
        """
        timeout = query.pop("_request_timeout", self.timeout)
        query.pop("_preload_content", None)
        params = self.api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=[(_camel(k), v) for k, v in query.items() if v is not None],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def version(self) -> dict[str, Any]:
        """`/version`: a cheap call to prove the server answers."""
        return _body(self.get("/version/"))

    def list_nodes(self) -> list[dict[str, Any]]:
        """Every node as the API's JSON, in one list call (the preflight counts their telemetry)."""
        body = _body(self.get(RESOURCE_PATHS["nodes"]))
        return list((body or {}).get("items") or [])

    def access_review(self, attributes: Mapping[str, str]) -> tuple[bool, str]:
        """May this connection's user do what `attributes` describe? A SelfSubjectAccessReview.

        `attributes` are its `resourceAttributes` (verb, group, resource, subresource, namespace, name);
        the answer is `status.allowed` and the authorizer's reason (often empty), as `kubectl auth can-i`.
        """
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": dict(attributes)},
        }
        answer = self.write("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body) or {}
        status = answer.get("status") or {}
        return status.get("allowed") is True, str(status.get("reason") or status.get("evaluationError") or "")

    def informer(
        self, resource: str, *, field_selector: str | None = None, on_synced: Callable[[], None] | None = None
    ) -> SharedInformer:
        """The client's SharedInformer over one of `RESOURCE_PATHS`' resources, delivering raw JSON objects.

        `on_synced` runs when the informer starts watching, i.e. after its list has been delivered
        to the handlers (the informer has no synced callback of its own).
        """
        path = RESOURCE_PATHS[resource]
        lister = self.raw_lister(lambda **query: self.get(path, **query), on_watch=on_synced)
        return _Informer(resource, list_func=lister, field_selector=field_selector)

    def raw_lister(
        self, method: Callable[..., Any], *, on_watch: Callable[[], None] | None = None
    ) -> Callable[..., object]:
        """Wrap a list method for an informer: raw JSON, timeouts, bookmarks and a pause after errors.

        A list is a `Listing`, decoded one item at a time (`runtime.listing`) as `_Informer` reads it. The `-> object`
        annotation makes `kubernetes.watch.Watch` pass event objects through as dicts (it deserialises
        into the annotated type, and `object` means "as is") while still tracking each event's
        resourceVersion. A failing watch connection waits before the error reaches the informer,
        which would otherwise reconnect in a tight loop while the server is down.
        """
        failures = [0]

        def list_func(**kwargs: Any) -> object:
            try:
                if kwargs.get("watch"):
                    if on_watch is not None:
                        on_watch()
                    kwargs.setdefault("timeout_seconds", WATCH_SECONDS)
                    kwargs["allow_watch_bookmarks"] = True
                    kwargs["_request_timeout"] = (self.timeout, kwargs["timeout_seconds"] + WATCH_GRACE)
                    result = method(**kwargs)
                else:
                    result = Listing(chunks(method(_preload_content=False, _request_timeout=self.timeout, **kwargs)))
            except (ApiException, *TransportError):
                failures[0] += 1
                self.clock.sleep(min(0.2 * 2 ** min(failures[0], 5), 5.0))
                raise
            failures[0] = 0
            return result

        return list_func

    # -- writing ---------------------------------------------------------------------------------

    def write(self, method: str, path: str, body: Mapping[str, Any], *, content_type: str = "application/json") -> Any:
        """One write through the client's own request layer, with the body as plain JSON.

        The scheduler writes three times per pod; the generated methods validate every argument with
        pydantic and rebuild models the API then re-serialises, which cost more CPU than the decision
        itself. `ApiClient.param_serialize` + `call_api` keep the client's auth, TLS, pooling and
        errors (`ApiException`) without that round trip.
        """
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=dict(body),
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params, _request_timeout=self.timeout)
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=data.decode(errors="replace"), data=None)
        return json.loads(data) if data else None

    def bind(
        self,
        namespace: str,
        name: str,
        node: str,
        *,
        uid: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """POST the pod's `binding` subresource; every error status raises `ApiException`.

        No status means "bound": a 409 is as likely a failed uid precondition (the pod was re-created under
        its name) or a conflicting write, and a 404 a pod the informer has not yet reported gone. As in
        kube-scheduler, the caller treats any error as a failed attempt and lets the informer say what the
        pod became. The API server merges the Binding's annotations into the pod in the same update that sets its
        node (`setPodHostAndAnnotations`), so the decision annotations cost no extra request and can
        never be missing from a bound pod.
        """
        metadata = {"name": name, "namespace": namespace, **({"uid": uid} if uid else {})}
        if annotations:
            metadata["annotations"] = dict(annotations)
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": metadata,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        self.write("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body)

    def patch_node_annotations(self, node: str, annotations: Mapping[str, str | None]) -> None:
        """Set (or, with None, remove) annotations on a node with a JSON merge patch of just those keys."""
        body = {"metadata": {"annotations": dict(annotations)}}
        self.write("PATCH", f"/api/v1/nodes/{node}", body, content_type=MERGE_PATCH)

    def patch_pod_annotations(self, namespace: str, name: str, annotations: Mapping[str, str | None]) -> None:
        """A JSON merge patch of the given annotations on a pod."""
        body = {"metadata": {"annotations": dict(annotations)}}
        self.write("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}", body, content_type=MERGE_PATCH)

    def patch_pod_condition(self, namespace: str, name: str, condition: Mapping[str, Any]) -> None:
        """Set one pod condition through the status subresource (strategic merge: conditions merge by type)."""
        body = {"status": {"conditions": [dict(condition)]}}
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
        self.write("PATCH", path, body, content_type=STRATEGIC_MERGE_PATCH)

    def patch_pod_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """A JSON merge patch of a pod's status fields (`nominatedNodeName`; None removes one)."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
        self.write("PATCH", path, {"status": dict(status)}, content_type=MERGE_PATCH)

    def evict(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        """POST a policy/v1 Eviction: the API server checks the pod's disruption budgets (429 when one would be
        violated), marks it `DisruptionTarget` and deletes it. `uid` makes it fail (409) for a re-created pod."""
        metadata: dict[str, Any] = {"name": name, "namespace": namespace}
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": metadata}
        if uid:
            body["deleteOptions"] = {"preconditions": {"uid": uid}}
        self.write("POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body)

    def delete_pod(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        """DELETE a pod, as kube-scheduler removes a preemption victim (`util.DeletePod`): no PodDisruptionBudget
        check. `uid` makes it fail (409) for a pod re-created under the name."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            body["preconditions"] = {"uid": uid}
        self.write("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body)

    def bind_volume(self, volume: str, resource_version: str, namespace: str, claim: str, uid: str) -> None:
        """Claim a pre-provisioned PersistentVolume for a claim, as the scheduler's binder does (`BindVolumeToClaim`):
        `spec.claimRef` and `bound-by-controller`, on the version the plan read (else 409 Conflict)."""
        ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace, "name": claim, "uid": uid}
        metadata = {"resourceVersion": resource_version, "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}}
        body = {"metadata": metadata, "spec": {"claimRef": ref}}
        self.write("PATCH", f"/api/v1/persistentvolumes/{volume}", body, content_type=MERGE_PATCH)

    def annotate_claim(
        self, namespace: str, name: str, resource_version: str, annotations: Mapping[str, str | None]
    ) -> None:
        """A JSON merge patch of a PersistentVolumeClaim's annotations, on the version read (else 409 Conflict)."""
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
        self.write("PATCH", path, body, content_type=MERGE_PATCH)

    def patch_event(self, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        """A JSON merge patch of a core/v1 Event (to count a repeat)."""
        self.write("PATCH", f"/api/v1/namespaces/{namespace}/events/{name}", body, content_type=MERGE_PATCH)

    def create_event(self, event: Mapping[str, Any]) -> None:
        """POST a core/v1 Event (given as the API's JSON)."""
        namespace = event["metadata"]["namespace"]
        self.write("POST", f"/api/v1/namespaces/{namespace}/events", {"apiVersion": "v1", "kind": "Event", **event})

    # -- leader election ---------------------------------------------------------------------------

    def leader_election(
        self,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> leaderelection.LeaderElection:
        """The client's leader election on a coordination.k8s.io Lease, through this connection."""
        lock = LeaseLock(name, namespace, identity)
        lock.api_instance = _Timed(client.CoordinationV1Api(self.api), self.timeout)
        election = electionconfig.Config(
            lock,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            onstarted_leading=on_started,
            onstopped_leading=on_stopped,
        )
        return leaderelection.LeaderElection(election)


class KeysOnlyStore(ObjectCache):
    """The informer's store with each object cut to its key's metadata: the scheduler keeps its own parsed
    model, and a full copy of every pod and node (most of the process's memory at 50,000 pods) would only
    serve the informer's re-list after a 410, which needs the keys to fire DELETED for what is gone."""

    def _put(self, obj: Any) -> None:
        super()._put(_stub(obj))

    def _replace_all(self, objects: Any) -> None:
        super()._replace_all([_stub(obj) for obj in objects])


def _stub(obj: Any) -> dict[str, Any]:
    meta = (obj.get("metadata") or {}) if isinstance(obj, Mapping) else {}
    return {"metadata": {key: meta[key] for key in ("namespace", "name", "resourceVersion") if key in meta}}


class _Informer(SharedInformer):
    """The client's SharedInformer - its watch loop, reconnects and re-list after 410 as they are - whose list
    hands each object to the handlers as soon as it is decoded. The client's `_initial_list` decodes the
    whole list first: at 51,000 pods ~340 MB of objects, alive together with the parsed model (peak RSS
    758 instead of 412 MB with the transformer tier). Its events, here in the list's order: ADDED, or
    MODIFIED for a key already known, then DELETED for known keys the list no longer has (the client
    fires those first; the end state is the same). Its store keeps keys only (`KeysOnlyStore`).

    A watch refused with "too large resource version" (an API server whose state went back, e.g. restored
    from a backup) lists again from scratch, as client-go's reflector does; the client would otherwise resume
    from the same version forever and never see another change."""

    def __init__(self, resource: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self._cache = KeysOnlyStore()
        self.add_event_handler(ERROR, self._on_error)

    def _on_error(self, error: object) -> None:
        """Runs on the informer's thread before it reconnects: a None resourceVersion makes it re-list."""
        if too_large_resource_version(error):
            log.warning("the API server's resourceVersion went back (%s); listing again", getattr(error, "reason", ""))
            self._resource_version = None

    def _initial_list(self) -> None:
        listing = self._list_func(**self._build_kwargs())
        known, seen = set(self._cache.list_keys()), set()
        for item in listing:
            key = self._cache._key_func(item)
            seen.add(key)
            self._cache._put(item)
            self._fire(MODIFIED if key in known else ADDED, item)
        for key in known - seen:
            gone = self._cache.get_by_key(key)
            self._cache._remove(gone)
            self._fire(DELETED, gone)
        self._resource_version = listing.resource_version or "0"

    def stop(self) -> None:
        """The client's stop without its race: a stop that lands during the list finds no watch to end, and the
        loop then opens one that blocks until the server's timeout (minutes), and `join` with it. So end the
        current watch, whenever there is one, until the loop has exited, for `STOP_SECONDS` at most. A thread
        left behind (wedged in a handler) is kept: once its handler returns, another `stop` ends the watch it
        then opens."""
        self._stop_event.set()
        thread = self._thread
        for _ in range(round(STOP_SECONDS / STOP_POLL_SECONDS)):
            if thread is None or not thread.is_alive():
                break
            watch = self._watch
            if watch is not None:
                watch.stop()
            thread.join(STOP_POLL_SECONDS)
        else:
            if thread is not None and thread.is_alive():
                log.warning("the %s informer did not stop within %gs; leaving its thread", self.resource, STOP_SECONDS)
                return
        self._thread = None


def stop_informers(informers: Sequence[SharedInformer]) -> None:
    """Stop every informer at once: a wedged one takes `STOP_SECONDS` to give up on, and a dozen of them one
    after another would outlast the pod's termination grace period (30 s by default), and with it the lease's
    release. Together they take `STOP_SECONDS` at most in all."""
    if not informers:
        return
    with ThreadPoolExecutor(max_workers=len(informers), thread_name_prefix="stop-informer") as pool:
        for stopped in [pool.submit(informer.stop) for informer in informers]:
            stopped.result()


def too_large_resource_version(error: object) -> bool:
    """Whether a watch failed because the version asked for is ahead of the server's (client-go's
    `isTooLargeResourceVersionError`): 504 with the `ResourceVersionTooLarge` cause, which the client's watch
    flattens into its reason text."""
    if not isinstance(error, ApiException) or error.status != 504:
        return False
    text = f"{error.reason or ''} {error.body or ''}"
    return "ResourceVersionTooLarge" in text or "Too large resource version" in text


def identity() -> str:
    """This replica's identity for leader election: hostname and process id."""
    return f"{socket.gethostname()}_{os.getpid()}"
