"""`python scheduler.py check` against the emulated cluster over HTTP: healthy, misconfigured, half-deployed."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import scheduler
from cluster.config import ScoringSettings
from cluster.nodestate import NodeState, Summary
from runtime import permissions
from scoring.transformer import model, model_path
from sim.apiserver import Emulator
from tests.e2e import cluster
from tests.llm.fake_llm import FakeLLM, Reply

TOKEN = "hf_preflight_secret_0123456789"
ENVIRONMENT = ("HUGGINGFACE_TOKEN", "LLM_ENDPOINT", "LLM_MODEL", "SCHEDULER_NAME", "LOG_LEVEL", "LOG_FORMAT")


def node_state(name: str, *, age: float = 0.0) -> str:
    """A NodeState the agent would publish, `age` seconds ago."""
    metrics = {"llc_miss_rate": Summary(0.3, 0.02, 0.35), "cpu_utilization": Summary(0.4, 0.05, 0.5)}
    return NodeState(node=name, timestamp=time.time() - age, window_seconds=30, metrics=metrics).to_json()


def node(name: str, state: str | None = None) -> dict[str, Any]:
    built = cluster.node(name)
    if state is not None:
        built["metadata"]["annotations"] = {"ai-scheduler.io/node-state": state}
    return built


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token or endpoint from the machine, no config.yaml or .env from the working directory."""
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator([node(f"worker-{i}", node_state(f"worker-{i}")) for i in (1, 2, 3)]) as emu:
        yield emu


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(answer=lambda _: "OK") as llm:
        yield llm


def write_config(tmp_path: Path, **sections: Any) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(sections))
    return str(path)


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Run `check --json`; the exit status and the rows by check name."""
    status = scheduler.main(["check", "--json", *args])
    out = capsys.readouterr().out
    report = json.loads(out)
    rows = {row["check"]: row for row in report["checks"]}
    assert report["ok"] is (status == 0)
    return status, rows


def verdicts(rows: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: row["status"] for name, row in rows.items()}


def test_a_healthy_cluster_passes_every_check(
    emulator: Emulator, fake_llm: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, llm={"endpoint": fake_llm.url, "model": "llama-local"})
    status, rows = check(capsys, "--server", emulator.url, "--config", config)
    assert status == 0
    assert set(verdicts(rows).values()) == {"pass"}, rows
    assert [name for name in rows if name.startswith("permission ")] == [
        "permission list pods",
        "permission watch pods",
        "permission create pods/binding",
        "permission patch pods/status",
        "permission create pods/eviction",
        "permission delete pods",
        "permission list nodes",
        "permission watch nodes",
        "permission list namespaces",
        "permission watch namespaces",
        "permission list poddisruptionbudgets.policy",
        "permission watch poddisruptionbudgets.policy",
        "permission list persistentvolumeclaims",
        "permission watch persistentvolumeclaims",
        "permission patch persistentvolumeclaims",
        "permission list persistentvolumes",
        "permission watch persistentvolumes",
        "permission patch persistentvolumes",
        "permission list storageclasses.storage.k8s.io",
        "permission watch storageclasses.storage.k8s.io",
        "permission list csinodes.storage.k8s.io",
        "permission watch csinodes.storage.k8s.io",
        "permission list csidrivers.storage.k8s.io",
        "permission watch csidrivers.storage.k8s.io",
        "permission list csistoragecapacities.storage.k8s.io",
        "permission watch csistoragecapacities.storage.k8s.io",
        "permission list services",
        "permission watch services",
        "permission list replicationcontrollers",
        "permission watch replicationcontrollers",
        "permission list replicasets.apps",
        "permission watch replicasets.apps",
        "permission list statefulsets.apps",
        "permission watch statefulsets.apps",
        "permission create events",
        "permission patch events",
    ]
    assert rows["telemetry"]["detail"].startswith("3/3 nodes have fresh telemetry")
    shipped = model.load(model_path(ScoringSettings().model_path)).model
    assert (
        f"{len(shipped.members)} member(s), {model.parameters(shipped):,} parameters"
        in rows["transformer weights"]["detail"]
    )
    assert "llama-local at " + fake_llm.url in rows["llm"]["detail"]
    (ping,) = fake_llm.requests
    assert ping.body is not None and ping.body["max_tokens"] == 1
    assert ping.body["model"] == "llama-local"
    assert "authorization" not in {k.lower() for k in ping.headers}, "no token, no Authorization header"


def test_the_human_table(emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = scheduler.main(["check", "--server", emulator.url, "--config", write_config(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "Preflight" in out and "permission create pods/binding" in out
    passed = len(permissions.CLUSTER) + 4  # each permission, the cluster, config, weights, telemetry
    assert out.strip().splitlines()[-1] == f"{passed} pass, 1 skip", "the LLM tier is off without a token or endpoint"


def test_a_misconfigured_setup_names_each_problem_and_its_fix(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.faults.deny("create", "pods/binding")
    config = write_config(
        tmp_path, llm={"endpoint": "http://127.0.0.1:9"}, scoring={"model_path": str(tmp_path / "gone.pt")}
    )
    status, rows = check(capsys, "--server", emulator.url, "--config", config)
    assert status == 1
    failing = {name for name, verdict in verdicts(rows).items() if verdict == "fail"}
    assert failing == {"permission create pods/binding", "transformer weights", "llm"}
    binding = rows["permission create pods/binding"]
    assert binding["detail"].startswith("denied (emulator rule --deny create:pods/binding)")
    assert "grant `create` on `pods/binding`" in binding["fix"] and "deploy/rbac.yaml" in binding["fix"]
    assert "gone.pt': no such file" in rows["transformer weights"]["detail"]
    assert "python -m training.train" in rows["transformer weights"]["fix"]
    assert "connection to the LLM endpoint failed" in rows["llm"]["detail"]
    assert "LLM_ENDPOINT" in rows["llm"]["fix"]

    status = scheduler.main(["check", "--server", emulator.url, "--config", config])
    table = capsys.readouterr().out
    assert status == 1
    assert table.count("FAIL") == 3
    assert "3 fail" in table.strip().splitlines()[-1]


def test_a_denied_workload_informer_is_named_with_its_rbac_fix(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without `list` on replicasets the default spread constraints would miss every Deployment's pods."""
    emulator.faults.deny("list", "replicasets")
    status, rows = check(capsys, "--server", emulator.url, "--config", write_config(tmp_path))
    assert status == 1
    assert {name for name, verdict in verdicts(rows).items() if verdict == "fail"} == {
        "permission list replicasets.apps"
    }
    row = rows["permission list replicasets.apps"]
    assert row["detail"].startswith("denied (emulator rule --deny list:replicasets)")
    assert row["detail"].endswith("needed for: the ReplicaSet informer's list (default spreading)")
    assert 'grant `list` on `replicasets` (apiGroups: ["apps"])' in row["fix"] and "deploy/rbac.yaml" in row["fix"]


