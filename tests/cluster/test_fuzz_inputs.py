"""Malformed input, table-driven: wrong types, huge and non-finite numbers, deep nesting, binary, unicode.

Two kinds of input, two promises:
- what a user hands the CLI (config, `.env`, the environment, `decide`'s snapshot and pods) ends in
  exactly one bounded line on stderr and exit status 2, through the real `scheduler.main`;
- what the API server holds (Nodes, Pods, NodeState annotations) parses without an exception into a
  valid or an invalid object that loses no pod and overcommits nothing, and a running scheduler against
  the emulator keeps placing the valid pods beside it.
"""

import json
from pathlib import Path
from typing import Any

import pytest

import scheduler
from cluster import config, nodestate, resources
from cluster.parse import INVALID_TAINT, ManifestError, parse_node, parse_pod
from cluster.snapshot import Snapshot
from runtime.assemble import build_decider
from sim.apiserver import Emulator
from tests.e2e.cluster import bound, node, pod, wait_until
from tests.e2e.cluster import scheduler as running_scheduler

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "examples" / "cluster-6-workers.json"
PODS = ROOT / "ai-test-pods.yaml"
MAX_LINE = 500
BIG = "9" * 400
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


# -- what a user hands the CLI ------------------------------------------------------------------------


def config_case(text: str | bytes, fragment: str, id: str) -> Any:
    return pytest.param({"config.yaml": text}, {}, ("--config", "config.yaml"), fragment, id=id)


def dotenv_case(text: str | bytes, fragment: str, id: str) -> Any:
    return pytest.param({".env": text}, {}, (), fragment, id=id)


def env_case(variable: str, value: str, fragment: str, id: str) -> Any:
    return pytest.param({}, {variable: value}, (), fragment, id=id)


def snapshot_case(name: str, text: str | bytes, fragment: str, id: str) -> Any:
    return pytest.param({name: text}, {}, ("--snapshot", name), fragment, id=id)


def pod_case(text: str, fragment: str, id: str) -> Any:
    return pytest.param({"pods.yaml": text}, {}, ("--pod", "pods.yaml"), fragment, id=id)


def snapshot_of(*objects: dict) -> str:
    return json.dumps({"kind": "List", "items": list(objects)})


def a_node(name: str = "n", **status: Any) -> dict:
    return {
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, **status},
    }


def a_pod(spec: dict | None = None, **top: Any) -> str:
    body = {"containers": [{"name": "c", "image": "app:1", "resources": {"requests": {"cpu": "100m"}}}]}
    return json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {**body, **(spec or {})}, **top}
    )


def container(**fields: Any) -> dict:
    return {"containers": [{"name": "c", "image": "app:1", **fields}]}


