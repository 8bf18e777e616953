"""The volume filters, case by case from kube-scheduler's own unit tests (names and version in each id).

VolumeBinding: `TestVolumeBinding` (volumebinding/volume_binding_test.go) and `TestFindPodVolumesWithoutProvisioning`
/ `TestFindPodVolumesWithProvisioning` (volumebinding/binder_test.go), kubernetes v1.36, and `TestCapacity`
(the same file, kubernetes v1.32: CSIStorageCapacity); VolumeZone: `TestSingleZone`
(volumezone/volume_zone_test.go); VolumeRestrictions: `TestAccessModeConflicts` (volumerestrictions/
volume_restrictions_test.go); NodeVolumeLimits: `TestCSILimits` (nodevolumelimits/csi_test.go). The upstream fixtures
are rebuilt as API JSON and run through the whole default filter chain, so the reasons are the ones a user would read.
"""

import re
from dataclasses import replace
from typing import Any

import pytest

from cluster.snapshot import Snapshot
from cluster.volumes import (
    Volumes,
    parse_claim,
    parse_csidriver,
    parse_csinode,
    parse_storage_capacity,
    parse_storage_class,
    parse_volume,
)
from scoring.framework import PodInfo
from scoring.plugins import volume_binding
from scoring.preemption import preempt
from scoring.runtime import Profile, run_filters
from tests.builders import make_node, make_pod

BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ZONE_CONFLICT = "node(s) had no available volume zone"
MAX_VOLUMES = "node(s) exceed max volume count"
NS = "testns"
CLAIM_VOLUME = {"name": "data", "persistentVolumeClaim": {"claimName": "claim-with-rwop-1"}}


def claim(name: str, cls: str = "wait", *, request: str = "1G", bound: str = "", phase: str = "", **extra: Any) -> dict:
    annotations = {"pv.kubernetes.io/bind-completed": "yes"} if bound and phase != "unfinished" else {}
    annotations.update(extra.pop("annotations", {}))
    spec = {"storageClassName": cls, "resources": {"requests": {"storage": request}}, "volumeName": bound, **extra}
    meta = {"name": name, "namespace": NS, "uid": f"uid-{name}", "annotations": annotations}
    return {"metadata": meta, "spec": spec, "status": {"phase": phase or ("Bound" if bound else "Pending")}}


def volume(
    name: str, cls: str = "wait", *, size: str = "1G", node: str | None = None, ref: str = "", **extra: Any
) -> dict:
    spec: dict[str, Any] = {"storageClassName": cls, "capacity": {"storage": size}, **extra.pop("spec", {})}
    if node is not None:
        term = {"matchExpressions": [{"key": "nodeKey", "operator": "In", "values": [node]}]}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    if ref:
        spec["claimRef"] = {"namespace": NS, "name": ref, "uid": f"uid-{ref}"}
    meta = {"name": name, "labels": extra.pop("labels", {})}
    return {"metadata": meta, "spec": spec, "status": {"phase": "Bound" if ref else "Available"}}


CLASSES = [
    {
        "metadata": {"name": "wait"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "provisioner": "kubernetes.io/no-provisioner",
    },
    {"metadata": {"name": "immediate"}, "volumeBindingMode": "Immediate"},
    {
        "metadata": {"name": "provisioned"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "provisioner": "test-provisioner",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "nodeKey", "values": ["node1", "reference-value"]}]}],
    },
    {
        "metadata": {"name": "topo-mismatch"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "provisioner": "test-provisioner",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "nodeKey", "values": ["reference-value"]}]}],
    },
]


def volumes_of(claims=(), pvs=(), csinodes=(), drivers=(), capacities=()) -> Volumes:
    return Volumes(
        claims={f"{c.namespace}/{c.name}": c for c in map(parse_claim, claims)},
        volumes={v.name: v for v in map(parse_volume, pvs)},
        classes={c.name: c for c in map(parse_storage_class, CLASSES)},
        csinodes={c.name: c for c in map(parse_csinode, csinodes)},
        drivers={d.name: d for d in map(parse_csidriver, drivers)},
        capacities={f"{c.namespace}/{c.name}": c for c in map(parse_storage_capacity, capacities)},
    )


def pod_with(*claims: str, name: str = "test-pod", node: str = "", ephemeral: str = "") -> Any:
    vols: list[dict] = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
    if ephemeral:
        vols.append({"name": ephemeral, "ephemeral": {"volumeClaimTemplate": {"spec": {}}}})
    return make_pod(name, namespace=NS, node=node, spec={"volumes": vols})


def outcome(pod, volumes: Volumes, nodes=None, existing=()):
    nodes = nodes or [make_node("node1", labels={"nodeKey": "node1"})]
    snapshot = Snapshot.build(nodes, existing, volumes=volumes)
    return run_filters(Profile.build(weights={}), PodInfo.of(pod, snapshot), snapshot), snapshot


