"""The soft score plugins against kube-scheduler's own unit-test cases.

Each case is an upstream test case, cited by test function and name with the commit of
kubernetes/kubernetes it was read at; nodes, pods, Services, ReplicaSets and expected scores are upstream's
unless the case says what was adapted.
"""

import numpy as np
import pytest

from cluster.parse import parse_node, parse_pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.heuristic import HeuristicTier
from scoring.plugins.image_locality import ImageLocality
from scoring.plugins.inter_pod_affinity import InterPodAffinity
from scoring.plugins.pod_topology_spread import PodTopologySpread
from scoring.runtime import KUBE_SCORE_WEIGHTS
from tests.builders import make_node, make_pod, make_workloads, node_json, pod_json

PTS = "TestPodTopologySpreadScore @ k8s 008b3652"
PTS_EMPTY_NODES = "TestPreScoreStateEmptyNodes @ k8s 38f68d59"
PTS_SKIP = "TestPreScoreSkip @ k8s 38f68d59"
IPA = "TestPreferredAffinity @ k8s 030880a5"
IL = "TestImageLocalityPriority @ k8s 01e014c7"
HOSTNAME = "kubernetes.io/hostname"
FOO = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "rs-1", "controller": True}


FOO_SERVICE = make_workloads(
    services=[{"metadata": {"name": "svc", "namespace": "default"}, "spec": {"selector": {"foo": ""}}}]
)
WEB_RS = make_workloads(
    replicasets=[{"metadata": {"name": "web-5d8f"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}}]
)


def scores(plugin, pod, nodes, failed=(), existing=(), namespaces=None, objs=None) -> dict[str, int]:
    """The plugin's normalised scores of `nodes` (the feasible ones); `failed` nodes exist but failed filters."""
    snapshot = Snapshot.build([*nodes, *failed], existing, namespaces=namespaces, workloads=objs)
    feasible = np.array(sorted(snapshot.node_index(n.name) for n in nodes), dtype=np.int64)
    result = plugin.score(PodInfo.of(pod, snapshot), snapshot, feasible)
    if result is None:
        return {}
    return {snapshot.names[i]: int(s) for i, s in zip(feasible.tolist(), np.asarray(result).tolist(), strict=True)}


def spread(max_skew: int, key: str, selector: dict | None = FOO) -> dict:
    constraint = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway"}
    if selector is not None:
        constraint["labelSelector"] = selector
    return constraint


def incoming(*constraints: dict, labels: dict | None = None) -> object:
    return make_pod("p", labels=labels or {"foo": ""}, spec={"topologySpreadConstraints": list(constraints)})


def placed(counts: dict[str, int], labels: dict | None = None, owner: dict | None = None) -> list:
    """`counts[node]` pods on each node carrying `labels` (default foo)."""
    pods = []
    for node, count in counts.items():
        for k in range(count):
            raw = pod_json(f"p-{node}-{k}", node=node, labels=labels or {"foo": ""})
            if owner:
                raw["metadata"]["ownerReferences"] = [owner]
            pods.append(parse_pod(raw))
    return pods


def zoned(name: str, zone: str | None) -> object:
    return make_node(name, labels={"zone": zone} if zone else {})


def without_hostname(name: str, **labels: str) -> object:
    raw = node_json(name, labels=labels)
    del raw["metadata"]["labels"][HOSTNAME]
    return parse_node(raw)


ABCD = [make_node(n) for n in ("node-a", "node-b", "node-c", "node-d")]

