"""VolumeRestrictions: a `ReadWriteOncePod` claim is used by one pod at a time.

Mirrors the ReadWriteOncePod half of `pkg/scheduler/framework/plugins/volumerestrictions` (v1.36): its
PreFilter rejects the pod on every node when any scheduled pod already uses one of its `ReadWriteOncePod`
claims. The inline-disk conflicts of the other half (GCE PD, AWS EBS, RBD, iSCSI volumes written in the pod
spec) are not modelled: the pod model keeps claims only.
"""

import numpy as np

from cluster.snapshot import Snapshot
from cluster.volumes import READ_WRITE_ONCE_POD
from scoring.framework import Failures, PodInfo

NAME = "VolumeRestrictions"
ERR_REASON_RWOP_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)


class VolumeRestrictions:
    name = NAME

    def pre_filter(self, pod: PodInfo, snapshot: Snapshot) -> tuple[set[str] | None, str | None]:
        """Reject the pod when a scheduled pod holds one of its `ReadWriteOncePod` claims."""
        volumes = snapshot.volumes
        exclusive = set()
        for name, _ in pod.pod.claims:
            claim = volumes.claim(pod.pod.namespace, name)
            if claim is not None and READ_WRITE_ONCE_POD in claim.access_modes:
                exclusive.add(name)
        if not exclusive:
            return None, None
        for _, other in snapshot.all_pods():
            same_namespace = other.namespace == pod.pod.namespace and other.key != pod.pod.key
            if same_namespace and any(name in exclusive for name, _ in other.claims):
                return None, ERR_REASON_RWOP_CONFLICT
        return None, None

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        """Everything is decided in PreFilter."""
        return {}


def new(_: dict) -> VolumeRestrictions:
    return VolumeRestrictions()
