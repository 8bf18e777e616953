"""The kinds kube-scheduler's volume, preemption, namespace-selector and default-spreading plugins read, through
the real client.

Each kind is created, listed by label, watched from a list's resourceVersion, patched and deleted as the
real API server serves it (discovery entries included), and printed by the real kubectl with the columns of
`pkg/printers/internalversion/printers.go`.
"""

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sim.apiserver import Emulator
from tests import tools

MERGE = "application/merge-patch+json"
KUBECTL = tools.which("kubectl")


@dataclass(frozen=True)
class Kind:
    """How the typed client names one kind's calls, and a minimal valid body of it."""

    api: Callable[[client.ApiClient], Any]
    suffix: str
    namespaced: bool
    body: dict[str, Any]

    def method(self, api: client.ApiClient, verb: str) -> Callable[..., Any]:
        return getattr(self.api(api), f"{verb}_{'namespaced_' if self.namespaced else ''}{self.suffix}")

    def call(self, api: client.ApiClient, verb: str, name: str = "", body: Any = None, **kwargs: Any) -> Any:
        """`verb` in the typed client's argument order: name, namespace, body."""
        args = [a for a in (name, "default" if self.namespaced else "") if a]
        if body is not None:
            args.append(body)
        return self.method(api, verb)(*args, **kwargs)

    def named(self, name: str, app: str) -> dict[str, Any]:
        return {**self.body, "metadata": {"name": name, "labels": {"app": app}}}


_SELECTOR = {"matchLabels": {"app": "web"}}
_TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
KINDS = [
    pytest.param(Kind(client.CoreV1Api, "namespace", False, {}), id="namespaces are cluster-scoped"),
    pytest.param(
        Kind(
            client.CoreV1Api,
            "persistent_volume_claim",
            True,
            {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        ),
        id="persistent volume claims are namespaced",
    ),
    pytest.param(
        Kind(
            client.CoreV1Api,
            "persistent_volume",
            False,
            {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/d"}}},
        ),
        id="persistent volumes are cluster-scoped",
    ),
    pytest.param(
        Kind(client.StorageV1Api, "storage_class", False, {"provisioner": "ebs.csi.aws.com"}),
        id="storage classes are storage.k8s.io/v1",
    ),
    pytest.param(
        Kind(
            client.StorageV1Api, "csi_node", False, {"spec": {"drivers": [{"name": "ebs.csi.aws.com", "nodeID": "i"}]}}
        ),
        id="CSI nodes are storage.k8s.io/v1",
    ),
    pytest.param(
        Kind(client.StorageV1Api, "csi_driver", False, {"spec": {"storageCapacity": True}}),
        id="CSI drivers are storage.k8s.io/v1",
    ),
    pytest.param(
        Kind(
            client.StorageV1Api,
            "csi_storage_capacity",
            True,
            {"storageClassName": "fast", "capacity": "100Gi", "nodeTopology": {"matchLabels": {"zone": "a"}}},
        ),
        id="CSI storage capacities are storage.k8s.io/v1 and namespaced",
    ),
    pytest.param(
        Kind(client.PolicyV1Api, "pod_disruption_budget", True, {"spec": {"minAvailable": 1, "selector": _SELECTOR}}),
        id="pod disruption budgets are policy/v1 and namespaced",
    ),
    pytest.param(Kind(client.CoreV1Api, "service", True, {"spec": {"selector": {"app": "web"}}}), id="services"),
    pytest.param(
        Kind(client.CoreV1Api, "replication_controller", True, {"spec": {"selector": {"app": "web"}}}),
        id="replication controllers are core/v1",
    ),
    pytest.param(
        Kind(client.AppsV1Api, "replica_set", True, {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}}),
        id="replica sets are apps/v1",
    ),
    pytest.param(
        Kind(
            client.AppsV1Api,
            "stateful_set",
            True,
            {"spec": {"selector": _SELECTOR, "serviceName": "web", "template": _TEMPLATE}},
        ),
        id="stateful sets are apps/v1",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
def test_create_list_watch_patch_delete(api: client.ApiClient, kind: Kind) -> None:
    kind.call(api, "create", body=kind.named("alpha", "a"))
    kind.call(api, "create", body=kind.named("beta", "b"))
    listing = kind.call(api, "list", label_selector="app=a")
    assert [o.metadata.name for o in listing.items] == ["alpha"]
    since = listing.metadata.resource_version

    patched = kind.call(api, "patch", "alpha", {"metadata": {"labels": {"tier": "gold"}}}, _content_type=MERGE)
    assert patched.metadata.labels["tier"] == "gold"
    assert int(patched.metadata.resource_version) > int(since)

    stream = watch.Watch()
    args = ["default"] if kind.namespaced else []
    events = stream.stream(
        kind.method(api, "list"), *args, resource_version=since, label_selector="app=a", timeout_seconds=5
    )
    event = next(iter(events))
    stream.stop()
    assert (event["type"], event["object"].metadata.name) == ("MODIFIED", "alpha")
    assert event["object"].metadata.labels["tier"] == "gold"

    kind.call(api, "delete", "alpha")
    assert [o.metadata.name for o in kind.call(api, "list", label_selector="app").items] == ["beta"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"provisioner": "other.csi.io"},
            'StorageClass.storage.k8s.io "gp3" is invalid: provisioner: Forbidden: updates to provisioner are '
            "forbidden.",
            id="the provisioner is immutable",
        ),
        pytest.param(
            {"volumeBindingMode": "Immediate"},
            'StorageClass.storage.k8s.io "gp3" is invalid: volumeBindingMode: Invalid value: "Immediate": field is '
            "immutable",
            id="the binding mode is immutable",
        ),
        pytest.param({"metadata": {"labels": {"tier": "fast"}}}, None, id="labels may change"),
    ],
)
def test_storage_class_update_validation(api: client.ApiClient, change: dict[str, Any], message: str | None) -> None:
    """ValidateStorageClassUpdate (pkg/apis/storage/validation): what a class promised its volumes is fixed."""
    storage = client.StorageV1Api(api)
    body = {"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer"}
    storage.create_storage_class(body)
    if message is None:
        assert storage.patch_storage_class("gp3", change, _content_type=MERGE).metadata.labels == {"tier": "fast"}
        return
    with pytest.raises(ApiException) as refused:
        storage.patch_storage_class("gp3", change, _content_type=MERGE)
    assert (refused.value.status, json.loads(refused.value.body)["message"]) == (422, message)


