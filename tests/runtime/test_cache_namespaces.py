"""Namespace labels from the namespace informer reach the snapshot, where `namespaceSelector` terms match them."""

import pytest

from cluster.clock import FakeClock
from runtime.cache import ADDED, DELETED, MODIFIED, SchedulerCache
from tests.builders import node_json, pod_json

NOW = 1_800_000_000.0
NAME = "kubernetes.io/metadata.name"


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def cache() -> SchedulerCache:
    c = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120)
    c.node_event(ADDED, node_json("n1"))
    c.pod_event(ADDED, pod_json("db", namespace="data", node="n1"))
    return c


@pytest.mark.parametrize(
    ("events", "labels", "changed"),
    [
        pytest.param([], {NAME: "data"}, None, id="an unwatched namespace has only its name label"),
        pytest.param(
            [(ADDED, namespace("data", team="storage"))],
            {NAME: "data", "team": "storage"},
            True,
            id="a namespace's labels replace the name-only default",
        ),
        pytest.param(
            [(ADDED, namespace("data", team="storage")), (MODIFIED, namespace("data", team="web"))],
            {NAME: "data", "team": "web"},
            True,
            id="a relabelled namespace is seen at once",
        ),
        pytest.param(
            [(ADDED, namespace("data", team="storage")), (MODIFIED, namespace("data", team="storage"))],
            {NAME: "data", "team": "storage"},
            False,
            id="a write that changes no label changes nothing",
        ),
        pytest.param(
            [(ADDED, namespace("data", team="storage")), (DELETED, namespace("data", team="storage"))],
            {NAME: "data"},
            False,
            id="a deleted namespace keeps only its name label",
        ),
    ],
)
def test_namespace_labels_reach_the_snapshot(events, labels, changed):
    for when in ("before the first snapshot", "after it"):
        c = cache()
        if when == "after it":
            c.snapshot()
        results = [c.namespace_event(kind, raw) for kind, raw in events]
        assert c.snapshot().namespaces["data"] == labels, when
        if events:
            assert results[-1] is changed


def test_a_namespace_with_malformed_labels_is_reported_and_skipped():
    warnings: list[str] = []
    c = SchedulerCache(scheduler_name="s", clock=FakeClock(NOW), max_age_seconds=120, warn=warnings.append)
    bad = {"metadata": {"name": "data", "labels": ["team"]}}
    assert c.namespace_event(ADDED, bad) is False
    assert warnings == ["ignoring namespace data: namespace data: metadata.labels must be a map of strings"]
