"""`pods/eviction` and the disruption controller, through the real client, as kube-apiserver 1.32 answers.

Upstream: `pkg/registry/core/pod/storage/eviction.go` (checkAndDecrement, canIgnorePDB, addConditionAndDeletePod)
and its `eviction_test.go`; `pkg/controller/disruption/disruption.go` and `disruption_test.go` for the status.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from cluster.clock import FakeClock
from sim import api_disruption, api_errors
from sim.api_strategy import rfc3339
from sim.apiserver import Emulator
from sim.store import Store

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
SELECTOR = {"matchLabels": {"app": "web"}}
OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "rs-1", "controller": True}


@pytest.fixture
def emulator(make_node: Any, make_pod: Any) -> Iterator[Emulator]:
    """One node running three `app=web` pods of a ReplicaSet (the kubelet makes them Ready) and a fourth pending."""
    objects = [make_node("node-1")]
    for i in range(1, 5):
        pod = make_pod(f"web-{i}", labels={"app": "web"})
        pod["metadata"]["ownerReferences"] = [OWNER]
        objects.append(pod)
    with Emulator(objects) as emu:
        for i in range(1, 4):
            emu.store.bind("default", f"web-{i}", "node-1")
        yield emu


def budget(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": SELECTOR, **spec}}


def evict(core: client.CoreV1Api, pod: str) -> None:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": "default"}}
    core.create_namespaced_pod_eviction(pod, "default", body)


def pods(core: client.CoreV1Api) -> list[str]:
    return [p.metadata.name for p in core.list_namespaced_pod("default").items]


@pytest.mark.parametrize(
    ("spec", "allowed", "evicted"),
    [
        pytest.param(None, None, ["web-1", "web-2", "web-3"], id="without a budget every running pod can be evicted"),
        pytest.param(
            {"minAvailable": 2}, 1, ["web-1"], id="minAvailable 2 of 3 healthy allows one eviction, then refuses"
        ),
        pytest.param({"minAvailable": 3}, 0, [], id="minAvailable equal to the healthy pods allows none"),
        pytest.param(
            {"maxUnavailable": "60%"},
            2,
            ["web-1", "web-2"],
            id="maxUnavailable 60% of the ReplicaSet's 4 rounds up to 3, so 1 is wanted: two evictions pass",
        ),
        pytest.param({"minAvailable": "100%"}, 0, [], id="minAvailable 100% allows none"),
    ],
)
def test_eviction_respects_the_budget(
    core: client.CoreV1Api, spec: dict[str, Any] | None, allowed: int | None, evicted: list[str]
) -> None:
    """checkAndDecrement: allowed while `disruptionsAllowed` > 0, then 429 with the DisruptionBudget cause."""
    policy = client.PolicyV1Api(core.api_client)
    if spec is not None:
        policy.create_namespaced_pod_disruption_budget("default", budget(**spec))
        status = policy.read_namespaced_pod_disruption_budget("web", "default").status
        # web-4 is Pending: expected but not healthy (disruption controller's countHealthyPods)
        assert (status.disruptions_allowed, status.current_healthy, status.expected_pods) == (allowed, 3, 4)
    done = []
    for pod in ("web-1", "web-2", "web-3"):
        try:
            evict(core, pod)
            done.append(pod)
        except ApiException as exc:
            assert exc.status == 429
            refusal = json.loads(exc.body)
            assert (refusal["reason"], refusal["message"]) == ("TooManyRequests", TOO_MANY)
            status = policy.read_namespaced_pod_disruption_budget("web", "default").status
            cause = (
                f"The disruption budget web needs {status.desired_healthy} healthy pods "
                f"and has {status.current_healthy} currently"
            )
            assert refusal["details"]["causes"] == [{"reason": "DisruptionBudget", "message": cause}]
    assert done == evicted
    assert sorted(pods(core)) == sorted({"web-1", "web-2", "web-3", "web-4"} - set(evicted))


def test_evicted_pod_carries_the_disruption_target_condition(core: client.CoreV1Api) -> None:
    """addConditionAndDeletePod: the pod is updated with DisruptionTarget, then deleted."""
    since = core.list_namespaced_pod("default").metadata.resource_version
    evict(core, "web-2")
    stream = watch.Watch()
    events = stream.stream(core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=5)
    seen = []
    for event in events:
        if event["object"].metadata.name == "web-2":
            seen.append((event["type"], event["object"]))
        if event["type"] == "DELETED":
            stream.stop()
    kinds = [kind for kind, _ in seen]
    assert kinds == ["MODIFIED", "DELETED"]
    target = next(c for c in seen[-1][1].status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason, target.message) == ("True", "EvictionByEvictionAPI", "Eviction API: evicting")


def test_pending_pod_is_evicted_whatever_the_budget(core: client.CoreV1Api) -> None:
    """canIgnorePDB: a Pending pod disrupts nothing, so no budget is consulted."""
    client.PolicyV1Api(core.api_client).create_namespaced_pod_disruption_budget("default", budget(minAvailable=3))
    evict(core, "web-4")
    assert "web-4" not in pods(core)


def test_dry_run_eviction_changes_nothing(core: client.CoreV1Api) -> None:
    """A dry run is checked against the budget (and refused the same way) but deletes and decrements nothing."""
    policy = client.PolicyV1Api(core.api_client)
    policy.create_namespaced_pod_disruption_budget("default", budget(minAvailable=2))
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "default"}}
    core.create_namespaced_pod_eviction("web-1", "default", body, dry_run="All")
    status = policy.read_namespaced_pod_disruption_budget("web", "default").status
    assert ("web-1" in pods(core), status.disruptions_allowed, status.disrupted_pods) == (True, 1, None)
    policy.patch_namespaced_pod_disruption_budget("web", "default", {"spec": {"minAvailable": 3}})
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod_eviction("web-1", "default", body, dry_run="All")
    assert refused.value.status == 429


def test_two_budgets_are_refused(core: client.CoreV1Api) -> None:
    """ "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support." (500)."""
    policy = client.PolicyV1Api(core.api_client)
    policy.create_namespaced_pod_disruption_budget("default", budget("a", minAvailable=0))
    policy.create_namespaced_pod_disruption_budget("default", budget("b", minAvailable=0))
    with pytest.raises(ApiException) as refused:
        evict(core, "web-1")
    assert refused.value.status == 500
    assert "more than one PodDisruptionBudget" in json.loads(refused.value.body)["message"]
    assert "web-1" in pods(core)


def test_budget_not_yet_observed_is_still_being_processed(make_pod: Any) -> None:
    """A spec change the controller has not seen (observedGeneration behind generation) is a 429 to retry."""
    store = Store(clock=FakeClock())
    store.create("pods", {**make_pod("web-1", labels={"app": "web"}), "status": {"phase": "Running"}}, keep_status=True)
    store.create("poddisruptionbudgets", budget(minAvailable=0))
    with pytest.raises(api_errors.ApiError) as refused:
        api_disruption.evict(store, "default", "web-1", {})
    assert refused.value.code == 429
    assert refused.value.details == {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget web is still being processed by the server.",
            }
        ],
        "retryAfterSeconds": 10,
    }


def _ready_pod(name: str, *, ready: bool = True, labels: dict[str, str] | None = None) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    meta = {"name": name, "namespace": "default", "labels": {"app": "web"} if labels is None else labels}
    return {"metadata": meta, "status": {"phase": "Running", "conditions": [condition]}}


def _owned(pod: dict[str, Any]) -> dict[str, Any]:
    pod["metadata"]["ownerReferences"] = [OWNER]
    return pod


@pytest.mark.parametrize(
    ("spec", "pods_", "expected", "scales"),
    [
        pytest.param(
            {"minAvailable": 3},
            [_ready_pod("a"), _ready_pod("b")],
            (0, 2, 3, 2),
            {},
            id="TestMinAvailable (disruption_test.go, 1.32): fewer healthy than wanted allows nothing",
        ),
        pytest.param(
            {"minAvailable": "28%"},
            [_ready_pod(n) for n in "abcdefg"],
            (5, 7, 2, 7),
            {},
            id="TestNumberedMinAvailable-style: 28% of 7 rounds up to 2 wanted",
        ),
        pytest.param(
            {"maxUnavailable": 1},
            [_ready_pod("a"), _ready_pod("b", ready=False), _ready_pod("c")],
            (0, 2, 2, 3),
            {},
            id="TestIntegerMaxUnavailable: an unready pod uses up the one unavailability",
        ),
        pytest.param(
            {"minAvailable": 1},
            [_ready_pod("a", labels={"app": "db"})],
            (0, 0, 1, 0),
            {},
            id="TestNoSelector-style: pods the selector does not match are not expected",
        ),
        pytest.param(
            {"maxUnavailable": "50%"},
            [_owned(_ready_pod("a")), _owned(_ready_pod("b"))],
            (0, 2, 2, 4),
            {"rs-1": 4},
            id="TestReplicaSet-style: a controller's scale of 4 is expected though 2 of its pods are gone",
        ),
    ],
)
def test_budget_status(
    spec: dict[str, Any], pods_: list[dict[str, Any]], expected: tuple[int, ...], scales: dict[str, int]
) -> None:
    """(disruptionsAllowed, currentHealthy, desiredHealthy, expectedPods) as the disruption controller counts."""
    pdb = {**budget(**spec), "metadata": {"name": "web", "namespace": "default", "generation": 1}}
    status = api_disruption.budget_status(pdb, pods_, now=1_800_000_000.0, scales=scales)
    got = (status["disruptionsAllowed"], status["currentHealthy"], status["desiredHealthy"], status["expectedPods"])
    assert got == expected
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"]) == ("DisruptionAllowed", "True" if expected[0] else "False")


def test_disrupted_pod_is_not_healthy_until_the_timeout() -> None:
    """An eviction's `disruptedPods` entry keeps the pod out of `currentHealthy` for DeletionTimeout (2 min)."""
    at = 1_800_000_000.0
    pdb = budget(minAvailable=1)
    pdb["metadata"]["generation"] = 1
    pdb["status"] = {"disruptedPods": {"a": rfc3339(at)}}
    fresh = api_disruption.budget_status(pdb, [_ready_pod("a"), _ready_pod("b")], now=at + 60)
    stale = api_disruption.budget_status(pdb, [_ready_pod("a"), _ready_pod("b")], now=at + 180)
    assert (fresh["currentHealthy"], fresh["disruptedPods"]) == (1, {"a": rfc3339(at)})
    assert (stale["currentHealthy"], "disruptedPods" in stale) == (2, False)
