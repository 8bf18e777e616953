"""NodeResourcesFit (LeastAllocated) and NodeResourcesBalancedAllocation against kube-scheduler's own tables.

Cases are copied from `least_allocated_test.go` and `balanced_allocation_test.go` (v1.36); quantities
keep upstream's strings (cpu "4000" is 4000 cores there too, so the fractions are the same).
"""

import numpy as np
import pytest

from cluster.parse import parse_pod
from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.plugins.node_resources_balanced_allocation import BalancedAllocation
from scoring.plugins.node_resources_fit import NodeResourcesFit
from tests.builders import make_node, make_pod, pod_json


def multi_container_pod(*containers: tuple[str, str], node: str = "") -> object:
    raw = pod_json("incoming", node=node)
    raw["spec"]["containers"] = [
        {"name": f"c{i}", "resources": {"requests": {"cpu": cpu, "memory": mem}}}
        for i, (cpu, mem) in enumerate(containers)
    ]
    return parse_pod(raw)


def scores(plugin, pod, nodes, existing=()):
    snapshot = Snapshot.build(nodes, existing)
    feasible = np.arange(len(snapshot))
    result = plugin.score(PodInfo.of(pod, snapshot), snapshot, feasible)
    return None if result is None else [int(s) for s in result]


def two_nodes(cpu1, mem1, cpu2, mem2):
    return [make_node("node1", cpu=cpu1, memory=mem1), make_node("node2", cpu=cpu2, memory=mem2)]


LEAST_ALLOCATED = [
    pytest.param(
        multi_container_pod(("1000", "2000"), ("2000", "3000")),
        two_nodes("4000", "10000", "6000", "10000"),
        [],
        [37, 50],
        id="nothing scheduled, resources requested, differently sized nodes",
    ),
    pytest.param(
        multi_container_pod(("1000", "2000"), ("2000", "3000")),
        two_nodes("10000", "20000", "10000", "20000"),
        [make_pod("a", cpu="3000", memory="0", node="node1"), make_pod("b", cpu="3000", memory="5000", node="node2")],
        [57, 45],
        id="resources requested, pods scheduled with resources",
    ),
    pytest.param(
        multi_container_pod(("1000", "2000"), ("2000", "3000")),
        two_nodes("10000", "20000", "10000", "50000"),
        [make_pod("a", cpu="3000", memory="0", node="node1"), make_pod("b", cpu="3000", memory="5000", node="node2")],
        [57, 60],
        id="resources requested, pods scheduled with resources, differently sized nodes",
    ),
    pytest.param(
        make_pod("incoming", cpu="3000", memory="0"),
        two_nodes("4000", "10000", "4000", "10000"),
        [make_pod("a", cpu="3000", memory="0", node="node1"), make_pod("b", cpu="3000", memory="5000", node="node2")],
        [50, 25],
        id="requested resources exceed node capacity",
    ),
    pytest.param(
        make_pod("incoming", cpu="0", memory="0"),
        two_nodes("10000", "20000", "10000", "20000"),
        [
            make_pod("a", cpu="3000", memory="0", node="node1"),
            make_pod("b", cpu="3000", memory="0", node="node1"),
            make_pod("c", cpu="3000", memory="0", node="node2"),
            make_pod("d", cpu="3000", memory="5000", node="node2"),
        ],
        # upstream's incoming pod has no containers; explicit zero requests are the same (no 100m/200Mi defaults)
        [70, 57],
        id="no resources requested, pods scheduled with resources",
    ),
    pytest.param(
        make_pod("incoming"),
        two_nodes("250m", "1000Mi", "250m", "1000Mi"),
        [make_pod("a", node="node1"), make_pod("b", node="node1")],
        [20, 70],
        id="non-zero defaults: 100m and 200Mi per missing request, over capacity scores 0",
    ),
]


@pytest.mark.parametrize(("pod", "nodes", "existing", "expected"), LEAST_ALLOCATED)
def test_least_allocated_matches_upstream(pod, nodes, existing, expected):
    assert scores(NodeResourcesFit(), pod, nodes, existing) == expected


BALANCED = [
    pytest.param(
        multi_container_pod(("1000", "2000"), ("2000", "3000")),
        two_nodes("4000", "10000", "6000", "10000"),
        [],
        [68, 75],
        id="nothing scheduled, resources requested, differently sized nodes",
    ),
    pytest.param(
        multi_container_pod(("1000", "2000"), ("2000", "3000")),
        two_nodes("10000", "20000", "10000", "20000"),
        [make_pod("a", cpu="3000", memory="0", node="node1"), make_pod("b", cpu="3000", memory="5000", node="node2")],
        [73, 74],
        id="resources requested, pods scheduled with resources",
    ),
    pytest.param(
        make_pod("incoming", cpu="0", memory="0"),
        two_nodes("4000", "10000", "6000", "10000"),
        [],
        None,
        id="best-effort pod is skipped",
    ),
    pytest.param(
        make_pod("incoming", cpu="3000", memory="5000"),
        two_nodes("4000", "10000", "6000", "10000"),
        [make_pod("a", cpu="3000", memory="9000", node="node1")],
        # node1 with the pod: cpu 6000/4000 capped at 1, mem 14000/10000 capped at 1 → S_with 100;
        # without: 0.75 and 0.9 → S_without 92; 50 + (50 + 100 - 92) / 2 = 79
        [79, 75],
        id="fractions over capacity are capped at one",
    ),
]


@pytest.mark.parametrize(("pod", "nodes", "existing", "expected"), BALANCED)
def test_balanced_allocation_matches_upstream_v1_36(pod, nodes, existing, expected):
    assert scores(BalancedAllocation(), pod, nodes, existing) == expected


def test_balanced_allocation_truncates_negative_halves_toward_zero():
    # node1 starts perfectly balanced (S_without 100); the pod unbalances it: cpu 1.0, mem 0.0 → S_with 50.
    # 50 + (50 + 50 - 100) / 2 = 50; one step worse: S_with 49 → (50 + 49 - 100) = -1 → Go's -1/2 == 0 → 50.
    pod = make_pod("incoming", cpu="4000", memory="0")
    assert scores(BalancedAllocation(), pod, [make_node("node1", cpu="4000", memory="10000")]) == [50]