@pytest.mark.parametrize(
    ("group_version", "expected"),
    [
        pytest.param(
            "v1",
            {"persistentvolumeclaims", "persistentvolumeclaims/status", "persistentvolumes", "pods/eviction"},
            id="core serves claims, volumes and the eviction subresource",
        ),
        pytest.param(
            "storage.k8s.io/v1",
            {"storageclasses", "csinodes", "csidrivers", "csistoragecapacities"},
            id="storage serves classes, CSI nodes, drivers and capacities",
        ),
        pytest.param("policy/v1", {"poddisruptionbudgets", "poddisruptionbudgets/status"}, id="policy serves budgets"),
        pytest.param(
            "v1", {"services", "services/status", "replicationcontrollers"}, id="core serves services and RCs"
        ),
        pytest.param("apps/v1", {"replicasets", "statefulsets", "statefulsets/status"}, id="apps serves RSs and STSs"),
    ],
)
def test_discovery(api: client.ApiClient, group_version: str, expected: set[str]) -> None:
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    document = api.call_api(*api.param_serialize("GET", path)).read()
    names = {r["name"] for r in json.loads(document)["resources"]}
    assert expected <= names


def test_eviction_is_typed_policy_v1_in_discovery(api: client.ApiClient) -> None:
    """kubectl drain finds the Eviction kind's group through discovery (`pods/eviction` is policy/v1)."""
    resources = client.CoreV1Api(api).get_api_resources().resources
    eviction = next(r for r in resources if r.name == "pods/eviction")
    assert (eviction.group, eviction.version, eviction.kind, eviction.verbs) == ("policy", "v1", "Eviction", ["create"])


# -- kubectl ---------------------------------------------------------------------------------------------------