BINDING = [
    pytest.param((), [], [], {}, "", id="TestVolumeBinding v1.36 'pod has not pvcs': every node passes"),
    pytest.param(
        ("pvc-a",), [claim("pvc-a", bound="pv-a")], [volume("pv-a")], {}, "", id="TestVolumeBinding 'all bound'"
    ),
    pytest.param(
        ("pvc-a",), [], [], {}, 'persistentvolumeclaim "pvc-a" not found', id="TestVolumeBinding 'PVC does not exist'"
    ),
    pytest.param(
        ("pvc-a", "pvc-b"),
        [claim("pvc-a", bound="pv-a")],
        [volume("pv-a")],
        {},
        'persistentvolumeclaim "pvc-b" not found',
        id="TestVolumeBinding 'Part of PVCs do not exist'",
    ),
    pytest.param(
        ("pvc-a",),
        [claim("pvc-a", "immediate")],
        [],
        {},
        "pod has unbound immediate PersistentVolumeClaims",
        id="TestVolumeBinding 'immediate claims not bound'",
    ),
    pytest.param(
        ("pvc-a",),
        [claim("pvc-a")],
        [],
        {"node1": BIND_CONFLICT},
        "",
        id="TestVolumeBinding 'unbound claims no matches'",
    ),
    pytest.param(
        ("pvc-a", "pvc-b"),
        [claim("pvc-a", bound="pv-a"), claim("pvc-b")],
        [volume("pv-a", node="other", ref="pvc-a")],
        {"node1": f"{NODE_CONFLICT}, {BIND_CONFLICT}"},
        "",
        id="TestVolumeBinding 'bound and unbound unsatisfied': both reasons, node conflict first",
    ),
    pytest.param(
        ("pvc-a",),
        [claim("pvc-a", bound="pv-a")],
        [],
        {"node1": PV_NOT_EXIST},
        "",
        id="TestVolumeBinding 'pv not found'",
    ),
    pytest.param(
        ("pvc-a",),
        [claim("pvc-a", bound="pv-a", phase="Lost")],
        [],
        {},
        'persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "pv-a"',
        id="TestVolumeBinding 'pv not found claim lost'",
    ),
    pytest.param(
        ("prebound-pvc",),
        [claim("prebound-pvc", bound="pv-node1a", phase="unfinished")],
        [volume("pv-node1a", size="5G", node="node1", ref="unbound-pvc")],
        {},
        "pod has unbound immediate PersistentVolumeClaims",
        id="TestFindPodVolumesWithoutProvisioning 'prebound-pvc': a volumeName without bind-completed is not bound",
    ),
    pytest.param(
        ("unbound-pvc",),
        [claim("unbound-pvc")],
        [volume("pv-node2", node="node2")],
        {"node1": BIND_CONFLICT},
        "",
        id="TestFindPodVolumesWithoutProvisioning 'unbound-pvc,pv-different-node'",
    ),
    pytest.param(
        ("unbound-pvc", "unbound-pvc2"),
        [claim("unbound-pvc"), claim("unbound-pvc2", request="5G")],
        [volume("pv-node1a", size="5G", node="node1")],
        {"node1": BIND_CONFLICT},
        "",
        id="TestFindPodVolumesWithoutProvisioning 'two-unbound-pvcs,partial-match': one volume cannot serve two claims",
    ),
    pytest.param(
        ("immediate-bound-pvc",),
        [claim("immediate-bound-pvc", "immediate", bound="pv-bound-immediate")],
        [volume("pv-bound-immediate", "immediate", node="node2", ref="immediate-bound-pvc")],
        {"node1": NODE_CONFLICT},
        "",
        id="TestFindPodVolumesWithoutProvisioning 'immediate-bound-pvc-wrong-node'",
    ),
    pytest.param(
        ("no-provisioner-pvc",),
        [claim("no-provisioner-pvc", request="1Gi")],
        [],
        {"node1": BIND_CONFLICT},
        "",
        id="TestFindPodVolumesWithProvisioning 'invalid-provisioner'",
    ),
    pytest.param(
        ("topo-mismatch-pvc",),
        [claim("topo-mismatch-pvc", "topo-mismatch", request="1Gi")],
        [],
        {"node1": BIND_CONFLICT},
        "",
        id="TestFindPodVolumesWithProvisioning 'volume-topology-unsatisfied': allowedTopologies exclude the node",
    ),
    pytest.param(
        ("provisioned-pvc",),
        [
            claim(
                "provisioned-pvc",
                "provisioned",
                request="1Gi",
                annotations={"volume.kubernetes.io/selected-node": "node2"},
            )
        ],
        [],
        {"node1": BIND_CONFLICT},
        "",
        id="binder.go FindPodVolumes: a claim already selected for another node does not fit this one",
    ),
]


