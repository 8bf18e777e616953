"""`scheduler.py decide` as a user runs it: CONTRACTS §4's output, its exit statuses and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "examples" / "cluster-6-workers.json"
PODS = ROOT / "ai-test-pods.yaml"
NOISY_NODES = {"worker-2", "worker-5"}


def decide(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scheduler.py", "decide", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def run(*args: str) -> dict[str, dict]:
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(PODS), "--json", *args)
    assert result.returncode == 0, result.stderr
    return {d["pod"]: d for d in map(json.loads, result.stdout.strip().splitlines())}


@pytest.fixture(scope="module", params=["auto", "heuristic"])
def decisions(request: pytest.FixtureRequest) -> dict[str, dict]:
    """The production chain (the transformer, without a token) and the heuristic tier alone."""
    return run("--tier", request.param)


@pytest.fixture(scope="module")
def heuristic() -> dict[str, dict]:
    return run("--tier", "heuristic")


def test_one_valid_line_per_pod(decisions):
    assert len(decisions) == 10
    for d in decisions.values():
        assert list(d)[:7] == ["pod", "node", "tier", "reason", "scores", "unschedulable", "latency_ms"]
        assert d["tier"] in {"transformer", "heuristic"}
        assert all(0 <= s <= 100 for s in d["scores"].values())
        assert d["latency_ms"] > 0
        assert len(d["reason"]) <= 256


def test_latency_critical_pods_avoid_the_noisy_nodes(decisions):
    for name in ("default/redis-latency", "default/http-echo", "default/frontend-0", "default/frontend-1"):
        assert decisions[name]["node"] not in NOISY_NODES, name
        noisy_scores = [decisions[name]["scores"][n] for n in NOISY_NODES]
        assert max(noisy_scores) < decisions[name]["scores"][decisions[name]["node"]]


def test_constraints_are_respected(decisions):
    assert decisions["ml/gpu-inference"]["node"] == "worker-4"
    assert decisions["default/ssd-cache"]["node"] in {"worker-1", "worker-6"}
    assert decisions["default/frontend-0"]["node"] != decisions["default/frontend-1"]["node"]
    assert decisions["default/frontend-1"]["unschedulable"][decisions["default/frontend-0"]["node"]] == (
        "node(s) didn't match pod anti-affinity rules"
    )


def test_plugin_scores_are_printed_for_the_heuristic_tier(heuristic):
    plugins = heuristic["default/redis-latency"]["plugin_scores"]
    assert set(plugins) == {
        "NodeResourcesFit",
        "NodeResourcesBalancedAllocation",
        "TaintToleration",
        "NodeAffinity",
        "PodTopologySpread",
        "InterPodAffinity",
        "ImageLocality",
        "InterferenceAware",
    }
    assert plugins["InterferenceAware"]["worker-2"] < plugins["InterferenceAware"]["worker-1"]


def test_the_pod_that_fits_nowhere(decisions):
    too_big = decisions["default/too-big"]
    assert too_big["node"] is None
    assert too_big["reason"] == (
        "0/7 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 5 Insufficient cpu."
    )
    assert too_big["unschedulable"]["worker-1"] == "Insufficient cpu"


def test_each_placement_counts_for_the_next(tmp_path):
    pods = tmp_path / "pods.yaml"
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: fill-{i}}}\nspec:\n  containers:\n  - name: c\n"
        "    resources: {{requests: {{cpu: '5'}}}}\n"
    )
    pods.write_text("---\n".join(pod.format(i=i) for i in range(6)))
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(pods), "--json")
    nodes = [json.loads(line)["node"] for line in result.stdout.splitlines()]
    placed = [n for n in nodes if n]
    assert len(placed) == len(set(placed)) == 5  # 8-cpu workers hold one 5-cpu pod each (worker-4 is tainted)
    assert nodes[-1] is None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--snapshot", "missing.json", "--pod", str(PODS)], "missing.json: cannot read", id="no snapshot"),
        pytest.param(["--snapshot", str(PODS), "--pod", str(PODS)], "no Node objects", id="snapshot without nodes"),
        pytest.param(
            ["--snapshot", str(SNAPSHOT), "--pod", str(SNAPSHOT)], "is a Node, not a Pod", id="pod file of nodes"
        ),
        pytest.param(["--snapshot", str(SNAPSHOT), "--pod", "config.yaml"], "not a Pod", id="pod file of config"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    result = decide(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_bad_pod_manifest(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
        "  - name: c\n    resources: {requests: {cpu: lots}}\n"
    )
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(bad))
    assert result.returncode == 2
    expected = f"error: {bad}: pod default/x: container 'c': resources: invalid quantity 'lots' for cpu"
    assert result.stderr.strip() == expected


def test_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nmetadata: [\n")
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(bad))
    assert result.returncode == 2 and "not valid YAML" in result.stderr and "Traceback" not in result.stderr


def test_bad_config(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("fallback:\n  strategy: fastest\n")
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(PODS), "--config", str(bad))
    assert result.returncode == 2
    assert "fallback.strategy: 'fastest' is not allowed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_environment_value():
    result = decide("--snapshot", str(SNAPSHOT), "--pod", str(PODS), env={"LOG_FORMAT": "xml"})
    assert result.returncode == 2 and "logging.format: 'xml'" in result.stderr


def test_each_pod_shows_the_pods_placed_before_it_as_the_estimate(heuristic):
    """The first pod sees no estimate; every later one counts the earlier placements on their nodes."""
    order = list(heuristic)
    assert "estimate" not in heuristic[order[0]]
    first_node = heuristic[order[0]]["node"]
    second = heuristic[order[1]]["estimate"][first_node]
    assert second["pods"] == 1
    assert 0 < second["cpu_utilization"] <= 1
    placed = [heuristic[name]["node"] for name in order[:-1] if heuristic[name]["node"]]
    counted = heuristic[order[-1]]["estimate"]
    assert sum(e["pods"] for e in counted.values()) == len(placed)


STORAGE_SNAPSHOT = {
    "kind": "List",
    "items": [
        *(
            {"kind": "Node", "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
             "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}
            for n in ("n1", "n2")
        ),
        {"kind": "StorageClass", "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
         "volumeBindingMode": "WaitForFirstConsumer"},
        {"kind": "PersistentVolume", "metadata": {"name": "pv-n2"},
         "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                  "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                      {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}},
         "status": {"phase": "Available"}},
        {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                  "resources": {"requests": {"storage": "1Gi"}}}},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("claim", "node", "reason"),
    [
        pytest.param("data", "n2", None, id="a pod follows the only volume its claim can bind"),
        pytest.param("gone", None, 'persistentvolumeclaim "gone" not found', id="a claim not in the snapshot"),
    ],
)
def test_storage_objects_in_the_snapshot_are_honoured(tmp_path, claim, node, reason):
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(STORAGE_SNAPSHOT))
    pods = tmp_path / "pod.yaml"
    pods.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: db-0}\nspec:\n  containers: [{name: c}]\n"
        f"  volumes: [{{name: d, persistentVolumeClaim: {{claimName: {claim}}}}}]\n"
    )
    result = decide("--snapshot", str(snapshot), "--pod", str(pods), "--json", "--tier", "heuristic")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["node"] == node
    if reason:
        assert reason in decision["reason"]


def _web_pod(name: str, node: str = "") -> dict:
    spec = {"containers": [{"name": "c"}], **({"nodeName": node} if node else {})}
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}}, "spec": spec}


WEB_SERVICE = {
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"app": "web"}},
}


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param([WEB_SERVICE], {"n1": 33, "n2": 100}, id="a Service in the snapshot spreads the pods it selects"),
        pytest.param([], {"n1": 0, "n2": 0}, id="without one the bare pod is not spread (Skip: 0 everywhere)"),
    ],
)
def test_services_in_the_snapshot_select_whom_the_default_constraints_spread(tmp_path, objects, expected):
    nodes = [
        {"kind": "Node", "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
         "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}
        for n in ("n1", "n2")
    ]  # fmt: skip
    snapshot = tmp_path / "snapshot.json"
    placed = [_web_pod(f"web-{i}", "n1") for i in range(3)]
    snapshot.write_text(json.dumps({"kind": "List", "items": [*nodes, *placed, *objects]}))
    pods = tmp_path / "pod.json"
    pods.write_text(json.dumps(_web_pod("web-3")))
    result = decide("--snapshot", str(snapshot), "--pod", str(pods), "--json", "--tier", "heuristic")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plugin_scores"]["PodTopologySpread"] == expected


def test_every_feasible_node_is_scored_however_large_the_cluster(tmp_path):
    nodes = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i:03d}"},
         "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}]}}
        for i in range(150)
    ]  # fmt: skip
    snapshot = tmp_path / "cluster.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))
    result = decide("--snapshot", str(snapshot), "--pod", str(PODS), "--json", "--tier", "heuristic")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert len(first["scores"]) == 150  # CONTRACTS §4, though the scheduler's default scores 100 of 150
