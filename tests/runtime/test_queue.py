"""The scheduling queue: ordering, backoff, unschedulable pods and cluster changes, on a fake clock."""

import pytest

from cluster.clock import FakeClock
from cluster.parse import parse_pod
from runtime.queue import UNSCHEDULABLE_TIMEOUT, SchedulingQueue
from tests.builders import make_pod, pod_json


@pytest.fixture
def queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(clock)


def keys(queue: SchedulingQueue) -> list[str]:
    out = []
    while (queued := queue.pop(timeout=0)) is not None:
        out.append(queued.key)
    return out


def test_higher_priority_first_then_first_come(queue):
    queue.add(make_pod("a"))
    queue.add(make_pod("b", spec={"priority": 10}))
    queue.add(make_pod("c"))
    assert keys(queue) == ["default/b", "default/a", "default/c"]


def test_backoff_is_one_second_doubling_to_ten(queue):
    assert [queue.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_a_failed_attempt_waits_out_its_backoff(queue, clock):
    queue.add(make_pod("a"))
    queued = queue.pop(timeout=0)
    queue.retry(queued)
    assert queue.pop(timeout=0) is None
    assert queue.lengths()["backoff"] == 1
    clock.advance(0.99)
    assert queue.pop(timeout=0) is None
    clock.advance(0.02)
    assert queue.pop(timeout=0).key == "default/a"


def test_unschedulable_pods_wait_for_a_cluster_change(queue, clock):
    queue.add(make_pod("a"))
    queue.unschedulable(queue.pop(timeout=0))
    clock.advance(60)
    assert queue.pop(timeout=0) is None
    assert queue.lengths()["unschedulable"] == 1
    queue.move_all()
    assert queue.pop(timeout=0).key == "default/a"  # its one-second backoff has long passed


def test_unschedulable_pods_are_retried_after_five_minutes(queue, clock):
    queue.add(make_pod("a"))
    queue.unschedulable(queue.pop(timeout=0))
    clock.advance(299)
    assert queue.pop(timeout=0) is None
    clock.advance(2)
    assert queue.pop(timeout=0).key == "default/a"


def test_a_cluster_change_during_the_attempt_means_backoff_not_unschedulable(queue, clock):
    queue.add(make_pod("a"))
    queued = queue.pop(timeout=0)
    queue.move_all()  # a node was added while the pod was being decided
    queue.unschedulable(queued)
    assert queue.lengths() == {"active": 0, "backoff": 1, "unschedulable": 0, "gated": 0}
    clock.advance(1.01)
    assert queue.pop(timeout=0).key == "default/a"


def test_a_pod_deleted_while_queued_or_in_flight_is_dropped(queue):
    queue.add(make_pod("a"))
    queue.add(make_pod("b"))
    queue.delete("default/a")
    in_flight = queue.pop(timeout=0)
    queue.delete(in_flight.key)
    queue.retry(in_flight)
    assert keys(queue) == []


def test_only_a_change_the_filters_see_retries_an_unschedulable_pod(queue):
    raw = pod_json("a", cpu="64")
    queue.add(parse_pod({**raw, "metadata": {**raw["metadata"], "resourceVersion": "1"}}))
    queue.unschedulable(queue.pop(timeout=0))
    status_only = {**raw, "metadata": {**raw["metadata"], "resourceVersion": "2"}, "status": {"conditions": []}}
    queue.add(parse_pod(status_only))
    assert queue.pop(timeout=0) is None
    smaller = pod_json("a", cpu="1")
    queue.add(parse_pod({**smaller, "metadata": {**smaller["metadata"], "resourceVersion": "3"}}))
    assert queue.pop(timeout=0).pod.requests["cpu"] == 1000


def test_close_releases_waiting_workers(queue):
    queue.close()
    assert queue.pop(timeout=None) is None


def _stale_outcome(name: str):
    return {
        "forget": lambda q, old: q.forget(old),
        "retry": lambda q, old: q.retry(old),
        "unschedulable": lambda q, old: q.unschedulable(old),
        "activate": lambda q, old: q.activate(old),
    }[name]


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param("forget", id="a late 409 that forgets the old pod leaves its re-creation queued"),
        pytest.param("retry", id="a late failure of the old pod does not requeue its re-creation early"),
        pytest.param("unschedulable", id="a late unschedulable verdict on the old pod is ignored"),
        pytest.param("activate", id="a late activation of the old pod is ignored"),
    ],
)
def test_an_outcome_for_a_deleted_pod_never_touches_its_re_creation(queue, clock, outcome):
    queue.add(make_pod("a"))
    old = queue.pop(timeout=0)  # its binding is in flight
    queue.delete("default/a")
    queue.add(make_pod("a"))  # re-created under the same name
    new = queue.pop(timeout=0)
    queue.unschedulable(new)  # briefly unschedulable
    _stale_outcome(outcome)(queue, old)
    assert queue.is_queued("default/a")
    assert queue.lengths() == {"active": 0, "backoff": 0, "unschedulable": 1, "gated": 0}
    queue.move_all()  # the node informer's cluster change must not raise
    clock.advance(UNSCHEDULABLE_TIMEOUT + 10)
    assert queue.pop(timeout=0) is new