SPREAD_CASES = [
    pytest.param(
        incoming(spread(1, HOSTNAME)),
        [make_node("node-a"), make_node("node-b")],
        [],
        [],
        {"node-a": 100, "node-b": 100},
        id=f"{PTS}: one constraint on node, no existing pods",
    ),
    pytest.param(
        incoming(spread(1, HOSTNAME)),
        [make_node("node-a")],
        [make_node("node-b")],
        placed({"node-a": 2, "node-b": 1}),
        {"node-a": 100},
        id=f"{PTS}: one constraint on node, only one node is candidate",
    ),
    pytest.param(
        incoming(spread(1, HOSTNAME)),
        ABCD,
        [],
        placed({"node-a": 2, "node-b": 1, "node-d": 3}),
        {"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0},
        id=f"{PTS}: one constraint on node, all 4 nodes are candidates",
    ),
    pytest.param(
        incoming(spread(1, HOSTNAME, selector=None)),
        ABCD,
        [],
        placed({"node-a": 2, "node-b": 1, "node-d": 3}),
        {"node-a": 100, "node-b": 100, "node-c": 100, "node-d": 100},
        id=f"{PTS}: one constraint on node, null selector",
    ),
    pytest.param(
        incoming(spread(2, HOSTNAME)),
        ABCD,
        [],
        placed({"node-a": 2, "node-b": 1, "node-d": 3}),
        {"node-a": 33, "node-b": 66, "node-c": 100, "node-d": 16},
        id=f"{PTS}: one constraint on node, all 4 nodes are candidates, maxSkew=2",
    ),
    pytest.param(
        incoming(spread(3, HOSTNAME)),
        ABCD,
        [],
        placed({"node-a": 4, "node-b": 3, "node-c": 2, "node-d": 1}),
        {"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100},
        id=f"{PTS}: one constraint on node, all 4 nodes are candidates, maxSkew=3",
    ),
    pytest.param(
        make_pod("p", labels={"foo": ""}),
        ABCD,
        [],
        placed({"node-a": 4, "node-b": 3, "node-c": 2, "node-d": 1}),
        {"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100},
        id=f"{PTS}: system defaulting, nodes don't have zone, pods match service",
    ),
    pytest.param(
        incoming(spread(1, HOSTNAME)),
        [make_node("node-a"), make_node("node-b"), make_node("node-x")],
        [make_node("node-y")],
        placed({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}),
        {"node-a": 33, "node-b": 83, "node-x": 100},
        id=f"{PTS}: one constraint on node, 3 out of 4 nodes are candidates",
    ),
    pytest.param(
        incoming(spread(1, HOSTNAME)),
        [make_node("node-a"), without_hostname("node-b", n="node-b"), make_node("node-x")],
        [make_node("node-y")],
        placed({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}),
        {"node-a": 16, "node-b": 0, "node-x": 100},
        id=f"{PTS}: one constraint on node, 3 out of 4 nodes are candidates, one node doesn't match topology key",
    ),
    pytest.param(
        incoming(spread(1, "zone")),
        [zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2")],
        [zoned("node-y", "zone2")],
        placed({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}),
        {"node-a": 75, "node-b": 75, "node-x": 100},
        id=f"{PTS}: one constraint on zone, 3 out of 4 nodes are candidates",
    ),
    pytest.param(
        incoming(spread(1, "zone"), spread(1, HOSTNAME)),
        [zoned("node-a", "zone1"), zoned("node-x", "zone2")],
        [zoned("node-b", "zone1"), zoned("node-y", "zone2")],
        placed({"node-a": 2, "node-b": 1, "node-x": 2, "node-y": 4}),
        {"node-a": 100, "node-x": 63},
        id=f"{PTS}: two Constraints on zone and node, 2 out of 4 nodes are candidates",
    ),
    pytest.param(
        incoming(spread(1, "zone", FOO), spread(1, HOSTNAME, BAR), labels={"foo": "", "bar": ""}),
        [zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")],
        [],
        placed({"node-a": 1, "node-y": 1})
        + placed({"node-b": 1}, labels={"foo": "", "bar": ""})
        + [make_pod("p-y2", node="node-y", labels={"bar": ""})],
        {"node-a": 60, "node-b": 20, "node-x": 100, "node-y": 60},
        id=f"{PTS}: two Constraints on zone and node, with different labelSelectors",
    ),
    pytest.param(
        incoming(spread(1, "zone", FOO), spread(1, HOSTNAME, BAR), labels={"foo": "", "bar": ""}),
        [zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2")],
        [zoned("node-y", "zone2")],
        placed({"node-a": 1, "node-y": 1})
        + placed({"node-b": 1}, labels={"foo": "", "bar": ""})
        + [make_pod("p-y2", node="node-y", labels={"bar": ""})],
        {"node-a": 50, "node-b": 25, "node-x": 100},
        id=f"{PTS}: two Constraints on zone and node, with different labelSelectors, 3 out of 4 nodes are candidates",
    ),
]


@pytest.mark.parametrize(("pod", "nodes", "failed", "existing", "expected"), SPREAD_CASES)
def test_pod_topology_spread_score(pod, nodes, failed, existing, expected):
    assert scores(PodTopologySpread(), pod, nodes, failed, existing, objs=FOO_SERVICE) == expected


def replica(labels: dict[str, str], owner: dict = RS) -> object:
    raw = pod_json("p", labels=labels)
    raw["metadata"]["ownerReferences"] = [owner]
    return parse_pod(raw)


def zone_node(name: str, zone: str | None) -> object:
    return make_node(name, labels={"topology.kubernetes.io/zone": zone} if zone else {})


RS1_FOO = make_workloads(
    replicasets=[
        {
            "metadata": {"name": "rs1", "namespace": "default"},
            "spec": {"selector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}},
        }
    ]
)
RS1 = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "rs1-uid", "controller": True}
RS2 = {**RS1, "name": "rs2", "uid": "rs2-uid"}


@pytest.mark.parametrize(
    ("pod", "objs", "existing", "expected"),
    [
        pytest.param(
            replica({"foo": "tar", "baz": "sup"}, RS1),
            RS1_FOO,
            [],
            # hostname maxSkew 3 gives every node 2, zone maxSkew 5 the zoned ones 4 more: 6, 6, 2, 2 normalised
            {"node-a": 33, "node-b": 33, "node-c": 100, "node-d": 100},
            id=f"{PTS_EMPTY_NODES}: system default constraints and a replicaset (nodes without a zone are scored, "
            "as one more zone; the normalised scores are ours)",
        ),
        pytest.param(
            replica({"foo": "tar", "baz": "sup"}, RS1),
            RS1_FOO,
            placed({"node-a": 2, "node-c": 1}, labels={"foo": "x"}) + placed({"node-b": 3}, labels={"bar": ""}),
            # host (w=log 6): a 2w+2, b 2, c w+2, d 2; zone (w=log 4, mars holds 2, the unlabelled zone 1, scored
            # only on labelled nodes): a and b 2w+4. Rounded 12, 9, 4, 2; normalised 100*(14-s)/12
            {"node-a": 16, "node-b": 41, "node-c": 83, "node-d": 100},
            id=f"{PTS_EMPTY_NODES}: system default constraints and a replicaset, with the replicaset's pods placed "
            "(ours: its selector counts foo pods, not bar pods)",
        ),
        pytest.param(
            replica({"foo": "bar", "baz": "sup"}, RS2),
            RS1_FOO,
            placed({"node-a": 3}),
            {},
            id=f"{PTS_SKIP}: default constraints and a replicaset that doesn't match (system defaults here)",
        ),
    ],
)
def test_system_default_constraints_select_by_the_replicaset(pod, objs, existing, expected):
    nodes = [
        zone_node("node-a", "mars"),
        zone_node("node-b", "mars"),
        zone_node("node-c", None),
        zone_node("node-d", None),
    ]
    assert scores(PodTopologySpread(), pod, nodes, existing=existing, objs=objs) == expected


def test_a_bare_pod_no_service_selects_is_not_spread():
    """No Service selects it and no controller owns it: DefaultSelector is empty, so PreScore skips."""
    assert scores(PodTopologySpread(), make_pod("p", labels={"foo": ""}), ABCD, existing=placed({"node-a": 2})) == {}


def test_a_bare_pod_a_service_selects_is_spread_against_the_services_pods():
    pod = make_pod("p", labels={"foo": ""})
    existing = placed({"node-a": 3}) + placed({"node-b": 3}, labels={"bar": ""})
    got = scores(
        PodTopologySpread(), pod, [make_node("node-a"), make_node("node-b")], existing=existing, objs=FOO_SERVICE
    )
    assert got == {"node-a": 33, "node-b": 100}  # raw 3·log 4 + 2 against 2, normalised


def test_default_constraints_count_the_pods_the_controllers_selector_selects():
    """Not the pods with the same owner: a hand-labelled bare pod the selector matches counts, another
    ReplicaSet's pods with other labels do not (`countPodsMatchSelector`)."""
    other = {**RS, "uid": "rs-2", "name": "other"}
    pod = replica({"app": "web"})
    existing = placed({"node-a": 3}, labels={"app": "web"}) + placed({"node-b": 3}, labels={"app": "db"}, owner=other)
    got = scores(PodTopologySpread(), pod, [make_node("node-a"), make_node("node-b")], existing=existing, objs=WEB_RS)
    assert got == {"node-a": 33, "node-b": 100}  # raw 3·log 4 + 2 against 2, normalised


def test_default_constraints_ignore_terminating_siblings():
    pod = replica({"app": "web"})
    leaving = pod_json("old", node="node-a", labels={"app": "web"})
    leaving["metadata"].update(ownerReferences=[RS], deletionTimestamp="2026-01-01T00:00:00Z")
    got = scores(
        PodTopologySpread(), pod, [make_node("node-a"), make_node("node-b")], existing=[parse_pod(leaving)], objs=WEB_RS
    )
    assert got == {"node-a": 100, "node-b": 100}


def affinity_pod(name: str, labels: dict, affinity: dict | None = None, node: str = "", namespace: str = "default"):
    return make_pod(
        name, node=node, labels=labels, namespace=namespace, spec={"affinity": affinity} if affinity else {}
    )


def weighted(weight: int, key: str, *expressions: dict, **term_extra) -> dict:
    term = {"labelSelector": {"matchExpressions": list(expressions)}, "topologyKey": key, **term_extra}
    return {"weight": weight, "podAffinityTerm": term}


def security_in(*values: str) -> dict:
    return {"key": "security", "operator": "In", "values": list(values)}


S1, S2 = {"security": "S1"}, {"security": "S2"}
CHINA, INDIA, AZ1, AZ2 = {"region": "China"}, {"region": "India"}, {"az": "az1"}, {"az": "az2"}
STAY_WITH_S1 = {
    "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(5, "region", security_in("S1"))]}
}
STAY_WITH_S2 = {
    "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(6, "region", security_in("S2"))]}
}
AWAY_FROM_S1 = {
    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(5, "az", security_in("S1"))]}
}
AWAY_FROM_S2 = {
    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(5, "az", security_in("S2"))]}
}
STAY_S1_AWAY_S2 = {
    "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(8, "region", security_in("S1"))]},
    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [weighted(5, "az", security_in("S2"))]},
}
AFFINITY3 = {
    "podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            weighted(8, "region", {"key": "security", "operator": "NotIn", "values": ["S1"]}, security_in("S2")),
            weighted(
                2, "region", {"key": "security", "operator": "Exists"}, {"key": "wrongkey", "operator": "DoesNotExist"}
            ),
        ]
    }
}
HARD_AFFINITY = {
    "podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchExpressions": [security_in("S1", "value2")]}, "topologyKey": "region"},
            {
                "labelSelector": {
                    "matchExpressions": [
                        {"key": "security", "operator": "Exists"},
                        {"key": "wrongkey", "operator": "DoesNotExist"},
                    ]
                },
                "topologyKey": "region",
            },
        ]
    }
}
TEAM1 = {"matchExpressions": [{"key": "team", "operator": "In", "values": ["team1"]}]}
NS_AFFINITY = {
    "podAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            weighted(5, "region", security_in("S1"), namespaces=["subteam2.team2"], namespaceSelector=TEAM1)
        ]
    }
}
NS_ANTI_AFFINITY = {"podAntiAffinity": NS_AFFINITY["podAffinity"]}
NAMESPACES = {
    "subteam1.team1": {"team": "team1"},
    "subteam2.team1": {"team": "team1"},
    "subteam1.team2": {"team": "team2"},
    "subteam2.team2": {"team": "team2"},
}