@pytest.mark.parametrize(("claims", "pvcs", "pvs", "expected", "rejection"), BINDING)
def test_volume_binding_reasons(claims, pvcs, pvs, expected, rejection):
    result, snapshot = outcome(pod_with(*claims), volumes_of(pvcs, pvs))
    assert result.pre_filter_message == rejection
    if not rejection:
        assert result.reasons_by_node(snapshot.names) == expected


def test_a_missing_claim_is_unschedulable_with_upstreams_message():
    result, _ = outcome(pod_with("data-redis-0"), volumes_of())
    assert result.message == '0/1 nodes are available: persistentvolumeclaim "data-redis-0" not found.'


PLANS = [
    pytest.param(
        ("unbound-pvc",),
        [claim("unbound-pvc")],
        [
            volume("pv-node2", node="node2"),
            volume("pv-node1a", size="5G", node="node1"),
            volume("pv-node1b", size="10G", node="node1"),
        ],
        [("pv-node1a", "unbound-pvc")],
        [],
        id="TestFindPodVolumesWithoutProvisioning 'unbound-pvc,pv-same-node': the smallest volume on the node",
    ),
    pytest.param(
        ("unbound-pvc2", "unbound-pvc"),
        [claim("unbound-pvc"), claim("unbound-pvc2", request="5G")],
        [volume("pv-node1a", size="5G", node="node1"), volume("pv-node1b", size="10G", node="node1")],
        [("pv-node1a", "unbound-pvc"), ("pv-node1b", "unbound-pvc2")],
        [],
        id="TestFindPodVolumesWithoutProvisioning 'two-unbound-pvcs,order-by-size': smaller claims match first",
    ),
    pytest.param(
        ("unbound-pvc", "provisioned-pvc"),
        [claim("unbound-pvc"), claim("provisioned-pvc", "provisioned", request="1Gi")],
        [volume("pv-node1a", size="5G", node="node1")],
        [("pv-node1a", "unbound-pvc")],
        ["provisioned-pvc"],
        id="TestFindPodVolumesWithProvisioning 'two-unbound-pvcs,one-matched,one-provisioned'",
    ),
    pytest.param(
        ("bound-pvc", "provisioned-pvc"),
        [claim("bound-pvc", bound="pv-bound"), claim("provisioned-pvc", "provisioned", request="1Gi")],
        [volume("pv-bound", node="node1", ref="bound-pvc")],
        [],
        ["provisioned-pvc"],
        id="TestFindPodVolumesWithProvisioning 'one-bound,one-provisioned'",
    ),
    pytest.param(
        ("unbound-pvc",),
        [claim("unbound-pvc")],
        [
            volume("pv-other", size="1G", node="node1", ref="someone-else"),
            volume("pv-mine", size="50G", node="node1", ref="unbound-pvc"),
        ],
        [("pv-mine", "unbound-pvc")],
        [],
        id="FindMatchingVolume: the volume pre-bound to the claim wins over a smaller one; one bound elsewhere is out",
    ),
]


@pytest.mark.parametrize(("claims", "pvcs", "pvs", "bind", "provision"), PLANS)
def test_pre_bind_plan(claims, pvcs, pvs, bind, provision):
    pod = pod_with(*claims)
    result, snapshot = outcome(pod, volumes_of(pvcs, pvs))
    assert result.reasons_by_node(snapshot.names) == {}
    plan = volume_binding.plan(pod, "node1", snapshot)
    assert [(v.name, c.name) for v, c in plan.bind] == bind
    assert [c.name for c in plan.provision] == provision


def test_plan_refuses_a_node_the_claims_no_longer_fit():
    pod = pod_with("unbound-pvc")
    nodes = [make_node("node1", labels={"nodeKey": "node1"}), make_node("node2", labels={"nodeKey": "node2"})]
    snapshot = Snapshot.build(nodes, volumes=volumes_of([claim("unbound-pvc")], [volume("pv-node1a", node="node1")]))
    with pytest.raises(volume_binding.VolumeBindingError, match=re.escape("node node2: node(s) didn't find available")):
        volume_binding.plan(pod, "node2", snapshot)


