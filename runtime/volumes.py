"""Volume binding's informers and PreBind: the storage objects into the cache, and claims bound before the pod.

As kube-scheduler's volume binder (`pkg/scheduler/framework/plugins/volumebinding/binder.go`): the informers for
PersistentVolumeClaims, PersistentVolumes, StorageClasses, CSINodes, CSIDrivers and CSIStorageCapacities keep
`cluster.volumes.Volumes` current (`cluster.volumes.apply_event`); once a pod is decided, `VolumeBinder.reserve`
assumes the chosen volumes and claims in the cache (so the next decision does not choose the same volume), and
`pre_bind`, on the binding's thread, writes them to the API (`spec.claimRef` on a pre-provisioned volume,
`volume.kubernetes.io/selected-node` on a claim to provision, each with its resourceVersion as precondition) and
waits, bounded, until the PV controller reports every claim bound. Only then is the pod bound; any failure reverts
the assumption and the pod is retried.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from cluster.clock import Clock
from cluster.objects import Pod
from cluster.snapshot import Snapshot
from cluster.volumes import SELECTED_NODE, Volumes
from runtime.kube import Kube
from scoring.plugins import volume_binding

BIND_TIMEOUT_SECONDS = 600.0
"""How long PreBind waits for the claims to be bound: `VolumeBindingArgs.bindTimeoutSeconds`' default."""
BIND_POLL_SECONDS = 0.1


class VolumeBindingTimeoutError(TimeoutError):
    """The PV controller did not bind the pod's claims in time."""


@dataclass(frozen=True)
class Reservation:
    """A pod's volume plan on its node, and the cache's volumes before and after assuming it."""

    plan: volume_binding.Plan
    node: str
    before: Volumes
    assumed: Volumes


class VolumeBinder:
    """PreBind: write the plan, then wait for the claims to be bound, reading the cache the informers feed."""

    def __init__(
        self,
        kube: Kube,
        clock: Clock,
        *,
        volumes: Callable[[], Volumes],
        assume: Callable[[Volumes, Volumes], None],
        timeout: float = BIND_TIMEOUT_SECONDS,
    ) -> None:
        """`volumes()` reads the cache's current objects; `assume(before, after)` swaps in `after`'s objects where
        the cache still holds `before`'s (`SchedulerCache.swap_volumes`)."""
        self._kube = kube
        self._clock = clock
        self._volumes = volumes
        self._assume = assume
        self._timeout = timeout

    def reserve(self, pod: Pod, node: str, snapshot: Snapshot) -> Reservation | None:
        """Reserve (`AssumePodVolumes`): plan the pod's volumes on `node` and assume the plan in the cache at once, so
        the next decision does not choose the same volume; None when the pod has nothing to bind. Raises
        `VolumeBindingError` when the claims do not fit the node in `snapshot`."""
        plan = volume_binding.plan(pod, node, snapshot)
        if plan.empty:
            return None
        before = self._volumes()
        assumed = before
        for volume, claim in plan.bind:
            assumed = assumed.changed(
                "volumes", volume.name, replace(volume, claim_ref=(claim.namespace, claim.name, claim.uid))
            )
        for claim in plan.provision:
            assumed = assumed.changed("claims", claim.key, replace(claim, selected_node=node))
        self._assume(before, assumed)
        return Reservation(plan, node, before, assumed)

    def unreserve(self, reservation: Reservation) -> None:
        """Undo `reserve`'s assumption (objects an informer has replaced since stay as the API says)."""
        self._assume(reservation.assumed, reservation.before)

    def pre_bind(self, reservation: Reservation) -> None:
        """PreBind (`BindPodVolumes`): claimRef on each chosen volume, selected-node on each claim to provision, each on
        the version planned from, then wait until every claim is bound; any failure unreserves and raises
        (`VolumeBindingError`, `VolumeBindingTimeoutError`, or the API's error)."""
        plan, node = reservation.plan, reservation.node
        try:
            for volume, claim in plan.bind:
                self._kube.bind_volume(volume.name, volume.resource_version, claim.namespace, claim.name, claim.uid)
            for claim in plan.provision:
                annotations = {SELECTED_NODE: node}
                self._kube.annotate_claim(claim.namespace, claim.name, claim.resource_version, annotations)
            self._wait(plan, node)
        except Exception:
            self.unreserve(reservation)
            raise

    def _wait(self, plan: volume_binding.Plan, node: str) -> None:
        """`checkBindings`, polled until the deadline: every claim bound, or an error when provisioning gave up."""
        keys = [c.key for _, c in plan.bind] + [c.key for c in plan.provision]
        provisioned = {c.key for c in plan.provision}
        deadline = self._clock.monotonic() + self._timeout
        while True:
            volumes = self._volumes()
            waiting = []
            for key in keys:
                claim = volumes.claims.get(key)
                if claim is None:
                    raise volume_binding.VolumeBindingError(f"persistentvolumeclaim {key} was deleted during binding")
                if claim.bound:
                    continue
                if key in provisioned and claim.selected_node != node:
                    raise volume_binding.VolumeBindingError(
                        f"provisioning failed for PVC {claim.name}: the selected-node annotation was removed"
                    )
                waiting.append(key)
            if not waiting:
                return
            if self._clock.monotonic() >= deadline:
                raise VolumeBindingTimeoutError(
                    f"binding volumes: claims {', '.join(waiting)} not bound within {self._timeout:.0f}s"
                )
            self._clock.sleep(BIND_POLL_SECONDS)
