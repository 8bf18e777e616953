"""`DefaultSelector` and `GetPodServices` against kube-scheduler's own cases, and the informer events feeding them.

Upstream cases are cited by test function and name with the commit of kubernetes/kubernetes they were read at:
`helper/spread_test.go` and `podtopologyspread/scoring_test.go` (whose PreScore cases check the selector the
default constraints get). Upstream's `fooSelector` is `foo Exists`.
"""

from typing import Any

import pytest

from cluster.labels import selector_matches
from cluster.objects import LabelSelector, Pod, Requirement
from cluster.parse import parse_pod
from cluster.spread import Workloads, apply_event, default_selector, pod_services
from tests.builders import make_pod, make_workloads, pod_json

SERVICES = "TestGetPodServices @ k8s 650c573d"
SKIP = "TestPreScoreSkip @ k8s 38f68d59"
EMPTY_NODES = "TestPreScoreStateEmptyNodes @ k8s 38f68d59"
FOO_EXISTS = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}


def owned(name: str, labels: dict[str, str], kind: str = "ReplicaSet", api_version: str = "apps/v1") -> Pod:
    """A pod in namespace default controlled by `kind` `name` (`st.MakePod().OwnerReference`)."""
    raw = pod_json("p", labels=labels)
    ref = {"apiVersion": api_version, "kind": kind, "name": name, "uid": f"{name}-uid", "controller": True}
    raw["metadata"]["ownerReferences"] = [ref]
    return parse_pod(raw)


def service(name: str, selector: dict[str, str] | None, namespace: str = "default") -> dict[str, Any]:
    spec = {} if selector is None else {"selector": selector}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def controller(name: str, selector: Any, namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"selector": selector}}


TEST_SERVICES = [service(f"service-{i}", {"app": f"test-{i}"}, "test") for i in range(3)]


@pytest.mark.parametrize(
    ("i", "expected"),
    [
        pytest.param(0, ["service-0"], id=f"{SERVICES}: GetPodServices for pod-0"),
        pytest.param(1, ["service-1"], id=f"{SERVICES}: GetPodServices for pod-1"),
        pytest.param(2, ["service-2"], id=f"{SERVICES}: GetPodServices for pod-2"),
        pytest.param(3, [], id=f"{SERVICES}: GetPodServices for pod-3"),
        pytest.param(4, [], id=f"{SERVICES}: GetPodServices for pod-4"),
    ],
)
def test_get_pod_services(i: int, expected: list[str]) -> None:
    pod = make_pod(f"test-pod-{i}", namespace="test", labels={"app": f"test-{i}", "label": f"label-{i}"})
    assert pod_services(make_workloads(services=TEST_SERVICES), pod) == expected