def test_a_forgotten_pod_leaves_every_queue(queue, clock):
    queue.add(make_pod("a"))
    queued = queue.pop(timeout=0)
    queue.unschedulable(queued)
    queue.forget(queued)
    assert queue.lengths() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
    queue.move_all()
    clock.advance(UNSCHEDULABLE_TIMEOUT + 10)
    assert queue.pop(timeout=0) is None


def test_a_ready_pod_nobody_takes_counts_as_stalled_from_the_last_pop(queue, clock):
    assert queue.stalled_for() == 0.0
    queue.add(make_pod("a"))
    clock.advance(30)
    assert queue.stalled_for() == pytest.approx(30)
    queue.add(make_pod("b"))
    queue.pop(timeout=0)  # a worker took one: the backlog is moving
    assert queue.stalled_for() == pytest.approx(0)
    clock.advance(50)
    assert queue.stalled_for() == pytest.approx(50)
    queue.pop(timeout=0)
    assert queue.stalled_for() == 0.0


def gated(name: str, *gates: str, version: str = "1"):
    raw = pod_json(name, spec={"schedulingGates": [{"name": g} for g in gates]})
    return parse_pod({**raw, "metadata": {**raw["metadata"], "resourceVersion": version}})


@pytest.mark.parametrize(
    ("updates", "active"),
    [
        pytest.param([("a", "b")], False, id="a gated pod is never handed to a worker"),
        pytest.param([("a", "b"), ("b",)], False, id="removing one of two gates leaves it gated"),
        pytest.param([("a", "b"), ("b",), ()], True, id="removing the last gate makes it active"),
        pytest.param([("a",), ()], True, id="a pod whose only gate goes is tried at once"),
    ],
)
def test_a_gated_pod_waits_until_its_last_gate_is_removed(queue, clock, updates, active):
    for version, gates in enumerate(updates):
        queue.add(gated("g", *gates, version=str(version)))
    clock.advance(UNSCHEDULABLE_TIMEOUT + 10)  # neither the flush nor a cluster change releases a gate
    queue.move_all()
    assert queue.lengths()["gated"] == (0 if active else 1)
    queued = queue.pop(timeout=0)
    assert (queued is not None) == active
    if active:
        assert queued.pod.scheduling_gates == ()


def test_a_gated_pod_does_not_count_as_stalled_and_leaves_when_deleted(queue, clock):
    queue.add(gated("g", "quota"))
    clock.advance(600)
    assert queue.stalled_for() == 0.0
    queue.delete("default/g")
    assert queue.lengths() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
