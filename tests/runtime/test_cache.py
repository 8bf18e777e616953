"""The scheduler cache: assumed decisions count at once, failures forget them, informer events confirm them."""

from dataclasses import replace

from cluster.clock import FakeClock
from runtime.cache import ADDED, DELETED, MODIFIED, SchedulerCache
from tests.builders import make_pod, node_json, pod_json

NOW = 1_800_000_000.0


def cache() -> SchedulerCache:
    c = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120)
    c.node_event(ADDED, node_json("n1", cpu="2"))
    c.node_event(ADDED, node_json("n2", cpu="2"))
    return c


def test_an_assumed_pod_counts_at_once_and_blocks_overcommit():
    c = cache()
    pod = make_pod("a", cpu="2")
    assert c.assume(pod, "n1")
    snapshot = c.snapshot()
    assert snapshot.requested[snapshot.node_index("n1"), 0] == 2000
    fits_on_n1 = lambda s: s.requested[s.node_index("n1"), 0] + 2000 <= 2000  # noqa: E731
    assert not c.assume(make_pod("b", cpu="2"), "n1", fits=fits_on_n1)


def test_forget_undoes_the_assumption():
    c = cache()
    pod = make_pod("a", cpu="2")
    c.assume(pod, "n1")
    c.forget(pod)
    assert c.snapshot().requested[0, 0] == 0
    assert not c.is_assumed(pod.key)


def test_a_late_failure_of_a_deleted_pod_keeps_its_re_creations_assumption():
    c = cache()
    old, new = replace(make_pod("a", cpu="2"), uid="old"), replace(make_pod("a", cpu="2"), uid="new")
    c.assume(old, "n1")
    c.pod_event(DELETED, pod_json("a", cpu="2"))
    assert c.assume(new, "n1")
    c.forget(old)  # the deleted pod's binding answers 409 after the re-created pod was assumed
    assert c.is_assumed("default/a")
    assert c.snapshot().requested[0, 0] == 2000


def test_the_bound_pod_event_confirms_the_assumption():
    c = cache()
    pod = make_pod("a", cpu="2")
    c.assume(pod, "n1")
    change = c.pod_event(MODIFIED, pod_json("a", cpu="2", node="n1"))
    assert change.gone == "default/a"
    assert not c.is_assumed(pod.key)
    c.forget(pod)  # a late failure callback must not remove a confirmed pod
    assert c.snapshot().requested[0, 0] == 2000


def test_pending_pods_of_ours_go_to_the_queue_and_others_do_not():
    c = cache()
    assert c.pod_event(ADDED, pod_json("mine")).pending.key == "default/mine"
    foreign = pod_json("theirs", spec={"schedulerName": "default-scheduler"})
    assert c.pod_event(ADDED, foreign).pending is None


def test_deleting_an_assigned_pod_frees_room():
    c = cache()
    c.pod_event(ADDED, pod_json("a", cpu="2", node="n1"))
    change = c.pod_event(DELETED, pod_json("a", cpu="2", node="n1"))
    assert change.freed and c.snapshot().requested[0, 0] == 0


def test_terminal_pods_leave_their_node():
    c = cache()
    c.pod_event(ADDED, pod_json("job", cpu="2", node="n1"))
    change = c.pod_event(MODIFIED, pod_json("job", cpu="2", node="n1", phase="Succeeded"))
    assert change.freed and c.snapshot().pod_count.tolist() == [0, 0]


def test_a_node_change_that_matters_is_reported_and_telemetry_only_changes_are_not():
    c = cache()
    state = '{"version":1,"node":"n1","timestamp":"2027-01-15T08:00:00Z","metrics":{"cpi":{"mean":1,"std":0,"p95":1}}}'
    assert not c.node_event(MODIFIED, node_json("n1", cpu="2", annotations={"ai-scheduler.io/node-state": state}))
    assert c.snapshot().states[0].value("cpi") == 1.0
    assert c.node_event(MODIFIED, node_json("n1", cpu="4"))


def test_stale_telemetry_is_unknown_at_decision_time():
    c = cache()
    old = '{"version":1,"node":"n1","timestamp":"2020-01-01T00:00:00Z","metrics":{"cpi":{"mean":1,"std":0,"p95":1}}}'
    c.node_event(MODIFIED, node_json("n1", cpu="2", annotations={"ai-scheduler.io/node-state": old}))
    assert not c.snapshot().states[0].known


def test_a_malformed_pod_is_reported_not_fatal():
    warnings = []
    c = SchedulerCache(
        scheduler_name="ai-llama-scheduler", clock=FakeClock(NOW), max_age_seconds=120, warn=warnings.append
    )
    change = c.pod_event(ADDED, pod_json("bad", requests={"cpu": "lots"}))
    assert change.pending is None and "cannot schedule pod default/bad" in warnings[0]