USER_CASES = [
    config_case("scheduler: 5\n", "scheduler", "a config section that is a number"),
    config_case("- a\n- b\n", "mapping of sections", "a config that is a list"),
    config_case("scheduler:\n  bind_workers: 1e400\n", "scheduler.bind_workers", "a config float beyond a double"),
    config_case(f"scheduler:\n  bind_workers: {BIG}\n", "scheduler.bind_workers", "a config 400-digit integer"),
    config_case("scheduler:\n  bind_workers: " + "9" * 5000 + "\n", "config.yaml", "a config integer too long to read"),
    config_case("scheduler:\n  stats_interval: .nan\n", "scheduler.stats_interval", "a config NaN"),
    config_case("scheduler:\n  request_timeout: -.inf\n", "scheduler.request_timeout", "a config minus infinity"),
    config_case("llm:\n  temperature: 1e400\n", "llm.temperature", "an infinite temperature"),
    config_case("scheduler:\n  name: " + "[" * 200 + "]" * 200 + "\n", "nested deeper", "config nesting 200 deep"),
    config_case("a: &a x\nb: *a\n", "aliases", "a config with one alias"),
    config_case(ALIAS_BOMB, "aliases", "a config alias bomb"),
    config_case(b"\xff\xfe\x00s\x00", "not UTF-8", "a config in UTF-16"),
    config_case(b"scheduler:\n  name: caf\xe9\n", "not UTF-8", "a config in Latin-1"),
    config_case("scheduler:\n  name: \x00\x01\n", "config.yaml", "a config with control characters"),
    config_case("scheduler:\n  name: 🦙\n  bogus: 1\n", "scheduler.bogus: unknown key", "a unicode config with a typo"),
    config_case("cache:\n  max_size: [1]\n", "cache.max_size", "a list where a number belongs"),
    config_case("huggingface_token: hf_x\n", "HUGGINGFACE_TOKEN", "a token in the config file"),
    config_case("scheduler: {name: a}\n---\nllm: {}\n", "2 YAML documents", "two YAML documents"),
    config_case("scheduler:\n  name: [" + "x," * 50_000 + "]\n", "scheduler.name", "a 100 kB value"),
    config_case("metrics:\n  port: 70000\n", "metrics.port", "a port beyond 65535"),
    config_case("metrics:\n  address: '300.1.2.3 '\n", "metrics.address", "an address that is no address"),
    config_case("telemetry:\n  queries: {bogus: up}\n", "telemetry.queries", "an unknown metric query"),
    config_case("leader_election:\n  lease_duration: 1\n", "leader_election", "inconsistent lease timings"),
    config_case(f"leader_election:\n  retry_period: {BIG}\n", "leader_election.retry_period", "a 400-digit period"),
    config_case("logging:\n  level: VERBOSE\n", "config.yaml: logging.level", "a bad level blamed on the config file"),
    config_case('telemetry:\n  queries: {"\\ud800": up}\n', "unknown metric(s) \\ud800", "a lone surrogate key"),
    config_case("scheduler:\n\tname: x\n", "not valid YAML at line 2", "a tab in YAML indentation"),
    dotenv_case(PNG, ".env: not UTF-8", "a binary .env"),
    dotenv_case("LOG_LEVEL=\x00\n", ".env: contains a NUL byte", "a NUL in .env"),
    dotenv_case("LOG_FORMAT=xml\n", ".env (LOG_FORMAT): logging.format", "a bad format in .env"),
    dotenv_case("LOG_LEVEL=" + "A" * 100_000 + "\n", ".env (LOG_LEVEL)", "a 100 kB value in .env"),
    dotenv_case("SCHEDULER_NAME=🦙\nLOG_LEVEL=verbose\n", ".env (LOG_LEVEL)", "a unicode .env with a bad level"),
    dotenv_case("LOG_LEVEL=INFO\n".encode("utf-16"), ".env: not UTF-8", "a UTF-16 .env"),
    dotenv_case(b"LOG_LEVEL=caf\xe9\n", ".env: not UTF-8", "a Latin-1 .env"),
    env_case("LOG_LEVEL", "LOUD", "environment variable LOG_LEVEL", "a bad level in the environment"),
    env_case("LOG_FORMAT", "🦙" * 1000, "environment variable LOG_FORMAT", "a long unicode format in the environment"),
    snapshot_case("s.json", "{", "s.json: not valid JSON at line 1", "a snapshot cut short"),
    snapshot_case("s.json", "[" * 100_000 + "]" * 100_000, "nested too deeply", "a snapshot nested 100,000 deep"),
    snapshot_case("s.json", "9" * 5000, "s.json: not valid JSON", "a snapshot that is one 5000-digit number"),
    snapshot_case("s.yaml", ALIAS_BOMB, "aliases", "a snapshot alias bomb"),
    snapshot_case("s.json", PNG, "not UTF-8", "a binary snapshot"),
    snapshot_case("s.json", '"hello"', "found a str", "a snapshot that is a string"),
    snapshot_case("s.json", '{"kind": "List", "items": 5}', "items must be a list", "snapshot items that are a number"),
    snapshot_case(
        "s.json", snapshot_of(a_node(allocatable={"memory": 1e30})), "node n", "a snapshot node of 1e30 bytes"
    ),
    snapshot_case("s.json", snapshot_of(a_node(allocatable={"memory": "1e400"})), "memory", "a node of 1e400 bytes"),
    snapshot_case(
        "s.yaml",
        "items:\n- {kind: Node, metadata: {name: n}, status: {allocatable: {cpu: .inf}}}\n",
        "cpu",
        "a node of infinite CPUs",
    ),
    snapshot_case("s.json", snapshot_of(a_node(allocatable=["cpu", "4"])), "status.allocatable", "a list allocatable"),
    snapshot_case("s.json", snapshot_of(a_node(allocatable={"memory": int(BIG)})), "memory", "a 400-digit memory"),
    snapshot_case("s.json", snapshot_of({**a_node(), "spec": {"taints": "all"}}), "spec.taints", "taints as a string"),
    snapshot_case("s.json", snapshot_of({**a_node(), "spec": "x"}), "spec must be an object", "a node spec string"),
    snapshot_case(
        "s.json",
        snapshot_of(a_node(), {"kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "status": "x"}),
        "persistentvolumeclaim c: malformed",
        "a claim status string",
    ),
    snapshot_case(
        "s.json",
        snapshot_of(a_node(), {"kind": "CSINode", "metadata": {"name": "n"}, "spec": {"drivers": 1}}),
        "csinode n: malformed",
        "CSINode drivers a number",
    ),
    snapshot_case(
        "s.json",
        snapshot_of(a_node(), {"kind": "Namespace", "metadata": {"name": "ns", "labels": ["a"]}}),
        "namespace ns: metadata.labels",
        "namespace labels a list",
    ),
    snapshot_case(
        "s.json", snapshot_of(a_node(), {"kind": "Namespace", "metadata": "x"}), "no metadata.name", "namespace meta"
    ),
    snapshot_case("s.json", snapshot_of({"kind": "Node", "metadata": {}}), "metadata.name", "a node without a name"),
    snapshot_case(
        "s.json", snapshot_of({"kind": "Node", "metadata": {"name": "n"}, "status": []}), "status", "a node status list"
    ),
    snapshot_case(
        "s.json",
        snapshot_of(
            a_node(), json.loads(a_pod(container(resources={"requests": {"memory": 1e30}}) | {"nodeName": "n"}))
        ),
        "memory",
        "a bound pod of 1e30 bytes in a snapshot",
    ),
    snapshot_case(
        "s.json",
        snapshot_of(a_node(), json.loads(a_pod({"nodeName": "n", "priority": 1e400}))),
        "spec.priority",
        "a bound pod of priority 1e400",
    ),
    pod_case(a_pod(container(resources={"requests": [{"cpu": "1"}]})), "resources", "requests as a list"),
    pod_case(a_pod(container(resources={"requests": {"memory": 1e30}})), "exceeds 2^53", "a pod of 1e30 bytes"),
    pod_case(a_pod(container(resources={"requests": {"cpu": "1e999999"}})), "exceeds 2^53", "1e999999 cores"),
    pod_case(a_pod(container(resources={"requests": {"memory": int(BIG)}})), "memory", "a 400-digit memory request"),
    pod_case(a_pod(container(resources={"requests": {"cpu": "NaN"}})), "cpu", "a NaN CPU request"),
    pod_case(a_pod(container(resources={"requests": {"cpu": "-1"}})), "negative", "a negative CPU request"),
    pod_case(a_pod(container(resources={"limits": {"cpu": True}})), "bool", "a boolean limit"),
    pod_case(a_pod(container(resources="lots")), "resources", "resources as a string"),
    pod_case(a_pod({"priority": 1e400}), "spec.priority", "priority 1e400"),
    pod_case(a_pod({"priority": "high"}), "spec.priority", "priority as a word"),
    pod_case(a_pod({"priority": int(BIG)}), "spec.priority", "a 400-digit priority"),
    pod_case(a_pod({"containers": []}), "at least one container", "no containers"),
    pod_case(a_pod({"containers": {"name": "c"}}), "at least one container", "containers as a map"),
    pod_case(a_pod({"affinity": ["x"]}), "spec.affinity", "affinity as a list"),
    pod_case(a_pod({"affinity": {"nodeAffinity": [1]}}), "pod default/p", "node affinity as a list"),
    pod_case(
        a_pod(
            {
                "affinity": {
                    "podAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 1e400, "podAffinityTerm": {"topologyKey": "k"}}
                        ]
                    }
                }
            }
        ),
        "weight",
        "an infinite affinity weight",
    ),
    pod_case(a_pod({"topologySpreadConstraints": [{"maxSkew": "x", "topologyKey": "k"}]}), "maxSkew", "maxSkew a word"),
    pod_case(a_pod({"tolerations": "all"}), "spec.tolerations", "tolerations as a string"),
    pod_case(a_pod(container(ports=[{"containerPort": 80, "hostPort": 1e30}])), "hostPort", "a host port of 1e30"),
    pod_case(a_pod(container(ports=["80"])), "port", "a port as a string"),
    pod_case(a_pod(container(command=5)), "pod default/p", "a command that is a number"),
    pod_case(a_pod(status="Running"), "status", "a status string"),
    pod_case('{"kind": "Pod", "metadata": ["p"]}', "metadata.name", "metadata as a list"),
    pod_case("kind: Deployment\nmetadata: {name: d}\n", "not a Pod", "a Deployment"),
    pod_case("kind: Pod\nspec: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "nested deeper", "a pod nested 100 deep"),
    pod_case("kind: Pod\nmetadata: &m {name: p}\nx: *m\n", "aliases", "a pod with an alias"),
]


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of the user's own, with none of the scheduler's variables set."""
    monkeypatch.chdir(tmp_path)
    for variable in (*config.ENV_KEYS, config.TOKEN_ENV):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.mark.parametrize(("files", "env", "args", "fragment"), USER_CASES)
def test_malformed_user_input_is_one_line_and_exit_2(user_dir, monkeypatch, capsys, files, env, args, fragment):
    for name, content in files.items():
        (user_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    options = {"--snapshot": str(SNAPSHOT), "--pod": str(PODS), "--tier": "heuristic"}
    options.update(zip(args[::2], args[1::2], strict=True))

    status = scheduler.main(["decide", *(part for pair in options.items() for part in pair)])

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status == 2, captured.err[-1000:]
    assert captured.out == ""
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert len(lines[0]) <= MAX_LINE
    assert fragment in lines[0]


def test_the_table_covers_at_least_sixty_one_user_inputs():
    assert len(USER_CASES) >= 61


# -- what the API server holds ------------------------------------------------------------------------


def api_node(name: str, **allocatable: Any) -> dict:
    plain = node(name)
    return plain | {"status": {**plain["status"], "allocatable": {**plain["status"]["allocatable"], **allocatable}}}


def bound_pod(name: str, node_name: str, **requests: Any) -> dict:
    raw = pod(name)
    raw["spec"]["nodeName"] = node_name
    raw["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m", **requests}}
    return raw


NODE_CASES = [
    pytest.param(api_node("bad", memory=1e30), "memory", id="allocatable memory 1e30"),
    pytest.param(api_node("bad", memory="1e30"), "memory", id="allocatable memory '1e30'"),
    pytest.param(api_node("bad", cpu=float("inf")), "cpu", id="infinite CPUs"),
    pytest.param(api_node("bad", cpu=float("nan")), "cpu", id="NaN CPUs"),
    pytest.param(api_node("bad", memory=int(BIG)), "memory", id="a 400-digit memory"),
    pytest.param(api_node("bad", pods="1e400"), "pods", id="1e400 pods"),
    pytest.param(api_node("bad", memory=["64Gi"]), "memory", id="memory as a list"),
    pytest.param(api_node("bad", memory={"Gi": 64}), "memory", id="memory as a map"),
    pytest.param(node("bad") | {"status": {"allocatable": "lots"}}, "status.allocatable", id="allocatable a string"),
    pytest.param(node("bad") | {"status": ["Ready"]}, "status", id="status a list"),
    pytest.param(node("bad") | {"spec": {"taints": [{"key": "k"}]}}, "spec.taints", id="a taint with no effect"),
    pytest.param(node("bad") | {"spec": {"taints": {"k": "v"}}}, "spec.taints", id="taints a map"),
    pytest.param(node("bad") | {"spec": 7}, "spec", id="spec a number"),
    pytest.param({**node("bad"), "metadata": {"name": "bad", "labels": ["a"]}}, "metadata.labels", id="labels a list"),
]


@pytest.fixture(scope="module")
def decider() -> Any:
    return build_decider(config.Settings(), tier="heuristic")


def place(decider: Any, nodes: list, pods: list) -> str | None:
    """Where the heuristic tier puts an ordinary pod beside the given objects (None when nowhere)."""
    snapshot = Snapshot.build(nodes, pods)
    return decider.decide(parse_pod(pod("ordinary")), snapshot).node


@pytest.mark.parametrize(("raw", "field"), NODE_CASES)
def test_an_invalid_node_is_kept_unusable_with_one_warning_naming_the_field(decider, raw, field):
    warnings: list[str] = []
    parsed = parse_node(raw, warn=warnings.append)
    assert len(warnings) == 1 and "node bad" in warnings[0] and field in warnings[0]
    assert parsed.allocatable == {} and parsed.unschedulable
    taint = next(t for t in parsed.taints if t.key == INVALID_TAINT)
    assert field in taint.value and len(taint.value) <= 63
    with pytest.raises(ManifestError, match="node bad"):
        parse_node(raw)
    assert place(decider, [parsed, parse_node(node("good"))], []) == "good"
    assert place(decider, [parsed], []) is None


POD_CASES = [
    pytest.param({"memory": 1e30}, resources.MEMORY, id="memory 1e30"),
    pytest.param({"memory": "1e30"}, resources.MEMORY, id="memory '1e30'"),
    pytest.param({"memory": int(BIG)}, resources.MEMORY, id="a 400-digit memory"),
    pytest.param({"memory": float("inf")}, resources.MEMORY, id="infinite memory"),
    pytest.param({"cpu": "NaN"}, resources.CPU, id="NaN CPUs"),
    pytest.param({"cpu": "1e999999"}, resources.CPU, id="1e999999 CPUs, past Decimal's range in millicores"),
    pytest.param({"cpu": [1]}, resources.CPU, id="CPUs as a list"),
    pytest.param({"example.com/gpu": "1e400"}, "example.com/gpu", id="an extended resource of 1e400"),
]


@pytest.mark.parametrize(("requests", "resource"), POD_CASES)
def test_an_invalid_bound_pod_still_fills_its_node(decider, requests, resource):
    raw = bound_pod("hog", "full", **requests)
    warnings: list[str] = []
    parsed = parse_pod(raw, warn=warnings.append)
    assert len(warnings) == 1 and "default/hog" in warnings[0] and "still counted on node full" in warnings[0]
    assert parsed.node_name == "full" and parsed.requests[resource] == resources.MAX_QUANTITY
    nodes = [parse_node(api_node("full", **{"example.com/gpu": "4"})), parse_node(api_node("free"))]
    assert place(decider, nodes, [parsed]) == "free" or resource == "example.com/gpu"


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"containers": [{"name": "c", "resources": {"requests": [{"cpu": "1"}]}}]}, id="requests a list"),
        pytest.param({"containers": [{"name": "c", "resources": {"requests": {"memory": 1e30}}}]}, id="memory 1e30"),
        pytest.param({"containers": [{"name": "c"}], "priority": 1e400}, id="priority 1e400"),
        pytest.param({"containers": [{"name": "c"}], "priority": int(BIG)}, id="a 400-digit priority"),
        pytest.param({"containers": [{"name": "c", "ports": [{"hostPort": -1}]}]}, id="a negative host port"),
        pytest.param({"containers": [{"name": "c", "args": 5}]}, id="args a number"),
        pytest.param({"containers": "c"}, id="containers a string"),
        pytest.param({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": "x"}}, id="node affinity a string"),
    ],
)
def test_an_invalid_pending_pod_raises_one_bounded_manifest_error(spec):
    raw = pod("odd") | {"spec": {"schedulerName": "ai-llama-scheduler", **spec}}
    with pytest.raises(ManifestError) as raised:
        parse_pod(raw, warn=lambda _: pytest.fail("a pending pod is refused, not kept"))
    assert str(raised.value).startswith("pod default/odd: ") and len(str(raised.value).splitlines()) == 1
    assert len(str(raised.value)) <= MAX_LINE


def state(metrics: Any, **fields: Any) -> str:
    return json.dumps({"version": 1, "node": "n1", "metrics": metrics, **fields})


def cpi(mean: Any) -> dict:
    return {"cpi": {"mean": mean, "std": 0.1, "p95": 2.0}, "cpu_utilization": {"mean": 0.5, "std": 0.1, "p95": 0.6}}


NODESTATE_CASES = [
    pytest.param(state(cpi(int(BIG))), "cpi", id="a 400-digit metric"),
    pytest.param(state(cpi(1e308 * 10)), "cpi", id="an infinite metric"),
    pytest.param(state(cpi(float("nan"))), "cpi", id="a NaN metric"),
    pytest.param(state(cpi(-1)), "cpi", id="a negative metric"),
    pytest.param(state(cpi("1.5")), "cpi", id="a metric as a string"),
    pytest.param(state(cpi(True)), "cpi", id="a metric as a boolean"),
    pytest.param(state(cpi([1.5])), "cpi", id="a metric as a list"),
    pytest.param(state(cpi(json.loads("[" * 200 + "]" * 200))), "cpi", id="a metric nested 200 deep"),
    pytest.param(state(cpi(0) | {"cpi": 1.5}), "cpi", id="a summary that is a number"),
    pytest.param(state([1, 2]), None, id="metrics a list"),
    pytest.param("[" * 100_000 + "]" * 100_000, None, id="an annotation nested 100,000 deep"),
    pytest.param('{"version": 1, "metrics": {"cpi": {"mean": ' + "9" * 5000 + "}}}", None, id="a 5000-digit number"),
    pytest.param(state({}, timestamp={"t": 1}), None, id="a timestamp that is a map"),
    pytest.param(state({}, timestamp="9" * 400), None, id="a 400-digit timestamp"),
    pytest.param(state({}, window_seconds=int(BIG)), None, id="a 400-digit window"),
    pytest.param(state({}, version=int(BIG)), None, id="a 400-digit version"),
    pytest.param(state({}, node=["n1"] * 10_000), None, id="a node name that is a long list"),
    pytest.param(json.dumps({"version": 1, "sources": "all", "metrics": "🦙" * 10_000}), None, id="unicode metrics"),
    pytest.param(PNG, None, id="binary bytes"),
]


@pytest.mark.parametrize(("raw", "metric"), NODESTATE_CASES)
def test_a_bad_nodestate_makes_that_telemetry_unknown_with_a_short_warning(raw, metric):
    warnings: list[str] = []
    parsed = nodestate.parse(raw, node="n1", warn=warnings.append)
    assert all("node n1" in w and len(w) <= MAX_LINE for w in warnings)
    if metric is None:
        assert "cpi" not in parsed.metrics
    else:
        assert metric not in parsed.metrics and parsed.value("cpu_utilization") == pytest.approx(0.5)
        assert len(warnings) == 1 and f"metric {metric}" in warnings[0]


# -- a running scheduler beside them ------------------------------------------------------------------


def cordoned(running: Any, name: str) -> bool:
    table = running.cache.snapshot().table
    return bool(table.unschedulable[table.index[name]])


def test_the_scheduler_keeps_placing_valid_pods_beside_malformed_cluster_objects():
    poisoned = node("poisoned")
    poisoned["metadata"]["annotations"] = {nodestate.ANNOTATION: "[" * 50_000 + "]" * 50_000}
    huge = node("huge")
    huge["status"]["allocatable"]["memory"] = "1e30"
    nodes = [node("a"), node("b"), node("full"), poisoned, huge]
    odd_pending = [
        pod("too-big", memory="1e30"),
        pod("infinite-priority") | {"spec": {**pod("x")["spec"], "priority": float("inf")}},
    ]
    with Emulator(objects=nodes) as emulator:
        emulator.store.create("pods", bound_pod("hog", "full", memory="1e30"))
        for raw in odd_pending:
            emulator.store.create("pods", raw)
        with running_scheduler(emulator) as running:
            # the same patch that poisons the annotation cordons the node: the cordon must still apply
            annotation = '{"version": 1, "metrics": {"cpi": {"mean": ' + BIG + "}}}"
            cordon = {"spec": {"unschedulable": True}, "metadata": {"annotations": {nodestate.ANNOTATION: annotation}}}
            emulator.store.patch("nodes", "poisoned", cordon)
            wait_until(lambda: cordoned(running, "poisoned"), timeout=10, what="the cordon despite the annotation")
            for i in range(12):
                emulator.store.create("pods", pod(f"ok{i}"))
            wait_until(
                lambda: sum(n.startswith("ok") for n in bound(emulator)) == 12, timeout=30, what="every valid pod"
            )
            alive = all(thread.is_alive() for thread in running._threads)
        placed = bound(emulator)
    assert alive
    assert {placed[f"ok{i}"] for i in range(12)} <= {"a", "b"}
    assert placed["hog"] == "full"
    assert not {"too-big", "infinite-priority"} & set(placed)