@pytest.mark.parametrize(
    ("workloads", "pod", "expected"),
    [
        pytest.param(
            make_workloads(replicasets=[controller("rs1", FOO_EXISTS)]),
            owned("rs1", {"foo": "tar", "baz": "sup"}),
            LabelSelector((), (Requirement("foo", "Exists"),)),
            id=f"{EMPTY_NODES}: system default constraints and a replicaset",
        ),
        pytest.param(
            make_workloads(
                replicasets=[controller("rs1", {"matchExpressions": [{"key": "tar", "operator": "Exists"}]})]
            ),
            owned("rs2", {"foo": "bar", "baz": "sup"}),
            LabelSelector(),
            id=f"{SKIP}: default constraints and a replicaset that doesn't match (rs2 is not listed: Skip)",
        ),
        pytest.param(
            make_workloads(services=[service("svc", {"foo": ""})]),
            make_pod("p", labels={"foo": ""}),
            LabelSelector((("foo", ""),)),
            id="a bare pod a Service selects gets the Service's selector",
        ),
        pytest.param(
            make_workloads(services=[service("svc", {"app": "web"})]),
            make_pod("p", labels={"app": "db"}),
            LabelSelector(),
            id="a bare pod no Service selects gets none: no default spreading",
        ),
        pytest.param(
            make_workloads(services=[service("svc", {"app": "web"}, namespace="other")]),
            make_pod("p", labels={"app": "web"}),
            LabelSelector(),
            id="a Service of another namespace does not select the pod",
        ),
        pytest.param(
            make_workloads(services=[service("headless", None)]),
            make_pod("p", labels={"app": "web"}),
            LabelSelector(),
            id="a Service with a nil selector matches nothing, not everything",
        ),
        pytest.param(
            make_workloads(services=[service("all", {})]),
            make_pod("p", labels={"app": "web"}),
            LabelSelector(),
            id="a Service with an empty selector matches the pod and adds no requirement",
        ),
        pytest.param(
            make_workloads(
                services=[service("web", {"app": "web"}), service("tier", {"tier": "front"})],
                replicasets=[controller("web-5d8f", {"matchLabels": {"pod-template-hash": "5d8f"}})],
            ),
            owned("web-5d8f", {"app": "web", "tier": "front", "pod-template-hash": "5d8f"}),
            LabelSelector((("app", "web"), ("pod-template-hash", "5d8f"), ("tier", "front"))),
            id="every matching Service's selector merged, the ReplicaSet's requirements added",
        ),
        pytest.param(
            make_workloads(
                services=[service("web", {"app": "web"})],
                replicationcontrollers=[controller("rc", {"app": "web", "rc": "1"})],
            ),
            owned("rc", {"app": "web", "rc": "1"}, kind="ReplicationController", api_version="v1"),
            LabelSelector((("app", "web"), ("rc", "1"))),
            id="a ReplicationController's selector is merged into the Services' label set",
        ),
        pytest.param(
            make_workloads(statefulsets=[controller("db", {"matchLabels": {"app": "db"}})]),
            owned("db", {"app": "db"}, kind="StatefulSet"),
            LabelSelector((("app", "db"),)),
            id="a StatefulSet's selector",
        ),
        pytest.param(
            make_workloads(replicasets=[controller("rs1", FOO_EXISTS)]),
            owned("rs1", {"foo": "tar"}, api_version="extensions/v1beta1"),
            LabelSelector(),
            id="an owner of another group/version is not a supported controller",
        ),
        pytest.param(
            make_workloads(replicasets=[controller("rs1", None)]),
            owned("rs1", {"foo": "tar"}),
            LabelSelector(),
            id="a ReplicaSet with a nil selector adds nothing",
        ),
        pytest.param(
            make_workloads(
                replicasets=[
                    controller("rs1", {"matchExpressions": [{"key": "foo", "operator": "Exists", "values": ["x"]}]})
                ]
            ),
            owned("rs1", {"foo": "tar"}),
            LabelSelector(),
            id="a ReplicaSet whose selector LabelSelectorAsSelector refuses adds nothing",
        ),
        pytest.param(
            make_workloads(replicasets=[controller("rs1", FOO_EXISTS)]),
            make_pod("p", labels={"foo": "tar"}),
            LabelSelector(),
            id="a pod without a controller reference is not matched to a ReplicaSet by its labels",
        ),
    ],
)
def test_default_selector(workloads: Workloads, pod: Pod, expected: LabelSelector) -> None:
    assert default_selector(workloads, pod) == expected


def test_a_conflicting_replicaset_selector_is_anded_so_it_selects_nothing() -> None:
    """`selector.Add(r...)` ANDs the ReplicaSet's requirements with the Services' set; they never override it."""
    workloads = make_workloads(
        services=[service("web", {"app": "web"})],
        replicasets=[controller("rs", {"matchLabels": {"app": "other"}})],
    )
    selector = default_selector(workloads, owned("rs", {"app": "web"}))
    assert not selector.empty
    assert not selector_matches(selector, {"app": "web"})
    assert not selector_matches(selector, {"app": "other"})


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [("ADDED", service("web", {"app": "web"})), ("DELETED", service("web", {"app": "web"}))],
            LabelSelector(),
            id="a deleted Service no longer selects",
        ),
        pytest.param(
            [("ADDED", service("web", {"app": "web"})), ("MODIFIED", service("web", None))],
            LabelSelector(),
            id="a Service whose selector was removed no longer selects",
        ),
        pytest.param(
            [("ADDED", service("web", {"app": "db"})), ("MODIFIED", service("web", {"app": "web"}))],
            LabelSelector((("app", "web"),)),
            id="a Service's changed selector applies",
        ),
    ],
)
def test_informer_events_keep_the_services_current(events: list[tuple[str, dict]], expected: LabelSelector) -> None:
    workloads = Workloads()
    for kind, raw in events:
        workloads, problem = apply_event(workloads, "services", kind, raw)
        assert problem is None
    assert default_selector(workloads, make_pod("p", labels={"app": "web"})) == expected


def test_an_unreadable_service_is_dropped_with_a_reason() -> None:
    workloads = make_workloads(services=[service("web", {"app": "web"})])
    workloads, problem = apply_event(workloads, "services", "MODIFIED", service("web", {"app": 7}))  # type: ignore[dict-item]
    assert problem == "service default/web: spec.selector must be a map of strings"
    assert default_selector(workloads, make_pod("p", labels={"app": "web"})).empty


def test_a_deleted_controller_no_longer_adds_its_selector() -> None:
    workloads = make_workloads(replicasets=[controller("rs1", FOO_EXISTS)])
    workloads, _ = apply_event(workloads, "replicasets", "DELETED", controller("rs1", FOO_EXISTS))
    assert default_selector(workloads, owned("rs1", {"foo": "tar"})).empty
