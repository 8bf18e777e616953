"""Volume binding end to end: the real scheduler and kubectl against the emulator's API server and PV controller.

A StatefulSet-style pod whose claim waits for its first consumer gets `volume.kubernetes.io/selected-node` from
PreBind, the emulator's provisioner creates a volume for that node and binds it, and only then is the pod bound; a
pod whose pre-provisioned local volume is pinned to one node lands on that node, the volume claimed by PreBind's
claimRef; a pod whose claim does not exist yet waits with upstream's message and is placed once it does. A driver
that tracks storage capacity (CSIDriver `storageCapacity: true`) is given only the nodes its CSIStorageCapacity
objects reach: with room in zone-a only the pod lands there; with room nowhere it stays Pending with upstream's
`node(s) did not have enough free storage`.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sim.api_watch import Change
from sim.apiserver import Emulator
from tests import tools
from tests.builders import claim_json
from tests.e2e.cluster import bound, events, node, pod, scheduler, settings, wait_until

KUBECTL = tools.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "applying the storage manifests"))
SELECTED_NODE = "volume.kubernetes.io/selected-node"
ZONES = {"n1": "zone-a", "n2": "zone-b", "n3": "zone-c"}

MANIFESTS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [zone-b, zone-c]}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-n3}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [n3]}
"""


def with_claim(name: str, claim_name: str) -> dict:
    body = pod(name, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}])
    body["metadata"]["labels"] = {"app": "redis"}
    return body


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator:
    """Run the real kubectl against an emulator by its kubeconfig; answers stdout."""

    def run(emulator: Emulator, *args: str, stdin: str | None = None) -> str:
        config = emulator.write_kubeconfig(tmp_path / "kubeconfig")
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        command = [str(KUBECTL), "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache"), *args]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield run


def cluster() -> list[dict]:
    return [node(name, labels={"topology.kubernetes.io/zone": zone}) for name, zone in ZONES.items()]


def test_a_statefulset_pod_with_a_wait_for_first_consumer_claim_gets_a_provisioned_volume_and_binds(kubectl) -> None:
    with Emulator(objects=cluster()) as emulator, scheduler(emulator, settings()):
        kubectl(emulator, "apply", "-f", "-", stdin=MANIFESTS)
        manifest = yaml.safe_dump_all([claim_json("data-redis-0", "fast"), with_claim("redis-0", "data-redis-0")])
        kubectl(emulator, "apply", "-f", "-", stdin=manifest)
        wait_until(lambda: "redis-0" in bound(emulator), timeout=60, what="redis-0 bound")
        pvc = json.loads(kubectl(emulator, "get", "pvc", "data-redis-0", "-o", "json"))
        node_name = kubectl(emulator, "get", "pod", "redis-0", "-o", "jsonpath={.spec.nodeName}")
        volume = json.loads(kubectl(emulator, "get", "pv", pvc["spec"]["volumeName"], "-o", "json"))
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == node_name
    assert node_name in ("n2", "n3"), "the class's allowedTopologies exclude zone-a"
    assert pvc["status"]["phase"] == "Bound"
    terms = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [ZONES[node_name]]


def test_a_pod_whose_local_volume_is_pinned_to_a_node_lands_there(kubectl) -> None:
    with Emulator(objects=cluster()) as emulator, scheduler(emulator, settings()):
        kubectl(emulator, "apply", "-f", "-", stdin=MANIFESTS)
        manifest = yaml.safe_dump_all([claim_json("cache-0", "local"), with_claim("cache-0", "cache-0")])
        kubectl(emulator, "apply", "-f", "-", stdin=manifest)
        wait_until(lambda: "cache-0" in bound(emulator), timeout=60, what="cache-0 bound")
        volume = json.loads(kubectl(emulator, "get", "pv", "local-n3", "-o", "json"))
        phase = kubectl(emulator, "get", "pvc", "cache-0", "-o", "jsonpath={.status.phase}")
        placed = bound(emulator)["cache-0"]
    assert placed == "n3"
    assert volume["spec"]["claimRef"]["name"] == "cache-0"
    assert phase == "Bound"


