"""Scenario files: the shipped ones load into API-server-shaped JSON, and bad files fail naming the key."""

import copy
from collections import Counter
from pathlib import Path

import pytest

from sim import hardware, scenario
from sim.scenario import ScenarioError

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
            r"arrivals\[0\]\.at: must be a non-negative number",
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
        pytest.param([1, 2], r"top level: must be a mapping", id="not a mapping at all"),
    ],
)
def test_bad_scenarios_name_the_bad_key(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario.parse(data, source="bad.yaml")


def test_duplicate_nodes_from_counts_are_refused() -> None:
    data = broken("nodes", [{"name": "n", "count": 2}, {"name": "n-2"}])
    data["pods"] = []
    with pytest.raises(ScenarioError, match=r"nodes\[1\]\.name: duplicate node 'n-2'"):
        scenario.parse(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("name: [unclosed", "not valid YAML", id="broken YAML"),
        pytest.param(
            None, r"no such file, nor a built-in scenario of that name \(built in: .*seed-001", id="a missing file"
        ),
    ],
)
def test_unreadable_files_say_so(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "scenario.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        scenario.load(path)
