"""DefaultPreemption's choices (`scoring.preemption`), case by case from kube-scheduler's own unit tests.

Upstream: `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption_test.go` at kubernetes
commit 008b3652 (after v1.35): TestPostFilter, TestDryRunPreemption (SelectVictimsOnNode on every
candidate node), TestSelectBestCandidate (pickOneNodeForPreemption) and TestPodEligibleToPreemptOthers.
The filters are this scheduler's real default filters, not upstream's fakes; where an upstream case hands
in a node status ("UnschedulableAndUnresolvable") the node is cordoned here to the same effect, and start
times `time.Unix(0, n)` are n seconds.
"""

from typing import Any

import numpy as np
import pytest

from cluster.disruption import Budget
from cluster.nodestate import format_timestamp
from cluster.objects import LabelSelector, Pod
from cluster.parse import parse_pod
from cluster.snapshot import Snapshot
from scoring.decide import Decider
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.preemption import (
    Check,
    Preemption,
    Victims,
    candidate_count,
    pick_one,
    preempt,
    resolvable,
    select_victims,
)
from tests.builders import make_node, pod_json

UPSTREAM = "default_preemption_test.go@008b3652"
NEG, LOW, MID, HIGH, VERY_HIGH = -100, 0, 100, 1000, 10000
SMALL, MEDIUM, LARGE, VERY_LARGE = ("100m", "100"), ("200m", "200"), ("300m", "300"), ("500m", "500")
DECIDER = Decider(heuristic=HeuristicTier())


def pod(
    name: str,
    priority: int = 0,
    *,
    node: str = "",
    res: tuple[str, str] | None = None,
    start: int | None = None,
    labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    nominated: str = "",
    deleting: bool = False,
) -> Pod:
    """`st.MakePod().Name(name).UID(name).Priority(p).Node(n).Req(res).StartTime(t)`."""
    cpu, memory = res if res else (None, None)
    raw = pod_json(name, node=node, cpu=cpu, memory=memory, labels=labels, spec={"priority": priority, **(spec or {})})
    raw["metadata"]["uid"] = name
    if deleting:
        raw["metadata"]["deletionTimestamp"] = format_timestamp(0)
    raw["status"] = {"phase": "Running" if node else "Pending"}
    if start is not None:
        raw["status"]["startTime"] = format_timestamp(start)
    if nominated:
        raw["status"]["nominatedNodeName"] = nominated
    return parse_pod(raw)


def cluster(names: list[str], running: list[Pod], /, **capacity: Any) -> Snapshot:
    """Nodes as TestDryRunPreemption builds them: `Capacity(veryLargeRes)` (32 pods), labels from "host/zone"."""
    sizes = {"cpu": VERY_LARGE[0], "memory": VERY_LARGE[1], "pods": 32, **capacity}
    nodes = []
    for spelled in names:
        parts = spelled.split("/")
        labels = dict(zip(("hostname", "zone", "region"), parts, strict=False))
        nodes.append(make_node(parts[0], labels=labels, **sizes))
    return Snapshot.build(nodes, running)


def post_filter(preemptor: Pod, snapshot: Snapshot, budgets: list[Budget] | None = None) -> Preemption:
    info = PodInfo.of(preemptor, snapshot)
    outcome = DECIDER.filter(info, snapshot)
    assert not len(outcome.feasible), "the preemptor must fit nowhere before preemption"
    return preempt(
        preemptor,
        snapshot,
        outcome.failures,
        filters=DECIDER.filter_profile.filters,
        info=info,
        budgets=budgets or [],
        now=1e9,
        rejected=bool(outcome.pre_filter_message),
    )


