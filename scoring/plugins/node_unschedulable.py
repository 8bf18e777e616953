"""NodeUnschedulable: cordoned nodes take only pods that tolerate the unschedulable taint.

Mirrors `pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go` (v1.36).
"""

import numpy as np

from cluster.objects import UNSCHEDULABLE_TAINT, Taint, tolerated
from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, fail_all

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"

_TAINT = Taint(UNSCHEDULABLE_TAINT, "", "NoSchedule")


class NodeUnschedulable:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        if tolerated(_TAINT, pod.pod.tolerations):
            return {}
        return fail_all(candidates[snapshot.table.unschedulable[candidates]], ERR_REASON_UNSCHEDULABLE)


def new(_: dict) -> NodeUnschedulable:
    return NodeUnschedulable()
