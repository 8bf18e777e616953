"""Every filter's reason string, as kube-scheduler writes it, and the FitError message built from them."""

import pytest

from cluster.snapshot import Snapshot
from scoring.framework import PodInfo
from scoring.runtime import Profile, run_filters
from tests.builders import make_node, make_pod

NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
NOT_IN_PREFILTER = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
UNSCHEDULABLE_TOLERATION = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}


def reasons(pod, nodes, existing=()):
    snapshot = Snapshot.build(nodes, existing)
    outcome = run_filters(Profile.build(weights={}), PodInfo.of(pod, snapshot), snapshot)
    return outcome.reasons_by_node(snapshot.names), outcome


def anti_affinity(app: str, key: str = "kubernetes.io/hostname") -> dict:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}
    return {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def pod_affinity(app: str, key: str = "zone") -> dict:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}
    return {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def node_affinity(*terms: dict) -> dict:
    required = {"nodeSelectorTerms": list(terms)}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}}


def expression(key: str, operator: str, *values: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def spread(when: str) -> dict:
    constraint = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
    }
    return {"topologySpreadConstraints": [constraint]}


CASES = [
    pytest.param(
        make_pod(), [make_node("n1", unschedulable=True)], [], {"n1": "node(s) were unschedulable"}, id="cordoned"
    ),
    pytest.param(
        make_pod(spec={"tolerations": [UNSCHEDULABLE_TOLERATION]}),
        [make_node("n1", unschedulable=True)],
        [],
        {},
        id="a cordoned node takes a pod that tolerates the unschedulable taint",
    ),
    pytest.param(
        make_pod(spec={"nodeName": "n2"}),
        [make_node("n1"), make_node("n2")],
        [],
        {"n1": "node(s) didn't match the requested node name"},
        id="pod naming another node",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", taints=[GPU_TAINT])],
        [],
        {"n1": "node(s) had untolerated taint {dedicated: gpu}"},
        id="untolerated NoSchedule taint",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])],
        [],
        {"n1": "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"},
        id="untolerated taint without a value",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", taints=[{"key": "evict", "value": "x", "effect": "NoExecute"}])],
        [],
        {"n1": "node(s) had untolerated taint {evict: x}"},
        id="untolerated NoExecute taint",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", taints=[{"key": "soft", "value": "x", "effect": "PreferNoSchedule"}])],
        [],
        {},
        id="PreferNoSchedule does not filter",
    ),
    pytest.param(
        make_pod(spec={"tolerations": [{"operator": "Exists"}]}),
        [make_node("n1", taints=[GPU_TAINT])],
        [],
        {},
        id="an empty key with Exists tolerates every taint",
    ),
    pytest.param(
        make_pod(spec={"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "cpu"}]}),
        [make_node("n1", taints=[GPU_TAINT])],
        [],
        {"n1": "node(s) had untolerated taint {dedicated: gpu}"},
        id="an Equal toleration with another value",
    ),
    pytest.param(
        make_pod(spec={"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}),
        [make_node("n1", taints=[GPU_TAINT])],
        [],
        {"n1": "node(s) had untolerated taint {dedicated: gpu}"},
        id="a toleration for another effect",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", ready="False")],
        [],
        {"n1": "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
        id="a not-ready node is tainted as the node lifecycle controller does",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", ready="Unknown")],
        [],
        {"n1": "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
        id="an unreachable node",
    ),
    pytest.param(
        make_pod(spec={"nodeSelector": {"disk": "ssd"}}),
        [make_node("n1", labels={"disk": "hdd"}), make_node("n2", labels={"disk": "ssd"}), make_node("n3")],
        [],
        {"n1": NODE_AFFINITY, "n3": NODE_AFFINITY},
        id="nodeSelector",
    ),
    pytest.param(
        make_pod(spec=node_affinity(expression("zone", "NotIn", "a"))),
        [make_node("n1", labels={"zone": "a"}), make_node("n2", labels={"zone": "b"}), make_node("n3")],
        [],
        {"n1": NODE_AFFINITY},
        id="NotIn matches nodes without the label",
    ),
    pytest.param(
        make_pod(spec=node_affinity(expression("cores", "Gt", "16"))),
        [
            make_node("n1", labels={"cores": "8"}),
            make_node("n2", labels={"cores": "32"}),
            make_node("n3", labels={"cores": "many"}),
        ],
        [],
        {"n1": NODE_AFFINITY, "n3": NODE_AFFINITY},
        id="Gt compares integers and rejects non-integers",
    ),
    pytest.param(
        make_pod(spec=node_affinity(expression("gpu", "DoesNotExist"), expression("zone", "In", "b"))),
        [make_node("n1", labels={"gpu": "t4"}), make_node("n2", labels={"gpu": "t4", "zone": "b"}), make_node("n3")],
        [],
        {"n1": NODE_AFFINITY},
        id="required terms are ORed",
    ),
    pytest.param(
        make_pod(spec=node_affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]})),
        [make_node("n1"), make_node("n2"), make_node("n3")],
        [],
        {"n1": NOT_IN_PREFILTER, "n3": NOT_IN_PREFILTER},
        id="matchFields on the node name narrows the candidates in PreFilter",
    ),
    pytest.param(
        make_pod(cpu="2", memory="1Gi"),
        [make_node("n1", cpu="1"), make_node("n2", memory="512Mi"), make_node("n3", cpu="1", memory="512Mi")],
        [],
        {"n1": "Insufficient cpu", "n2": "Insufficient memory", "n3": "Insufficient cpu, Insufficient memory"},
        id="insufficient cpu and memory",
    ),
    pytest.param(
        make_pod(requests={"ephemeral-storage": "10Gi", "nvidia.com/gpu": "1"}),
        [
            make_node("n1", extra={"ephemeral-storage": "5Gi", "nvidia.com/gpu": "1"}),
            make_node("n2", extra={"ephemeral-storage": "50Gi"}),
        ],
        [],
        {"n1": "Insufficient ephemeral-storage", "n2": "Insufficient nvidia.com/gpu"},
        id="ephemeral storage and extended resources",
    ),
    pytest.param(
        make_pod(requests={"example.com/fpga": "1"}),
        [make_node("n1")],
        [],
        {"n1": "Insufficient example.com/fpga"},
        id="an extended resource no node offers",
    ),
    pytest.param(
        make_pod(),
        [make_node("n1", pods=1), make_node("n2", pods=2)],
        [make_pod("old", node="n1")],
        {"n1": "Too many pods"},
        id="pod count",
    ),
    pytest.param(
        make_pod(cpu="1"),
        [make_node("n1", cpu="2")],
        [
            make_pod("done", cpu="2", node="n1", phase="Succeeded"),
            make_pod("failed", cpu="2", node="n1", phase="Failed"),
        ],
        {},
        id="terminal pods hold nothing",
    ),
    pytest.param(
        make_pod(host_ports=[8080]),
        [make_node("n1"), make_node("n2")],
        [make_pod("web", node="n1", host_ports=[8080])],
        {"n1": "node(s) didn't have free ports for the requested pod ports"},
        id="a host port in use",
    ),
    pytest.param(
        make_pod(labels={"app": "web"}, spec=anti_affinity("web")),
        [make_node("n1"), make_node("n2")],
        [make_pod("web-0", node="n1", labels={"app": "web"})],
        {"n1": "node(s) didn't match pod anti-affinity rules"},
        id="the incoming pod's required anti-affinity",
    ),
    pytest.param(
        make_pod(labels={"app": "web"}),
        [make_node("n1"), make_node("n2")],
        [make_pod("guard", node="n1", labels={"app": "guard"}, spec=anti_affinity("web"))],
        {"n1": "node(s) didn't satisfy existing pods anti-affinity rules"},
        id="an existing pod's anti-affinity excludes the newcomer",
    ),
    pytest.param(
        make_pod(labels={"app": "web"}, namespace="other", spec=anti_affinity("web")),
        [make_node("n1"), make_node("n2")],
        [make_pod("web-0", node="n1", labels={"app": "web"})],
        {},
        id="anti-affinity terms only see the pod's own namespace by default",
    ),
    pytest.param(
        make_pod(spec=pod_affinity("db")),
        [make_node("n1", labels={"zone": "a"}), make_node("n2", labels={"zone": "b"}), make_node("n3")],
        [make_pod("db-0", node="n2", labels={"app": "db"})],
        {"n1": "node(s) didn't match pod affinity rules", "n3": "node(s) didn't match pod affinity rules"},
        id="required affinity to pods in the same zone",
    ),
    pytest.param(
        make_pod(labels={"app": "db"}, spec=pod_affinity("db")),
        [make_node("n1", labels={"zone": "a"}), make_node("n2")],
        [],
        {"n2": "node(s) didn't match pod affinity rules"},
        id="the first pod of a self-affine group may go anywhere with the topology label",
    ),
    pytest.param(
        make_pod(labels={"app": "web"}, spec=spread("DoNotSchedule")),
        [make_node("n1", labels={"zone": "a"}), make_node("n2", labels={"zone": "b"}), make_node("n3")],
        [make_pod("web-0", node="n1", labels={"app": "web"})],
        {
            "n1": "node(s) didn't match pod topology spread constraints",
            "n3": "node(s) didn't match pod topology spread constraints (missing required label)",
        },
        id="topology spread DoNotSchedule",
    ),
    pytest.param(
        make_pod(labels={"app": "web"}, spec=spread("ScheduleAnyway")),
        [make_node("n1", labels={"zone": "a"}), make_node("n2", labels={"zone": "b"})],
        [make_pod("web-0", node="n1", labels={"app": "web"}), make_pod("web-1", node="n1", labels={"app": "web"})],
        {},
        id="ScheduleAnyway never filters",
    ),
]


@pytest.mark.parametrize(("pod", "nodes", "existing", "expected"), CASES)
def test_filter_reasons(pod, nodes, existing, expected):
    got, _ = reasons(pod, nodes, existing)
    assert got == expected


def test_a_node_stops_at_its_first_failing_filter():
    got, _ = reasons(make_pod(cpu="64"), [make_node("n1", taints=[GPU_TAINT], cpu="1")])
    assert got == {"n1": "node(s) had untolerated taint {dedicated: gpu}"}


def test_fit_error_message_for_a_mixed_case():
    nodes = [
        make_node("control", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        make_node("w1", cpu="1"),
        make_node("w2", cpu="1", memory="1Gi"),
        make_node("w3", unschedulable=True),
        *[make_node(f"gpu{i}", taints=[GPU_TAINT]) for i in range(10)],
    ]
    _, outcome = reasons(make_pod(cpu="2", memory="2Gi"), nodes)
    # counts and reasons joined as "<count> <reason>" and sorted as strings: "10 ..." sorts before "2 ..."
    assert outcome.message == (
        "0/14 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable, 10 node(s) had untolerated taint "
        "{dedicated: gpu}, 2 Insufficient cpu."
    )


def test_pre_filter_conflict_rejects_every_node_with_the_upstream_message():
    pinned = [
        {"key": "metadata.name", "operator": "In", "values": ["a"]},
        {"key": "metadata.name", "operator": "In", "values": ["b"]},
    ]
    _, outcome = reasons(make_pod(spec=node_affinity({"matchFields": pinned})), [make_node("a"), make_node("b")])
    assert outcome.message == "0/2 nodes are available: pod affinity terms conflict."


def test_no_nodes_at_all():
    _, outcome = reasons(make_pod(), [])
    assert outcome.message == "no nodes available to schedule pods"
