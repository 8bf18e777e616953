"""InterPodAffinity: required pod affinity and anti-affinity filter, preferred terms score.

Mirrors `pkg/scheduler/framework/plugins/interpodaffinity/filtering.go` (v1.36). PreFilter counts,
per topology pair (key=value of a node label), the existing pods that match the incoming pod's
required affinity and anti-affinity terms, and the existing pods whose own required anti-affinity
terms match the incoming pod. Filter then checks, per node and in this order: affinity (every term's
topology must hold a matching pod, except the first pod of a self-affine group), anti-affinity, and
the existing pods' anti-affinity. `matchLabelKeys`/`mismatchLabelKeys` are merged into the selector
with the owning pod's label values, as the API server does on creation.

Score mirrors `scoring.go` (v1.36, `hardPodAffinityWeight` 1, `ignorePreferredTermsOfExistingPods`
false): per topology pair, the incoming pod's preferred affinity terms add their weight for each
existing pod they select and its preferred anti-affinity terms subtract it; each existing pod adds
`hardPodAffinityWeight` per required affinity term, and its preferred weights (minus for anti-affinity),
for the terms that select the incoming pod. A node's score is the sum over its pairs, normalised
min-max to 0..100; with nothing to count the plugin skips (every node 0).
"""

from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np

from cluster.labels import selector_matches
from cluster.objects import LabelSelector, Pod, PodAffinityTerm, Requirement
from cluster.snapshot import Snapshot
from scoring.framework import MAX_NODE_SCORE, Failures, PodInfo

NAME = "InterPodAffinity"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]
HARD_POD_AFFINITY_WEIGHT = 1
"""`InterPodAffinityArgs.hardPodAffinityWeight`'s default."""


def effective_selector(term: PodAffinityTerm, owner: Pod) -> LabelSelector | None:
    """The term's selector with match/mismatch label keys resolved against the owning pod."""
    selector = term.label_selector
    if selector is None or not (term.match_label_keys or term.mismatch_label_keys):
        return selector
    extra = [Requirement(k, "In", (owner.labels[k],)) for k in term.match_label_keys if k in owner.labels]
    extra += [Requirement(k, "NotIn", (owner.labels[k],)) for k in term.mismatch_label_keys if k in owner.labels]
    return LabelSelector(selector.match_labels, selector.match_expressions + tuple(extra))


def term_matches_pod(
    term: PodAffinityTerm, owner: Pod, target: Pod, namespaces: Mapping[str, Mapping[str, str]]
) -> bool:
    """Does `owner`'s term select `target` (namespace scope, then label selector)?"""
    if term.namespace_selector is None and not term.namespaces:
        in_scope = target.namespace == owner.namespace
    else:
        in_scope = target.namespace in term.namespaces or (
            term.namespace_selector is not None
            and selector_matches(term.namespace_selector, namespaces.get(target.namespace, {}))
        )
    return in_scope and selector_matches(effective_selector(term, owner), target.labels)


class InterPodAffinity:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        incoming = pod.pod
        affinity = incoming.affinity.pod_affinity_required
        anti = incoming.affinity.pod_anti_affinity_required
        existing_anti = snapshot.anti_affinity
        if not affinity and not anti and not existing_anti:
            return {}
        labels = snapshot.table.nodes
        namespaces = snapshot.namespaces
        existing_counts: Counter[Pair] = Counter()
        for i, other in existing_anti:
            for term in other.affinity.pod_anti_affinity_required:
                value = labels[i].labels.get(term.topology_key)
                if value is not None and term_matches_pod(term, other, incoming, namespaces):
                    existing_counts[(term.topology_key, value)] += 1
        affinity_counts: Counter[Pair] = Counter()
        anti_counts: Counter[Pair] = Counter()
        if affinity or anti:
            for i, other in snapshot.all_pods():
                node_labels = labels[i].labels
                for term in affinity:
                    value = node_labels.get(term.topology_key)
                    if value is not None and term_matches_pod(term, incoming, other, namespaces):
                        affinity_counts[(term.topology_key, value)] += 1
                for term in anti:
                    value = node_labels.get(term.topology_key)
                    if value is not None and term_matches_pod(term, incoming, other, namespaces):
                        anti_counts[(term.topology_key, value)] += 1
        self_affine = not affinity_counts and all(
            term_matches_pod(term, incoming, incoming, namespaces) for term in affinity
        )
        failures: Failures = {}
        for i in candidates:
            node_labels = labels[i].labels
            if affinity and not _satisfies_affinity(affinity, node_labels, affinity_counts, self_affine):
                failures[int(i)] = (ERR_REASON_AFFINITY,)
            elif any(
                anti_counts.get((t.topology_key, node_labels.get(t.topology_key, "")))
                for t in anti
                if t.topology_key in node_labels
            ):
                failures[int(i)] = (ERR_REASON_ANTI_AFFINITY,)
            elif existing_counts and any(existing_counts.get(pair) for pair in node_labels.items()):
                failures[int(i)] = (ERR_REASON_EXISTING_ANTI_AFFINITY,)
        return failures

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
        return affinity_scores(pod.pod, snapshot, feasible)


