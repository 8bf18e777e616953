"""The emulator's PV controller and provisioner, driven through the real client as kube-scheduler drives them.

Upstream: kube-scheduler's VolumeBinding PreBind (`pkg/scheduler/framework/plugins/volumebinding/binder.go`)
annotates a WaitForFirstConsumer claim with `volume.kubernetes.io/selected-node`, or writes `spec.claimRef` of
a pre-provisioned volume; the external-provisioner (`sig-storage-lib-external-provisioner`) then creates a
volume with the node's topology, and the PV controller (`pkg/controller/volume/persistentvolume`) binds claim
and volume both ways.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from sim.apiserver import Emulator

MERGE = "application/merge-patch+json"
DRIVER = "ebs.csi.aws.com"


def node(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }


def storage_class(name: str, provisioner: str, mode: str = "WaitForFirstConsumer", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
        "volumeBindingMode": mode,
        **extra,
    }


def claim(name: str, storage_class_name: str | None = "wffc", size: str = "5Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class_name is not None:
        spec["storageClassName"] = storage_class_name
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def volume(name: str, size: str, storage_class_name: str = "manual", **spec: Any) -> dict[str, Any]:
    body = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class_name}
    return {"metadata": {"name": name}, "spec": {**body, "local": {"path": f"/mnt/{name}"}, **spec}}


def objects() -> list[dict[str, Any]]:
    csinode = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSINode",
        "metadata": {"name": "csi"},
        "spec": {"drivers": [{"name": DRIVER, "nodeID": "i-3", "topologyKeys": ["topology.ebs.csi.aws.com/zone"]}]},
    }
    return [
        node("zonal", **{"topology.kubernetes.io/zone": "eu-1a"}),
        node("plain"),
        node("csi", **{"topology.kubernetes.io/zone": "eu-1b", "topology.ebs.csi.aws.com/zone": "eu-1b"}),
        csinode,
        storage_class("wffc", DRIVER, reclaimPolicy="Retain", mountOptions=["noatime"]),
        storage_class("local", "kubernetes.io/no-provisioner"),
        storage_class("now", DRIVER, "Immediate"),
    ]


@pytest.fixture
def core() -> Iterator[client.CoreV1Api]:
    with Emulator(objects()) as emu:
        configuration = client.Configuration()
        configuration.host = emu.url
        with client.ApiClient(configuration) as api:
            yield client.CoreV1Api(api)


def select_node(core: client.CoreV1Api, name: str, node_name: str) -> None:
    """What VolumeBinding's PreBind writes for a claim to be provisioned."""
    patch = {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": node_name}}}
    core.patch_namespaced_persistent_volume_claim(name, "default", patch, _content_type=MERGE)


@pytest.mark.parametrize(
    ("node_name", "affinity"),
    [
        pytest.param(
            "zonal", ("topology.kubernetes.io/zone", "eu-1a"), id="a zonal node's volume is pinned to its zone"
        ),
        pytest.param(
            "plain", ("kubernetes.io/hostname", "plain"), id="a node without a zone pins the volume to itself"
        ),
        pytest.param(
            "csi", ("topology.ebs.csi.aws.com/zone", "eu-1b"), id="the CSI driver's topology keys win when it has some"
        ),
    ],
)
def test_selected_node_provisions_and_binds(core: client.CoreV1Api, node_name: str, affinity: tuple[str, str]) -> None:
    created = core.create_namespaced_persistent_volume_claim("default", claim("data-0"))
    assert created.status.phase == "Pending"
    assert core.list_persistent_volume().items == []  # WaitForFirstConsumer: nothing before a node is selected

    select_node(core, "data-0", node_name)

    pvc = core.read_namespaced_persistent_volume_claim("data-0", "default")
    pv = core.read_persistent_volume(f"pvc-{created.metadata.uid}")
    assert (pvc.status.phase, pvc.spec.volume_name, pvc.status.capacity) == (
        "Bound",
        pv.metadata.name,
        {"storage": "5Gi"},
    )
    assert pvc.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    assert pvc.metadata.annotations["volume.kubernetes.io/storage-provisioner"] == DRIVER
    assert (pv.status.phase, pv.spec.claim_ref.name, pv.spec.claim_ref.uid) == ("Bound", "data-0", created.metadata.uid)
    assert (pv.spec.persistent_volume_reclaim_policy, pv.spec.mount_options, pv.spec.csi.driver) == (
        "Retain",
        ["noatime"],
        DRIVER,
    )
    term = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions
    assert [(e.key, e.operator, e.values) for e in term] == [(affinity[0], "In", [affinity[1]])]


@pytest.mark.parametrize(
    ("class_name", "annotate"),
    [
        pytest.param("wffc", False, id="a WaitForFirstConsumer claim waits for the scheduler's selected node"),
        pytest.param("local", True, id="kubernetes.io/no-provisioner never provisions"),
        pytest.param("missing", True, id="a claim of a class that does not exist waits for it"),
    ],
)
def test_claims_that_stay_pending(core: client.CoreV1Api, class_name: str, annotate: bool) -> None:
    core.create_namespaced_persistent_volume_claim("default", claim("data-0", class_name))
    if annotate:
        select_node(core, "data-0", "zonal")
    assert core.read_namespaced_persistent_volume_claim("data-0", "default").status.phase == "Pending"
    assert core.list_persistent_volume().items == []


def test_scheduler_binds_a_pre_provisioned_volume(core: client.CoreV1Api) -> None:
    """VolumeBinding's PreBind sets `spec.claimRef` on the volume; the PV controller completes the binding."""
    core.create_persistent_volume(volume("local-a", "10Gi", "local"))
    assert core.read_persistent_volume("local-a").status.phase == "Available"
    pvc = core.create_namespaced_persistent_volume_claim("default", claim("data-0", "local"))
    ref = {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data-0", "uid": pvc.metadata.uid}
    core.patch_persistent_volume("local-a", {"spec": {"claimRef": ref}}, _content_type=MERGE)

    bound = core.read_namespaced_persistent_volume_claim("data-0", "default")
    pv = core.read_persistent_volume("local-a")
    assert (bound.status.phase, bound.spec.volume_name, bound.status.capacity) == (
        "Bound",
        "local-a",
        {"storage": "10Gi"},
    )
    assert (pv.status.phase, pv.spec.claim_ref.uid) == ("Bound", pvc.metadata.uid)


def test_volume_prebound_to_a_claim_binds_when_the_claim_comes(core: client.CoreV1Api) -> None:
    """The PV controller's syncUnboundClaim finds a volume whose claimRef already names the new claim."""
    ref = {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data-0"}
    core.create_persistent_volume(volume("reserved", "10Gi", "local", claimRef=ref))
    assert core.read_persistent_volume("reserved").status.phase == "Available"
    core.create_namespaced_persistent_volume_claim("default", claim("data-0", "local"))
    assert core.read_namespaced_persistent_volume_claim("data-0", "default").spec.volume_name == "reserved"
    assert core.read_persistent_volume("reserved").status.phase == "Bound"


def test_immediate_claim_takes_the_smallest_volume_that_fits(core: client.CoreV1Api) -> None:
    """The PV controller's `findBestMatchForClaim`: the smallest Available volume large enough, else provision."""
    for name, size in (("small", "1Gi"), ("medium", "8Gi"), ("large", "20Gi")):
        core.create_persistent_volume(volume(name, size, "now"))
    core.create_namespaced_persistent_volume_claim("default", claim("data-0", "now", "5Gi"))
    core.create_namespaced_persistent_volume_claim("default", claim("data-1", "now", "50Gi"))
    first = core.read_namespaced_persistent_volume_claim("data-0", "default")
    second = core.read_namespaced_persistent_volume_claim("data-1", "default")
    assert (first.status.phase, first.spec.volume_name) == ("Bound", "medium")
    assert (second.status.phase, second.spec.volume_name) == ("Bound", f"pvc-{second.metadata.uid}")
    assert core.read_persistent_volume(second.spec.volume_name).spec.node_affinity is None


def test_claim_without_a_class_gets_the_default_one(core: client.CoreV1Api) -> None:
    storage = client.StorageV1Api(core.api_client)
    default = {"storageclass.kubernetes.io/is-default-class": "true"}
    storage.patch_storage_class("wffc", {"metadata": {"annotations": default}}, _content_type=MERGE)
    core.create_namespaced_persistent_volume_claim("default", claim("data-0", storage_class_name=None))
    assert core.read_namespaced_persistent_volume_claim("data-0", "default").spec.storage_class_name == "wffc"


@pytest.mark.parametrize(
    ("reclaim", "left"),
    [
        pytest.param("Delete", None, id="a provisioned volume with reclaim policy Delete goes with its claim"),
        pytest.param("Retain", "Released", id="a retained volume is Released when its claim goes"),
    ],
)
def test_deleting_the_claim_reclaims_the_volume(core: client.CoreV1Api, reclaim: str, left: str | None) -> None:
    storage = client.StorageV1Api(core.api_client)
    storage.create_storage_class(storage_class("gp3", DRIVER, reclaimPolicy=reclaim))
    pvc = core.create_namespaced_persistent_volume_claim("default", claim("data-0", "gp3"))
    select_node(core, "data-0", "zonal")
    core.delete_namespaced_persistent_volume_claim("data-0", "default")
    phases = [v.status.phase for v in core.list_persistent_volume().items if v.metadata.name.endswith(pvc.metadata.uid)]
    assert phases == ([] if left is None else [left])


def test_provisioner_can_be_turned_off() -> None:
    with Emulator(objects(), provisioner=False) as emu:
        emu.store.create("persistentvolumeclaims", claim("data-0"))
        emu.store.patch(
            "persistentvolumeclaims",
            "data-0",
            {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "zonal"}}},
            namespace="default",
        )
        assert emu.store.get("persistentvolumeclaims", "data-0", namespace="default")["status"]["phase"] == "Pending"
        assert emu.store.list("persistentvolumes").items == []


def csidriver(storage_capacity: bool) -> dict[str, Any]:
    return {"metadata": {"name": DRIVER}, "spec": {"storageCapacity": storage_capacity}}


def zone_a_capacity(size: str, **extra: Any) -> dict[str, Any]:
    """What external-provisioner's capacity controller publishes for one topology segment of the class."""
    topology = {"matchLabels": {"topology.kubernetes.io/zone": "eu-1a"}}
    body = {"storageClassName": "wffc", "nodeTopology": topology, "capacity": size, **extra}
    return {"metadata": {"name": "csisc-eu-1a", "namespace": "kube-system"}, **body}


@pytest.mark.parametrize(
    ("tracks", "capacity", "node_name", "provisioned"),
    [
        pytest.param(True, zone_a_capacity("10Gi"), "zonal", True, id="room reported in the node's zone: provisioned"),
        pytest.param(
            True,
            zone_a_capacity("10Gi"),
            "plain",
            False,
            id="no capacity reaches the node: given back to the scheduler",
        ),
        pytest.param(True, zone_a_capacity("1Gi"), "zonal", False, id="too little room in the zone: given back"),
        pytest.param(
            True,
            zone_a_capacity("100Gi", maximumVolumeSize="1Gi"),
            "zonal",
            False,
            id="maximumVolumeSize below the request wins over a large capacity",
        ),
        pytest.param(False, None, "plain", True, id="a driver that does not track capacity provisions anywhere"),
    ],
)
def test_a_capacity_tracking_driver_provisions_only_where_it_reports_room(
    core: client.CoreV1Api, tracks: bool, capacity: dict[str, Any] | None, node_name: str, provisioned: bool
) -> None:
    """external-provisioner: CreateVolume's ResourceExhausted for the selected node removes the annotation
    (`ProvisioningReschedule`), so the scheduler picks again; the claim stays Pending without a volume."""
    storage = client.StorageV1Api(core.api_client)
    storage.create_csi_driver(csidriver(tracks))
    if capacity is not None:
        storage.create_namespaced_csi_storage_capacity("kube-system", capacity)
    core.create_namespaced_persistent_volume_claim("default", claim("data-0"))
    select_node(core, "data-0", node_name)
    pvc = core.read_namespaced_persistent_volume_claim("data-0", "default")
    assert pvc.status.phase == ("Bound" if provisioned else "Pending")
    assert (pvc.metadata.annotations or {}).get("volume.kubernetes.io/selected-node") == (
        node_name if provisioned else None
    )
    assert len(core.list_persistent_volume().items) == (1 if provisioned else 0)
