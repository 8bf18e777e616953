"""VolumeBinding: a pod's claims must be bound, or bindable, on the node.

Mirrors `pkg/scheduler/framework/plugins/volumebinding` (v1.36) and its binder (`binder.go`'s
`GetPodVolumeClaims`, `FindPodVolumes`, `AssumePodVolumes`/`BindPodVolumes`): PreFilter rejects a pod whose
claim does not exist, is being deleted, or is an unbound `Immediate` claim, and narrows the nodes to those its
bound local volumes are pinned to by hostname (`GetEligibleNodes`); Filter checks bound claims'
volume node affinity, and for unbound `WaitForFirstConsumer` claims looks for an available volume that
matches on the node (`FindMatchingVolume`) or else for a class whose provisioner may provision there
(`allowedTopologies`) and, when its CSIDriver opts into capacity tracking (`spec.storageCapacity`), has room there
(`hasEnoughCapacity`: a CSIStorageCapacity of the class whose `nodeTopology` holds the node and whose
`maximumVolumeSize`, else `capacity`, holds the request). `plan` is PreBind's half: which volumes get a claimRef and
which claims the `volume.kubernetes.io/selected-node` annotation, for the chosen node.
"""

from dataclasses import dataclass

import numpy as np

from cluster.objects import Pod
from cluster.snapshot import Snapshot
from cluster.volumes import NO_PROVISIONER, Claim, Volume, Volumes, may_match
from scoring.framework import Failures, PodInfo

NAME = "VolumeBinding"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_REASON_NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
LOST = "Lost"
HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class PodClaims:
    """`GetPodVolumeClaims`: the pod's claims split as the binder splits them, or why they cannot be read."""

    bound: tuple[Claim, ...] = ()
    to_bind: tuple[Claim, ...] = ()
    """Unbound claims of `WaitForFirstConsumer` classes: bound, or provisioned, for the chosen node."""
    immediate: tuple[Claim, ...] = ()
    """Unbound claims of `Immediate` classes: the PV controller's to bind, the pod waits."""
    error: str = ""


def pod_claims(pod: Pod, volumes: Volumes) -> PodClaims:
    """The pod's claims by kind, with upstream's message for the first that cannot be used."""
    bound: list[Claim] = []
    to_bind: list[Claim] = []
    immediate: list[Claim] = []
    for name, ephemeral in pod.claims:
        claim = volumes.claim(pod.namespace, name)
        if claim is None:
            if ephemeral:
                return PodClaims(
                    error=f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                )
            return PodClaims(error=f'persistentvolumeclaim "{name}" not found')
        if claim.phase == LOST:
            return PodClaims(
                error=f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume "{claim.volume_name}"'
            )
        if claim.deleting:
            return PodClaims(error=f'persistentvolumeclaim "{name}" is being deleted')
        if ephemeral and pod.uid and pod.uid not in claim.owners:
            return PodClaims(error=f"PVC {claim.key} was not created for pod {pod.key} (pod is not owner)")
        if claim.bound:
            bound.append(claim)
            continue
        if not claim.storage_class or claim.volume_name:
            immediate.append(claim)
            continue
        storage_class = volumes.classes.get(claim.storage_class)
        if storage_class is None:
            return PodClaims(error=f'storageclass.storage.k8s.io "{claim.storage_class}" not found')
        (to_bind if storage_class.wait_for_first_consumer else immediate).append(claim)
    return PodClaims(tuple(bound), tuple(to_bind), tuple(immediate))


def local_node_names(volume: Volume) -> set[str]:
    """`GetLocalPersistentVolumeNodeNames`: the nodes a volume's affinity names by `kubernetes.io/hostname In`, each
    term's expressions intersected and the terms united; empty when it names none."""
    names: set[str] = set()
    for term in volume.node_affinity or ():
        term_names: set[str] | None = None
        for req in term.match_expressions:
            if req.key == HOSTNAME and req.operator == "In":
                term_names = set(req.values) if term_names is None else term_names & set(req.values)
        names |= term_names or set()
    return names


def eligible_nodes(bound: tuple[Claim, ...], volumes: Volumes) -> set[str] | None:
    """`GetEligibleNodes`: the nodes every bound local volume of the pod is pinned to, None when none is pinned."""
    eligible: set[str] | None = None
    for claim in bound:
        volume = volumes.volumes.get(claim.volume_name)
        names = local_node_names(volume) if volume is not None else set()
        if names:
            eligible = names if eligible is None else eligible & names
    return eligible