def candidates(preemptor: Pod, snapshot: Snapshot, budgets: list[Budget]) -> dict[str, tuple[list[str], int]]:
    """DryRunPreemption: node → (victim names, sorted; PDB violations) for every node preemption helps on."""
    info = PodInfo.of(preemptor, snapshot)
    failures = DECIDER.filter(info, snapshot).failures
    found = {}
    for index in range(len(snapshot)):
        if not resolvable(failures.get(index, ())):
            continue
        victims = select_victims(preemptor, snapshot, Check(DECIDER.filter_profile.filters, info, index), budgets)
        if not isinstance(victims, str):
            found[victims.node] = (sorted(p.name for p in victims.pods), victims.pdb_violations)
    return found


def budget(allowed: int, *, disrupted: tuple[str, ...] = (), **labels: str) -> Budget:
    selector = LabelSelector(match_labels=tuple(sorted(labels.items())))
    return Budget("default", "pdb", selector, allowed, frozenset(disrupted))


ANTI_FOO = {
    "affinity": {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]},
                    "topologyKey": "hostname",
                }
            ]
        }
    }
}
SPREAD_FOO = {
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]},
        }
        for key in ("zone", "hostname")
    ]
}


@pytest.mark.parametrize(
    ("names", "preemptor", "pods", "budgets", "expected"),
    [
        pytest.param(
            ["node1", "node2"],
            pod("p", HIGH, res=LARGE),
            [pod("p1", MID, node="node1", res=LARGE), pod("p2", MID, node="node2", res=LARGE)],
            [],
            {"node1": (["p1"], 0), "node2": (["p2"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: a pod that fits on both nodes when lower priority pods are preempted",
        ),
        pytest.param(
            ["node1", "node2"],
            pod("p", LOW, res=LARGE),
            [pod("p1", MID, node="node1", res=LARGE), pod("p2", MID, node="node2", res=LARGE)],
            [],
            {},
            id=f"{UPSTREAM} TestDryRunPreemption: other pods running are higher priority, no preemption would happen",
        ),
        pytest.param(
            ["node1", "node2"],
            pod("p", HIGH, res=LARGE),
            [
                pod("p1.1", LOW, node="node1", res=SMALL),
                pod("p1.2", MID, node="node1", res=LARGE),
                pod("p2", MID, node="node2", res=LARGE),
            ],
            [],
            {"node1": (["p1.2"], 0), "node2": (["p2"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: medium priority pod is preempted, but lower priority one stays "
            "as it is small",
        ),
        pytest.param(
            ["node1", "node2"],
            pod("p", HIGH, res=LARGE),
            [
                pod("p1.1", MID, node="node1", res=SMALL),
                pod("p1.2", LOW, node="node1", res=SMALL),
                pod("p1.3", MID, node="node1", res=MEDIUM),
                pod("p1.4", HIGH, node="node1", res=SMALL),
                pod("p2", HIGH, node="node2", res=LARGE),
            ],
            [],
            {"node1": (["p1.2", "p1.3"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: mixed priority pods are preempted",
        ),
        pytest.param(
            ["node1", "node2"],
            pod("p", HIGH, res=LARGE),
            [
                pod("p1.1", LOW, node="node1", res=SMALL, start=5),
                pod("p1.2", LOW, node="node1", res=SMALL, start=4),
                pod("p1.3", MID, node="node1", res=MEDIUM, start=3),
                pod("p1.4", HIGH, node="node1", res=SMALL, start=2),
                pod("p2", HIGH, node="node2", res=LARGE, start=1),
            ],
            [],
            {"node1": (["p1.1", "p1.3"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: mixed priority pods are preempted, pick later StartTime one when "
            "priorities are equal",
        ),
        pytest.param(
            ["node1", "node2"],
            pod("p", HIGH, res=SMALL, labels={"foo": ""}),
            [
                pod("p1.1", LOW, node="node1", res=SMALL, labels={"foo": ""}, spec=ANTI_FOO),
                pod("p1.2", MID, node="node1", res=SMALL),
                pod("p1.3", HIGH, node="node1", res=SMALL),
                pod("p2", HIGH, node="node2", res=SMALL),
            ],
            [],
            {"node1": (["p1.1"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: pod with anti-affinity is preempted",
        ),
        pytest.param(
            ["node-a/zone1", "node-b/zone1", "node-x/zone2"],
            pod("p", HIGH, labels={"foo": ""}, spec=SPREAD_FOO),
            [
                pod("pod-a1", MID, node="node-a", labels={"foo": ""}),
                pod("pod-a2", LOW, node="node-a", labels={"foo": ""}),
                pod("pod-b1", LOW, node="node-b", labels={"foo": ""}),
                pod("pod-x1", HIGH, node="node-x", labels={"foo": ""}),
                pod("pod-x2", HIGH, node="node-x", labels={"foo": ""}),
            ],
            [],
            {"node-a": (["pod-a2"], 0), "node-b": (["pod-b1"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: preemption to resolve pod topology spread filter failure",
        ),
        pytest.param(
            ["node1"],
            pod("p", HIGH, res=VERY_LARGE),
            [
                pod("p1.1", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
                pod("p1.2", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
            ],
            [budget(1, app="foo")],
            {"node1": (["p1.1", "p1.2"], 1)},
            id=f"{UPSTREAM} TestDryRunPreemption: preemption with violation of same pdb",
        ),
        pytest.param(
            ["node1"],
            pod("p", HIGH, res=VERY_LARGE),
            [
                pod("p1.1", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
                pod("p1.2", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
            ],
            [budget(1, disrupted=("p2",), app="foo")],
            {"node1": (["p1.1", "p1.2"], 1)},
            id=f"{UPSTREAM} TestDryRunPreemption: violation of the pdb with pod whose eviction was processed, "
            "the victim doesn't belong to DisruptedPods",
        ),
        pytest.param(
            ["node1"],
            pod("p", HIGH, res=VERY_LARGE),
            [
                pod("p1.1", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
                pod("p1.2", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
            ],
            [budget(1, disrupted=("p1.2",), app="foo")],
            {"node1": (["p1.1", "p1.2"], 0)},
            id=f"{UPSTREAM} TestDryRunPreemption: violation of the pdb with pod whose eviction was processed, "
            "the victim belongs to DisruptedPods",
        ),
        pytest.param(
            ["node1"],
            pod("p", HIGH, res=VERY_LARGE),
            [
                pod("p1.1", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
                pod("p1.2", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
                pod("p1.3", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
            ],
            [budget(1, disrupted=("p1.3",), app="foo")],
            {"node1": (["p1.1", "p1.2", "p1.3"], 1)},
            id=f"{UPSTREAM} TestDryRunPreemption: the victim which belongs to DisruptedPods is treated as "
            "'nonViolating'",
        ),
    ],
)
def test_select_victims_on_every_node(
    names: list[str], preemptor: Pod, pods: list[Pod], budgets: list[Budget], expected: dict
) -> None:
    assert candidates(preemptor, cluster(names, pods), budgets) == expected


SAME_PDB = [
    pod("p1.1", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
    pod("p1.2", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
    pod("p1.3", MID, node="node1", res=MEDIUM, labels={"app": "foo"}),
]


@pytest.mark.parametrize(
    ("pods", "budgets", "violating"),
    [
        pytest.param(
            SAME_PDB[:2],
            [budget(1, app="foo")],
            ["default/p1.2"],
            id=f"{UPSTREAM} TestDryRunPreemption 'preemption with violation of same pdb': the second victim of a "
            "budget allowing one is the violator",
        ),
        pytest.param(
            SAME_PDB[:2],
            [budget(1, disrupted=("p1.2",), app="foo")],
            [],
            id=f"{UPSTREAM} TestDryRunPreemption 'the victim belongs to DisruptedPods': no victim violates",
        ),
        pytest.param(
            SAME_PDB,
            [budget(1, disrupted=("p1.3",), app="foo")],
            ["default/p1.2"],
            id=f"{UPSTREAM} TestDryRunPreemption 'the victim which belongs to DisruptedPods is treated as "
            "nonViolating': the pod already counted is not named",
        ),
        pytest.param(
            SAME_PDB[:2],
            [budget(0, app="foo")],
            ["default/p1.1", "default/p1.2"],
            id="a budget allowing no disruption makes every victim it selects a violator",
        ),
    ],
)
def test_the_decision_names_the_victims_it_knows_violate_a_budget(
    pods: list[Pod], budgets: list[Budget], violating: list[str]
) -> None:
    """The shell evicts a victim through the Eviction API only when the decision did not count it as a PDB
    violation; the ones it did count are named, on the node's candidate and on the chosen plan."""
    snapshot = cluster(["node1"], pods)
    preemptor = pod("p", HIGH, res=VERY_LARGE)
    info = PodInfo.of(preemptor, snapshot)
    found = select_victims(preemptor, snapshot, Check(DECIDER.filter_profile.filters, info, 0), budgets)
    assert isinstance(found, Victims)
    assert (sorted(found.violating), found.pdb_violations) == (violating, len(violating))
    plan = post_filter(preemptor, snapshot, budgets)
    assert (plan.node, sorted(plan.violating)) == ("node1", violating)


def _best_candidate_cases() -> list[Any]:
    cases = [
        (
            "node with min highest priority pod is picked",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", MEDIUM, 0),
                ("p1.2", MID, "node1", LARGE, 0),
                ("p2.1", MID, "node2", MEDIUM, 0),
                ("p2.2", LOW, "node2", MEDIUM, 0),
                ("p3.1", LOW, "node3", MEDIUM, 0),
                ("p3.2", LOW, "node3", MEDIUM, 0),
            ],
            HIGH,
            "node3",
        ),
        (
            "when highest priorities are the same, minimum sum of priorities is picked",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", MEDIUM, 0),
                ("p1.2", MID, "node1", LARGE, 0),
                ("p2.1", MID, "node2", LARGE, 0),
                ("p2.2", LOW, "node2", MEDIUM, 0),
                ("p3.1", MID, "node3", MEDIUM, 0),
                ("p3.2", MID, "node3", MEDIUM, 0),
            ],
            HIGH,
            "node2",
        ),
        (
            "when highest priority and sum are the same, minimum number of pods is picked",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", SMALL, 0),
                ("p1.2", NEG, "node1", SMALL, 0),
                ("p1.3", MID, "node1", SMALL, 0),
                ("p1.4", NEG, "node1", SMALL, 0),
                ("p2.1", MID, "node2", LARGE, 0),
                ("p2.2", NEG, "node2", MEDIUM, 0),
                ("p3.1", MID, "node3", MEDIUM, 0),
                ("p3.2", NEG, "node3", SMALL, 0),
                ("p3.3", LOW, "node3", SMALL, 0),
            ],
            HIGH,
            "node2",
        ),
        (
            "sum of adjusted priorities is considered",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", SMALL, 0),
                ("p1.2", NEG, "node1", SMALL, 0),
                ("p1.3", NEG, "node1", SMALL, 0),
                ("p2.1", MID, "node2", LARGE, 0),
                ("p2.2", NEG, "node2", MEDIUM, 0),
                ("p3.1", MID, "node3", MEDIUM, 0),
                ("p3.2", NEG, "node3", SMALL, 0),
                ("p3.3", LOW, "node3", SMALL, 0),
            ],
            HIGH,
            "node2",
        ),
        (
            "non-overlapping lowest high priority, sum priorities, and number of pods",
            ["node1", "node2", "node3", "node4"],
            [
                ("p1.1", MID, "node1", SMALL, 0),
                ("p1.2", LOW, "node1", SMALL, 0),
                ("p1.3", LOW, "node1", SMALL, 0),
                ("p2.1", HIGH, "node2", LARGE, 0),
                ("p3.1", MID, "node3", MEDIUM, 0),
                ("p3.2", LOW, "node3", SMALL, 0),
                ("p3.3", LOW, "node3", SMALL, 0),
                ("p3.4", LOW, "node3", MEDIUM, 0),
                ("p4.1", MID, "node4", MEDIUM, 0),
                ("p4.2", MID, "node4", SMALL, 0),
                ("p4.3", MID, "node4", SMALL, 0),
                ("p4.4", NEG, "node4", SMALL, 0),
            ],
            VERY_HIGH,
            "node1",
        ),
        (
            "same priority, same number of victims, different start time for each node's pod",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", MEDIUM, 2),
                ("p1.2", MID, "node1", MEDIUM, 2),
                ("p2.1", MID, "node2", MEDIUM, 3),
                ("p2.2", MID, "node2", MEDIUM, 3),
                ("p3.1", MID, "node3", MEDIUM, 1),
                ("p3.2", MID, "node3", MEDIUM, 1),
            ],
            HIGH,
            "node2",
        ),
        (
            "same priority, same number of victims, different start time for all pods",
            ["node1", "node2", "node3"],
            [
                ("p1.1", MID, "node1", MEDIUM, 4),
                ("p1.2", MID, "node1", MEDIUM, 2),
                ("p2.1", MID, "node2", MEDIUM, 5),
                ("p2.2", MID, "node2", MEDIUM, 1),
                ("p3.1", MID, "node3", MEDIUM, 3),
                ("p3.2", MID, "node3", MEDIUM, 6),
            ],
            HIGH,
            "node3",
        ),
        (
            "different priority, same number of victims, different start time for all pods",
            ["node1", "node2", "node3"],
            [
                ("p1.1", LOW, "node1", MEDIUM, 4),
                ("p1.2", MID, "node1", MEDIUM, 2),
                ("p2.1", MID, "node2", MEDIUM, 6),
                ("p2.2", LOW, "node2", MEDIUM, 1),
                ("p3.1", LOW, "node3", MEDIUM, 3),
                ("p3.2", MID, "node3", MEDIUM, 5),
            ],
            HIGH,
            "node2",
        ),
    ]
    return [
        pytest.param(
            names,
            pod("p", priority, res=VERY_LARGE),
            [pod(n, p, node=node, res=res, start=start) for n, p, node, res, start in pods],
            expected,
            id=f"{UPSTREAM} TestSelectBestCandidate: {name}",
        )
        for name, names, pods, priority, expected in cases
    ]


@pytest.mark.parametrize(("names", "preemptor", "pods", "expected"), _best_candidate_cases())
def test_pick_one_node_for_preemption(names: list[str], preemptor: Pod, pods: list[Pod], expected: str) -> None:
    assert post_filter(preemptor, cluster(names, pods)).node == expected


ONE_POD = {"cpu": "0", "memory": "0", "pods": 1}
NODE_RES = {"cpu": "200m", "memory": "400"}


@pytest.mark.parametrize(
    ("names", "capacity", "preemptor", "pods", "budgets", "node", "message"),
    [
        pytest.param(
            ["node1"],
            ONE_POD,
            pod("p", HIGH),
            [pod("p1", node="node1")],
            [],
            "node1",
            "",
            id=f"{UPSTREAM} TestPostFilter: pod with higher priority can be made schedulable",
        ),
        pytest.param(
            ["node1"],
            ONE_POD,
            pod("p"),
            [pod("p1", node="node1")],
            [],
            None,
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            id=f"{UPSTREAM} TestPostFilter: pod with tied priority is still unschedulable",
        ),
        pytest.param(
            ["node1", "node2"],
            ONE_POD,
            pod("p", MID),
            [pod("p1", HIGH, node="node1"), pod("p2", LOW, node="node2")],
            [],
            "node2",
            "",
            id=f"{UPSTREAM} TestPostFilter: pod can be made schedulable on one node",
        ),
        pytest.param(
            ["node1", "node2"],
            ONE_POD,
            pod("p", VERY_HIGH),
            [
                pod("p1", HIGH, node="node1", labels={"pdb": "non-violating"}),
                pod("p2", LOW, node="node1", labels={"pdb": "violating"}),
                pod("p3", MID, node="node2", labels={"pdb": "violating"}),
            ],
            [budget(0, pdb="violating"), budget(2**31 - 1, pdb="non-violating")],
            "node2",
            "",
            id=f"{UPSTREAM} TestPostFilter: pod can be made schedulable on minHighestPriority node",
        ),
        pytest.param(
            ["node1", "node2"],
            NODE_RES,
            pod("p", HIGH, res=LARGE),
            [pod("p1", node="node1"), pod("p2", node="node2")],
            [],
            None,
            "preemption: 0/2 nodes are available: 2 Insufficient cpu.",
            id=f"{UPSTREAM} TestPostFilter: no candidate nodes found, no enough resource after removing low "
            "priority pods",
        ),
    ],
)
def test_post_filter(
    names: list[str],
    capacity: dict[str, Any],
    preemptor: Pod,
    pods: list[Pod],
    budgets: list[Budget],
    node: str | None,
    message: str,
) -> None:
    result = post_filter(preemptor, cluster(names, pods, **capacity), budgets)
    assert (result.node, result.message) == (node, message)


def test_post_filter_counts_each_nodes_own_reason() -> None:
    """TestPostFilter: "no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU
    resource" (node1 and node3 hold one pod each, node2 lacks CPU even empty)."""
    nodes = [make_node("node1", **ONE_POD), make_node("node2", **NODE_RES), make_node("node3", **ONE_POD)]
    pods = [pod("p1", HIGH, node="node1"), pod("p2", node="node2"), pod("p3", HIGH, node="node3")]
    result = post_filter(pod("p", HIGH, res=LARGE), Snapshot.build(nodes, pods))
    expected = (
        "preemption: 0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod."
    )
    assert (result.node, result.message) == (None, expected)


def test_unresolvable_nodes_are_not_helpful() -> None:
    """TestPostFilter: "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes and 2
    nodes don't have enough CPU resource", the unresolvable two cordoned here."""
    nodes = [make_node(f"node{i}", unschedulable=i > 2, **NODE_RES) for i in range(1, 5)]
    pods = [pod("p1", node="node1"), pod("p2", node="node2")]
    result = post_filter(pod("p", HIGH, res=LARGE), Snapshot.build(nodes, pods))
    expected = "preemption: 0/4 nodes are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling."
    assert (result.node, result.message) == (None, expected)


@pytest.mark.parametrize(
    ("preemptor", "pods", "cordoned", "message"),
    [
        pytest.param(
            pod("p", HIGH, spec={"preemptionPolicy": "Never"}),
            [pod("p1", LOW, node="node1")],
            False,
            "preemption: not eligible due to preemptionPolicy=Never.",
            id=f"{UPSTREAM} TestPodEligibleToPreemptOthers: Pod with preemptionPolicy=Never is not eligible",
        ),
        pytest.param(
            pod("p", HIGH, nominated="node1"),
            [pod("p1", LOW, node="node1", deleting=True)],
            False,
            "preemption: not eligible due to a terminating pod on the nominated node.",
            id=f"{UPSTREAM} TestPodEligibleToPreemptOthers: Pod is not eligible to preempt other pods as there are "
            "terminating pods on the nominated node",
        ),
        pytest.param(
            pod("p", HIGH, nominated="node1"),
            [pod("p1", HIGH, node="node1", deleting=True)],
            False,
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            id=f"{UPSTREAM} TestPodEligibleToPreemptOthers: a terminating pod of equal priority does not hold the "
            "preemptor back",
        ),
        pytest.param(
            pod("p", HIGH, nominated="node1"),
            [pod("p1", LOW, node="node1", deleting=True)],
            True,
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
            id=f"{UPSTREAM} TestPodEligibleToPreemptOthers: a nominated node that is now UnschedulableAndUnresolvable "
            "makes the pod eligible again",
        ),
    ],
)
def test_eligibility(preemptor: Pod, pods: list[Pod], cordoned: bool, message: str) -> None:
    snapshot = Snapshot.build([make_node("node1", unschedulable=cordoned, **ONE_POD)], pods)
    result = post_filter(preemptor, snapshot)
    assert (result.node, result.message) == (None, message)
    assert result.clear_nomination == (message.endswith("Preemption is not helpful for scheduling."))


def test_interference_breaks_only_the_ties_upstream_leaves() -> None:
    """After every upstream criterion ties, the tie-break chooses; it never overrules an earlier criterion."""
    pods = [pod("a", MID, node="node1", res=LARGE, start=1), pod("b", MID, node="node2", res=LARGE, start=1)]
    snapshot = cluster(["node1", "node2"], pods)
    info = PodInfo.of(pod("p", HIGH, res=LARGE), snapshot)
    check = [Check(DECIDER.filter_profile.filters, info, i) for i in range(2)]
    tied = [victims(select_victims(info.pod, snapshot, c, [])) for c in check]
    assert pick_one(tied, now=10).node == "node1"
    assert pick_one(tied, now=10, tie_break=lambda names: names[-1]).node == "node2"
    lower = cluster(["node1", "node2"], [pods[0], pod("b", LOW, node="node2", res=LARGE)])
    uneven = [tied[0], victims(select_victims(info.pod, lower, check[1], []))]
    assert pick_one(uneven, now=10, tie_break=lambda names: "node1").node == "node2"


def victims(found: Victims | str) -> Victims:
    assert isinstance(found, Victims), found
    return found


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        pytest.param(5, 5, id="a small cluster dry-runs every node"),
        pytest.param(100, 100, id="100 nodes: all (minCandidateNodesAbsolute 100)"),
        pytest.param(1000, 100, id="1000 nodes: 100, more than 10% of them"),
        pytest.param(2500, 250, id="2500 nodes: 10% (minCandidateNodesPercentage)"),
    ],
)
def test_how_many_candidates_are_dry_run(nodes: int, expected: int) -> None:
    assert candidate_count(nodes) == expected


class Spy:
    """A filter that passes every node and notes which ones it was asked about."""

    name = "Spy"

    def __init__(self) -> None:
        self.nodes: set[int] = set()

    def filter(self, pod: PodInfo, snapshot: Snapshot, candidates: np.ndarray) -> dict[int, tuple[str, ...]]:
        self.nodes.update(candidates.tolist())
        return {}


def test_the_dry_run_stops_at_enough_candidates_with_one_violating_no_budget() -> None:
    names = [f"node{i:03d}" for i in range(120)]
    snapshot = cluster(names, [pod(f"v{i:03d}", LOW, node=name, res=LARGE) for i, name in enumerate(names)])
    preemptor = pod("p", HIGH, res=LARGE)
    info = PodInfo.of(preemptor, snapshot)
    failures = DECIDER.filter(info, snapshot).failures
    spy = Spy()
    filters = [spy, *DECIDER.filter_profile.filters]
    result = preempt(preemptor, snapshot, failures, filters=filters, info=info, budgets=[], now=0)
    assert result.node in names and len(result.victims) == 1
    assert len(spy.nodes) == 100, "120 candidate nodes, 100 dry-run"


@pytest.mark.parametrize(
    ("nominated", "expected"),
    [
        pytest.param("", "node1", id="without a nomination the heuristic picks the emptier node"),
        pytest.param("node2", "node2", id="a pod nominated to a node that fits goes there (evaluateNominatedNode)"),
        pytest.param("node3", "node1", id="a nominated node that no longer fits is passed over"),
    ],
)
def test_a_nominated_pod_goes_to_its_node_when_it_fits(nominated: str, expected: str) -> None:
    snapshot = cluster(
        ["node1", "node2", "node3"],
        [pod("busy", LOW, node="node2", res=MEDIUM), pod("full", LOW, node="node3", res=VERY_LARGE)],
    )
    assert DECIDER.decide(pod("p", HIGH, res=SMALL, nominated=nominated), snapshot).node == expected
