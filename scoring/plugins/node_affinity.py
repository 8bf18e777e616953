"""NodeAffinity: the pod's nodeSelector and required node affinity filter; preferred terms score.

Mirrors `pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go` (v1.36), including its
PreFilter: when every required term pins `metadata.name`, only those nodes are candidates and the
others are reported as "didn't satisfy plugin(s) [NodeAffinity]". Matching is vectorised over nodes
through the snapshot's label index.
"""

import numpy as np

from cluster.labels import NODE_NAME_FIELD
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, default_normalize, fail_all

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"


def required_mask(pod: Pod, snapshot: Snapshot) -> np.ndarray:
    """Nodes matching the pod's nodeSelector and required node affinity (upstream `GetRequiredNodeAffinity`)."""
    labels = snapshot.table.labels
    mask = np.ones(len(snapshot), dtype=bool)
    for key, value in pod.node_selector.items():
        mask &= labels.equals(key, value)
    terms = pod.affinity.node_required
    if terms is not None:
        any_term = np.zeros(len(snapshot), dtype=bool)
        for term in terms:
            any_term |= labels.term(term)
        mask &= any_term
    return mask


def pinned_node_names(pod: Pod) -> set[str] | None:
    """PreFilter: the node names the required terms pin with `metadata.name In`, or None when unpinned."""
    terms = pod.affinity.node_required
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for req in term.match_fields:
            if req.key == NODE_NAME_FIELD and req.operator == "In":
                values = set(req.values)
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names


class NodeAffinity:
    name = NAME

    def pre_filter(self, pod: PodInfo, snapshot: Snapshot) -> tuple[set[str] | None, str | None]:
        """(candidate node names or None for all, rejection message or None)."""
        names = pinned_node_names(pod.pod)
        if names is not None and not names:
            return None, ERR_REASON_CONFLICT
        return names, None

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        if not pod.pod.node_selector and pod.pod.affinity.node_required is None:
            return {}
        ok = required_mask(pod.pod, snapshot)
        return fail_all(candidates[~ok[candidates]], ERR_REASON_POD)

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray:
        raw = np.zeros(len(snapshot), dtype=np.int64)
        for preferred in pod.pod.affinity.node_preferred:
            if preferred.weight:
                raw += preferred.weight * snapshot.table.labels.term(preferred.term)
        return default_normalize(raw[feasible], reverse=False)


def new(_: dict) -> NodeAffinity:
    return NodeAffinity()