def test_generic_ephemeral_volumes():
    """TestFindPodVolumesWithoutProvisioning 'generic-ephemeral,no-pvc' and 'generic-ephemeral,wrong-pvc'."""
    pod = pod_with(ephemeral="test-volume")
    result, _ = outcome(pod, volumes_of())
    assert result.pre_filter_message == (
        'waiting for ephemeral volume controller to create the persistentvolumeclaim "test-pod-test-volume"'
    )
    pod = replace(pod, uid="pod-uid")
    made = claim("test-pod-test-volume", bound="pv-bound")
    made["metadata"]["ownerReferences"] = [{"uid": "someone-else", "kind": "Pod", "name": "x"}]
    result, _ = outcome(pod, volumes_of([made], [volume("pv-bound")]))
    assert result.pre_filter_message == (
        "PVC testns/test-pod-test-volume was not created for pod testns/test-pod (pod is not owner)"
    )
    made["metadata"]["ownerReferences"] = [{"uid": "pod-uid", "kind": "Pod", "name": "test-pod"}]
    result, _ = outcome(pod, volumes_of([made], [volume("pv-bound")]))
    assert result.pre_filter_message == ""


ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"

ZONES = [
    pytest.param(
        {ZONE: "us-west1-a"}, {ZONE: "us-west1-a"}, False, id="TestSingleZone v1.36 'label zone failure domain matched'"
    ),
    pytest.param(
        {ZONE: "us-west1-a"}, {ZONE: "us-west1-b"}, True, id="TestSingleZone 'label zone failure domain failed match'"
    ),
    pytest.param(
        {REGION: "us-west1"}, {REGION: "us-west1", ZONE: "x"}, False, id="TestSingleZone 'label zone region matched'"
    ),
    pytest.param(
        {REGION: "us-west1"}, {REGION: "us-east1"}, True, id="TestSingleZone 'label zone region failed match'"
    ),
    pytest.param(
        {ZONE: "us-west1-a__us-west1-b"},
        {ZONE: "us-west1-b"},
        False,
        id="TestSingleZone: a '__' list of zones holds the node's",
    ),
    pytest.param(
        {BETA_ZONE: "us-west1-a"},
        {ZONE: "us-west1-a"},
        False,
        id="TestSingleZone 'beta zone label matched with GA zone label'",
    ),
    pytest.param({ZONE: "us-west1-a"}, {"uselessLabel": "none"}, False, id="TestSingleZone 'node without labels'"),
]


@pytest.mark.parametrize(("pv_labels", "node_labels", "fails"), ZONES)
def test_volume_zone(pv_labels, node_labels, fails):
    vols = volumes_of([claim("pvc_a", bound="Vol_1")], [volume("Vol_1", ref="pvc_a", labels=pv_labels)])
    result, snapshot = outcome(pod_with("pvc_a"), vols, nodes=[make_node("host1", labels=node_labels)])
    assert result.reasons_by_node(snapshot.names) == ({"host1": ZONE_CONFLICT} if fails else {})


RWOP = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
DISK = "node(s) had no available disk"
TWO_NODES = [make_node("node1", labels={"nodeKey": "node1"}), make_node("node2", labels={"nodeKey": "node2"})]


@pytest.mark.parametrize(
    ("claims", "existing", "failing"),
    [
        pytest.param((), [], {}, id="TestAccessModeConflicts v1.32 'nothing'"),
        pytest.param(
            ("claim-with-rwop-1",), ["claim-with-rwx"], {}, id="TestAccessModeConflicts v1.32 'no access mode conflict'"
        ),
        pytest.param(
            ("claim-with-rwop-1",),
            ["claim-with-rwop-1", "claim-with-rwx"],
            {"node1": RWOP, "node2": RWOP},
            id="TestAccessModeConflicts v1.32 'access mode conflict, unschedulable': every node, preemption may help",
        ),
        pytest.param(
            ("claim-with-rwop-1", "claim-with-rwop-2"),
            ["claim-with-rwop-1", "claim-with-rwop-2", "claim-with-rwx"],
            {"node1": RWOP, "node2": RWOP},
            id="TestAccessModeConflicts v1.32 'two conflicts, unschedulable'",
        ),
        pytest.param(("claim-with-rwx",), ["claim-with-rwx"], {}, id="a ReadWriteMany claim is shared by pods"),
    ],
)
def test_read_write_once_pod(claims, existing, failing):
    rwop = [claim(f"claim-with-rwop-{i}", bound=f"pv-{i}", accessModes=["ReadWriteOncePod"]) for i in (1, 2)]
    rwx = claim("claim-with-rwx", bound="pv-3", accessModes=["ReadWriteMany"])
    pvs = [volume(f"pv-{i}", ref=f"claim-with-rwop-{i}") for i in (1, 2)] + [volume("pv-3", ref="claim-with-rwx")]
    others = [pod_with(c, name=f"other-{i}", node="node1") for i, c in enumerate(existing)]
    result, snapshot = outcome(pod_with(*claims), volumes_of([*rwop, rwx], pvs), nodes=TWO_NODES, existing=others)
    assert result.pre_filter_message == ""
    assert result.reasons_by_node(snapshot.names) == failing