def affinity_mask(volume: Volume, snapshot: Snapshot) -> np.ndarray:
    """`CheckNodeAffinity` for every node: the volume's required node affinity, all nodes when it has none."""
    if volume.node_affinity is None:
        return np.ones(len(snapshot), dtype=bool)
    mask = np.zeros(len(snapshot), dtype=bool)
    for term in volume.node_affinity:
        mask |= snapshot.table.labels.term(term)
    return mask


def provisionable_mask(claim: Claim, snapshot: Snapshot) -> np.ndarray:
    """`checkVolumeProvisions` for every node: the class has a provisioner and its `allowedTopologies` (none
    means anywhere) hold the node."""
    storage_class = snapshot.volumes.classes.get(claim.storage_class)
    if storage_class is None or storage_class.provisioner in ("", NO_PROVISIONER):
        return np.zeros(len(snapshot), dtype=bool)
    if not storage_class.allowed_topologies:
        return np.ones(len(snapshot), dtype=bool)
    mask = np.zeros(len(snapshot), dtype=bool)
    for term in storage_class.allowed_topologies:
        mask |= snapshot.table.labels.term(term)
    return mask


def capacity_mask(claim: Claim, snapshot: Snapshot) -> np.ndarray:
    """`hasEnoughCapacity` for every node: all nodes unless the class's provisioner is a CSIDriver that opts into
    capacity tracking; then the nodes some CSIStorageCapacity of the claim's class reaches (`nodeTopology` matching
    the node's labels; none means unavailable) with room for the request."""
    volumes = snapshot.volumes
    storage_class = volumes.classes.get(claim.storage_class)
    driver = volumes.drivers.get(storage_class.provisioner) if storage_class is not None else None
    if driver is None or not driver.storage_capacity:
        return np.ones(len(snapshot), dtype=bool)
    mask = np.zeros(len(snapshot), dtype=bool)
    for capacity in volumes.capacities.values():
        topology = capacity.node_topology
        if topology is None or capacity.storage_class != claim.storage_class:
            continue
        if capacity.sufficient(claim.request):
            mask |= snapshot.table.labels.selector(topology)
    return mask


