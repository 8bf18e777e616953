"""The snapshot's bookkeeping: what placing and removing a pod changes, and what it must not."""

from dataclasses import replace

import numpy as np

from cluster import nodestate
from cluster.snapshot import Snapshot
from cluster.spread import Workloads
from tests.builders import make_node, make_pod


def test_with_pod_and_without_pod_are_inverse_and_leave_the_original_alone():
    base = Snapshot.build([make_node("a", cpu="4"), make_node("b", cpu="4")], [make_pod("x", cpu="1", node="a")])
    pod = make_pod("y", cpu="500m", memory="1Gi", host_ports=[80], annotations={"ai-scheduler.io/noisy": "membw"})
    placed = base.with_pod(pod, "b")
    assert placed.requested[1, 0] == 500
    assert placed.pod_count.tolist() == [1, 1]
    assert ("0.0.0.0", "TCP", 80) in placed.used_ports[1]
    assert placed.declared[1, 1].tolist() == [0, 1, 0, 0]
    assert base.requested[1, 0] == 0 and base.pod_count.tolist() == [1, 0]
    removed = placed.without_pod(placed.pods_on[1][0])
    assert np.array_equal(removed.requested, base.requested)
    assert np.array_equal(removed.declared, base.declared)
    assert removed.used_ports[1] == frozenset()


def test_pods_on_unknown_nodes_and_terminal_pods_are_not_counted():
    snapshot = Snapshot.build(
        [make_node("a")],
        [make_pod("gone", cpu="1", node="elsewhere"), make_pod("done", cpu="1", node="a", phase="Succeeded")],
    )
    assert snapshot.pod_count.tolist() == [0]
    assert snapshot.requested[0, 0] == 0


def test_nodes_are_ordered_by_name():
    snapshot = Snapshot.build([make_node("b"), make_node("a"), make_node("c")])
    assert snapshot.names == ("a", "b", "c")


def test_stale_telemetry_ages_into_unknown():
    fresh = nodestate.NodeState("a", timestamp=1000.0, metrics={"cpi": nodestate.Summary(1.0, 0.1, 1.2)})
    snapshot = Snapshot.build([make_node("a")], states={"a": fresh})
    assert not np.isnan(snapshot.metrics[0]).all()
    assert snapshot.aged(now=1100.0, max_age_seconds=120) is snapshot
    aged = snapshot.aged(now=1200.0, max_age_seconds=120)
    assert np.isnan(aged.metrics[0]).all()
    assert not aged.states[0].known


WEB = frozenset({("app", "web")})
DB = frozenset({("app", "db")})


def test_the_label_set_index_follows_every_change_and_never_the_original():
    """What PodTopologySpread counts: per namespace and label set, the non-terminating pods on each node."""
    base = Snapshot.build(
        [make_node("a"), make_node("b")],
        [make_pod("x", node="a", labels={"app": "web"}), make_pod("o", node="a", labels={"app": "db"})],
    )
    assert base.labelled == {"default": {WEB: {0: 1}, DB: {0: 1}}}
    placed = base.with_pod(make_pod("y", labels={"app": "web"}), "b").with_pod(
        make_pod("z", labels={"app": "web"}), "b"
    )
    assert placed.labelled["default"][WEB] == {0: 1, 1: 2}
    assert base.labelled["default"][WEB] == {0: 1}
    emptied = placed.without_pod(next(p for p in placed.pods_on[0] if p.name == "x"))
    assert emptied.labelled == {"default": {WEB: {1: 2}, DB: {0: 1}}}
    terminating = replace(make_pod("y", node="b", labels={"app": "web"}), deleting=True)
    assert emptied.replace_pod(terminating).labelled["default"][WEB] == {1: 1}
    relabelled = emptied.replace_pod(make_pod("y", node="b", labels={"app": "db"}))
    assert relabelled.labelled["default"] == {WEB: {1: 1}, DB: {0: 1, 1: 1}}
    assert emptied.labelled["default"][WEB] == {1: 2}


def test_the_services_and_controllers_outlive_a_change_of_nodes():
    """`with_nodes` rebuilds the snapshot; PodTopologySpread's default selectors must come along."""
    workloads = Workloads().with_service("default", "web", {"app": "web"})
    snapshot = Snapshot.build([make_node("a")], workloads=workloads)
    assert snapshot.with_nodes([make_node("a"), make_node("b")]).workloads is workloads


def test_pods_with_affinity_terms_are_listed_for_scoring():
    preferred = {"weight": 1, "podAffinityTerm": {"labelSelector": {}, "topologyKey": "zone"}}
    affine = make_pod(
        "x",
        node="a",
        spec={"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [preferred]}}},
    )
    base = Snapshot.build([make_node("a")], [affine, make_pod("plain", node="a")])
    assert [p.name for _, p in base.affine] == ["x"]
    assert base.without_pod(affine).affine == ()
    assert [p.name for _, p in base.without_pod(affine).with_pod(affine).affine] == ["x"]
