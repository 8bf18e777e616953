"""Reading snapshots and pod manifests from files, for `decide`, the demo and the benchmarks.

A snapshot is a Kubernetes `List` of Nodes and Pods (and optionally Namespaces, the storage objects volume
binding reads: PersistentVolumeClaims, PersistentVolumes, StorageClasses, CSINodes, CSIDrivers,
CSIStorageCapacities, and the Services, ReplicationControllers, ReplicaSets and StatefulSets PodTopologySpread's
default constraints select pods by) in JSON or YAML, exactly as `kubectl get nodes,pods -A -o json` prints it; a
pod file is one Pod, a `List` of pods, or
a multi-document YAML of pods. Errors name the file and the object so the user can fix it.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from cluster import nodestate, spread
from cluster.objects import Node, Pod, RawObject
from cluster.parse import ManifestError, parse_namespace, parse_node, parse_pod
from cluster.snapshot import Snapshot
from cluster.spread import Workloads
from cluster.userfiles import UserFileError, json_document, read_text, yaml_documents
from cluster.volumes import ADDED, Volumes, apply_event

STORAGE_KINDS = {
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PersistentVolume": "persistentvolumes",
    "StorageClass": "storageclasses",
    "CSINode": "csinodes",
    "CSIDriver": "csidrivers",
    "CSIStorageCapacity": "csistoragecapacities",
}
SPREAD_KINDS = {
    "Service": "services",
    "ReplicationController": "replicationcontrollers",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
}


def _documents(path: Path) -> list[Any]:
    try:
        text = read_text(path)
        return [json_document(text, path)] if path.suffix == ".json" else yaml_documents(text, path)
    except UserFileError as exc:
        raise ManifestError(str(exc)) from None


def _is_object(document: Any) -> TypeGuard[RawObject]:
    """A JSON or YAML mapping: a Kubernetes object as read, before `cluster.parse` validates its fields."""
    return isinstance(document, Mapping)


def objects(path: str | Path) -> list[RawObject]:
    """Every object in the file, with `List` kinds flattened (as read: `cluster.parse` validates them)."""
    path = Path(path)
    out: list[RawObject] = []
    for document in _documents(path):
        if document is None:
            continue
        if not _is_object(document):
            raise ManifestError(f"{path}: expected Kubernetes objects, found a {type(document).__name__}")
        if str(document.get("kind", "")).endswith("List") or "items" in document:
            items = document.get("items") or []
            if not isinstance(items, list):
                raise ManifestError(f"{path}: items must be a list")
            out.extend(items)
        else:
            out.append(document)
    return out


def _kind(obj: Any, path: Path, position: int) -> str:
    if not isinstance(obj, Mapping):
        raise ManifestError(f"{path}: object {position} is not a mapping")
    return str(obj.get("kind") or "")


def load_snapshot(path: str | Path, *, warn: nodestate.Warn | None = None) -> Snapshot:
    """Nodes, their pods and their telemetry annotations; NodeState age is not checked (what-if use)."""
    path = Path(path)
    nodes: list[Node] = []
    pods: list[Pod] = []
    namespaces: dict[str, dict[str, str]] = {}
    volumes = Volumes()
    workloads = Workloads()
    for position, obj in enumerate(objects(path)):
        kind = _kind(obj, path, position)
        try:
            if kind == "Node":
                nodes.append(parse_node(obj))
            elif kind == "Pod":
                pod = parse_pod(obj)
                if pod.node_name:
                    pods.append(pod)
            elif kind == "Namespace":
                name, labels = parse_namespace(obj)
                namespaces[name] = labels
            elif kind in STORAGE_KINDS:
                volumes, problem = apply_event(volumes, STORAGE_KINDS[kind], ADDED, obj)
                if problem is not None:
                    raise ManifestError(problem)
            elif kind in SPREAD_KINDS:
                workloads, problem = spread.apply_event(workloads, SPREAD_KINDS[kind], ADDED, obj)
                if problem is not None:
                    raise ManifestError(problem)
        except ManifestError as exc:
            raise ManifestError(f"{path}: {exc}") from exc
    if not nodes:
        raise ManifestError(f"{path}: no Node objects (expected the output of `kubectl get nodes,pods -A -o json`)")
    states = {
        n.name: nodestate.parse(n.annotations.get(nodestate.ANNOTATION), node=n.name, warn=warn or (lambda _: None))
        for n in nodes
    }
    return Snapshot.build(nodes, pods, states=states, namespaces=namespaces, volumes=volumes, workloads=workloads)


def load_pods(path: str | Path) -> list[Pod]:
    """Every Pod in the file, in order; other kinds are an error (they would be silently ignored)."""
    path = Path(path)
    pods = []
    for position, obj in enumerate(objects(path)):
        kind = _kind(obj, path, position)
        if kind != "Pod":
            raise ManifestError(f"{path}: object {position} is a {kind or 'object without kind'}, not a Pod")
        try:
            pods.append(parse_pod(obj))
        except ManifestError as exc:
            raise ManifestError(f"{path}: {exc}") from exc
    if not pods:
        raise ManifestError(f"{path}: no Pod objects")
    return pods
