"""Volume binding's PreBind through the real kubernetes client against the emulator's API server and PV controller.

What it writes (claimRef on a chosen volume, selected-node on a claim to provision, each on the version read), that
it waits until the PV controller binds the claims, gives up after the bound with the cache's assumption reverted,
and that a stale version is refused by the API (409) rather than overwriting a change it never saw.
"""

import pytest

from cluster.clock import FakeClock
from cluster.parse import parse_pod
from runtime.cache import ADDED, SchedulerCache
from runtime.kube import ApiException, Kube
from runtime.volumes import VolumeBinder, VolumeBindingTimeoutError
from sim.apiserver import Emulator
from tests.builders import claim_json, node_json, pod_json

SELECTED_NODE = "volume.kubernetes.io/selected-node"
CLASSES = [
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
     "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"},
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
     "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer"},
]  # fmt: skip
STORAGE = ("storageclasses", "persistentvolumes", "persistentvolumeclaims")


def local_volume(name: str, node: str) -> dict:
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
    spec = {
        "capacity": {"storage": "10Gi"},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "local",
        "local": {"path": "/mnt/disks/1"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
    }
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}


def consumer(claim_name: str):
    return parse_pod(
        pod_json("db-0", spec={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}]})
    )


def fed_cache(emulator: Emulator, clock: FakeClock) -> SchedulerCache:
    """A cache holding what the informers would have delivered: the emulator's nodes and storage objects now."""
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=clock, max_age_seconds=120)
    for raw in emulator.store.list("nodes").items:
        cache.node_event(ADDED, raw)
    for resource in STORAGE:
        for raw in emulator.store.list(resource).items:
            cache.volume_event(resource, ADDED, raw)
    return cache


def binder(emulator: Emulator, cache: SchedulerCache, clock: FakeClock) -> VolumeBinder:
    kube = Kube.connect(server=emulator.url, timeout=5)
    return VolumeBinder(kube, clock, volumes=cache.volumes, assume=cache.swap_volumes, timeout=5)


def test_a_chosen_local_volume_gets_the_claim_ref_and_the_pv_controller_binds_both() -> None:
    objects = [node_json("n1"), node_json("n2"), *CLASSES, local_volume("pv-n2", "n2"), claim_json("data", "local")]
    clock = FakeClock()
    with Emulator(objects=objects) as emulator:
        cache = fed_cache(emulator, clock)

        def informer_caught_up():
            for resource in STORAGE:
                for raw in emulator.store.list(resource).items:
                    cache.volume_event(resource, "MODIFIED", raw)
            return cache.volumes()

        kube = Kube.connect(server=emulator.url, timeout=5)
        volume_binder = VolumeBinder(kube, clock, volumes=informer_caught_up, assume=cache.swap_volumes, timeout=5)
        reservation = volume_binder.reserve(consumer("data"), "n2", cache.snapshot())
        assert reservation is not None
        volume_binder.pre_bind(reservation)
        volume = emulator.store.get("persistentvolumes", "pv-n2")
        pvc = emulator.store.get("persistentvolumeclaims", "data", namespace="default")
    assert volume["spec"]["claimRef"]["name"] == "data"
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert (pvc["spec"]["volumeName"], pvc["status"]["phase"]) == ("pv-n2", "Bound")


def test_a_claim_never_provisioned_times_out_and_the_assumption_is_reverted() -> None:
    objects = [node_json("n1"), *CLASSES, claim_json("data", "fast")]
    clock = FakeClock()
    with Emulator(objects=objects, provisioner=False) as emulator:
        cache = fed_cache(emulator, clock)
        volume_binder = binder(emulator, cache, clock)
        reservation = volume_binder.reserve(consumer("data"), "n1", cache.snapshot())
        assert reservation is not None
        assert cache.volumes().claims["default/data"].selected_node == "n1", "reserved at once, before any write"
        with pytest.raises(VolumeBindingTimeoutError, match="claims default/data not bound within 5s"):
            volume_binder.pre_bind(reservation)
        pvc = emulator.store.get("persistentvolumeclaims", "data", namespace="default")
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == "n1"
    assert sum(clock.slept) == pytest.approx(5, abs=0.2)
    assert cache.volumes().claims["default/data"].selected_node == ""


