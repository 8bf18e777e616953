"""The cache re-accounts a bound pod on every update that moves its resources (in-place resize), as
kube-scheduler's cache does on `UpdatePod` (remove the old pod's requests from the node, add the new one's)."""

import pytest

from cluster.clock import FakeClock
from runtime.cache import ADDED, MODIFIED, SchedulerCache
from tests.builders import node_json, pod_json

NOW = 1_800_000_000.0


def resized(spec_cpu: str, allocated: str, actual: str, *conditions: str, version: str) -> dict:
    raw = pod_json("a", cpu=spec_cpu, node="n1")
    raw["metadata"]["resourceVersion"] = version
    raw["status"] = {
        "phase": "Running",
        "containerStatuses": [
            {"name": "c", "allocatedResources": {"cpu": allocated}, "resources": {"requests": {"cpu": actual}}}
        ],
        "conditions": [
            {"type": t, "status": "True", "reason": r} for t, _, r in (c.partition(":") for c in conditions)
        ],
    }
    return raw


@pytest.mark.parametrize(
    ("steps", "counted"),
    [
        pytest.param([("3", "1", "1")], 3000, id="the resize request itself counts at once: 3 CPU"),
        pytest.param([("3", "1", "1"), ("3", "3", "1", "PodResizeInProgress:")], 3000, id="allocated, in progress"),
        pytest.param([("3", "3", "1"), ("3", "3", "3")], 3000, id="actuated: 3 CPU"),
        pytest.param(
            [("8", "1", "1"), ("8", "1", "1", "PodResizePending:Infeasible")],
            1000,
            id="a resize the kubelet found infeasible goes back to what it holds",
        ),
        pytest.param(
            [("3", "3", "3"), ("1", "1", "3", "PodResizeInProgress:")],
            3000,
            id="shrinking counts the old size until the kubelet has actuated it",
        ),
        pytest.param([("3", "3", "3"), ("1", "1", "3"), ("1", "1", "1")], 1000, id="and frees it once actuated"),
    ],
)
def test_every_resize_step_is_counted_before_the_next_decision(steps, counted):
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120)
    cache.node_event(ADDED, node_json("n1", cpu="4"))
    cache.pod_event(ADDED, resized("1", "1", "1", version="1"))
    snapshot, before = cache.versioned_snapshot()
    assert snapshot.requested[snapshot.node_index("n1"), 0] == 1000
    for i, (spec_cpu, allocated, actual, *conditions) in enumerate(steps):
        cache.pod_event(MODIFIED, resized(spec_cpu, allocated, actual, *conditions, version=str(i + 2)))
    snapshot, after = cache.versioned_snapshot()
    assert snapshot.requested[snapshot.node_index("n1"), 0] == counted
    assert after != before  # a decision taken before the resize is re-checked when assumed