GCE = {"gcePersistentDisk": {"pdName": "foo"}}
GCE_2 = {"gcePersistentDisk": {"pdName": "bar"}}
EBS = {"awsElasticBlockStore": {"volumeID": "foo"}}
EBS_2 = {"awsElasticBlockStore": {"volumeID": "bar"}}
RBD = {"rbd": {"monitors": ["a", "b"], "pool": "foo", "image": "bar", "fsType": "ext4"}}
RBD_2 = {"rbd": {"monitors": ["c", "d"], "pool": "foo", "image": "bar", "fsType": "ext4"}}
ISCSI = {
    "iscsi": {
        "targetPortal": "127.0.0.1:3260",
        "iqn": "iqn.2016-12.server:storage.target01",
        "fsType": "ext4",
        "lun": 0,
    }
}
ISCSI_2 = {
    "iscsi": {
        "targetPortal": "127.0.0.1:3260",
        "iqn": "iqn.2017-12.server:storage.target01",
        "fsType": "ext4",
        "lun": 0,
    }
}


def read_only(source: dict) -> dict:
    [(kind, fields)] = source.items()
    return {kind: {**fields, "readOnly": True}}


def with_volumes(name: str, *sources: dict, node: str = "") -> Any:
    volumes = [{"name": f"v{i}", **source} for i, source in enumerate(sources)]
    return make_pod(name, node=node, spec={"volumes": volumes})


def _disk_cases() -> list[Any]:
    """The four upstream tables (volume_restrictions_test.go, kubernetes v1.32, `pkg/scheduler/backend/cache`
    layout): each disk against an empty node, an unrelated pod, the same disk and another disk."""
    cases = []
    for test, same, other in (
        ("TestGCEDiskConflicts", GCE, GCE_2),
        ("TestAWSDiskConflicts", EBS, EBS_2),
        ("TestRBDDiskConflicts", RBD, RBD_2),
        ("TestISCSIDiskConflicts", ISCSI, ISCSI_2),
    ):
        cases += [
            pytest.param((), [], False, id=f"{test} v1.32 'nothing'"),
            pytest.param((), [same], False, id=f"{test} v1.32 'one state'"),
            pytest.param((same,), [same], True, id=f"{test} v1.32 'same state'"),
            pytest.param((other,), [same], False, id=f"{test} v1.32 'different state'"),
        ]
    return cases


@pytest.mark.parametrize(
    ("mine", "theirs", "conflict"),
    [
        *_disk_cases(),
        pytest.param(
            ({"emptyDir": {}},),
            [],
            False,
            id="TestGCEDiskConflicts v1.32 'pod with a volume that doesn't have restrictions'",
        ),
        pytest.param(
            (read_only(GCE),),
            [read_only(GCE)],
            False,
            id="isVolumeConflict v1.32: one GCE PD mounted read-only by both",
        ),
        pytest.param((read_only(GCE),), [GCE], True, id="isVolumeConflict v1.32: a GCE PD read-write on the node"),
        pytest.param(
            (read_only(EBS),), [read_only(EBS)], True, id="isVolumeConflict v1.32: an EBS volume even read-only"
        ),
        pytest.param(
            (read_only(RBD),), [read_only(RBD)], False, id="isVolumeConflict v1.32: one RBD image read-only by both"
        ),
        pytest.param(
            ({"rbd": {**RBD["rbd"], "monitors": ["b", "z"]}},),
            [RBD],
            True,
            id="isVolumeConflict v1.32: RBD monitors that overlap in one are the same cluster",
        ),
        pytest.param(
            ({"rbd": {"monitors": ["a"], "image": "bar"}},),
            [{"rbd": {"monitors": ["a"], "pool": "rbd", "image": "bar"}}],
            True,
            id="an RBD volume without a pool is in the pool 'rbd' (the API server's default)",
        ),
        pytest.param(
            (read_only(ISCSI),),
            [read_only(ISCSI)],
            False,
            id="isVolumeConflict v1.32: one iSCSI IQN read-only by both",
        ),
        pytest.param((EBS, GCE), [GCE_2, EBS], True, id="any one of the pod's disks in use fails the node"),
    ],
)
def test_inline_disk_conflicts(mine: tuple[dict, ...], theirs: list[dict], conflict: bool) -> None:
    existing = [with_volumes("existing", *theirs, node="node1")] if theirs else []
    result, snapshot = outcome(with_volumes("incoming", *mine), volumes_of(), nodes=TWO_NODES, existing=existing)
    assert result.reasons_by_node(snapshot.names) == ({"node1": DISK} if conflict else {})