def nodes(*label_sets: dict) -> list:
    return [make_node(f"node{k}", labels=labels) for k, labels in enumerate(label_sets, start=1)]


AFFINITY_CASES = [
    pytest.param(
        affinity_pod("p", S1),
        nodes(CHINA, INDIA, AZ1),
        [],
        {},
        id=f"{IPA}: all nodes are same priority as Affinity is nil (Skip)",
    ),
    pytest.param(
        affinity_pod("p", S1, STAY_WITH_S1),
        nodes(CHINA, INDIA, AZ1),
        [
            affinity_pod("e1", S1, node="node1"),
            affinity_pod("e2", S2, node="node2"),
            affinity_pod("e3", S1, node="node3"),
        ],
        {"node1": 100, "node2": 0, "node3": 0},
        id=f"{IPA}: Affinity: pod that matches topology key & pods in nodes will get high score",
    ),
    pytest.param(
        affinity_pod("p", {}, STAY_WITH_S1),
        nodes(CHINA, {**CHINA, **AZ1}, INDIA),
        [affinity_pod("e1", S1, node="node1")],
        {"node1": 100, "node2": 100, "node3": 0},
        id=f"{IPA}: All the nodes that have the same topology key & label value ... have the same score",
    ),
    pytest.param(
        affinity_pod("p", S1, STAY_WITH_S2),
        nodes(CHINA, INDIA, CHINA, CHINA, INDIA),
        [
            affinity_pod(f"e{k}", S2, node=n)
            for k, n in enumerate(["node1", "node1", "node2", "node3", "node4", "node5"])
        ],
        {"node1": 100, "node2": 0, "node3": 100, "node4": 100, "node5": 0},
        id=f"{IPA}: Affinity: nodes in one region has more matching pods comparing to other region",
    ),
    pytest.param(
        affinity_pod("p", S1, AFFINITY3),
        nodes(CHINA, INDIA, AZ1),
        [
            affinity_pod("e1", S1, node="node1"),
            affinity_pod("e2", S2, node="node2"),
            affinity_pod("e3", S1, node="node3"),
        ],
        {"node1": 20, "node2": 100, "node3": 0},
        id=f"{IPA}: Affinity: different Label operators and values for pod affinity scheduling preference",
    ),
    pytest.param(
        affinity_pod("p", S2),
        nodes(CHINA, INDIA, AZ1),
        [affinity_pod("e1", S1, STAY_WITH_S1, node="node1"), affinity_pod("e2", S2, STAY_WITH_S2, node="node2")],
        {"node1": 0, "node2": 100, "node3": 0},
        id=f"{IPA}: Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution",
    ),
    pytest.param(
        affinity_pod("p", S1, namespace="subteam1.team1"),
        nodes(CHINA, INDIA, AZ1),
        [affinity_pod("e1", S1, NS_AFFINITY, node="node1"), affinity_pod("e2", S2, STAY_WITH_S2, node="node2")],
        {"node1": 100, "node2": 0, "node3": 0},
        id=f"{IPA}: Affinity symmetry with namespace selector",
    ),
    pytest.param(
        affinity_pod("p", S1, namespace="subteam1.team1"),
        nodes(CHINA, INDIA, AZ1),
        [affinity_pod("e1", S1, NS_ANTI_AFFINITY, node="node1"), affinity_pod("e2", S2, STAY_WITH_S2, node="node2")],
        {"node1": 0, "node2": 100, "node3": 100},
        id=f"{IPA}: AntiAffinity symmetry with namespace selector",
    ),
    pytest.param(
        affinity_pod("p", S1),
        nodes(CHINA, INDIA, AZ1),
        [affinity_pod("e1", S1, HARD_AFFINITY, node="node1"), affinity_pod("e2", S2, HARD_AFFINITY, node="node2")],
        {"node1": 100, "node2": 100, "node3": 0},
        id=f"{IPA}: Affinity symmetry: considered RequiredDuringScheduling... (weight 1)",
    ),
    pytest.param(
        affinity_pod("p", S1, AWAY_FROM_S1),
        nodes(AZ1, CHINA),
        [affinity_pod("e1", S1, node="node1"), affinity_pod("e2", S2, node="node2")],
        {"node1": 0, "node2": 100},
        id=f"{IPA}: Anti Affinity: pod that does not match existing pods in node will get high score",
    ),
    pytest.param(
        affinity_pod("p", S1, AWAY_FROM_S1),
        nodes(AZ1, INDIA),
        [
            affinity_pod("e1", S1, node="node1"),
            affinity_pod("e2", S1, node="node1"),
            affinity_pod("e3", S2, node="node2"),
        ],
        {"node1": 0, "node2": 100},
        id=f"{IPA}: Anti Affinity: one node has more matching pods comparing to other node",
    ),
    pytest.param(
        affinity_pod("p", S2),
        nodes(AZ1, AZ2),
        [affinity_pod("e1", S1, AWAY_FROM_S2, node="node1"), affinity_pod("e2", S2, AWAY_FROM_S1, node="node2")],
        {"node1": 0, "node2": 100},
        id=f"{IPA}: Anti Affinity symmetry: the existing pods ... which has anti affinity match",
    ),
    pytest.param(
        affinity_pod("p", S1, STAY_S1_AWAY_S2),
        nodes({**CHINA, **AZ1}, INDIA, CHINA, CHINA, INDIA),
        [
            affinity_pod(f"e{k}", S1, node=n)
            for k, n in enumerate(["node1", "node1", "node2", "node3", "node3", "node4", "node5"])
        ],
        {"node1": 100, "node2": 0, "node3": 100, "node4": 100, "node5": 0},
        id=f"{IPA}: Affinity and Anti Affinity: the pod to schedule and existing pods have the same labels",
    ),
    pytest.param(
        affinity_pod("p", S1, STAY_S1_AWAY_S2),
        nodes(CHINA, AZ1, INDIA, AZ2),
        [
            affinity_pod("e1", S1, node="node1"),
            affinity_pod("e2", S2, node="node2"),
            affinity_pod("e3", {}, STAY_S1_AWAY_S2, node="node3"),
            affinity_pod("e4", {}, AWAY_FROM_S1, node="node4"),
        ],
        {"node1": 100, "node2": 0, "node3": 100, "node4": 0},
        id=f"{IPA}: Affinity and Anti Affinity and symmetry",
    ),
    pytest.param(
        affinity_pod("p", S1),
        nodes(CHINA, CHINA),
        [affinity_pod("e1", S1, node="node1"), affinity_pod("e2", {}, STAY_S1_AWAY_S2, node="node2")],
        {"node1": 0, "node2": 0},
        id=f"{IPA}: Avoid panic when partial nodes in a topology don't have pods with affinity",
    ),
]


