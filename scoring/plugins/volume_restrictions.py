"""VolumeRestrictions: an inline disk mounted by one writer per node, a `ReadWriteOncePod` claim used by one pod.

Mirrors `pkg/scheduler/framework/plugins/volumerestrictions` (v1.32+), both halves in its Filter:
- a node fails with `node(s) had no available disk` when a pod on it mounts one of the pod's inline GCE PD,
  AWS EBS, RBD or iSCSI disks (`isVolumeConflict`, `cluster.objects.InlineDisk.conflicts`): the same PD or
  IQN unless both mount it read-only, the same EBS volume always, the same RBD pool and image on a shared
  monitor unless both are read-only;
- every node fails while a scheduled pod of the namespace uses one of the pod's `ReadWriteOncePod` claims.
Both are `Unschedulable`, not `UnschedulableAndUnresolvable`: evicting the pod that holds the disk or the claim
resolves them, so preemption may (upstream's PreFilter state counts the claim's users and its `RemovePod`
uncounts a victim; the filter here recounts on the snapshot it is given, victims removed or not).
"""

import numpy as np

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from cluster.volumes import READ_WRITE_ONCE_POD
from scoring.framework import Failures, PodInfo, fail_all

NAME = "VolumeRestrictions"
ERR_REASON_DISK_CONFLICT = "node(s) had no available disk"
ERR_REASON_RWOP_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)


def _disk_conflict(pod: Pod, others: tuple[Pod, ...]) -> bool:
    """`satisfyVolumeConflicts`, negated: does a pod on the node mount one of `pod`'s inline disks conflictingly?"""
    return any(mine.conflicts(theirs) for mine in pod.inline_disks for other in others for theirs in other.inline_disks)


class VolumeRestrictions:
    name = NAME

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        """Fail the nodes with a conflicting inline disk, and every node while a `ReadWriteOncePod` claim of the
        pod is in use."""
        failures: Failures = {}
        if pod.pod.inline_disks:
            disk = (ERR_REASON_DISK_CONFLICT,)
            for index in candidates.tolist():
                if _disk_conflict(pod.pod, snapshot.pods_on[index]):
                    failures[index] = disk
        if _claim_in_use(pod.pod, snapshot):
            held = fail_all(candidates, ERR_REASON_RWOP_CONFLICT)
            failures = held | failures  # upstream reports the disk conflict first, one status per plugin
        return failures


def _claim_in_use(pod: Pod, snapshot: Snapshot) -> bool:
    """Does a scheduled pod of the namespace use one of `pod`'s `ReadWriteOncePod` claims (`IsPVCUsedByPods`)?"""
    exclusive = set()
    for name, _ in pod.claims:
        claim = snapshot.volumes.claim(pod.namespace, name)
        if claim is not None and READ_WRITE_ONCE_POD in claim.access_modes:
            exclusive.add(name)
    if not exclusive:
        return False
    return any(
        other.namespace == pod.namespace and other.key != pod.key and any(name in exclusive for name, _ in other.claims)
        for _, other in snapshot.all_pods()
    )


def new(_: dict) -> VolumeRestrictions:
    return VolumeRestrictions()