def test_preemption_can_free_a_disk_or_a_read_write_once_pod_claim() -> None:
    """Both failures are `Unschedulable` upstream: the dry run removes the holder and the pod fits."""
    rwop = claim("claim-with-rwop-1", bound="pv-1", accessModes=["ReadWriteOncePod"])
    vols = volumes_of([rwop], [volume("pv-1", ref="claim-with-rwop-1")])
    holders = [
        with_volumes("disk-holder", EBS, node="node1"),
        make_pod("claim-holder", namespace=NS, node="node2", spec={"volumes": [CLAIM_VOLUME]}),
    ]
    for incoming, victim in (
        (with_volumes("wants-disk", EBS), "disk-holder"),
        (make_pod("wants-claim", namespace=NS, spec={"volumes": [CLAIM_VOLUME]}), "claim-holder"),
    ):
        urgent = replace(incoming, priority=1000)
        snapshot = Snapshot.build(TWO_NODES, holders, volumes=vols)
        info = PodInfo.of(urgent, snapshot)
        profile = Profile.build(weights={})
        result = run_filters(profile, info, snapshot)
        plan = preempt(urgent, snapshot, result.failures, filters=profile.filters, info=info, budgets=[], now=0.0)
        assert [v.name for v in plan.victims] == [victim]


def csi_volume(name: str, handle: str, driver: str = "ebs.csi.aws.com") -> dict:
    return volume(name, ref=f"pvc-{name}", spec={"csi": {"driver": driver, "volumeHandle": handle}})


def csinode(limit: int | None, driver: str = "ebs.csi.aws.com") -> dict:
    entry: dict[str, Any] = {"name": driver, "nodeID": "node1"}
    if limit is not None:
        entry["allocatable"] = {"count": limit}
    return {"metadata": {"name": "node1"}, "spec": {"drivers": [entry]}}


@pytest.mark.parametrize(
    ("new", "running", "limit", "fails"),
    [
        pytest.param(
            ["a", "b"],
            ["c", "d"],
            4,
            False,
            id="TestCSILimits v1.36 'fits when node volume limit >= new pods CSI volume'",
        ),
        pytest.param(
            ["a", "b"], ["c", "d"], 2, True, id='TestCSILimits "doesn\'t when node volume limit <= pods CSI volume"'
        ),
        pytest.param(["a", "b"], ["a", "b"], 2, False, id="TestCSILimits 'should count in the same volume only once'"),
        pytest.param(["a", "b"], ["c", "d"], None, False, id="TestCSILimits 'a driver without a limit limits nothing'"),
    ],
)
def test_csi_limits(new, running, limit, fails):
    names = sorted(set(new) | set(running))
    pvcs = [claim(f"pvc-{n}", bound=n) for n in names]
    pvs = [csi_volume(n, f"handle-{n}") for n in names]
    vols = volumes_of(pvcs, pvs, [csinode(limit)])
    existing = [pod_with(f"pvc-{n}", name=f"running-{n}", node="node1") for n in running]
    result, snapshot = outcome(pod_with(*[f"pvc-{n}" for n in new]), vols, existing=existing)
    assert result.reasons_by_node(snapshot.names) == ({"node1": MAX_VOLUMES} if fails else {})


def test_csi_limits_count_an_unbound_claim_by_its_provisioner():
    """TestCSILimits 'should count pending PVC's' style: an unbound claim counts against its class's provisioner."""
    vols = volumes_of([claim("pvc-new", "provisioned")], [], [csinode(0, driver="test-provisioner")])
    result, snapshot = outcome(pod_with("pvc-new"), vols)
    assert result.reasons_by_node(snapshot.names) == {"node1": MAX_VOLUMES}


def test_each_node_is_answered_by_the_volumes_it_holds():
    """TestVolumeBinding v1.36 'local volumes with close capacity are preferred' (its filter statuses): two volumes
    pinned to node-a, two to node-b, none to node-c."""
    nodes = [make_node(name, labels={"nodeKey": name}) for name in ("node-a", "node-b", "node-c")]
    pvs = [
        volume(f"pv-{n[-1]}-{k}", size=size, node=n)
        for n, size in (("node-a", "200Gi"), ("node-b", "100Gi"))
        for k in (0, 1)
    ]
    result, snapshot = outcome(pod_with("pvc-a"), volumes_of([claim("pvc-a", request="50Gi")], pvs), nodes=nodes)
    assert result.reasons_by_node(snapshot.names) == {"node-c": BIND_CONFLICT}
    assert [snapshot.names[i] for i in result.feasible] == ["node-a", "node-b"]