def test_a_pod_whose_claim_does_not_exist_waits_with_upstreams_message_then_binds(kubectl) -> None:
    with Emulator(objects=cluster()) as emulator, scheduler(emulator, settings()):
        kubectl(emulator, "apply", "-f", "-", stdin=MANIFESTS)
        kubectl(emulator, "apply", "-f", "-", stdin=yaml.safe_dump(with_claim("redis-1", "data-redis-1")))

        def condition() -> str:
            got = kubectl(
                emulator,
                "get",
                "pod",
                "redis-1",
                "-o",
                "jsonpath={.status.conditions[?(@.type=='PodScheduled')].message}",
            )
            return got

        wait_until(lambda: "not found" in condition(), timeout=60, what="the FailedScheduling condition")
        message = condition()
        kubectl(emulator, "apply", "-f", "-", stdin=yaml.safe_dump(claim_json("data-redis-1", "fast")))
        wait_until(lambda: "redis-1" in bound(emulator), timeout=60, what="redis-1 bound once its claim exists")
    assert message == (
        '0/3 nodes are available: persistentvolumeclaim "data-redis-1" not found. '
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


CAPACITY_DRIVER = "topo.csi.example.com"


def tracked_storage(*capacities: dict) -> list[dict]:
    """A WaitForFirstConsumer class of a CSI driver that tracks capacity, and the capacities it publishes."""
    driver = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": {"name": CAPACITY_DRIVER},
        "spec": {"storageCapacity": True},
    }
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "tracked"},
        "provisioner": CAPACITY_DRIVER,
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    return [driver, storage_class, *capacities]


def zone_capacity(zone: str, size: str) -> dict:
    """What external-provisioner's capacity controller publishes for one zone of the class."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIStorageCapacity",
        "metadata": {"name": f"csisc-{zone}", "namespace": "kube-system"},
        "storageClassName": "tracked",
        "nodeTopology": {"matchLabels": {"topology.kubernetes.io/zone": zone}},
        "capacity": size,
    }


def test_a_claim_whose_driver_reports_room_only_in_zone_a_lands_on_the_zone_a_node(kubectl) -> None:
    """zone-b has a capacity too small for the claim, zone-c none: only n1 (zone-a) passes VolumeBinding, so PreBind
    selects n1 at the first try (the emulator's provisioner would give back a claim selected for a node without
    room, and the pod would only get there by retries)."""
    storage = tracked_storage(zone_capacity("zone-a", "100Gi"), zone_capacity("zone-b", "1Mi"))
    selected: list[str] = []

    def record(change: Change) -> None:
        annotations = change.object["metadata"].get("annotations") or {}
        if change.resource == "persistentvolumeclaims" and SELECTED_NODE in annotations:
            selected.append(annotations[SELECTED_NODE])

    with Emulator(objects=cluster() + storage) as emulator, scheduler(emulator, settings()):
        emulator.store.subscribe(record)
        manifest = yaml.safe_dump_all(
            [claim_json("data-db-0", "tracked", size="10Gi"), with_claim("db-0", "data-db-0")]
        )
        kubectl(emulator, "apply", "-f", "-", stdin=manifest)
        wait_until(lambda: "db-0" in bound(emulator), timeout=60, what="db-0 bound")
        pvc = json.loads(kubectl(emulator, "get", "pvc", "data-db-0", "-o", "json"))
    assert bound(emulator)["db-0"] == "n1"
    assert set(selected) == {"n1"}, "no other node was ever selected"
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == "n1"
    assert pvc["status"]["phase"] == "Bound"


def test_a_claim_whose_driver_reports_no_room_anywhere_stays_pending_with_upstreams_reason(kubectl) -> None:
    """The pod is applied before its claim, so the scheduler may see it first and report the claim as not found (as
    kube-scheduler does); the claim's arrival retries the pod, and the storage reason follows."""
    expected = (
        "0/3 nodes are available: 3 node(s) did not have enough free storage. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    not_found = (
        '0/3 nodes are available: persistentvolumeclaim "data-db-1" not found. '
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    with Emulator(objects=cluster() + tracked_storage()) as emulator, scheduler(emulator, settings()):
        manifest = yaml.safe_dump_all([with_claim("db-1", "data-db-1"), claim_json("data-db-1", "tracked")])
        kubectl(emulator, "apply", "-f", "-", stdin=manifest)
        wait_until(
            lambda: any(e["message"] == expected for e in events(emulator, "FailedScheduling")),
            timeout=60,
            what="the FailedScheduling event with the storage reason",
        )
        failed = events(emulator, "FailedScheduling")
        phase = kubectl(emulator, "get", "pvc", "data-db-1", "-o", "jsonpath={.status.phase}")
        annotations = json.loads(kubectl(emulator, "get", "pvc", "data-db-1", "-o", "json"))["metadata"].get(
            "annotations", {}
        )
    assert {e["involvedObject"]["name"] for e in failed} == {"db-1"}
    assert {e["message"] for e in failed} <= {expected, not_found}
    assert "db-1" not in bound(emulator)
    assert phase == "Pending"
    assert SELECTED_NODE not in annotations, "no node was selected for provisioning"