@pytest.mark.parametrize(("pod", "node_list", "existing", "expected"), AFFINITY_CASES)
def test_inter_pod_affinity_score(pod, node_list, existing, expected):
    assert scores(InterPodAffinity(), pod, node_list, existing=existing, namespaces=NAMESPACES) == expected


MB = 1024 * 1024
NODE_40_300_2000 = [
    {"names": ["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], "sizeBytes": 40 * MB},
    {"names": ["gcr.io/300:latest", "gcr.io/300:v1"], "sizeBytes": 300 * MB},
    {"names": ["gcr.io/2000:latest"], "sizeBytes": 2000 * MB},
]
NODE_250_10 = [
    {"names": ["gcr.io/250:latest"], "sizeBytes": 250 * MB},
    {"names": ["gcr.io/10:latest", "gcr.io/10:v1"], "sizeBytes": 10 * MB},
]


def image_node(name: str, images: list) -> object:
    raw = node_json(name)
    raw["status"]["images"] = images
    return parse_node(raw)


def image_pod(*images: str, init: tuple[str, ...] = ()) -> object:
    raw = pod_json("p")
    raw["spec"]["containers"] = [{"name": f"c{k}", "image": image} for k, image in enumerate(images)]
    if init:
        raw["spec"]["initContainers"] = [{"name": f"i{k}", "image": image} for k, image in enumerate(init)]
    return parse_pod(raw)


TWO_NODES = [image_node("machine1", NODE_40_300_2000), image_node("machine2", NODE_250_10)]

# Upstream's scenarios; the expected scores are worked out with v1.36's threshold of 1000 MiB per image
# (the version the cases were read at still had one 1000 MiB threshold per pod), as the comments show.
IMAGE_CASES = [
    pytest.param(
        image_pod("gcr.io/40", "gcr.io/250"),
        TWO_NODES,
        {"machine1": 0, "machine2": 5},  # 250M/2 = 125M: 100 × (125M − 23M) / (2000M − 23M)
        id=f"{IL}: two images spread on two nodes, prefer the larger image one",
    ),
    pytest.param(
        image_pod("gcr.io/40", "gcr.io/300"),
        TWO_NODES,
        {"machine1": 7, "machine2": 0},  # (40M + 300M)/2 = 170M
        id=f"{IL}: two images on one node, prefer this node",
    ),
    pytest.param(
        image_pod("gcr.io/10", "gcr.io/2000"),
        TWO_NODES,
        {"machine1": 49, "machine2": 0},  # 2000M/2 = 1000M; 10M/2 is under the 23M floor
        id=f"{IL}: if exceed limit, use limit",
    ),
    pytest.param(
        image_pod("gcr.io/10", "gcr.io/2000"),
        [*TWO_NODES, image_node("machine3", [])],
        {"machine1": 32, "machine2": 0, "machine3": 0},  # 2000M/3: the image is on one node of three
        id=f"{IL}: if exceed limit, use limit (with node which has no images present)",
    ),
    pytest.param(
        image_pod("gcr.io/300", init=("gcr.io/40",)),
        [image_node("machine1", NODE_40_300_2000)],
        {"machine1": 16},  # init containers count (v1.36): 100 × (340M − 23M) / (2000M − 23M), not 28
        id="init containers' images count too, each adding 1000M to the ceiling",
    ),
]


@pytest.mark.parametrize(("pod", "node_list", "expected"), IMAGE_CASES)
def test_image_locality_score(pod, node_list, expected):
    assert scores(ImageLocality(), pod, node_list) == expected


def test_default_weights_are_kube_schedulers():
    """`pkg/scheduler/apis/config/v1/default_plugins.go` (v1.36), volume plugins aside."""
    assert dict(KUBE_SCORE_WEIGHTS) == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }


def test_replicas_of_one_replicaset_spread_across_equal_nodes():
    """Three replicas, no constraints: the heuristic places each on a node without a sibling."""
    tier = HeuristicTier(weights=KUBE_SCORE_WEIGHTS)
    snapshot = Snapshot.build([make_node(n) for n in ("n1", "n2", "n3")], workloads=WEB_RS)
    chosen = []
    for k in range(3):
        raw = pod_json(f"web-{k}", cpu="100m", memory="128Mi", labels={"app": "web"})
        raw["metadata"]["ownerReferences"] = [RS]
        pod = parse_pod(raw)
        info = PodInfo.of(pod, snapshot)
        result = tier.score(info, snapshot, np.arange(len(snapshot)))
        node = snapshot.names[result.feasible[result.best]]
        chosen.append(node)
        snapshot = snapshot.with_pod(pod, node)
    assert sorted(chosen) == ["n1", "n2", "n3"]


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        pytest.param(
            NODE_250_10,
            {"gcr.io/250:latest": 250 * MB, "gcr.io/10:latest": 10 * MB, "gcr.io/10:v1": 10 * MB},
            id="every name of every image",
        ),
        pytest.param(
            [{"names": ["a:1"], "sizeBytes": "big"}, {"names": "b:1", "sizeBytes": 1}, 7],
            {},
            id="malformed entries are skipped",
        ),
        pytest.param("not a list", {}, id="a malformed list is ignored and the node stays usable"),
    ],
)
def test_node_images_are_read_leniently(images, expected):
    node = image_node("n", images)
    assert dict(node.images) == expected
    assert not node.unschedulable


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        pytest.param([RS], ("apps/v1", "ReplicaSet", "rs-1", "web-5d8f"), id="the controller reference"),
        pytest.param([{**RS, "controller": False}], (), id="an owner that is not the controller"),
        pytest.param("junk", (), id="a malformed list"),
    ],
)
def test_the_pods_controller_is_read_from_its_owner_references(refs, expected):
    raw = pod_json("p")
    raw["metadata"]["ownerReferences"] = refs
    assert parse_pod(raw).controller == expected


@pytest.mark.parametrize("plugin", [PodTopologySpread(), InterPodAffinity(), ImageLocality()], ids=lambda p: p.name)
def test_no_feasible_node_scores_nothing_without_failing(plugin):
    pod = make_pod(
        "p",
        labels={"security": "S1"},
        spec={"affinity": STAY_WITH_S1, "topologySpreadConstraints": [spread(1, "zone")]},
    )
    snapshot = Snapshot.build(nodes(CHINA), [affinity_pod("e1", S1, node="node1")])
    result = plugin.score(PodInfo.of(pod, snapshot), snapshot, np.empty(0, dtype=np.int64))
    assert result is None or len(result) == 0
