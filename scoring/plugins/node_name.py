"""NodeName: a pod that names its node runs there or nowhere.

Mirrors `pkg/scheduler/framework/plugins/nodename/node_name.go` (v1.36).
"""

import numpy as np

from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, fail_all

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        wanted = pod.pod.node_name
        if not wanted:
            return {}
        names = snapshot.names
        return fail_all(np.array([i for i in candidates if names[i] != wanted], dtype=np.int64), ERR_REASON)


def new(_: dict) -> NodeName:
    return NodeName()
