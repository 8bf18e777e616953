"""Scenario files: the shipped ones load into API-server-shaped JSON, and bad files fail naming the key."""

import copy
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sim import hardware, scenario
from sim.scenario import MAX_NODES, MAX_PODS, ScenarioError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "name": "tiny",
    "seed": 5,
    "nodes": [{"name": "n", "count": 2, "hardware": "skylake-sp"}],
    "pods": [{"name": "hog", "node": "n-1", "image": "alexeiled/stress-ng", "args": ["--stream", "2"]}],
    "arrivals": [{"name": "redis", "image": "redis:7", "count": 2, "requests": {"cpu": "500m", "memory": "1Gi"}}],
}


def test_the_shipped_scenarios_are_the_ones_the_issue_asks_for() -> None:
    assert {"seed-001", "mixed-100", "heterogeneous"} <= set(scenario.builtin())
    assert {"cpu-antagonists", "near-full", "replica-burst", "counter-gaps"} <= set(scenario.builtin())


def test_seed_001_is_the_kubeattention_setup() -> None:
    seed = scenario.load("seed-001")
    nodes = {n["metadata"]["name"]: n for n in seed.nodes}
    assert [name for name in nodes if name.startswith("worker-")] == [f"worker-{i}" for i in range(1, 7)]
    assert nodes["gpu-1"]["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    noisy = {
        p["spec"]["nodeName"]: seed.profiles[f"{p['metadata']['namespace']}/{p['metadata']['name']}"] for p in seed.pods
    }
    assert (noisy["worker-2"], noisy["worker-5"]) == ("stress-cache", "stress-membw")
    annotated = [p for p in seed.pods if "ai-scheduler.io/noisy" in p["metadata"]["annotations"]]
    assert [p["spec"]["nodeName"] for p in annotated] == ["worker-2"], "the bandwidth hog is hidden"
    arriving = Counter(seed.profiles[f"default/{a.pod['metadata']['name']}"] for a in seed.arrivals)
    assert arriving["redis"] == 6 and arriving["http-echo"] == 6 and arriving["batch-compute"] >= 1
    assert {a.pod["spec"]["schedulerName"] for a in seed.arrivals} == {"ai-llama-scheduler"}
    assert [a.at for a in seed.arrivals] == sorted(a.at for a in seed.arrivals)
    assert seed.hardware["worker-3"].counters.resctrl is False and seed.hardware["worker-6"].counters.perf is False


def test_mixed_100_is_generated_from_its_seed() -> None:
    mixed = scenario.load("mixed-100")
    again = scenario.load(Path(scenario.BUILTIN) / "mixed-100.yaml")
    assert len(mixed.nodes) == 100 and len(mixed.arrivals) == 300
    assert mixed.nodes == again.nodes and mixed.pods == again.pods and mixed.arrivals == again.arrivals
    noisy = [
        p for p in mixed.pods if mixed.profiles[f"default/{p['metadata']['name']}"].startswith(("stress", "ibench"))
    ]
    hidden = [p for p in noisy if "ai-scheduler.io/noisy" not in p["metadata"]["annotations"]]
    assert len(noisy) >= 10 and 0 < len(hidden) < len(noisy)
    assert len({h.generation for h in mixed.hardware.values()}) >= 3


def test_heterogeneous_spans_hardware_generations() -> None:
    hetero = scenario.load("heterogeneous")
    specs = list(hetero.hardware.values())
    assert len({h.generation for h in specs}) >= 5
    assert max(h.l3_mb for h in specs) / min(h.l3_mb for h in specs) > 10
    assert max(h.mem_bw_gbps for h in specs) / min(h.mem_bw_gbps for h in specs) > 10
    assert len({h.cores for h in specs}) >= 4
    assert any(not h.counters.mbm for h in specs) and any(not h.counters.perf for h in specs)


def test_objects_look_like_what_an_api_server_holds() -> None:
    built = scenario.parse(MINIMAL)
    node, pod, arrival = built.nodes[0], built.pods[0], built.arrivals[1].pod
    assert node["status"]["allocatable"]["cpu"] == "20" and node["status"]["conditions"][0]["type"] == "Ready"
    assert hardware.from_node(node) == hardware.build("skylake-sp")
    assert pod["spec"]["nodeName"] == "n-1" and pod["status"]["phase"] == "Running"
    assert pod["status"]["qosClass"] == "BestEffort" and pod["spec"]["restartPolicy"] == "Always"
    assert arrival["metadata"]["name"] == "redis-2" and arrival["status"] == {
        "phase": "Pending",
        "qosClass": "Burstable",
    }
    assert arrival["metadata"]["creationTimestamp"] == "2026-01-05T09:00:01Z"
    assert built.profiles == {"default/hog": "stress-membw", "default/redis-1": "redis", "default/redis-2": "redis"}
    assert scenario.parse(copy.deepcopy(MINIMAL)).pods[0]["metadata"]["uid"] == pod["metadata"]["uid"]
    assert len(built.state().on("n-1")) == 1


