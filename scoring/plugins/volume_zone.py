"""VolumeZone: a bound volume's zone and region labels must name the node's.

Mirrors `pkg/scheduler/framework/plugins/volumezone/volume_zone.go` (v1.36): for every bound claim of the
pod, each topology label on its volume (`topology.kubernetes.io/zone`/`region` and their deprecated
`failure-domain.beta.kubernetes.io` forms, a value possibly a `__`-separated set) must hold the node's value,
the beta key read as its GA twin when the node has only that; a node with none of these labels passes (a
single-zone cluster). Unbound, missing or volume-less claims are VolumeBinding's to report.
"""

import numpy as np

from cluster.snapshot import Snapshot
from scoring.framework import Failures, PodInfo, fail_all

NAME = "VolumeZone"
ERR_REASON_CONFLICT = "node(s) had no available volume zone"
ZONE, REGION = "topology.kubernetes.io/zone", "topology.kubernetes.io/region"
BETA_ZONE, BETA_REGION = "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region"
TOPOLOGY_LABELS = (BETA_ZONE, BETA_REGION, ZONE, REGION)
GA_OF = {BETA_ZONE: ZONE, BETA_REGION: REGION}


def volume_topologies(pod: PodInfo, snapshot: Snapshot) -> list[tuple[str, frozenset[str]]]:
    """(label, allowed values) of every topology label on the pod's bound volumes."""
    out = []
    volumes = snapshot.volumes
    for name, _ in pod.pod.claims:
        claim = volumes.claim(pod.pod.namespace, name)
        volume = volumes.volumes.get(claim.volume_name) if claim is not None and claim.volume_name else None
        if volume is None:
            continue
        for key in TOPOLOGY_LABELS:
            if key in volume.labels:
                out.append((key, frozenset(v for v in volume.labels[key].split("__") if v)))
    return out


class VolumeZone:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        if not pod.pod.claims:
            return {}
        topologies = volume_topologies(pod, snapshot)
        if not topologies:
            return {}
        failing = []
        for i in candidates.tolist():
            labels = snapshot.nodes[i].labels
            if not any(key in labels for key in TOPOLOGY_LABELS):
                continue
            for key, values in topologies:
                value = labels.get(key, labels.get(GA_OF.get(key, key)))
                if value is None or value not in values:
                    failing.append(i)
                    break
        return fail_all(np.array(failing, dtype=np.int64), ERR_REASON_CONFLICT)


def new(_: dict) -> VolumeZone:
    return VolumeZone()
