"""PodTopologySpread: `DoNotSchedule` constraints filter, `ScheduleAnyway` constraints score.

Filter mirrors `pkg/scheduler/framework/plugins/podtopologyspread/filtering.go` (v1.36). Matching pods
are counted per domain over the nodes that pass the node inclusion policies (`nodeAffinityPolicy`
Honor by default, `nodeTaintsPolicy` Ignore by default) and carry every constraint's topology key;
a node passes when `matching + self - global minimum <= maxSkew` for each constraint, where the
global minimum is 0 while fewer than `minDomains` domains exist. Terminating pods do not count.

Score mirrors `scoring.go`: per constraint a node earns `matching pods in its domain × log(domains + 2)
+ maxSkew - 1` (hostname domains are counted on the node itself), the sum is rounded, and
NormalizeScore reverses it so the emptiest domain scores 100. A pod without constraints of its own
gets the system default constraints (`plugin.go`'s `systemDefaultConstraints`: hostname maxSkew 3,
zone maxSkew 5, ScheduleAnyway), with nodes lacking the zone label still spread by hostname.

The default constraints count the pods `helper.DefaultSelector` selects (`cluster.spread.default_selector`):
the selectors of the Services in the pod's namespace that select it and of its controlling
ReplicationController, ReplicaSet or StatefulSet, from the Service and controller informers the snapshot
carries (`Snapshot.workloads`). A bare pod a Service selects is spread against the Service's pods; a pod no
Service selects and no known controller owns (a Job's, a DaemonSet's, a bare one) gets no default spreading,
as upstream (an empty selector skips). The system defaults are all `ScheduleAnyway`, so, as upstream's
`buildDefaultConstraints(pod, DoNotSchedule)` finds none of them, they never filter.
"""

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from cluster.labels import selector_matches
from cluster.objects import LabelSelector, Pod, Requirement, TopologySpreadConstraint
from cluster.snapshot import Snapshot
from cluster.spread import default_selector
from scoring.framework import MAX_NODE_SCORE, Failures, PodInfo
from scoring.plugins.node_affinity import required_mask
from scoring.plugins.taint_toleration import first_untolerated

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL = ERR_REASON_CONSTRAINTS + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = (
    TopologySpreadConstraint(3, HOSTNAME, "ScheduleAnyway", None),
    TopologySpreadConstraint(5, ZONE, "ScheduleAnyway", None),
)


def _selector(constraint: TopologySpreadConstraint, pod: Pod) -> LabelSelector | None:
    selector = constraint.label_selector
    if selector is None or not constraint.match_label_keys:
        return selector
    extra = tuple(Requirement(k, "In", (pod.labels[k],)) for k in constraint.match_label_keys if k in pod.labels)
    return LabelSelector(selector.match_labels, selector.match_expressions + extra)


def _eligible(pod: Pod, snapshot: Snapshot, constraints: list[TopologySpreadConstraint]) -> np.ndarray:
    nodes = snapshot.table.nodes
    mask = np.array([all(c.topology_key in n.labels for c in constraints) for n in nodes], dtype=bool)
    if any(c.node_affinity_policy == "Honor" for c in constraints):
        mask &= required_mask(pod, snapshot)
    if any(c.node_taints_policy == "Honor" for c in constraints):
        mask &= np.array([first_untolerated(n.taints, pod.tolerations) is None for n in nodes], dtype=bool)
    return mask


@dataclass(frozen=True)
class _Soft:
    """The constraints a pod is scored against, and how their pods are found."""

    constraints: tuple[TopologySpreadConstraint, ...]
    selectors: tuple[LabelSelector | None, ...]
    require_all_keys: bool
    """False for the system defaults (`systemDefaulted`): a node without the zone label is still scored."""


def soft_constraints(pod: Pod, snapshot: Snapshot) -> _Soft | None:
    """The pod's `ScheduleAnyway` constraints or, for a pod without any, the system defaults over
    `DefaultSelector`'s pods; None when there is nothing to spread (PreScore's Skip)."""
    if pod.topology_spread:
        own = tuple(c for c in pod.topology_spread if c.when_unsatisfiable == "ScheduleAnyway")
        return _Soft(own, tuple(_selector(c, pod) for c in own), True) if own else None
    selector = default_selector(snapshot.workloads, pod)
    if selector.empty:
        return None
    return _Soft(SYSTEM_DEFAULT_CONSTRAINTS, (selector,) * len(SYSTEM_DEFAULT_CONSTRAINTS), False)


def _counts_per_node(selector: LabelSelector | None, pod: Pod, snapshot: Snapshot) -> np.ndarray:
    """Pods `selector` matches in the pod's namespace, not terminating, per node (all nodes): upstream's
    `countPodsMatchSelector`, matched once per label set (`Snapshot.labelled`)."""
    counts = np.zeros(len(snapshot), dtype=np.int64)
    if selector is None:
        return counts
    pairs = frozenset(selector.match_labels)
    expressions = LabelSelector((), selector.match_expressions)
    for labels, per_node in snapshot.labelled.get(pod.namespace, {}).items():
        if pairs <= labels and (expressions.empty or selector_matches(expressions, dict(labels))):
            counts[list(per_node)] += list(per_node.values())
    return counts


