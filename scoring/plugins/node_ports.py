"""NodePorts: a host port can be claimed once per node, protocol and address.

Mirrors `pkg/scheduler/framework/plugins/nodeports/node_ports.go` (v1.36): a wanted port conflicts
with a used one of the same protocol and number when either address is 0.0.0.0 or they are equal.
"""

import numpy as np

from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, fail_all

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"

Port = tuple[str, str, int]
_ANY = "0.0.0.0"


def conflicts(wanted: tuple[Port, ...], used: frozenset[Port]) -> bool:
    for ip, protocol, port in wanted:
        for used_ip, used_protocol, used_port in used:
            if port == used_port and protocol == used_protocol and (_ANY in (ip, used_ip) or ip == used_ip):
                return True
    return False


class NodePorts:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        wanted = pod.pod.host_ports
        if not wanted:
            return {}
        bad = [i for i in candidates if snapshot.used_ports[i] and conflicts(wanted, snapshot.used_ports[i])]
        return fail_all(np.array(bad, dtype=np.int64), ERR_REASON)


def new(_: dict) -> NodePorts:
    return NodePorts()
