"""Server-side printing: the Table cells kubectl shows, as `pkg/printers/internalversion` renders them."""

from typing import Any

import pytest

from sim.tables import human_duration, table

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
CREATED = "2027-01-15T07:55:00Z"  # five minutes before NOW


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(-5, "<invalid>", id="the future is invalid"),
        pytest.param(-0.5, "0s", id="a moment ahead is 0s"),
        pytest.param(45, "45s", id="seconds below two minutes"),
        pytest.param(119, "119s", id="still seconds at 119"),
        pytest.param(200, "3m20s", id="minutes and seconds below ten minutes"),
        pytest.param(300, "5m", id="whole minutes drop the seconds"),
        pytest.param(3 * 3600 - 1, "179m", id="minutes below three hours"),
        pytest.param(5 * 3600 + 600, "5h10m", id="hours and minutes below eight hours"),
        pytest.param(30 * 3600, "30h", id="hours below two days"),
        pytest.param(3 * 86400 + 7200, "3d2h", id="days and hours below eight days"),
        pytest.param(400 * 86400, "400d", id="days below two years"),
        pytest.param(3 * 365 * 86400 + 20 * 86400, "3y20d", id="years and days"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": status.pop("node", None)},
        "status": status,
    }


RUNNING = {"ready": True, "restartCount": 1, "state": {"running": {}}}
WAITING = {"ready": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}


@pytest.mark.parametrize(
    ("pod", "cells"),
    [
        pytest.param(
            _pod(phase="Pending"),
            ["web-1", "0/2", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>"],
            id="a pending pod",
        ),
        pytest.param(
            _pod(phase="Running", podIP="10.244.0.5", node="n1", containerStatuses=[RUNNING, RUNNING]),
            ["web-1", "2/2", "Running", "2", "5m", "10.244.0.5", "n1", "<none>", "<none>"],
            id="a running pod sums restarts",
        ),
        pytest.param(
            _pod(phase="Running", containerStatuses=[RUNNING, WAITING]),
            ["web-1", "1/2", "CrashLoopBackOff", "3", "5m", "<none>", "<none>", "<none>", "<none>"],
            id="a waiting container's reason wins",
        ),
        pytest.param(
            _pod(phase="Pending", nominatedNodeName="n2"),
            ["web-1", "0/2", "Pending", "0", "5m", "<none>", "<none>", "n2", "<none>"],
            id="a nominated node",
        ),
    ],
)
def test_pod_rows(pod: dict[str, Any], cells: list[str]) -> None:
    assert table("Pod", [pod], now=NOW)["rows"][0]["cells"] == cells


def test_terminating_pods_say_so() -> None:
    pod = _pod(phase="Running")
    pod["metadata"]["deletionTimestamp"] = CREATED
    assert table("Pod", [pod], now=NOW)["rows"][0]["cells"][2] == "Terminating"


@pytest.mark.parametrize(
    ("node", "status_and_roles"),
    [
        pytest.param({"conditions": [{"type": "Ready", "status": "True"}]}, ["Ready", "<none>"], id="a ready node"),
        pytest.param(
            {"conditions": [{"type": "Ready", "status": "Unknown"}]}, ["NotReady", "<none>"], id="unknown is NotReady"
        ),
        pytest.param({}, ["Unknown", "<none>"], id="no Ready condition is Unknown"),
    ],
)
def test_node_status_column(node: dict[str, Any], status_and_roles: list[str]) -> None:
    obj = {"metadata": {"name": "n1", "creationTimestamp": CREATED}, "status": node}
    assert table("Node", [obj], now=NOW)["rows"][0]["cells"][1:3] == status_and_roles


def test_node_roles_and_cordon() -> None:
    labels = {
        "node-role.kubernetes.io/control-plane": "",
        "node-role.kubernetes.io/worker": "",
        "kubernetes.io/role": "gpu",
    }
    node = {
        "metadata": {"name": "n1", "creationTimestamp": CREATED, "labels": labels},
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.32.1"}},
    }
    cells = table("Node", [node], now=NOW)["rows"][0]["cells"]
    assert cells[:5] == ["n1", "Ready,SchedulingDisabled", "control-plane,gpu,worker", "5m", "v1.32.1"]


def test_event_rows() -> None:
    event = {
        "metadata": {"name": "web-1.17", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1"},
        "reason": "FailedScheduling",
        "message": "0/6 nodes are available: 2 Insufficient cpu. ",
        "type": "Warning",
        "reportingComponent": "ai-llama-scheduler",
        "reportingInstance": "sched-0",
        "eventTime": "2027-01-15T07:59:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2027-01-15T07:59:50.000000Z"},
    }
    cells = table("Event", [event], now=NOW)["rows"][0]["cells"]
    assert cells == [
        "10s",
        "Warning",
        "FailedScheduling",
        "pod/web-1",
        "",
        "ai-llama-scheduler, sched-0",
        "0/6 nodes are available: 2 Insufficient cpu.",
        "60s",
        "4",
        "web-1.17",
    ]


def test_table_shape_and_row_objects() -> None:
    pod = _pod(phase="Pending")
    out = table("Pod", [pod], now=NOW, resource_version="42", continue_token="abc")
    assert out["kind"] == "Table" and out["apiVersion"] == "meta.k8s.io/v1"
    assert out["metadata"] == {"resourceVersion": "42", "continue": "abc"}
    assert [c["name"] for c in out["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert out["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod["metadata"],
    }
    assert "object" not in table("Pod", [pod], now=NOW, include_object="None")["rows"][0]
