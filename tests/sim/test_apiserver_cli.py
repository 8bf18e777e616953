"""`python -m sim.apiserver`: cluster files in, URL and KUBECONFIG out, served until SIGTERM."""

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.apiserver import load_objects

ROOT = Path(__file__).resolve().parents[2]


def test_load_a_kubectl_list(make_node: Any, make_pod: Any, tmp_path: Path) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [make_node("n1"), make_pod("p1", node="n1")]}
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(listing))
    assert [(o["kind"], o["metadata"]["name"]) for o in load_objects(path)] == [("Node", "n1"), ("Pod", "p1")]


def test_a_json_file_is_read_as_json_not_as_yaml(make_node: Any, tmp_path: Path) -> None:
    """YAML 1.1 reads an exponent without a dot as a string; JSON, as kubectl writes it, as a number."""
    node = make_node("n1")
    node["status"]["capacity"] = {"pods": 1e2}
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [node]}).replace("100.0", "1e2"))
    assert load_objects(path)[0]["status"]["capacity"]["pods"] == 100


def test_load_a_typed_list_whose_items_lack_kind(make_pod: Any, tmp_path: Path) -> None:
    pod = make_pod("p1")
    del pod["kind"], pod["apiVersion"]
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": [pod]}))
    assert load_objects(path)[0]["kind"] == "Pod"


def test_load_multi_document_yaml(make_node: Any, make_pod: Any, tmp_path: Path) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all([make_node("n1"), None, make_pod("p1")]))
    assert [o["metadata"]["name"] for o in load_objects(path)] == ["n1", "p1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: [1, 2", "not valid JSON or YAML", id="a syntax error"),
        pytest.param("- 1\n- 2\n", "expected Kubernetes objects", id="a list of scalars"),
        pytest.param("kind: Pod\nmetadata: {}\n", "needs a kind and metadata.name", id="an object without a name"),
    ],
)
def test_bad_cluster_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_objects(path)


def test_the_cli_serves_a_cluster_file_until_sigterm(make_node: Any, make_pod: Any, tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([make_node("n1"), make_pod("p1", node="n1")]))
    kubeconfig = tmp_path / "kubeconfig"
    command = [
        sys.executable,
        "-m",
        "sim.apiserver",
        "--cluster",
        str(path),
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert process.stdout.readline().strip() == f"KUBECONFIG={kubeconfig}"
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
        with urllib.request.urlopen(f"{url}/api/v1/namespaces/default/pods/p1", timeout=10) as response:
            pod = json.loads(response.read())
        assert pod["status"]["phase"] == "Running", "the kubelet started the pod bound in the file"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_cli_refuses_a_missing_file(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sim.apiserver", "--cluster", str(tmp_path / "missing.yaml")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("seed-001", id="a built-in scenario by name"),
        pytest.param("sim/scenarios/seed-001.yaml", id="a scenario file"),
    ],
)
def test_the_cli_serves_a_scenario_with_its_telemetry_until_sigterm(tmp_path: Path, name: str) -> None:
    command = [sys.executable, "-m", "sim.apiserver", "--scenario", name, "--kubeconfig", str(tmp_path / "kubeconfig")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert process.stdout.readline().startswith("KUBECONFIG=")
        assert process.stdout.readline().startswith("scenario seed-001: 7 nodes, 6 pods running")
        nodes = {n["metadata"]["name"]: n for n in _get(f"{url}/api/v1/nodes")["items"]}
        assert len(nodes) == 7
        for node in nodes.values():
            assert node["status"]["addresses"][0]["type"] == "InternalIP"
            assert "ai-scheduler.io/node-state" in node["metadata"]["annotations"], "the node agents publish"
        hog = _get(f"{url}/api/v1/namespaces/analytics/pods/nightly-etl")
        assert hog["spec"]["nodeName"] == "worker-5"
        assert hog["status"]["podIP"].startswith("10.244.")
        assert hog["status"]["hostIP"] == nodes["worker-5"]["status"]["addresses"][0]["address"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--cluster", "sim/scenarios/seed-001.yaml"],
            "sim/scenarios/seed-001.yaml is a scenario, not a list of Kubernetes objects: "
            "serve it with --scenario sim/scenarios/seed-001.yaml",
            id="a scenario given as --cluster points at --scenario",
        ),
        pytest.param(
            ["--scenario", "no-such-scenario"],
            "no-such-scenario: no such file, nor a built-in scenario of that name (built in: ",
            id="an unknown scenario lists the built-in ones",
        ),
    ],
)
def test_the_cli_explains_a_wrong_source_in_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sim.apiserver", *args], cwd=ROOT, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message}")
    assert done.stderr.count("\n") == 1
