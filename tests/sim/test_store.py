"""The emulator's store: defaulting, optimistic concurrency, history, listing and subscriptions, in-process."""

from typing import Any

import pytest

from cluster.clock import FakeClock
from sim.api_errors import ApiError
from sim.api_resources import find
from sim.api_watch import Change
from sim.store import Store

PODS = find("v1", "pods")


@pytest.fixture
def store() -> Store:
    return Store(clock=FakeClock(), history=50)


def test_pod_create_applies_the_defaulting_schedulers_see(make_pod: Any, store: Store) -> None:
    pod = store.create("pods", make_pod("p", namespace="team-a", limits={"cpu": "500m", "memory": "1Gi"}))
    assert pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"]
    assert pod["metadata"]["creationTimestamp"] == "2027-01-15T08:00:00Z"
    assert pod["spec"]["schedulerName"] == "default-scheduler"
    assert pod["spec"]["priority"] == 0
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    assert {t["key"] for t in pod["spec"]["tolerations"]} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }


def test_a_namespace_appears_with_its_first_object(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p", namespace="team-a"))
    namespace = store.get("namespaces", "team-a")
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert namespace["status"] == {"phase": "Active"}
    assert {n["metadata"]["name"] for n in store.list("namespaces").items} >= {"default", "kube-system", "team-a"}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        pytest.param({}, "BestEffort", id="no requests or limits is BestEffort"),
        pytest.param({"requests": {"cpu": "100m"}}, "Burstable", id="requests only is Burstable"),
        pytest.param({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed", id="limits only default the requests"),
        pytest.param(
            {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}},
            "Guaranteed",
            id="equal quantities in other units are Guaranteed",
        ),
        pytest.param({"limits": {"cpu": "1"}}, "Burstable", id="a cpu limit alone is Burstable"),
    ],
)
def test_qos_class(make_pod: Any, store: Store, resources: dict[str, Any], qos: str) -> None:
    pod = make_pod("p")
    pod["spec"]["containers"][0]["resources"] = resources
    assert store.create("pods", pod)["status"]["qosClass"] == qos


def test_create_refuses_a_taken_name(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p"))
    with pytest.raises(ApiError) as caught:
        store.create("pods", make_pod("p"))
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        409,
        "AlreadyExists",
        'pods "p" already exists',
    )


def test_create_status_is_reset_but_load_keeps_it(make_pod: Any, store: Store) -> None:
    running = make_pod("p", node="n1") | {"status": {"phase": "Running", "podIP": "10.0.0.9"}}
    assert store.create("pods", running)["status"]["phase"] == "Pending"
    store.load([make_pod("q", node="n1") | {"status": {"phase": "Running", "podIP": "10.0.0.9"}}])
    assert store.get("pods", "q", namespace="default")["status"]["podIP"] == "10.0.0.9"


def test_update_with_a_stale_resource_version_conflicts(store: Store) -> None:
    lease = store.create(
        "leases", {"metadata": {"name": "l", "namespace": "kube-system"}, "spec": {"holderIdentity": "a"}}
    )
    store.update("leases", lease | {"spec": {"holderIdentity": "b"}})
    with pytest.raises(ApiError) as caught:
        store.update("leases", lease | {"spec": {"holderIdentity": "c"}})
    assert caught.value.code == 409
    assert caught.value.message == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "l": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_an_update_that_changes_nothing_writes_nothing(make_node: Any, store: Store) -> None:
    node = store.create("nodes", make_node("n1"))
    again = store.update("nodes", node)
    assert again["metadata"]["resourceVersion"] == node["metadata"]["resourceVersion"]
    assert store.resource_version == int(node["metadata"]["resourceVersion"])


