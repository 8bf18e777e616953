"""PodTopologySpread (filter half): `whenUnsatisfiable: DoNotSchedule` constraints.

Mirrors `pkg/scheduler/framework/plugins/podtopologyspread/filtering.go` (v1.36). Matching pods are
counted per domain over the nodes that pass the node inclusion policies (`nodeAffinityPolicy`
Honor by default, `nodeTaintsPolicy` Ignore by default) and carry every constraint's topology key;
a node passes when `matching + self - global minimum <= maxSkew` for each constraint, where the
global minimum is 0 while fewer than `minDomains` domains exist. Terminating pods do not count.
"""

from collections import Counter

import numpy as np

from cluster.labels import selector_matches
from cluster.objects import LabelSelector, Pod, Requirement, TopologySpreadConstraint
from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo
from scoring.plugins.node_affinity import required_mask
from scoring.plugins.taint_toleration import first_untolerated

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL = ERR_REASON_CONSTRAINTS + " (missing required label)"


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


class PodTopologySpread:
    name = NAME

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