def _incoming_terms(
    incoming: Pod, namespaces: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, int, Callable[[Pod], bool]]]:
    """The incoming pod's preferred terms as (topology key, signed weight, does it select this pod), with the
    selector and namespace scope resolved once rather than once per existing pod."""
    prepared: list[tuple[str, int, Callable[[Pod], bool]]] = []
    for terms, sign in (
        (incoming.affinity.pod_affinity_preferred, 1),
        (incoming.affinity.pod_anti_affinity_preferred, -1),
    ):
        for weighted in terms:
            term = weighted.term
            selector = effective_selector(term, incoming)
            if term.namespace_selector is None and not term.namespaces:
                scope = frozenset((incoming.namespace,))
            else:
                scope = frozenset(
                    ns
                    for ns, ns_labels in namespaces.items()
                    if ns in term.namespaces
                    or (term.namespace_selector is not None and selector_matches(term.namespace_selector, ns_labels))
                ) | frozenset(term.namespaces)

            def selects(other: Pod, scope: frozenset[str] = scope, selector: LabelSelector | None = selector) -> bool:
                return other.namespace in scope and selector_matches(selector, other.labels)

            prepared.append((term.topology_key, sign * weighted.weight, selects))
    return prepared


def _existing_terms(other: Pod) -> list[tuple[PodAffinityTerm, int]]:
    """An existing pod's terms that weigh on the incoming pod: required affinity at `hardPodAffinityWeight`,
    preferred affinity at its weight, preferred anti-affinity at minus its weight."""
    affinity = other.affinity
    terms = [(t, HARD_POD_AFFINITY_WEIGHT) for t in affinity.pod_affinity_required]
    terms += [(w.term, w.weight) for w in affinity.pod_affinity_preferred]
    terms += [(w.term, -w.weight) for w in affinity.pod_anti_affinity_preferred]
    return terms


def affinity_scores(incoming: Pod, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
    """PreScore, Score and NormalizeScore over the feasible nodes; None (upstream Skip) when nothing counts."""
    if not snapshot.affine and not (
        incoming.affinity.pod_affinity_preferred or incoming.affinity.pod_anti_affinity_preferred
    ):
        return None
    nodes = snapshot.table.nodes
    namespaces = snapshot.namespaces
    scores: Counter[Pair] = Counter()
    prepared = _incoming_terms(incoming, namespaces)
    if prepared:
        for i, other in snapshot.all_pods():
            node_labels = nodes[i].labels
            for key, weight, selects in prepared:
                value = node_labels.get(key)
                if value is not None and selects(other):
                    scores[(key, value)] += weight
    for i, other in snapshot.affine:
        node_labels = nodes[i].labels
        for term, weight in _existing_terms(other):
            value = node_labels.get(term.topology_key)
            if value is not None and term_matches_pod(term, other, incoming, namespaces):
                scores[(term.topology_key, value)] += weight
    if not scores:
        return None
    labels = snapshot.table.labels
    raw = np.zeros(len(feasible), dtype=np.int64)
    if not len(feasible):
        return raw
    for (key, value), weight in scores.items():
        if weight:
            raw += weight * labels.equals(key, value)[feasible]
    low, high = int(raw.min()), int(raw.max())
    if high == low:
        return np.zeros(len(feasible), dtype=np.int64)
    return (MAX_NODE_SCORE * (raw - low) / (high - low)).astype(np.int64)


def _satisfies_affinity(
    terms: tuple[PodAffinityTerm, ...], node_labels: Mapping[str, str], counts: Counter[Pair], self_affine: bool
) -> bool:
    pods_exist = True
    for term in terms:
        value = node_labels.get(term.topology_key)
        if value is None:
            return False
        if counts.get((term.topology_key, value), 0) <= 0:
            pods_exist = False
    return pods_exist or self_affine


def new(_: dict) -> InterPodAffinity:
    return InterPodAffinity()
