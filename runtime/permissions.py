"""Exactly the API permissions the scheduler's code uses: the RBAC manifests and the preflight check both
follow this list, so a new API call that is not added here fails a test instead of a production cluster."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """One verb on one resource, as RBAC and SelfSubjectAccessReview name them."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    why: str = ""

    @property
    def resource_path(self) -> str:
        """`pods/binding`-style name, as RBAC rules write a subresource."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {self.resource_path}{group}"


CLUSTER: tuple[Permission, ...] = (
    Permission("list", "pods", why="the pod informer's list"),
    Permission("watch", "pods", why="the pod informer's watch"),
    Permission("create", "pods", subresource="binding", why="bind a pod to its node"),
    Permission(
        "patch", "pods", subresource="status", why="PodScheduled=False, nominatedNodeName, a victim's DisruptionTarget"
    ),
    Permission("create", "pods", subresource="eviction", why="evict the victims of a preemption"),
    Permission(
        "delete", "pods", why="remove a preemption victim whose PodDisruptionBudget it violates, as kube-scheduler does"
    ),
    Permission("list", "nodes", why="the node informer's list (allocatable, taints, telemetry)"),
    Permission("watch", "nodes", why="the node informer's watch"),
    Permission("list", "namespaces", why="the namespace informer's list (labels for namespaceSelector)"),
    Permission("watch", "namespaces", why="the namespace informer's watch"),
    Permission("list", "poddisruptionbudgets", group="policy", why="the PDB informer's list (preemption)"),
    Permission("watch", "poddisruptionbudgets", group="policy", why="the PDB informer's watch (preemption)"),
    Permission("list", "persistentvolumeclaims", why="the claim informer's list (volume binding)"),
    Permission("watch", "persistentvolumeclaims", why="the claim informer's watch"),
    Permission("patch", "persistentvolumeclaims", why="PreBind's volume.kubernetes.io/selected-node annotation"),
    Permission("list", "persistentvolumes", why="the volume informer's list (node affinity, matching)"),
    Permission("watch", "persistentvolumes", why="the volume informer's watch"),
    Permission("patch", "persistentvolumes", why="PreBind's claimRef on a pre-provisioned volume"),
    Permission("list", "storageclasses", group="storage.k8s.io", why="binding modes, provisioners, topologies"),
    Permission("watch", "storageclasses", group="storage.k8s.io", why="the storage class informer's watch"),
    Permission("list", "csinodes", group="storage.k8s.io", why="CSI attach limits (NodeVolumeLimits)"),
    Permission("watch", "csinodes", group="storage.k8s.io", why="the CSINode informer's watch"),
    Permission("list", "csidrivers", group="storage.k8s.io", why="which CSI drivers track storage capacity"),
    Permission("watch", "csidrivers", group="storage.k8s.io", why="the CSIDriver informer's watch"),
    Permission("list", "csistoragecapacities", group="storage.k8s.io", why="free storage per topology (VolumeBinding)"),
    Permission("watch", "csistoragecapacities", group="storage.k8s.io", why="the CSIStorageCapacity informer's watch"),
    Permission("list", "services", why="the Service informer's list (PodTopologySpread's default selector)"),
    Permission("watch", "services", why="the Service informer's watch"),
    Permission("list", "replicationcontrollers", why="the ReplicationController informer's list (default spreading)"),
    Permission("watch", "replicationcontrollers", why="the ReplicationController informer's watch"),
    Permission("list", "replicasets", group="apps", why="the ReplicaSet informer's list (default spreading)"),
    Permission("watch", "replicasets", group="apps", why="the ReplicaSet informer's watch"),
    Permission("list", "statefulsets", group="apps", why="the StatefulSet informer's list (default spreading)"),
    Permission("watch", "statefulsets", group="apps", why="the StatefulSet informer's watch"),
    Permission("create", "events", why="Scheduled and FailedScheduling events"),
    Permission("patch", "events", why="the repeat count of an aggregated FailedScheduling event"),
)
"""Granted cluster-wide (a ClusterRole): pods of every namespace, every node, the namespaces, the disruption
budgets preemption reads, the storage objects volume binding reads and the Services and workload controllers
whose selectors PodTopologySpread's default constraints spread a pod by. No write on a pod but its binding, status,
eviction and delete (preemption's victims, a delete only for one whose budget the preemption knowingly violates):
the decision annotations travel in the Binding. Claims and volumes are patched only by
PreBind (`runtime.volumes`)."""

SHADOW: tuple[Permission, ...] = (Permission("patch", "pods", why="the recommendation annotations of shadow mode"),)
"""Granted cluster-wide, and only with `scheduler.shadow_mode` on (deploy/components/shadow): patch on
pods could change any pod's image, so the normal deployment does without it."""

LEASE: tuple[Permission, ...] = (
    Permission("get", "leases", group="coordination.k8s.io", why="read the leader lease"),
    Permission("create", "leases", group="coordination.k8s.io", why="create the leader lease the first time"),
    Permission("update", "leases", group="coordination.k8s.io", why="renew or take over the leader lease"),
)
"""Granted in the lease's namespace only (a Role), and needed only with leader election on."""