def local(name: str, node: str) -> dict:
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
    return volume(name, spec={"nodeAffinity": {"required": {"nodeSelectorTerms": [term]}}})


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        pytest.param(
            ("node-a", "node-a"),
            {"node-b": "node(s) didn't satisfy plugin(s) [VolumeBinding]"},
            id="TestVolumeBinding v1.36 'all bound with local volumes': PreFilter narrows the nodes to node-a",
        ),
        pytest.param(
            ("node-a", "node-b"),
            {n: "node(s) didn't satisfy plugin(s) [VolumeBinding]" for n in ("node-a", "node-b")},
            id="GetEligibleNodes: local volumes on two different nodes leave none",
        ),
    ],
)
def test_bound_local_volumes_narrow_the_nodes(pinned, expected):
    nodes = [make_node("node-a"), make_node("node-b")]
    pvcs = [claim("pvc-a", bound="pv-a"), claim("pvc-b", bound="pv-b")]
    pvs = [local("pv-a", pinned[0]), local("pv-b", pinned[1])]
    result, snapshot = outcome(pod_with("pvc-a", "pvc-b"), volumes_of(pvcs, pvs), nodes=nodes)
    assert result.reasons_by_node(snapshot.names) == expected


NOT_ENOUGH_SPACE = "node(s) did not have enough free storage"
NODE1, NODE2 = "node1", "node2"
SELECTED = "volume.kubernetes.io/selected-node"


def csidriver(storage_capacity: bool | None) -> dict:
    """`makeCSIDriver(provisioner, storageCapacity)`; None leaves the field out."""
    spec = {} if storage_capacity is None else {"storageCapacity": storage_capacity}
    return {"metadata": {"name": "test-provisioner"}, "spec": spec}


def capacity(name: str, cls: str, node: str | None, size: str, largest: str = "") -> dict:
    """`makeCapacity`: an empty `nodeTopology` (every node) unless a node is named, whose `nodeKey` label it matches."""
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "kube-system"},
        "storageClassName": cls,
        "nodeTopology": {"matchLabels": {"nodeKey": node}} if node else {},
    }
    if size:
        obj["capacity"] = size
    if largest:
        obj["maximumVolumeSize"] = largest
    return obj


PROVISIONED = claim("provisioned-pvc", "provisioned", request="1Gi")
CAPACITY = [
    pytest.param([capacity("net", "provisioned", None, "1Gi")], "", id="TestCapacity v1.32 'network-attached'"),
    pytest.param([capacity("net", "provisioned", NODE1, "1Gi")], "", id="TestCapacity 'local-storage'"),
    pytest.param(
        [
            capacity("net-all", "provisioned", None, "1Gi"),
            capacity("net-node2", "provisioned", NODE2, "1Gi"),
            capacity("net-node1", "provisioned", NODE1, "1Gi"),
        ],
        "",
        id="TestCapacity 'multiple' (upstream names all three 'net'; an informer would keep one, so they are renamed)",
    ),
    pytest.param([], NOT_ENOUGH_SPACE, id="TestCapacity 'no-storage'"),
    pytest.param([capacity("net", "provisioned", NODE2, "1Gi")], NOT_ENOUGH_SPACE, id="TestCapacity 'wrong-node'"),
    pytest.param([capacity("net", "wait", NODE1, "1Gi")], NOT_ENOUGH_SPACE, id="TestCapacity 'wrong-storage-class'"),
    pytest.param(
        [capacity("net", "provisioned", NODE1, "1Mi")], NOT_ENOUGH_SPACE, id="TestCapacity 'insufficient-storage'"
    ),
    pytest.param(
        [capacity("net", "provisioned", NODE1, "1Gi", "1Mi")],
        NOT_ENOUGH_SPACE,
        id="TestCapacity 'insufficient-volume-size': maximumVolumeSize wins over capacity",
    ),
    pytest.param([capacity("net", "provisioned", NODE1, "0Mi")], NOT_ENOUGH_SPACE, id="TestCapacity 'zero-storage'"),
    pytest.param(
        [capacity("net", "provisioned", NODE1, "", "0Mi")], NOT_ENOUGH_SPACE, id="TestCapacity 'zero-volume-size'"
    ),
    pytest.param([capacity("net", "provisioned", NODE1, "", "")], NOT_ENOUGH_SPACE, id="TestCapacity 'nil-storage'"),
    pytest.param(
        [capacity("net", "provisioned", NODE1, "1Mi", "1Gi")],
        "",
        id="capacitySufficient: a maximumVolumeSize large enough wins over a smaller capacity",
    ),
    pytest.param(
        [{**capacity("net", "provisioned", None, "1Gi"), "nodeTopology": None}],
        NOT_ENOUGH_SPACE,
        id="nodeHasAccess: a capacity without nodeTopology is available nowhere",
    ),
]


