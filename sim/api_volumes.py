"""Volume binding and dynamic provisioning: the emulator's PV controller and external-provisioner.

Subscribed to the store, `VolumeController` does what `pkg/controller/volume/persistentvolume` and a CSI
`external-provisioner` do that a scheduler can observe:

- a new volume without a claim becomes `Available`;
- a volume whose `spec.claimRef` names a claim (what kube-scheduler's VolumeBinding PreBind writes for a
  pre-provisioned volume; the claim may come later), or a claim whose `spec.volumeName` names a free volume,
  is bound both ways:
  the claim gets `spec.volumeName`, the `pv.kubernetes.io/bind-completed` annotation and status `Bound` with
  the volume's capacity and access modes, the volume gets the claim's uid and status `Bound`;
- a claim without a class gets the default StorageClass (`storageclass.kubernetes.io/is-default-class`);
- an unbound claim whose class has a provisioner (not `kubernetes.io/no-provisioner`) is provisioned at once
  for `Immediate` binding, and for `WaitForFirstConsumer` only once `volume.kubernetes.io/selected-node` names
  a node: the new volume `pvc-<claim uid>` has the requested size, the class's reclaim policy and mount options,
  and node affinity to that node's topology (the CSI driver's `topologyKeys` from its CSINode, else the
  node's zone, else its hostname), and is bound to the claim; a driver whose CSIDriver opts into storage capacity
  tracking (`spec.storageCapacity`) has only the room its CSIStorageCapacity objects report: when none of the
  class reaching the selected node (`nodeTopology`) holds the request (`maximumVolumeSize`, else `capacity`), the
  driver's `CreateVolume` fails with ResourceExhausted and the provisioner gives the claim back to the scheduler by
  removing `volume.kubernetes.io/selected-node`, as external-provisioner does (the reported capacities are not
  consumed: the capacity controller's refresh is not emulated);
- an `Immediate` claim is first matched to the smallest `Available` volume of its class that is large enough
  and offers its access modes;
- a deleted claim releases its volume: a provisioned one with reclaim policy `Delete` is deleted, any other
  becomes `Released`.

Events, volume attachment and expansion are not emulated. Only the store is written; no threads of its own.
"""

import logging
from typing import Any

from cluster.clock import Clock
from sim import api_errors
from sim.api_strategy import parse_quantity
from sim.api_watch import DELETED, Change
from sim.selectors import SelectorError, from_label_selector
from sim.store import Store

__all__ = [
    "BIND_COMPLETED",
    "NO_PROVISIONER",
    "SELECTED_NODE",
    "VolumeController",
    "default_class",
    "node_affinity",
    "provisioned_volume",
    "room_for",
]

log = logging.getLogger(__name__)
JSON = dict[str, Any]

SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


def default_class(classes: list[JSON]) -> JSON | None:
    """The default StorageClass: the newest of those annotated default (as the admission plugin picks it)."""
    defaults = [c for c in classes if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    defaults.sort(key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]))
    return defaults[-1] if defaults else None


def node_affinity(node: JSON, csinode: JSON | None, driver: str) -> JSON:
    """The required node affinity a volume provisioned for `node` gets: the driver's topology of that node."""
    labels = node["metadata"].get("labels") or {}
    drivers = ((csinode or {}).get("spec") or {}).get("drivers") or []
    keys = next((d.get("topologyKeys") or [] for d in drivers if d.get("name") == driver), [])
    keys = [k for k in keys if k in labels]
    if not keys:
        keys = [ZONE] if ZONE in labels else [HOSTNAME]
    expressions = [
        {"key": k, "operator": "In", "values": [labels.get(k, node["metadata"]["name"])]} for k in sorted(keys)
    ]
    return {"required": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}


def _reaches(capacity: JSON, labels: dict[str, str]) -> bool:
    """Whether a CSIStorageCapacity's `nodeTopology` selects the node: absent is nowhere, empty everywhere."""
    topology = capacity.get("nodeTopology")
    if not isinstance(topology, dict):
        return False
    try:
        selector = from_label_selector(topology)
    except SelectorError:
        return False
    return selector is None or selector.matches(labels)