def _kubectl(tmp_path: Path, server: str, *args: str) -> list[list[str]]:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [str(KUBECTL), "--server", server, "--cache-dir", str(tmp_path / "cache"), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [re.split(r"\s{2,}", line.strip()) for line in done.stdout.strip().splitlines()]


@pytest.fixture
def storage_cluster(emulator: Emulator) -> Emulator:
    store = emulator.store
    store.create(
        "storageclasses",
        {
            "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": True,
        },
    )
    store.create(
        "persistentvolumes",
        {
            "metadata": {"name": "local-1"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                "storageClassName": "manual",
                "local": {"path": "/mnt/disk"},
            },
        },
    )
    store.create(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "data-0", "namespace": "default"},
            "spec": {
                "storageClassName": "fast",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
    )
    store.create(
        "csinodes",
        {"metadata": {"name": "node-1"}, "spec": {"drivers": [{"name": "ebs.csi.aws.com", "nodeID": "i-1"}]}},
    )
    store.create("csidrivers", {"metadata": {"name": "ebs.csi.aws.com"}, "spec": {"storageCapacity": True}})
    store.create(
        "csistoragecapacities",
        {
            "metadata": {"name": "csisc-a", "namespace": "default"},
            "storageClassName": "fast",
            "capacity": "100Gi",
            "nodeTopology": {"matchLabels": {"topology.kubernetes.io/zone": "zone-a"}},
        },
    )
    store.create(
        "poddisruptionbudgets",
        {"metadata": {"name": "web", "namespace": "default"}, "spec": {"maxUnavailable": "50%", "selector": _SELECTOR}},
    )
    store.create(
        "services",
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], "clusterIP": "10.96.0.10"},
        },
    )
    store.create(
        "replicasets",
        {"metadata": {"name": "web-5d8f", "namespace": "default"}, "spec": {"replicas": 3, "selector": _SELECTOR}},
    )
    store.create(
        "statefulsets",
        {"metadata": {"name": "db", "namespace": "default"}, "spec": {"replicas": 2, "selector": _SELECTOR}},
    )
    store.create(
        "replicationcontrollers",
        {"metadata": {"name": "old", "namespace": "default"}, "spec": {"replicas": 1, "selector": {"app": "old"}}},
    )
    return emulator


@pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "printing the emulator's tables"))
@pytest.mark.parametrize(
    ("resource", "header", "row"),
    [
        pytest.param(
            "pvc",
            ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"],
            ["data-0", "Pending", "fast", "<unset>"],
            id="a WaitForFirstConsumer claim without a node is Pending with no volume",
        ),
        pytest.param(
            "pv",
            ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS"],
            ["local-1", "10Gi", "RWO,ROX", "Retain", "Available", "manual", "<unset>"],
            id="a pre-provisioned volume defaults to Retain and becomes Available",
        ),
        pytest.param(
            "sc",
            ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"],
            ["fast (default)", "ebs.csi.aws.com", "Delete", "WaitForFirstConsumer", "true"],
            id="the default class is marked and its reclaim policy defaulted",
        ),
        pytest.param("csinode", ["NAME", "DRIVERS", "AGE"], ["node-1", "1"], id="a CSI node counts its drivers"),
        pytest.param(
            "csidrivers",
            [
                "NAME",
                "ATTACHREQUIRED",
                "PODINFOONMOUNT",
                "STORAGECAPACITY",
                "TOKENREQUESTS",
                "REQUIRESREPUBLISH",
                "MODES",
                "AGE",
            ],
            ["ebs.csi.aws.com", "true", "false", "true", "<unset>", "false", "Persistent"],
            id="a CSI driver shows its capacity tracking and the API's defaults",
        ),
        pytest.param(
            "csistoragecapacities",
            ["NAME", "STORAGECLASSNAME", "CAPACITY"],
            ["csisc-a", "fast", "100Gi"],
            id="a CSI storage capacity names its class and capacity",
        ),
        pytest.param(
            "pdb",
            ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
            ["web", "N/A", "50%", "0"],
            id="a budget selecting no pods allows no disruption",
        ),
        pytest.param(
            "svc",
            ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
            ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP"],
            id="a Service defaults to ClusterIP and TCP",
        ),
        pytest.param(
            "rs",
            ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            ["web-5d8f", "3", "0", "0"],
            id="a ReplicaSet no controller runs has no pods",
        ),
        pytest.param("sts", ["NAME", "READY", "AGE"], ["db", "0/2"], id="a StatefulSet's ready count"),
        pytest.param("rc", ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["old", "1", "0", "0"], id="an RC"),
        pytest.param(
            "rs -o wide",
            ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
            ["web-5d8f", "3", "0", "0", "app=web"],
            id="the wide table shows the ReplicaSet's selector",
        ),
    ],
)
def test_kubectl_get(
    storage_cluster: Emulator, tmp_path: Path, resource: str, header: list[str], row: list[str]
) -> None:
    table = _kubectl(tmp_path, storage_cluster.url, "get", *resource.split())
    assert table[0][: len(header)] == header
    cells = [c for c in table[1] if not re.fullmatch(r"\d+s", c)]  # the age varies
    assert cells == row


@pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "printing the emulator's tables"))
def test_kubectl_gets_services_and_workload_controllers_together(storage_cluster: Emulator, tmp_path: Path) -> None:
    """`kubectl get svc,rs,sts,rc`: one table per kind, each found through discovery by its short name."""
    rows = _kubectl(tmp_path, storage_cluster.url, "get", "svc,rs,sts,rc", "-o", "name")
    assert [row[0] for row in rows] == [
        "service/web",
        "replicaset.apps/web-5d8f",
        "statefulset.apps/db",
        "replicationcontroller/old",
    ]
