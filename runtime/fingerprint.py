"""What the scheduler cache compares before it does work on an informer event: the node fields filters read,
the raw pod fields a snapshot depends on (an event that changes none of them is skipped unparsed), and what a pod
adds to its node's sums (equal means no recount). Pure.
"""

import sys
from collections.abc import Mapping
from typing import Any

from cluster import nodestate, resize
from cluster.needs import CLASS_ANNOTATION, NOISY_ANNOTATION, SENSITIVITY_ANNOTATION
from cluster.objects import Node, Pod


def scheduling_view(node: Node) -> tuple[Any, ...]:
    """The node fields filters read; a change in any of them can make pods fit (or not)."""
    return (
        tuple(sorted(node.labels.items())),
        tuple(sorted(node.allocatable.items())),
        node.taints,
        node.unschedulable,
    )


def pod_fingerprint(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """The raw pod fields the snapshot depends on; events that change none of them are skipped unparsed.

    The phase is not one of them: only terminal phases matter, and those are handled before this. The
    resources are (`cluster.resize.footprint`): an in-place resize changes a bound pod's spec and the
    kubelet's status, and the node must be re-accounted before the next decision.
    """
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return (
        _interned(spec.get("nodeName")),
        bool(meta.get("deletionTimestamp")),
        tuple(sorted((_interned(k), _interned(v)) for k, v in labels.items())),
        tuple(_interned(annotations.get(k)) for k in (CLASS_ANNOTATION, SENSITIVITY_ANNOTATION, NOISY_ANNOTATION)),
        resize.footprint(raw),
        (raw.get("status") or {}).get("startTime"),  # orders preemption victims
    )


def _interned(value: Any) -> Any:
    """A string interned, anything else as it is: a fingerprint lives as long as its pod, and its node name
    and labels are the same strings as thousands of other pods' (the parsed pods intern theirs too)."""
    return sys.intern(value) if type(value) is str else value


def accounting(pod: Pod) -> tuple[Any, ...]:
    """What a pod contributes to its node's sums; equal means a re-read needs no recount."""
    return (
        pod.node_name,
        tuple(sorted(pod.requests.items())),
        tuple(sorted(pod.non_zero_requests.items())),
        pod.host_ports,
        tuple(pod.annotations.get(k) for k in (CLASS_ANNOTATION, SENSITIVITY_ANNOTATION, NOISY_ANNOTATION)),
        pod.qos_class,
        pod.affinity.pod_anti_affinity_required,
    )


def scheduled_at(raw: Mapping[str, Any]) -> float | None:
    """When the pod was bound, from its `PodScheduled` condition (as Koordinator's pod assign cache reads it);
    None when absent or unreadable."""
    for condition in (raw.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "True":
            try:
                return nodestate.parse_timestamp(str(condition.get("lastTransitionTime")))
            except ValueError:
                return None
    return None
