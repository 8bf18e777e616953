"""ImageLocality: prefer nodes that already hold the pod's images, damped by how widely they are spread.

Mirrors `pkg/scheduler/framework/plugins/imagelocality/image_locality.go` (v1.36). For every image of
the pod (init containers and containers) found on the node under its normalised name (`:latest` added
when the reference has no tag), the node earns `size × nodes holding it / all nodes`: a big image on
one node out of many is worth little, which keeps every replica from piling onto the one node that
pulled it first (upstream's "node heating problem"). The sum is clamped to 23 MiB .. 1000 MiB × images
and scaled to 0..100, so images smaller than 23 MiB in total never move a pod.
"""

from weakref import WeakKeyDictionary

import numpy as np

from cluster.objects import Pod
from cluster.snapshot import NodeTable, Snapshot
from scoring.framework import MAX_NODE_SCORE, PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """The CRI name kubelets report: a reference without a tag gets `:latest` (a digest keeps its `@`)."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


Holders = dict[str, tuple[np.ndarray, np.ndarray]]
_BY_TABLE: "WeakKeyDictionary[NodeTable, Holders]" = WeakKeyDictionary()


def _holders(table: NodeTable) -> Holders:
    """Image name → (indices of the nodes holding it, its size on each): upstream's `ImageStateSummary`,
    computed once per node table (snapshots that only add or remove pods share it)."""
    cached = _BY_TABLE.get(table)
    if cached is None:
        cached = _BY_TABLE[table] = _summarise(table)
    return cached


def _summarise(table: NodeTable) -> Holders:
    where: dict[str, tuple[list[int], list[int]]] = {}
    for i, node in enumerate(table.nodes):
        for name, size in node.images.items():
            indices, sizes = where.setdefault(name, ([], []))
            indices.append(i)
            sizes.append(size)
    return {name: (np.array(i, dtype=np.int64), np.array(s, dtype=np.int64)) for name, (i, s) in where.items()}


def calculate_priority(sum_scores: np.ndarray, num_images: int) -> np.ndarray:
    """`calculatePriority`: clamp to [23 MiB, 1000 MiB × images] and scale to 0..100 (integer)."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_images
    clamped = np.clip(sum_scores, MIN_THRESHOLD, max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def image_scores(pod: Pod, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
    """Every feasible node's 0..100 score for the pod's images."""
    if not pod.images:
        return np.zeros(len(feasible), dtype=np.int64)
    holders = _holders(snapshot.table)
    held = [h for h in (holders.get(normalized_image_name(image)) for image in pod.images) if h is not None]
    if not held:
        return np.zeros(len(feasible), dtype=np.int64)
    total = np.zeros(len(snapshot), dtype=np.int64)
    for indices, sizes in held:
        total[indices] += (sizes * (len(indices) / len(snapshot))).astype(np.int64)
    return calculate_priority(total[feasible], len(pod.images))


class ImageLocality:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        return image_scores(pod.pod, snapshot, feasible)


def new(_: dict) -> ImageLocality:
    return ImageLocality()
