"""A pod's inline GCE PD, AWS EBS, RBD and iSCSI volumes, as parsed for VolumeRestrictions: the fields the API
server requires and defaults, a clear one-line `ManifestError` for a malformed pending pod, and a bound pod that
is still counted on its node whatever its volumes hold."""

from typing import Any

import pytest

from cluster.objects import InlineDisk
from cluster.parse import ManifestError, parse_pod
from tests.builders import pod_json


def with_volumes(*volumes: Any, node: str = "") -> dict[str, Any]:
    return pod_json("p", node=node, cpu="1", spec={"volumes": list(volumes)})


@pytest.mark.parametrize(
    ("volume", "disks"),
    [
        pytest.param(
            {"name": "v", "gcePersistentDisk": {"pdName": "foo"}},
            (InlineDisk("gcePersistentDisk", ("foo",)),),
            id="a GCE PD by its pdName, read-write when readOnly is left out",
        ),
        pytest.param(
            {"name": "v", "awsElasticBlockStore": {"volumeID": "vol-1", "readOnly": True}},
            (InlineDisk("awsElasticBlockStore", ("vol-1",), True),),
            id="an EBS volume by its volumeID",
        ),
        pytest.param(
            {"name": "v", "rbd": {"monitors": ["a", "b"], "image": "bar"}},
            (InlineDisk("rbd", ("rbd", "bar"), False, frozenset({"a", "b"})),),
            id="an RBD image without a pool is in the pool 'rbd', as the API server defaults it",
        ),
        pytest.param(
            {"name": "v", "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2016-12.server:t1", "lun": 0}},
            (InlineDisk("iscsi", ("iqn.2016-12.server:t1",)),),
            id="an iSCSI disk by its IQN alone, as upstream compares it",
        ),
        pytest.param(
            {"name": "v", "persistentVolumeClaim": {"claimName": "data"}},
            (),
            id="a claim is no inline disk",
        ),
    ],
)
def test_inline_disks_are_read(volume: dict[str, Any], disks: tuple[InlineDisk, ...]) -> None:
    assert parse_pod(with_volumes(volume)).inline_disks == disks


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        pytest.param(
            {"name": "v", "gcePersistentDisk": {}},
            "pod default/p: spec.volumes[0].gcePersistentDisk.pdName must be a non-empty string",
            id="a GCE PD without a pdName",
        ),
        pytest.param(
            {"name": "v", "awsElasticBlockStore": "vol-1"},
            "pod default/p: spec.volumes[0].awsElasticBlockStore must be an object",
            id="a source that is not an object",
        ),
        pytest.param(
            {"name": "v", "iscsi": {"iqn": "iqn.x", "readOnly": "yes"}},
            "pod default/p: spec.volumes[0].iscsi.readOnly must be true or false",
            id="readOnly that is not a boolean",
        ),
        pytest.param(
            {"name": "v", "rbd": {"monitors": "a,b", "image": "bar"}},
            "pod default/p: spec.volumes[0].rbd.monitors must be a list",
            id="RBD monitors that are not a list",
        ),
        pytest.param(
            {"name": "v", "rbd": {"monitors": [], "image": "bar"}},
            "pod default/p: spec.volumes[0].rbd.monitors must list at least one monitor",
            id="an RBD volume with no monitor",
        ),
        pytest.param(
            {"name": "v", "rbd": {"monitors": [{"host": "a"}], "image": "bar"}},
            "pod default/p: spec.volumes[0].rbd.monitors[0] must be a non-empty string",
            id="a monitor that is not a string",
        ),
    ],
)
def test_a_malformed_inline_disk_of_a_pending_pod_is_one_clear_line(volume: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        parse_pod(with_volumes(volume))
    assert str(raised.value) == message


def test_a_bound_pod_with_a_malformed_disk_is_still_counted_on_its_node() -> None:
    warnings: list[str] = []
    raw = with_volumes({"name": "v", "gcePersistentDisk": {"pdName": 7}}, node="node-1")
    counted = parse_pod(raw, warn=warnings.append)
    assert (counted.node_name, counted.requests["cpu"], counted.inline_disks) == ("node-1", 1000, ())
    assert warnings == [
        "pod default/p: spec.volumes[0].gcePersistentDisk.pdName must be a non-empty string; still counted on node "
        "node-1, every unreadable request as 2^53"
    ]


def test_a_bound_pod_whose_spec_fails_elsewhere_keeps_its_readable_disks() -> None:
    raw = with_volumes({"name": "v", "awsElasticBlockStore": {"volumeID": "vol-1"}}, node="node-1")
    raw["spec"]["priority"] = "high"
    counted = parse_pod(raw, warn=lambda _: None)
    assert counted.inline_disks == (InlineDisk("awsElasticBlockStore", ("vol-1",)),)
