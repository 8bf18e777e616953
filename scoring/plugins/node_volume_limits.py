"""NodeVolumeLimits: a node attaches at most its CSI drivers' `allocatable.count` volumes.

Mirrors `pkg/scheduler/framework/plugins/nodevolumelimits/csi.go` (v1.36): the pod's volumes are counted per
CSI driver (a bound claim's volume by its driver and handle; an unbound one by its class's provisioner and a
handle made of the claim's namespace and name, as upstream does) together with the distinct volumes the
node's pods already use; where a driver's count plus the new ones exceeds the CSINode's limit for it, the
node fails. A node without a CSINode, or a driver without a limit, is not limited.
"""

import numpy as np

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from cluster.volumes import Volumes
from scoring.framework import Failures, PodInfo, fail_all

NAME = "NodeVolumeLimits"
ERR_REASON_MAX_VOLUME_COUNT = "node(s) exceed max volume count"


def attachable(pod: Pod, volumes: Volumes) -> dict[str, str]:
    """The pod's CSI volumes: unique volume name → driver (`filterAttachableVolumes`)."""
    out = {}
    for name, _ in pod.claims:
        claim = volumes.claim(pod.namespace, name)
        if claim is None:
            continue
        volume = volumes.volumes.get(claim.volume_name) if claim.volume_name else None
        if volume is not None:
            if volume.csi_driver:
                out[f"{volume.csi_driver}/{volume.csi_handle}"] = volume.csi_driver
            continue
        storage_class = volumes.classes.get(claim.storage_class)
        if not claim.volume_name and storage_class is not None and storage_class.provisioner:
            out[f"{storage_class.provisioner}/{claim.namespace}-{claim.name}"] = storage_class.provisioner
    return out


class NodeVolumeLimits:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        if not pod.pod.claims or not snapshot.volumes.csinodes:
            return {}
        new_volumes = attachable(pod.pod, snapshot.volumes)
        if not new_volumes:
            return {}
        failing = []
        for i in candidates.tolist():
            csinode = snapshot.volumes.csinodes.get(snapshot.names[i])
            if csinode is None or not csinode.limits:
                continue
            attached: dict[str, str] = {}
            for other in snapshot.pods_on[i]:
                if other.claims:
                    attached.update(attachable(other, snapshot.volumes))
            adding = {v: d for v, d in new_volumes.items() if v not in attached}
            for driver in set(adding.values()):
                limit = csinode.limits.get(driver)
                count = sum(1 for d in adding.values() if d == driver)
                if limit is not None and sum(1 for d in attached.values() if d == driver) + count > limit:
                    failing.append(i)
                    break
        return fail_all(np.array(failing, dtype=np.int64), ERR_REASON_MAX_VOLUME_COUNT)


def new(_: dict) -> NodeVolumeLimits:
    return NodeVolumeLimits()