@dataclass(frozen=True)
class Plan:
    """PreBind's work on one node: the volumes to bind to claims (claimRef), the claims to provision there."""

    bind: tuple[tuple[Volume, Claim], ...] = ()
    provision: tuple[Claim, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.bind and not self.provision


class _Matcher:
    """`FindPodVolumes` for the pod's unbound claims, node by node, with each candidate volume's node mask
    computed once for all nodes."""

    def __init__(self, claims: tuple[Claim, ...], snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.selected = tuple(c for c in claims if c.selected_node)
        """Claims already selected for a node, in the pod's order: provisioned there, never matched."""
        # the binder matches the smallest first (a stable sort: equal requests keep the pod's order)
        self.claims = tuple(sorted((c for c in claims if not c.selected_node), key=lambda c: c.request))
        volumes = snapshot.volumes.volumes.values()
        self.candidates = {c.key: [v for v in volumes if may_match(v, c)] for c in self.claims}
        self.masks = {v.name: affinity_mask(v, snapshot) for vs in self.candidates.values() for v in vs}
        self.provisionable = {c.key: provisionable_mask(c, snapshot) for c in claims}
        self.capacity = {c.key: capacity_mask(c, snapshot) for c in claims}

    def unbindable(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        """Per reason (a bind conflict, not enough free storage), the nodes where the claims cannot all be bound or
        provisioned for it. Nodes alike in every mask the matching reads (each volume's affinity, each class's
        topologies, each driver's capacity, each claim's selected node) get one answer, so a thousand nodes cost as
        many matchings as there are distinct kinds of node."""
        n = len(self.snapshot)
        rows = [*self.masks.values(), *self.provisionable.values(), *self.capacity.values()]
        for claim in self.selected:
            selected = np.zeros(n, dtype=bool)
            i = self.snapshot.node_index(claim.selected_node)
            if i is not None:
                selected[i] = True
            rows.append(selected)
        out = {ERR_REASON_BIND_CONFLICT: np.zeros(n, dtype=bool), ERR_REASON_NOT_ENOUGH_SPACE: np.zeros(n, dtype=bool)}
        if not len(candidates):
            return out
        kinds = np.packbits(np.stack(rows)[:, candidates], axis=0).T
        _, first, kind_of = np.unique(kinds, axis=0, return_index=True, return_inverse=True)
        answers = [self.plan(int(candidates[j])) for j in first]
        for reason, mask in out.items():
            failing = np.array([answer == reason for answer in answers], dtype=bool)
            mask[candidates] = failing[kind_of.reshape(-1)]
        return out

    def plan(self, i: int) -> Plan | str:
        """The binding plan on node `i`, or why the claims do not fit there, as `FindPodVolumes` decides: a claim
        selected for another node is a bind conflict at once; the others are matched to volumes, smallest first;
        then the claims to provision (the selected ones, then the unmatched) are checked in turn, the first failure
        deciding: no provisioner or a topology the class does not allow is a bind conflict, no room reported by the
        driver (`hasEnoughCapacity`) is not enough free storage."""
        name = self.snapshot.names[i]
        if any(claim.selected_node != name for claim in self.selected):
            return ERR_REASON_BIND_CONFLICT
        chosen: set[str] = set()
        bind, unmatched = [], []
        for claim in self.claims:
            volume = self._match(claim, i, chosen)
            if volume is None:
                unmatched.append(claim)
                continue
            chosen.add(volume.name)
            bind.append((volume, claim))
        provision = (*self.selected, *unmatched)
        for claim in provision:
            if not self.provisionable[claim.key][i]:
                return ERR_REASON_BIND_CONFLICT
            if not self.capacity[claim.key][i]:
                return ERR_REASON_NOT_ENOUGH_SPACE
        return Plan(tuple(bind), provision)

    def _match(self, claim: Claim, i: int, chosen: set[str]) -> Volume | None:
        """A volume pre-bound to the claim (if it fits the node, else nothing), else the smallest that fits."""
        best: Volume | None = None
        for volume in self.candidates[claim.key]:
            if volume.name in chosen:
                continue
            fits = bool(self.masks[volume.name][i])
            if volume.bound_to(claim):
                return volume if fits else None
            if fits and (best is None or volume.capacity < best.capacity):
                best = volume
        return best


def plan(pod: Pod, node: str, snapshot: Snapshot) -> Plan:
    """PreBind's plan for `pod` on `node`: empty when the pod has no unbound `WaitForFirstConsumer` claim.

    Raises `VolumeBindingError` when the claims no longer fit the node (the view changed since the decision).
    """
    claims = pod_claims(pod, snapshot.volumes)
    if claims.error:
        raise VolumeBindingError(claims.error)
    if not claims.to_bind:
        return Plan()
    i = snapshot.node_index(node)
    found = ERR_REASON_BIND_CONFLICT if i is None else _Matcher(claims.to_bind, snapshot).plan(i)
    if isinstance(found, str):
        raise VolumeBindingError(f"node {node}: {found}")
    return found


class VolumeBindingError(RuntimeError):
    """The pod's claims cannot be bound on the chosen node any more."""


class VolumeBinding:
    name = NAME

    def pre_filter(self, pod: PodInfo, snapshot: Snapshot) -> tuple[set[str] | None, str | None]:
        """Reject a pod whose claims are missing, being deleted, or unbound with `Immediate` binding."""
        if not pod.pod.claims:
            return None, None
        claims = pod_claims(pod.pod, snapshot.volumes)
        if claims.error:
            return None, claims.error
        if claims.immediate:
            return None, ERR_REASON_UNBOUND_IMMEDIATE
        return eligible_nodes(claims.bound, snapshot.volumes), None

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> Failures:
        if not pod.pod.claims:
            return {}
        claims = pod_claims(pod.pod, snapshot.volumes)
        reasons: list[tuple[np.ndarray, str]] = []
        volumes = [snapshot.volumes.volumes.get(c.volume_name) for c in claims.bound]
        if any(v is None for v in volumes):
            reasons.append((np.ones(len(snapshot), dtype=bool), ERR_REASON_PV_NOT_EXIST))
        else:
            conflict = np.zeros(len(snapshot), dtype=bool)
            for volume in volumes:
                if volume is not None:
                    conflict |= ~affinity_mask(volume, snapshot)
            reasons.append((conflict, ERR_REASON_NODE_CONFLICT))
        if claims.to_bind:
            unbindable = _Matcher(claims.to_bind, snapshot).unbindable(candidates)
            reasons.extend((mask, reason) for reason, mask in unbindable.items())
        failures: dict[int, list[str]] = {}
        for mask, reason in reasons:
            for i in candidates[mask[candidates]].tolist():
                failures.setdefault(i, []).append(reason)
        return {i: tuple(r) for i, r in failures.items()}


def new(_: dict) -> VolumeBinding:
    return VolumeBinding()
