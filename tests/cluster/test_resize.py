"""A resized pod counts what the kubelet holds for it: the largest of spec, allocated and actuated requests.

Upstream cases are `k8s.io/component-helpers/resource/helpers_test.go` TestPodResourceRequests (v1.35), with
`UseStatusResources: true` as kube-scheduler sets it (InPlacePodVerticalScaling on by default since 1.33)."""

from typing import Any

import pytest

from cluster import resources
from cluster.parse import ManifestError, parse_pod
from cluster.resize import footprint
from tests.builders import pod_json

UPSTREAM = "TestPodResourceRequests v1.35"
INFEASIBLE = [{"type": "PodResizePending", "status": "True", "reason": "Infeasible"}]
DEFERRED = [{"type": "PodResizePending", "status": "True", "reason": "Deferred"}]
IN_PROGRESS = [{"type": "PodResizeInProgress", "status": "True"}]


def container(name: str, requests: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "resources": {"requests": requests}, **extra}


def status(name: str, allocated: dict[str, str] | None = None, actual: dict[str, str] | None = None) -> dict:
    out: dict[str, Any] = {"name": name}
    if allocated is not None:
        out["allocatedResources"] = allocated
    if actual is not None:
        out["resources"] = {"requests": actual}
    return out


def one(spec_cpu: str, allocated: str | None, actual: str | None, conditions=()) -> tuple[dict, dict]:
    """A pod of one container `c` resized to `spec_cpu`, with what the kubelet reports for it."""
    spec = {"containers": [container("c", {"cpu": spec_cpu})]}
    reported = status(
        "c", None if allocated is None else {"cpu": allocated}, None if actual is None else {"cpu": actual}
    )
    return spec, {"containerStatuses": [reported], "conditions": list(conditions)}


SIDECAR = {"restartPolicy": "Always"}


@pytest.mark.parametrize(
    ("spec", "pod_status", "expected"),
    [
        pytest.param(*one("4", None, "2", INFEASIBLE), {"cpu": 2000}, id=f"{UPSTREAM}: resized, infeasible"),
        pytest.param(
            *one("6", "4", "2", INFEASIBLE), {"cpu": 4000}, id=f"{UPSTREAM}: resized, infeasible & in-progress"
        ),
        pytest.param(*one("4", None, "2"), {"cpu": 4000}, id=f"{UPSTREAM}: resized, no resize status"),
        pytest.param(
            {"containers": [container("c", {"cpu": "30m", "memory": "20M", "ephemeral-storage": "10G"})]},
            {
                "containerStatuses": [
                    status(
                        "c",
                        {"cpu": "20m", "memory": "10M", "ephemeral-storage": "30G"},
                        {"cpu": "10m", "memory": "30M", "ephemeral-storage": "20G"},
                    )
                ]
            },
            {"cpu": 30, "memory": 30_000_000, "ephemeral-storage": 30_000_000_000},
            id=f"{UPSTREAM}: resized: per-resource 3-way maximum",
        ),
        pytest.param(
            {"containers": [], "initContainers": [container("s", {"cpu": "4"}, **SIDECAR)]},
            {"initContainerStatuses": [status("s", actual={"cpu": "2"})], "conditions": INFEASIBLE},
            {"cpu": 2000},
            id=f"{UPSTREAM}: resized, restartable init container, infeasible",
        ),
        pytest.param(
            {"containers": [], "initContainers": [container("s", {"cpu": "4"}, **SIDECAR)]},
            {"initContainerStatuses": [status("s", actual={"cpu": "2"})]},
            {"cpu": 4000},
            id=f"{UPSTREAM}: resized, restartable init container, no resize status",
        ),
        pytest.param(
            *one("3", "3", "1", IN_PROGRESS), {"cpu": 3000}, id="a resize from 1 to 3 CPU in progress counts 3"
        ),
        pytest.param(
            *one("1", "1", "3", IN_PROGRESS),
            {"cpu": 3000},
            id="a resize down from 3 to 1 CPU still holds 3 until the kubelet has actuated it",
        ),
        pytest.param(
            *one("3", "1", "1", DEFERRED), {"cpu": 3000}, id="a deferred resize counts the spec: it may happen any time"
        ),
        pytest.param(*one("3", "1", "1", INFEASIBLE), {"cpu": 1000}, id="an infeasible resize counts what is held"),
        pytest.param(*one("2", "2", "2"), {"cpu": 2000}, id="a settled pod counts its spec"),
        pytest.param(
            {"containers": [container("up", {"cpu": "3"}), container("down", {"cpu": "1"})]},
            {
                "containerStatuses": [
                    status("up", {"cpu": "1"}, {"cpu": "1"}),
                    status("down", {"cpu": "3"}, {"cpu": "3"}),
                ]
            },
            {"cpu": 4000},
            id="the largest of the pod's totals, not of each container's: one grows as another shrinks",
        ),
    ],
)
def test_requests_count_the_largest_of_spec_allocated_and_actuated(spec, pod_status, expected):
    requests, _ = resources.pod_requests_and_non_zero(spec, status=pod_status)
    assert {name: value for name, value in requests.items() if value} == expected


def test_an_infeasible_resize_without_a_kubelet_figure_still_gets_the_non_zero_defaults():
    """`applyNonMissing` of upstream's nil container list: the 100m / 200Mi defaults, as for any empty container."""
    spec = {"containers": [container("c", {"cpu": "4"})]}
    requests, non_zero = resources.pod_requests_and_non_zero(
        spec, status={"containerStatuses": [{"name": "c"}], "conditions": INFEASIBLE}
    )
    assert requests["cpu"] == 0
    assert non_zero == {"cpu": resources.DEFAULT_MILLI_CPU_REQUEST, "memory": resources.DEFAULT_MEMORY_REQUEST}


def bound(spec_cpu: str, allocated: str, actual: str, conditions=()) -> dict:
    raw = pod_json("a", cpu=spec_cpu, node="n1")
    raw["status"] = {
        "phase": "Running",
        "containerStatuses": [status("c", {"cpu": allocated}, {"cpu": actual})],
        "conditions": list(conditions),
    }
    return raw


def test_a_bound_pods_parsed_requests_include_its_resize():
    assert parse_pod(bound("1", "1", "3", IN_PROGRESS)).requests["cpu"] == 3000


def test_an_unreadable_status_quantity_names_the_container_or_counts_as_everything():
    raw = bound("1", "lots", "1")
    with pytest.raises(ManifestError, match=r"status of container 'c': allocatedResources: invalid quantity 'lots'"):
        parse_pod(raw)
    warnings: list[str] = []
    assert parse_pod(raw, warn=warnings.append).requests["cpu"] == resources.MAX_QUANTITY
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        pytest.param(bound("1", "1", "1"), bound("3", "1", "1"), False, id="a resize of the spec changes it"),
        pytest.param(bound("3", "1", "1"), bound("3", "3", "1"), False, id="the kubelet allocating changes it"),
        pytest.param(bound("3", "3", "1"), bound("3", "3", "3"), False, id="the kubelet actuating changes it"),
        pytest.param(
            bound("3", "1", "1"), bound("3", "1", "1", INFEASIBLE), False, id="an infeasible verdict changes it"
        ),
        pytest.param(
            bound("1", "1", "1"),
            {**bound("1", "1", "1"), "metadata": {"name": "a", "resourceVersion": "9"}},
            True,
            id="a write that touches no resources leaves it",
        ),
    ],
)
def test_the_footprint_moves_with_every_resize_step(before, after, same):
    assert (footprint(before) == footprint(after)) == same