def room_for(pvc: JSON, class_name: str, node: JSON, capacities: list[JSON]) -> bool:
    """Whether a capacity-tracking driver can create the claim's volume for `node`: some CSIStorageCapacity of the
    class reaches the node and its `maximumVolumeSize` (else `capacity`) holds the requested size."""
    wanted = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "0")
    labels = node["metadata"].get("labels") or {}
    for capacity in capacities:
        limit = capacity.get("maximumVolumeSize", capacity.get("capacity"))
        if capacity.get("storageClassName") != class_name or limit is None or not _reaches(capacity, labels):
            continue
        try:
            if parse_quantity(limit) >= parse_quantity(wanted):
                return True
        except api_errors.ApiError:
            continue
    return False


def _claim_ref(pvc: JSON) -> JSON:
    meta = pvc["metadata"]
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def provisioned_volume(pvc: JSON, storage_class: JSON, affinity: JSON | None) -> JSON:
    """The PersistentVolume an external-provisioner creates for `pvc`, already claimed by it."""
    spec = pvc.get("spec") or {}
    provisioner = storage_class.get("provisioner", "")
    name = f"pvc-{pvc['metadata']['uid']}"
    pv_spec: JSON = {
        "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
        "storageClassName": storage_class["metadata"]["name"],
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "claimRef": _claim_ref(pvc),
        "csi": {"driver": provisioner, "volumeHandle": name},
    }
    if storage_class.get("mountOptions"):
        pv_spec["mountOptions"] = list(storage_class["mountOptions"])
    if affinity is not None:
        pv_spec["nodeAffinity"] = affinity
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: provisioner}},
        "spec": pv_spec,
    }


def _phase(obj: JSON) -> str:
    return (obj.get("status") or {}).get("phase", "")


def _claims(pv: JSON, pvc: JSON) -> bool:
    """Whether the volume's `claimRef` names this claim (and this incarnation of it, when it has a uid)."""
    ref, meta = (pv.get("spec") or {}).get("claimRef") or {}, pvc["metadata"]
    same = (ref.get("namespace"), ref.get("name")) == (meta.get("namespace"), meta.get("name"))
    return same and ref.get("uid") in (None, "", meta.get("uid"))


def _fits(pv: JSON, pvc: JSON, class_name: str) -> bool:
    """A free volume of the claim's class, as large as asked and offering every access mode asked for."""
    spec, claim = pv.get("spec") or {}, pvc.get("spec") or {}
    if spec.get("claimRef") or _phase(pv) != "Available" or (spec.get("storageClassName") or "") != class_name:
        return False
    wanted = ((claim.get("resources") or {}).get("requests") or {}).get("storage", "0")
    have = (spec.get("capacity") or {}).get("storage", "0")
    modes = set(claim.get("accessModes") or [])
    try:
        big_enough = parse_quantity(have) >= parse_quantity(wanted)
    except api_errors.ApiError:
        return False
    return big_enough and modes <= set(spec.get("accessModes") or [])


