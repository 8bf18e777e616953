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