@pytest.mark.parametrize(
    ("driver", "checked"),
    [
        pytest.param(csidriver(True), True, id="CSIDriver.StorageCapacity=true"),
        pytest.param(csidriver(False), False, id="CSIDriver.StorageCapacity=false: capacity is not checked"),
        pytest.param(csidriver(None), False, id="CSIDriver without storageCapacity: not checked"),
        pytest.param(None, False, id="no CSIDriver for the provisioner: not checked"),
    ],
)
@pytest.mark.parametrize(("capacities", "reason"), CAPACITY)
def test_capacity(capacities, reason, driver, checked):
    pod = pod_with("provisioned-pvc")
    vols = volumes_of([PROVISIONED], drivers=[driver] if driver else [], capacities=capacities)
    result, snapshot = outcome(pod, vols)
    expected = reason if checked else ""
    assert result.reasons_by_node(snapshot.names) == ({NODE1: expected} if expected else {})
    if not expected:
        assert [c.name for c in volume_binding.plan(pod, NODE1, snapshot).provision] == ["provisioned-pvc"]


@pytest.mark.parametrize(
    ("claims", "pvcs", "pvs", "reason"),
    [
        pytest.param(
            ("provisioned-pvc",),
            [PROVISIONED],
            [],
            NOT_ENOUGH_SPACE,
            id="TestFindPodVolumesWithProvisioning v1.32 'one-provisioned' with capacity tracking and no capacities",
        ),
        pytest.param(
            ("bound-pvc", "provisioned-pvc"),
            [
                claim("bound-pvc", bound="pv-bound"),
                claim("provisioned-pvc", "provisioned", request="1Gi", annotations={SELECTED: NODE1}),
            ],
            [volume("pv-bound", node=NODE1, ref="bound-pvc")],
            NOT_ENOUGH_SPACE,
            id="TestFindPodVolumesWithProvisioning 'one-binding,one-selected-node': a selected claim needs room too",
        ),
        pytest.param(
            ("topo-mismatch-pvc",),
            [claim("topo-mismatch-pvc", "topo-mismatch", request="1Gi")],
            [],
            BIND_CONFLICT,
            id="TestFindPodVolumesWithProvisioning 'volume-topology-unsatisfied': the topology fails before capacity",
        ),
        pytest.param(
            ("unbound-pvc", "provisioned-pvc"),
            [claim("unbound-pvc"), claim("provisioned-pvc", "provisioned", request="1Gi")],
            [volume("pv-node1a", size="5G", node=NODE1)],
            NOT_ENOUGH_SPACE,
            id="TestFindPodVolumesWithProvisioning 'two-unbound-pvcs,one-matched,one-provisioned': only the "
            "provisioned claim needs room",
        ),
    ],
)
def test_provisioning_needs_capacity(claims, pvcs, pvs, reason):
    vols = volumes_of(pvcs, pvs, drivers=[csidriver(True)])
    result, snapshot = outcome(pod_with(*claims), vols)
    assert result.reasons_by_node(snapshot.names) == {NODE1: reason}


def test_capacity_reaches_the_nodes_its_topology_selects_and_plan_refuses_the_others():
    """A zonal driver with room in zone-a only: zone-a nodes pass, the rest have not enough free storage, and PreBind's
    plan names the reason for a node that no longer has room."""
    nodes = [
        make_node("a1", labels={"nodeKey": "a1", ZONE: "zone-a"}),
        make_node("a2", labels={"nodeKey": "a2", ZONE: "zone-a"}),
        make_node("b1", labels={"nodeKey": "b1", ZONE: "zone-b"}),
        make_node("bare", labels={"nodeKey": "bare"}),
    ]
    topology = {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-a"]}]}
    zonal = {**capacity("zone-a", "anywhere", None, "100Gi"), "nodeTopology": topology}
    full = {**capacity("zone-b", "anywhere", None, "10Mi"), "nodeTopology": {"matchLabels": {ZONE: "zone-b"}}}
    anywhere = {
        "metadata": {"name": "anywhere"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "provisioner": "test-provisioner",
    }
    vols = volumes_of([claim("data", "anywhere", request="10Gi")], drivers=[csidriver(True)], capacities=[zonal, full])
    vols = replace(vols, classes={**vols.classes, "anywhere": parse_storage_class(anywhere)})
    pod = pod_with("data")
    result, snapshot = outcome(pod, vols, nodes=nodes)
    assert result.reasons_by_node(snapshot.names) == {"b1": NOT_ENOUGH_SPACE, "bare": NOT_ENOUGH_SPACE}
    assert [c.name for c in volume_binding.plan(pod, "a2", snapshot).provision] == ["data"]
    with pytest.raises(volume_binding.VolumeBindingError, match=re.escape(f"node b1: {NOT_ENOUGH_SPACE}")):
        volume_binding.plan(pod, "b1", snapshot)