def test_a_volume_changed_since_the_decision_is_refused_with_409_and_not_assumed() -> None:
    objects = [node_json("n1"), *CLASSES, local_volume("pv-n1", "n1"), claim_json("data", "local")]
    clock = FakeClock()
    with Emulator(objects=objects) as emulator:
        cache = fed_cache(emulator, clock)
        emulator.store.patch("persistentvolumes", "pv-n1", {"metadata": {"labels": {"tier": "ssd"}}})
        volume_binder = binder(emulator, cache, clock)
        reservation = volume_binder.reserve(consumer("data"), "n1", cache.snapshot())
        assert reservation is not None
        assert cache.volumes().volumes["pv-n1"].claim_ref == ("default", "data", reservation.plan.bind[0][1].uid)
        with pytest.raises(ApiException) as failed:
            volume_binder.pre_bind(reservation)
        volume = emulator.store.get("persistentvolumes", "pv-n1")
    assert failed.value.status == 409
    assert "claimRef" not in volume["spec"]
    assert cache.volumes().volumes["pv-n1"].claim_ref is None


def test_a_pod_whose_claims_are_all_bound_reserves_nothing() -> None:
    objects = [node_json("n1"), *CLASSES, local_volume("pv-n1", "n1"), claim_json("data", "local")]
    clock = FakeClock()
    with Emulator(objects=objects) as emulator:
        emulator.store.patch("persistentvolumeclaims", "data", {"spec": {"volumeName": "pv-n1"}}, namespace="default")
        cache = fed_cache(emulator, clock)
        assert cache.volumes().claims["default/data"].bound, "the PV controller completed the binding"
        assert binder(emulator, cache, clock).reserve(consumer("data"), "n1", cache.snapshot()) is None


@pytest.mark.parametrize(
    ("kind", "raw", "kept", "warning"),
    [
        pytest.param(
            "MODIFIED", claim_json("data", "local", size="2Gi"), True, None, id="an update replaces the claim"
        ),
        pytest.param("DELETED", claim_json("data", "local"), False, None, id="a deleted claim is forgotten"),
        pytest.param(
            "MODIFIED",
            claim_json("data", "local", size="lots"),
            False,
            "ignoring persistentvolumeclaim default/data: spec.resources.requests: invalid quantity 'lots' for storage",
            id="an unreadable claim is dropped with a warning, never kept stale",
        ),
    ],
)
def test_the_cache_follows_claim_events(kind, raw, kept, warning) -> None:
    warnings: list[str] = []
    cache = SchedulerCache(
        scheduler_name="ai-llama-scheduler", clock=FakeClock(), max_age_seconds=120, warn=warnings.append
    )
    cache.volume_event("persistentvolumeclaims", ADDED, claim_json("data", "local"))
    before = cache.snapshot()
    assert cache.volume_event("persistentvolumeclaims", kind, raw), "a storage change may let waiting pods fit"
    after = cache.snapshot()
    assert ("default/data" in after.volumes.claims) is kept
    assert before.volumes.claims["default/data"].request == 2**30
    assert warnings == ([warning] if warning else [])


def capacity_json(size: str) -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIStorageCapacity",
        "metadata": {"name": "csisc-a", "namespace": "kube-system"},
        "storageClassName": "fast",
        "nodeTopology": {"matchLabels": {"topology.kubernetes.io/zone": "zone-a"}},
        "capacity": size,
    }


@pytest.mark.parametrize(
    ("kind", "raw", "capacity", "warning"),
    [
        pytest.param("MODIFIED", capacity_json("50Gi"), 50 * 2**30, "", id="a refreshed capacity replaces the old"),
        pytest.param("DELETED", capacity_json("10Gi"), None, "", id="a deleted capacity is gone"),
        pytest.param(
            "MODIFIED",
            capacity_json("plenty"),
            None,
            "ignoring csistoragecapacity kube-system/csisc-a: capacity: invalid quantity 'plenty' for storage",
            id="an unreadable capacity is dropped with a warning, never kept stale",
        ),
    ],
)
def test_the_cache_follows_capacity_events(kind, raw, capacity, warning) -> None:
    """The CSIStorageCapacity informer's events, keyed by namespace and name as the object is namespaced."""
    warnings: list[str] = []
    cache = SchedulerCache(
        scheduler_name="ai-llama-scheduler", clock=FakeClock(), max_age_seconds=120, warn=warnings.append
    )
    cache.volume_event("csistoragecapacities", ADDED, capacity_json("10Gi"))
    assert cache.snapshot().volumes.capacities["kube-system/csisc-a"].capacity == 10 * 2**30
    assert cache.volume_event("csistoragecapacities", kind, raw), "new room may let waiting pods fit"
    kept = cache.snapshot().volumes.capacities.get("kube-system/csisc-a")
    assert (kept.capacity if kept else None) == capacity
    assert warnings == ([warning] if warning else [])