def test_a_refused_token_fails_without_showing_it(
    emulator: Emulator, fake_llm: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("HUGGINGFACE_TOKEN", TOKEN)
    fake_llm.script(Reply.error(401))
    config = write_config(tmp_path, llm={"endpoint": fake_llm.url})
    status, rows = check(capsys, "--server", emulator.url, "--config", config)
    assert status == 1
    assert rows["llm"]["status"] == "fail"
    assert "HTTP 401" in rows["llm"]["detail"]
    assert rows["llm"]["fix"].startswith("the token was refused: set HUGGINGFACE_TOKEN to a valid")
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    scheduler.main(["check", "--server", emulator.url, "--config", config])
    assert TOKEN not in json.dumps(rows) + capsys.readouterr().out


@pytest.mark.parametrize(
    ("states", "verdict", "detail"),
    [
        pytest.param({}, "fail", "0/2 nodes have fresh telemetry", id="no agent anywhere fails"),
        pytest.param({"a": 0.0, "b": 600.0}, "warn", "1/2 nodes have fresh telemetry", id="one stale node warns"),
        pytest.param({"a": 600.0, "b": 600.0}, "fail", "stale: a, b", id="an agent that stopped everywhere fails"),
    ],
)
def test_telemetry_counts_fresh_nodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], states: dict[str, float], verdict: str, detail: str
) -> None:
    nodes = [node(name, node_state(name, age=states[name]) if name in states else None) for name in ("a", "b")]
    with Emulator(nodes) as emu:
        status, rows = check(capsys, "--server", emu.url, "--config", write_config(tmp_path))
    assert status == (1 if verdict == "fail" else 0)
    assert rows["telemetry"]["status"] == verdict
    assert detail in rows["telemetry"]["detail"]
    assert "deploy the node agent DaemonSet (deploy/components/agent" in rows["telemetry"]["fix"]


def test_a_bad_config_fails_its_row_and_skips_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, scoring={"modle_path": "x.pt"}, llm={"temperature": 9})
    status, rows = check(capsys, "--server", "http://127.0.0.1:9", "--config", config)
    assert status == 1
    assert rows["config"]["status"] == "fail"
    assert "scoring.modle_path: unknown key" in rows["config"]["detail"]
    assert "llm.temperature: 9 is not allowed" in rows["config"]["detail"]
    assert "docs/configuration.md" in rows["config"]["fix"]
    assert verdicts(rows) == {
        "config": "fail",
        "cluster": "skip",
        "permissions": "skip",
        "telemetry": "skip",
        "transformer weights": "skip",
        "llm": "skip",
    }


def test_an_unreachable_cluster_fails_and_skips_what_needs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, rows = check(capsys, "--server", "http://127.0.0.1:9", "--config", write_config(tmp_path))
    assert status == 1
    detail = rows["cluster"]["detail"]
    assert detail == "cannot reach the Kubernetes API server at http://127.0.0.1:9: Connection refused"
    assert "--kubeconfig" in rows["cluster"]["fix"]
    assert verdicts(rows) == {
        "config": "pass",
        "cluster": "fail",
        "permissions": "skip",
        "telemetry": "skip",
        "transformer weights": "pass",
        "llm": "skip",
    }


def test_leader_election_adds_the_lease_permissions(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.faults.deny("update", "leases")
    config = write_config(tmp_path, leader_election={"enabled": True, "lease_namespace": "ai-scheduler"})
    status, rows = check(capsys, "--server", emulator.url, "--config", config)
    assert status == 1
    assert verdicts(rows)["permission get leases.coordination.k8s.io"] == "pass"
    assert verdicts(rows)["permission create leases.coordination.k8s.io"] == "pass"
    update = rows["permission update leases.coordination.k8s.io"]
    assert update["status"] == "fail"
    assert "in the Role in namespace ai-scheduler (deploy/lease-rbac.yaml)" in update["fix"]


def test_a_server_that_cannot_answer_reviews_leaves_a_warning(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.faults.fail_next(verb="create", resource="selfsubjectaccessreviews", code=404, message="not served")
    status, rows = check(capsys, "--server", emulator.url, "--config", write_config(tmp_path))
    assert status == 0
    assert rows["permissions"]["status"] == "warn"
    unchecked = f"{len(permissions.CLUSTER)} permission(s) unchecked"
    assert rows["permissions"]["detail"] == f"cannot ask the API server (HTTP 404 Not Found); {unchecked}"
    assert "kubectl auth can-i" in rows["permissions"]["fix"]