def broken(path: str, value: object) -> dict:
    """MINIMAL with the key at dotted `path` set to `value` (or deleted when value is ...)."""
    data = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    target: object = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    if value is ...:
        del target[last]  # type: ignore[union-attr]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value  # type: ignore[index]
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(broken("seed", ...), r"top level|seed: required key is missing", id="a missing seed"),
        pytest.param(broken("seed", "one"), r"seed: must be an integer", id="a seed that is not a number"),
        pytest.param(broken("seed", -3), r"seed: must be an integer of at least 0, got -3", id="a negative seed"),
        pytest.param(
            broken("hardware", "pentium"),
            r"^bad.yaml: hardware: unknown hardware generation 'pentium'",
            id="a bad default generation is blamed on the top-level key",
        ),
        pytest.param(broken("colour", "blue"), r"colour: unknown key", id="an unknown top-level key"),
        pytest.param(broken("nodes.0.cpus", 4), r"nodes\[0\]\.cpus: unknown key", id="an unknown node key"),
        pytest.param(
            broken("nodes.0.hardware", "pentium"),
            r"nodes\[0\]\.hardware: unknown hardware generation 'pentium'",
            id="an unknown generation",
        ),
        pytest.param(
            broken("nodes.0.hardware", {"generation": "skylake-sp", "l3": 8}),
            r"unknown hardware field 'l3'",
            id="an unknown hardware field",
        ),
        pytest.param(broken("nodes.0.counters", {"pmu": False}), r"unknown counter 'pmu'", id="an unknown counter"),
        pytest.param(
            broken("nodes.0.taints", [{"key": "k", "effect": "Never"}]),
            r"taints\[0\]\.effect: must be one of",
            id="a bad taint effect",
        ),
        pytest.param(
            broken("nodes.0.count", 0), r"nodes\[0\]\.count: must be an integer of at least 1", id="a zero count"
        ),
        pytest.param(broken("pods.0.node", "n-9"), r"pods\[0\]\.node: no node 'n-9'", id="a pod on a missing node"),
        pytest.param(
            broken("pods.0.node", ...), r"pods\[0\]\.node: required key is missing", id="a running pod without a node"
        ),
        pytest.param(
            broken("pods.0.requests", {"cpu": "two"}),
            r"pods\[0\]\.requests\.cpu: is not a Kubernetes quantity",
            id="a bad quantity",
        ),
        pytest.param(
            broken("pods.0.profile", "mongodb"),
            r"pods\[0\]\.profile: unknown profile 'mongodb'",
            id="an unknown profile",
        ),
        pytest.param(
            broken("arrivals.0.image", ...),
            r"arrivals\[0\]\.image: required key is missing",
            id="an arrival without image",
        ),
        pytest.param(
            broken("arrivals.0.at", -1),
            r"arrivals\[0\]\.at: must be a finite non-negative number, got -1",
            id="a negative arrival time",
        ),
        pytest.param(broken("arrivals.0.requets", {}), r"arrivals\[0\]\.requets: unknown key", id="a misspelt key"),
        pytest.param(broken("pods.0.name", "redis-1"), r"duplicate pod 'default/redis-1'", id="a duplicate pod"),
        pytest.param(
            broken("generator", {"name": "galaxy"}),
            r"generator\.name: unknown generator 'galaxy'",
            id="an unknown generator",
        ),
        pytest.param(
            broken("generator", {"name": "mixed", "params": {"planets": 3}}),
            r"generator\.params: .*planets",
            id="a bad generator parameter",
        ),
        pytest.param(broken("start", "yesterday"), r"start: must be an RFC 3339 time", id="a bad start time"),
        pytest.param(
            broken("arrivals.0.at", float("nan")),
            r"arrivals\[0\]\.at: must be a finite non-negative number, got nan",
            id="an arrival at NaN",
        ),
        pytest.param(
            broken("arrivals.0.at", float("inf")),
            r"arrivals\[0\]\.at: must be a finite non-negative number, got inf",
            id="an arrival at infinity",
        ),
        pytest.param(
            broken("arrivals.0.every", float("inf")),
            r"arrivals\[0\]\.every: must be a finite non-negative number, got inf",
            id="replicas an infinity apart",
        ),
        pytest.param(
            broken("arrivals.0.at", 10**400),
            r"arrivals\[0\]\.at: must be a finite non-negative number",
            id="an arrival time too long for a float",
        ),
        pytest.param(
            broken("start", "0001-01-01T00:00:00Z"),
            r"start: must be from 1970-01-02T00:00:00Z to 9999-12-31T23:59:59Z, got '0001-01-01T00:00:00Z'",
            id="a start whose nodes would register before year 1",
        ),
        pytest.param(
            broken("start", "9999-12-31T23:59:59-01:00"),
            r"start: must be from 1970-01-02T00:00:00Z to 9999-12-31T23:59:59Z",
            id="a start after the last RFC 3339 time",
        ),
        pytest.param(
            broken("start", "9999-12-31T23:59:59Z"),
            r"arrivals\[0\]\.every: pod 'redis-2' would arrive 1 s after the start, later than 9999-12-31T23:59:59Z",
            id="an arrival after the last RFC 3339 time",
        ),
        pytest.param(
            broken("nodes.0.hardware", {"generation": "skylake-sp", "cores": float("nan")}),
            r"nodes\[0\]\.hardware: hardware field 'cores' must be a positive number of at most 1e\+06, got nan",
            id="NaN cores",
        ),
        pytest.param(
            broken("nodes.0.hardware", {"memory_gib": 1e308}),
            r"nodes\[0\]\.hardware: hardware field 'memory_gib' must be a positive number of at most",
            id="memory no node has",
        ),
        pytest.param(
            broken("nodes.0.count", 100_000_000),
            rf"nodes\[0\]\.count: 100000000 more nodes would make 100000000, more than the {MAX_NODES} nodes",
            id="a node count past the bound",
        ),
        pytest.param(
            broken("pods.0.count", 100_000_000),
            rf"pods\[0\]\.count: 100000000 more pods would make 100000000, more than the {MAX_PODS} pods",
            id="a running pod count past the bound",
        ),
        pytest.param(
            broken("arrivals.0.count", MAX_PODS),
            rf"arrivals\[0\]\.count: {MAX_PODS} more pods would make {MAX_PODS + 1}, more than the {MAX_PODS} pods",
            id="arrivals that with the running pods pass the bound",
        ),
        pytest.param(
            broken("generator", {"name": "mixed", "params": {"nodes": 100_000_000}}),
            rf"generator\.params\.nodes: 100000000 is more than the {MAX_NODES} nodes a scenario may hold",
            id="a generated cluster past the node bound",
        ),
        pytest.param(
            broken("generator", {"name": "mixed", "params": {"arrivals": 1e9}}),
            rf"generator\.params\.arrivals: 1000000000.0 is more than the {MAX_PODS} pods a scenario may hold",
            id="generated arrivals past the pod bound",
        ),
        pytest.param([1, 2], r"top level: must be a mapping", id="not a mapping at all"),
    ],
)
def test_bad_scenarios_name_the_bad_key(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario.parse(data, source="bad.yaml")


def test_the_node_bound_counts_every_entry() -> None:
    data = broken("nodes", [{"name": "n", "count": MAX_NODES}, {"name": "one-more"}])
    data["pods"] = []
    with pytest.raises(ScenarioError, match=rf"nodes\[1\]\.count: 1 more nodes would make {MAX_NODES + 1}"):
        scenario.parse(data)


def test_duplicate_nodes_from_counts_are_refused() -> None:
    data = broken("nodes", [{"name": "n", "count": 2}, {"name": "n-2"}])
    data["pods"] = []
    with pytest.raises(ScenarioError, match=r"nodes\[1\]\.name: duplicate node 'n-2'"):
        scenario.parse(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("name: [unclosed", "not valid YAML at line 1", id="broken YAML"),
        pytest.param(
            None, r"no such file, nor a built-in scenario of that name \(built in: .*seed-001", id="a missing file"
        ),
        pytest.param(b"name: \xff\xfe\nseed: 1\n", r"not UTF-8 text \(byte 0xff at offset 6\)", id="not UTF-8"),
        pytest.param(
            "name: a\nseed: 1\n---\nname: b\n", "holds 2 YAML documents; a scenario is one", id="two documents"
        ),
        pytest.param(
            "name: a\nseed: &s 1\nfamily: *s\n",
            r"not valid YAML at line 3, column 9: YAML aliases \(\*s\) are not accepted",
            id="an alias",
        ),
        pytest.param(f"name: a\nseed: {'9' * 5000}\n", r"not valid YAML \(Exceeds the limit", id="a 5000-digit seed"),
    ],
)
def test_unreadable_files_say_so(tmp_path: Path, text: str | bytes | None, message: str) -> None:
    path = tmp_path / "scenario.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ScenarioError, match=rf"^{re.escape(str(path))}: {message}"):
        scenario.load(path)


def test_the_demo_refuses_a_bad_scenario_in_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: t\nseed: 1\nnodes: [{name: w, count: 100000000}]\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "demo", "--scenario", "bad.yaml"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    assert (result.returncode, result.stdout) == (2, b""), result.stderr[-2000:]
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith("error: bad.yaml: nodes[0].count: 100000000 more nodes would make 100000000")


def test_a_seed_shift_draws_the_same_scenario_again_through_the_same_checks(tmp_path: Path) -> None:
    """The benchmark's runs of one scenario: the seed moves, the file is read and checked as `load` always does."""
    shipped, shifted = scenario.load("seed-001"), scenario.load("seed-001", seed_shift=2)
    assert shifted.seed == shipped.seed + 2
    assert [n["metadata"]["name"] for n in shifted.nodes] == [n["metadata"]["name"] for n in shipped.nodes]
    assert shifted.nodes[0]["metadata"]["uid"] != shipped.nodes[0]["metadata"]["uid"]
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"name: caf\xe9\nseed: 1\n")
    with pytest.raises(scenario.ScenarioError, match="not UTF-8"):
        scenario.load(latin1, seed_shift=1)