def test_status_and_spec_are_written_through_their_own_endpoints(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p"))
    patched = store.patch("pods", "p", {"status": {"phase": "Failed"}, "metadata": {"labels": {"x": "1"}}})
    assert patched["status"]["phase"] == "Pending", "the main resource ignores status"
    assert patched["metadata"]["labels"] == {"x": "1"}
    patched = store.patch("pods", "p", {"status": {"phase": "Failed"}}, subresource="status")
    assert patched["status"]["phase"] == "Failed"


def test_the_pod_spec_is_immutable_but_for_a_few_fields(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p"))
    with pytest.raises(ApiError) as caught:
        store.patch("pods", "p", {"spec": {"nodeName": "n1"}})
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    image = {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}
    assert store.patch("pods", "p", image, patch_type="strategic")["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_bind_sets_the_node_and_the_scheduled_condition(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p"))
    pod = store.bind("default", "p", "n1", annotations={"ai-scheduler.io/decision-tier": "heuristic"})
    assert pod["spec"]["nodeName"] == "n1"
    assert pod["status"]["conditions"][0] == {
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "2027-01-15T08:00:00Z",
    }
    assert pod["metadata"]["annotations"] == {"ai-scheduler.io/decision-tier": "heuristic"}
    with pytest.raises(ApiError, match='pod p is already assigned to node "n1"'):
        store.bind("default", "p", "n2")


def test_delete_is_immediate_and_takes_a_new_version(make_pod: Any, store: Store) -> None:
    created = store.create("pods", make_pod("p"))
    deleted = store.delete("pods", "p", namespace="default")
    assert int(deleted["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(ApiError, match='pods "p" not found'):
        store.get("pods", "p", namespace="default")


def test_deleting_a_namespace_deletes_its_objects(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p", namespace="gone"))
    store.delete("namespaces", "gone")
    assert store.list("pods", namespace="gone").items == []


def test_field_selectors_use_the_node_name_index(make_pod: Any, store: Store) -> None:
    for i in range(6):
        store.create("pods", make_pod(f"p{i}", node="n1" if i % 2 else None, scheduler="ai-llama-scheduler"))
    unscheduled = store.list("pods", fields="spec.nodeName=,spec.schedulerName=ai-llama-scheduler")
    assert [p["metadata"]["name"] for p in unscheduled.items] == ["p0", "p2", "p4"]
    assert [p["metadata"]["name"] for p in store.list("pods", fields="spec.nodeName=n1").items] == ["p1", "p3", "p5"]
    store.bind("default", "p0", "n1")
    assert len(store.list("pods", fields="spec.nodeName=n1").items) == 4


def test_a_paginated_list_is_consistent_at_its_first_version(make_pod: Any, store: Store) -> None:
    for i in range(5):
        store.create("pods", make_pod(f"p{i}"))
    first = store.list("pods", limit=2)
    store.create("pods", make_pod("p10"))
    store.delete("pods", "p3", namespace="default")
    second = store.list("pods", limit=2, continue_token=first.continue_token)
    third = store.list("pods", limit=2, continue_token=second.continue_token)
    names = [p["metadata"]["name"] for page in (first, second, third) for p in page.items]
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    assert third.continue_token == ""
    assert first.remaining == 3


def test_exact_lists_and_continue_tokens_expire_with_the_history(make_pod: Any, store: Store) -> None:
    for i in range(3):
        store.create("pods", make_pod(f"p{i}"))
    page = store.list("pods", limit=1)
    old = store.resource_version
    store.create("pods", make_pod("p9"))
    store.expire_history()
    for call in (
        lambda: store.list("pods", continue_token=page.continue_token),
        lambda: store.list("pods", resource_version=old),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        assert (caught.value.code, caught.value.reason) == (410, "Expired")


def test_the_history_is_a_bounded_ring(store: Store) -> None:
    start = store.resource_version
    for i in range(60):
        store.create("events", {"metadata": {"name": f"e{i}", "namespace": "default"}, "reason": "Test"})
    with pytest.raises(ApiError, match="too old resource version"):
        store.watch(PODS, since=start)
    _, replay = store.watch(PODS, since=store.resource_version - 10)
    assert replay == []


def test_subscribers_see_every_change_in_order_even_their_own_writes(
    make_node: Any, make_pod: Any, store: Store
) -> None:
    seen: list[tuple[str, str, int]] = []

    def on_change(change: Change) -> None:
        seen.append((change.type, change.resource, change.resource_version))
        if change.resource == "pods" and change.type == "MODIFIED" and change.object["spec"].get("nodeName"):
            node = change.object["spec"]["nodeName"]
            store.patch("nodes", node, {"metadata": {"annotations": {"last-bound": change.object["metadata"]["name"]}}})

    store.create("nodes", make_node("n1"))
    store.create("pods", make_pod("p"))
    unsubscribe = store.subscribe(on_change)
    store.bind("default", "p", "n1")
    unsubscribe()
    store.create("pods", make_pod("q"))
    assert [s[:2] for s in seen] == [("MODIFIED", "pods"), ("MODIFIED", "nodes")]
    assert seen[0][2] < seen[1][2]
    assert store.get("nodes", "n1")["metadata"]["annotations"] == {"last-bound": "p"}


def test_subscribers_get_copies_they_may_keep(make_pod: Any, store: Store) -> None:
    got: list[Change] = []
    store.subscribe(got.append)
    store.create("pods", make_pod("p"))
    got[0].object["metadata"]["name"] = "mutated"
    assert store.get("pods", "p", namespace="default")["metadata"]["name"] == "p"


def test_watch_replays_history_with_selector_transitions(make_pod: Any, store: Store) -> None:
    store.create("pods", make_pod("p", labels={"app": "web"}))
    since = store.resource_version
    store.patch("pods", "p", {"metadata": {"labels": {"app": "db"}}})
    store.patch("pods", "p", {"metadata": {"labels": {"app": "web"}}})
    store.delete("pods", "p", namespace="default")
    _, events = store.watch(PODS, labels="app=web", since=since)
    assert [e.type for e in events] == ["DELETED", "ADDED", "DELETED"]