class VolumeController:
    """The PV controller, with the dynamic provisioner when `provision` (see the module docstring)."""

    def __init__(self, store: Store, *, clock: Clock, provision: bool = True) -> None:
        self._store = store
        self._clock = clock
        self.provision = provision
        self._unsubscribe = None

    def start(self) -> None:
        """Subscribe, and settle the claims and volumes that exist already."""
        if self._unsubscribe is not None:
            return
        self._unsubscribe = self._store.subscribe(self._on_change, copy=False)
        for pv in self._store.list("persistentvolumes", copy=False).items:
            self._sync_volume(pv)
        for pvc in self._store.list("persistentvolumeclaims", copy=False).items:
            self._sync_claim(pvc)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_change(self, change: Change) -> None:
        if change.resource not in ("persistentvolumes", "persistentvolumeclaims"):
            return
        meta = change.object["metadata"]
        try:
            if change.type == DELETED:
                if change.resource == "persistentvolumeclaims":
                    self._release(change.object)
                return
            # the latest version: the changes this controller's own writes queue may be stale by now
            latest = self._store.get(change.resource, meta["name"], namespace=meta.get("namespace"), copy=False)
            if change.resource == "persistentvolumes":
                self._sync_volume(latest)
            else:
                self._sync_claim(latest)
        except api_errors.ApiError as exc:  # raced with another writer: the next change settles it
            log.debug("volume controller: %s", exc.message)

    # -- volumes ---------------------------------------------------------------------------------------------

    def _sync_volume(self, pv: JSON) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            if _phase(pv) in ("", "Pending"):
                self._set_phase(pv, "Available")
            return
        if _phase(pv) == "Bound":
            return
        try:
            pvc = self._store.get("persistentvolumeclaims", ref.get("name", ""), namespace=ref.get("namespace"))
        except api_errors.ApiError:
            # syncVolume: reserved for a claim to come (no uid) is Available; its claim gone, Released
            phase = "Released" if ref.get("uid") else "Available"
            if _phase(pv) != phase:
                self._set_phase(pv, phase)
            return
        if ref.get("uid") and ref["uid"] != pvc["metadata"].get("uid"):
            return
        if (pvc.get("spec") or {}).get("volumeName") not in (None, "", pv["metadata"]["name"]):
            return
        self._bind(pv, pvc)

    def _set_phase(self, pv: JSON, phase: str) -> None:
        self._store.modify(
            "persistentvolumes",
            pv["metadata"]["name"],
            lambda old: {**old, "status": {**(old.get("status") or {}), "phase": phase}},
            subresource="status",
            copy=False,
        )

    def _bind(self, pv: JSON, pvc: JSON) -> None:
        """Bind both ways: the claim's volume name and annotations, then both statuses (`bindVolumeToClaim`...)."""
        name, ns, claim = pv["metadata"]["name"], pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        by_controller = not (pvc.get("spec") or {}).get("volumeName")

        def claim_volume(old: JSON) -> JSON:
            annotations = {**(old["metadata"].get("annotations") or {}), BIND_COMPLETED: "yes"}
            if by_controller:
                annotations[BOUND_BY_CONTROLLER] = "yes"
            spec = {**(old.get("spec") or {}), "volumeName": name}
            return {**old, "metadata": {**old["metadata"], "annotations": annotations}, "spec": spec}

        bound = self._store.modify("persistentvolumeclaims", claim, claim_volume, namespace=ns, copy=False)

        def volume_claimed(old: JSON) -> JSON:
            spec = {**(old.get("spec") or {}), "claimRef": _claim_ref(bound)}
            return {**old, "spec": spec}

        self._store.modify("persistentvolumes", name, volume_claimed, copy=False)
        self._set_phase(pv, "Bound")
        pv_spec = pv.get("spec") or {}

        def claim_bound(old: JSON) -> JSON:
            status = {
                **(old.get("status") or {}),
                "phase": "Bound",
                "capacity": dict(pv_spec.get("capacity") or {}),
                "accessModes": list(pv_spec.get("accessModes") or []),
            }
            return {**old, "status": status}

        self._store.modify("persistentvolumeclaims", claim, claim_bound, namespace=ns, subresource="status", copy=False)

    # -- claims ----------------------------------------------------------------------------------------------

    def _sync_claim(self, pvc: JSON) -> None:
        if _phase(pvc) == "Bound" or pvc["metadata"].get("deletionTimestamp"):
            return
        spec, meta = pvc.get("spec") or {}, pvc["metadata"]
        if spec.get("volumeName"):
            self._claim_named_volume(pvc, spec["volumeName"])
            return
        volumes = self._store.list("persistentvolumes", copy=False).items
        prebound = next((pv for pv in volumes if _claims(pv, pvc)), None)
        if prebound is not None:  # a volume made for this claim before it existed
            self._bind(prebound, pvc)
            return
        classes = self._store.list("storageclasses", copy=False).items
        if "storageClassName" not in spec:
            default = default_class(classes)
            if default is not None:
                self._store.modify(
                    "persistentvolumeclaims",
                    meta["name"],
                    lambda old: {**old, "spec": {**old["spec"], "storageClassName": default["metadata"]["name"]}},
                    namespace=meta["namespace"],
                    copy=False,
                )
            return
        class_name = spec.get("storageClassName") or ""
        storage_class = next((c for c in classes if c["metadata"]["name"] == class_name), None)
        if storage_class is None:
            return
        waits = storage_class.get("volumeBindingMode") == "WaitForFirstConsumer"
        if not waits:
            free = [pv for pv in volumes if _fits(pv, pvc, class_name)]
            if free:
                smallest = min(free, key=lambda pv: parse_quantity(pv["spec"]["capacity"]["storage"]))
                self._bind(smallest, pvc)
                return
        provisioner = storage_class.get("provisioner") or ""
        if not self.provision or not provisioner or provisioner == NO_PROVISIONER:
            return
        node_name = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if waits and not node_name:
            return  # waits for the scheduler to pick the first consumer's node
        self._provision(pvc, storage_class, node_name)

    def _claim_named_volume(self, pvc: JSON, volume: str) -> None:
        try:
            pv = self._store.get("persistentvolumes", volume, copy=False)
        except api_errors.ApiError:
            return  # the claim waits for the volume it names
        if not (pv.get("spec") or {}).get("claimRef") or _claims(pv, pvc):
            self._bind(pv, pvc)

    def _provision(self, pvc: JSON, storage_class: JSON, node_name: str | None) -> None:
        meta = pvc["metadata"]
        provisioner = storage_class["provisioner"]
        affinity = None
        if node_name:
            try:
                node = self._store.get("nodes", node_name, copy=False)
            except api_errors.ApiError:
                return  # a selected node that does not exist: the provisioner cannot place the volume
            csinode = next(
                (c for c in self._store.list("csinodes", copy=False).items if c["metadata"]["name"] == node_name), None
            )
            affinity = node_affinity(node, csinode, provisioner)
            if self._tracks_capacity(provisioner):
                capacities = self._store.list("csistoragecapacities", copy=False).items
                if not room_for(pvc, storage_class["metadata"]["name"], node, capacities):
                    self._reschedule(pvc)
                    return
        if (meta.get("annotations") or {}).get(STORAGE_PROVISIONER) != provisioner:
            pvc = self._store.modify(
                "persistentvolumeclaims",
                meta["name"],
                lambda old: {
                    **old,
                    "metadata": {
                        **old["metadata"],
                        "annotations": {**(old["metadata"].get("annotations") or {}), STORAGE_PROVISIONER: provisioner},
                    },
                },
                namespace=meta["namespace"],
                copy=False,
            )
            return  # this write comes back as a change, which provisions
        try:
            self._store.create("persistentvolumes", provisioned_volume(pvc, storage_class, affinity), copy=False)
        except api_errors.ApiError as exc:
            if exc.code != 409:
                raise  # 409: provisioned already, the volume's own change binds it

    def _tracks_capacity(self, provisioner: str) -> bool:
        """Whether the provisioner's CSIDriver opts into storage capacity tracking."""
        try:
            driver = self._store.get("csidrivers", provisioner, copy=False)
        except api_errors.ApiError:
            return False
        return (driver.get("spec") or {}).get("storageCapacity") is True

    def _reschedule(self, pvc: JSON) -> None:
        """ResourceExhausted for the selected node: drop `volume.kubernetes.io/selected-node`, so the scheduler
        picks again (external-provisioner's `ProvisioningReschedule`)."""
        meta = pvc["metadata"]
        log.info("volume controller: no capacity for %s/%s on its selected node", meta["namespace"], meta["name"])

        def unselected(old: JSON) -> JSON:
            annotations = {k: v for k, v in (old["metadata"].get("annotations") or {}).items() if k != SELECTED_NODE}
            return {**old, "metadata": {**old["metadata"], "annotations": annotations}}

        self._store.modify("persistentvolumeclaims", meta["name"], unselected, namespace=meta["namespace"], copy=False)

    def _release(self, pvc: JSON) -> None:
        volume = (pvc.get("spec") or {}).get("volumeName")
        if not volume:
            return
        try:
            pv = self._store.get("persistentvolumes", volume, copy=False)
        except api_errors.ApiError:
            return
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") and ref["uid"] != pvc["metadata"].get("uid"):
            return
        provisioned = PROVISIONED_BY in (pv["metadata"].get("annotations") or {})
        if provisioned and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            self._store.delete("persistentvolumes", volume, copy=False)
        else:
            self._set_phase(pv, "Released")
