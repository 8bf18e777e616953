"""Services and workload controllers from their informers reach the snapshot PodTopologySpread scores against."""

import pytest

from cluster.clock import FakeClock
from cluster.objects import LabelSelector
from cluster.spread import default_selector
from runtime.cache import ADDED, DELETED, MODIFIED, SchedulerCache
from tests.builders import make_pod, node_json

NOW = 1_800_000_000.0


def service(selector: dict | None) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {} if selector is None else {"selector": selector},
    }


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], LabelSelector(), id="no Service: the pod is not spread"),
        pytest.param([(ADDED, service({"app": "web"}))], LabelSelector((("app", "web"),)), id="an added Service"),
        pytest.param(
            [(ADDED, service({"app": "web"})), (MODIFIED, service({"app": "db"}))],
            LabelSelector(),
            id="a Service whose selector no longer matches the pod",
        ),
        pytest.param(
            [(ADDED, service({"app": "web"})), (DELETED, service({"app": "web"}))],
            LabelSelector(),
            id="a deleted Service",
        ),
        pytest.param(
            [(ADDED, service({"app": "web"})), (MODIFIED, service({"app": ["web"]}))],
            LabelSelector(),
            id="a Service whose selector cannot be read selects nothing (and is warned about)",
        ),
    ],
)
def test_services_reach_the_snapshot(events: list[tuple[str, dict]], expected: LabelSelector) -> None:
    pod = make_pod("p", labels={"app": "web"})
    for when in ("before the first snapshot", "after it"):
        warnings: list[str] = []
        cache = SchedulerCache(
            scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120, warn=warnings.append
        )
        cache.node_event(ADDED, node_json("n1"))
        if when == "after it":
            cache.snapshot()
        for kind, raw in events:
            cache.workload_event("services", kind, raw)
        assert default_selector(cache.snapshot().workloads, pod) == expected, when
        unreadable = any(raw["spec"].get("selector") == {"app": ["web"]} for _, raw in events)
        assert warnings == (
            ["ignoring service default/web: spec.selector must be a map of strings"] if unreadable else []
        )


def test_a_replicaset_event_does_not_rebuild_what_the_filters_see() -> None:
    """A controller only changes whose pods a score counts: the filters' version stays, so an assumption decided
    before it is not re-checked for it."""
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120)
    cache.node_event(ADDED, node_json("n1"))
    _, version = cache.versioned_snapshot()
    rs = {
        "metadata": {"name": "web-5d8f", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    cache.workload_event("replicasets", ADDED, rs)
    snapshot, after = cache.versioned_snapshot()
    assert after == version
    assert ("apps/v1", "ReplicaSet", "default", "web-5d8f") in snapshot.workloads.controllers