def spread_scores(pod: Pod, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
    """PreScore, Score and NormalizeScore over the feasible nodes; None when the pod has nothing to spread."""
    if not len(snapshot):
        return None
    soft = soft_constraints(pod, snapshot)
    if soft is None:
        return None
    labels = snapshot.table.labels
    columns = [labels.column(c.topology_key)[0] for c in soft.constraints]
    has_all = np.logical_and.reduce([codes >= 0 for codes in columns])
    scored = has_all[feasible] if soft.require_all_keys else np.ones(len(feasible), dtype=bool)
    honours_affinity = any(c.node_affinity_policy == "Honor" for c in soft.constraints)
    affinity = required_mask(pod, snapshot) if honours_affinity else None
    raw = np.zeros(len(feasible), dtype=float)
    counted_by: dict[LabelSelector | None, np.ndarray] = {}
    for constraint, selector, codes in zip(soft.constraints, soft.selectors, columns, strict=True):
        if selector not in counted_by:
            counted_by[selector] = _counts_per_node(selector, pod, snapshot)
        per_node = counted_by[selector]
        present = codes[feasible] >= 0
        if constraint.topology_key == HOSTNAME:
            weight = math.log(int(scored.sum()) + 2)
            count = per_node[feasible]
        else:
            domains = np.unique(codes[feasible][scored])
            weight = math.log(len(domains) + 2)
            counted = np.ones(len(snapshot), dtype=bool) if not soft.require_all_keys else has_all.copy()
            if affinity is not None and constraint.node_affinity_policy == "Honor":
                counted &= affinity
            if constraint.node_taints_policy == "Honor":
                counted &= _tolerated(pod, snapshot)
            in_domains = np.zeros(len(codes) + 1, dtype=bool)
            in_domains[domains + 1] = True  # code -1 (no label) is slot 0
            counted &= in_domains[codes + 1]
            by_domain = np.bincount(codes[counted] + 1, weights=per_node[counted], minlength=len(codes) + 1)
            count = by_domain[codes[feasible] + 1]
        raw += np.where(present, count * weight + (constraint.max_skew - 1), 0.0)
    score = np.floor(raw + 0.5).astype(np.int64)  # Go's math.Round of a non-negative number
    out = np.zeros(len(feasible), dtype=np.int64)
    if not scored.any():
        return out
    low, high = int(score[scored].min()), max(int(score[scored].max()), 0)
    if high == 0:
        out[scored] = MAX_NODE_SCORE
    else:
        out[scored] = MAX_NODE_SCORE * (high + low - score[scored]) // high
    return out


def _tolerated(pod: Pod, snapshot: Snapshot) -> np.ndarray:
    return np.array([first_untolerated(n.taints, pod.tolerations) is None for n in snapshot.table.nodes], dtype=bool)


class PodTopologySpread:
    name = NAME

    def score(self, pod: PodInfo, snapshot: Snapshot, feasible: np.ndarray) -> np.ndarray | None:
        return spread_scores(pod.pod, snapshot, feasible)

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        incoming = pod.pod
        constraints = [c for c in incoming.topology_spread if c.when_unsatisfiable == "DoNotSchedule"]
        if not constraints:
            return {}
        nodes = snapshot.table.nodes
        eligible = _eligible(incoming, snapshot, constraints)
        selectors = [_selector(c, incoming) for c in constraints]
        counts: list[Counter[str]] = []
        for c, selector in zip(constraints, selectors, strict=True):
            domain_counts: Counter[str] = Counter(
                {nodes[i].labels[c.topology_key]: 0 for i in np.flatnonzero(eligible)}
            )
            for i, other in snapshot.all_pods():
                if (
                    eligible[i]
                    and not other.deleting
                    and other.namespace == incoming.namespace
                    and selector_matches(selector, other.labels)
                ):
                    domain_counts[nodes[i].labels[c.topology_key]] += 1
            counts.append(domain_counts)
        failures: Failures = {}
        for i in candidates:
            labels = nodes[i].labels
            for c, selector, domain_counts in zip(constraints, selectors, counts, strict=True):
                value = labels.get(c.topology_key)
                if value is None:
                    failures[int(i)] = (ERR_REASON_NODE_LABEL,)
                    break
                minimum = min(domain_counts.values()) if domain_counts else 0
                if c.min_domains is not None and len(domain_counts) < c.min_domains:
                    minimum = 0
                self_match = 1 if selector_matches(selector, incoming.labels) else 0
                if domain_counts.get(value, 0) + self_match - minimum > c.max_skew:
                    failures[int(i)] = (ERR_REASON_CONSTRAINTS,)
                    break
        return failures


def new(_: dict) -> PodTopologySpread:
    return PodTopologySpread()
