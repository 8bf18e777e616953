"""The real kubectl against the emulator: get, describe, events, apply and delete, by --server and kubeconfig."""

import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim import scenario
from sim.apiserver import Emulator
from tests import tools

KUBECTL = tools.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason=tools.missing("kubectl", "driving the emulator with kubectl"))

POD_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: added-by-hand
  labels: {app: demo}
spec:
  containers:
  - name: app
    image: nginx:1.27
    resources:
      limits: {cpu: 250m, memory: 64Mi}
"""


@pytest.fixture
def cluster(make_node: Any, make_pod: Any, tmp_path: Path) -> Iterator[Emulator]:
    """Two nodes, a bound pod with a Scheduled event, a pending pod elsewhere."""
    objects = [
        make_node("node-1", labels={"node-role.kubernetes.io/worker": ""}, ip="192.168.0.11"),
        make_node("node-2", ready=False),
        make_pod("web-1", labels={"app": "web"}),
        make_pod("batch-1", namespace="jobs"),
    ]
    with Emulator(objects) as emu:
        pod = emu.store.bind("default", "web-1", "node-1")
        emu.store.create(
            "events",
            {
                "metadata": {"name": "web-1.1", "namespace": "default"},
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": "default",
                    "name": "web-1",
                    "uid": pod["metadata"]["uid"],
                },
                "reason": "Scheduled",
                "message": "Successfully assigned default/web-1 to node-1",
                "type": "Normal",
                "source": {"component": "ai-llama-scheduler"},
                "firstTimestamp": pod["metadata"]["creationTimestamp"],
                "lastTimestamp": pod["metadata"]["creationTimestamp"],
                "count": 1,
            },
        )
        yield emu


def run_kubectl(
    tmp_path: Path, *args: str, server: str | None = None, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kubectl with a private HOME and cache, whatever its exit status."""
    target = ["--server", server] if server else ["--kubeconfig", str(kubeconfig)]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    command = [str(KUBECTL), *target, "--cache-dir", str(tmp_path / "cache"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def kubectl(tmp_path: Path, *args: str, server: str | None = None, kubeconfig: Path | None = None) -> str:
    """Run kubectl; fail the test with its stderr when it fails."""
    done = run_kubectl(tmp_path, *args, server=server, kubeconfig=kubeconfig)
    assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def rows(output: str) -> list[list[str]]:
    """Table output split on runs of two or more spaces (single spaces occur inside cells)."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


def test_get_nodes(cluster: Emulator, tmp_path: Path) -> None:
    table = rows(kubectl(tmp_path, "get", "nodes", server=cluster.url))
    assert table[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [(r[0], r[1], r[2], r[4]) for r in table[1:]] == [
        ("node-1", "Ready", "worker", "v1.32.0"),
        ("node-2", "NotReady", "<none>", "v1.32.0"),
    ]


def test_get_pods_all_namespaces_wide(cluster: Emulator, tmp_path: Path) -> None:
    table = rows(kubectl(tmp_path, "get", "pods", "-A", "-o", "wide", server=cluster.url))
    assert table[0] == [
        "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"
    ]  # fmt: skip
    by_name = {r[1]: r for r in table[1:]}
    assert by_name["web-1"][0] == "default"
    assert by_name["web-1"][2:5] == ["1/1", "Running", "0"]
    assert by_name["web-1"][6].startswith("10.244.") and by_name["web-1"][7] == "node-1"
    assert by_name["batch-1"][0] == "jobs"
    assert by_name["batch-1"][2:5] == ["0/1", "Pending", "0"]
    assert by_name["batch-1"][6:] == ["<none>", "<none>", "<none>", "<none>"]


def test_describe_pod_shows_its_events(cluster: Emulator, tmp_path: Path) -> None:
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    out = kubectl(tmp_path, "describe", "pod", "web-1", kubeconfig=kubeconfig)
    assert "Node:             node-1/192.168.0.11" in out
    assert "Status:           Running" in out
    assert re.search(r"QoS Class:\s+BestEffort", out)
    events = out.split("Events:")[1]
    assert "Scheduled" in events and "ai-llama-scheduler" in events
    assert "Successfully assigned default/web-1 to node-1" in events


def test_get_events(cluster: Emulator, tmp_path: Path) -> None:
    table = rows(kubectl(tmp_path, "get", "events", server=cluster.url))
    assert table[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert table[1][1:] == ["Normal", "Scheduled", "pod/web-1", "Successfully assigned default/web-1 to node-1"]


@pytest.mark.parametrize("by", ["server", "kubeconfig"])
def test_apply_then_delete_a_pod(cluster: Emulator, tmp_path: Path, by: str) -> None:
    target = {"server": cluster.url} if by == "server" else {"kubeconfig": cluster.write_kubeconfig(tmp_path / "kc")}
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_MANIFEST)
    assert kubectl(tmp_path, "apply", "-f", str(manifest), **target).strip() == "pod/added-by-hand created"
    pod = cluster.store.get("pods", "added-by-hand", namespace="default")
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]
    manifest.write_text(POD_MANIFEST.replace("nginx:1.27", "nginx:1.28"))
    assert kubectl(tmp_path, "apply", "-f", str(manifest), **target).strip() == "pod/added-by-hand configured"
    assert (
        cluster.store.get("pods", "added-by-hand", namespace="default")["spec"]["containers"][0]["image"]
        == "nginx:1.28"
    )
    assert kubectl(tmp_path, "delete", "pod", "added-by-hand", **target).strip() == 'pod "added-by-hand" deleted'
    assert "added-by-hand" not in kubectl(tmp_path, "get", "pods", **target)


def test_get_a_single_pod_and_other_resources(cluster: Emulator, tmp_path: Path) -> None:
    assert rows(kubectl(tmp_path, "get", "pod", "web-1", server=cluster.url))[1][:3] == ["web-1", "1/1", "Running"]
    namespaces = {r[0]: r[1] for r in rows(kubectl(tmp_path, "get", "namespaces", server=cluster.url))[1:]}
    assert namespaces["jobs"] == "Active" and namespaces["default"] == "Active"
    out = kubectl(tmp_path, "get", "pods", "-n", "jobs", "-o", "jsonpath={.items[*].metadata.name}", server=cluster.url)
    assert out == "batch-1"


def test_get_pods_watch_prints_table_rows_as_things_change(make_pod: Any, cluster: Emulator, tmp_path: Path) -> None:
    command = [str(KUBECTL), "--server", cluster.url, "--cache-dir", str(tmp_path / "cache"), "get", "pods", "-w"]
    command.append("--output-watch-events")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        assert rows(lines.get(timeout=30))[0][:3] == ["EVENT", "NAME", "READY"]
        assert rows(lines.get(timeout=30))[0][:4] == ["ADDED", "web-1", "1/1", "Running"]
        cluster.store.create("pods", make_pod("late"))
        assert rows(lines.get(timeout=30))[0][:4] == ["ADDED", "late", "0/1", "Pending"]
        cluster.store.delete("pods", "late", namespace="default")
        assert rows(lines.get(timeout=30))[0][:2] == ["DELETED", "late"]
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture
def seed_001() -> Iterator[Emulator]:
    """seed-001's nodes and running pods, as `python -m sim.apiserver --scenario seed-001` serves them."""
    loaded = scenario.load("seed-001")
    with Emulator([*loaded.nodes, *loaded.pods]) as emu:
        yield emu


def test_scenario_nodes_show_an_internal_ip(seed_001: Emulator, tmp_path: Path) -> None:
    table = rows(kubectl(tmp_path, "get", "nodes", "-o", "wide", server=seed_001.url))
    column = table[0].index("INTERNAL-IP")
    ips = {r[0]: r[column] for r in table[1:]}
    assert len(ips) == 7
    assert all(re.fullmatch(r"10\.0\.\d+\.\d+", ip) for ip in ips.values()), ips
    assert len(set(ips.values())) == len(ips), "every node has its own address"


def test_a_scenarios_running_pods_show_their_ip_and_their_nodes(seed_001: Emulator, tmp_path: Path) -> None:
    table = rows(kubectl(tmp_path, "get", "pods", "-A", "-o", "wide", server=seed_001.url))
    ip, node = table[0].index("IP"), table[0].index("NODE")
    assert all(r[3] == "Running" and r[ip].startswith("10.244.") for r in table[1:]), table
    internal = kubectl(
        tmp_path, "get", "node", "worker-2", "-o", "jsonpath={.status.addresses[0].address}", server=seed_001.url
    )
    host = kubectl(tmp_path, "get", "pod", "-n", "noisy", "stress-cache", "-o", "jsonpath={.status.hostIP}",
                   server=seed_001.url)  # fmt: skip
    assert {r[1]: r[node] for r in table[1:]}["stress-cache"] == "worker-2"
    assert host == internal


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        pytest.param(
            "web-1",
            "Error from server (BadRequest): the API server emulator keeps no container logs: pod default/web-1",
            id="a running pod's logs: the emulator says it keeps none",
        ),
        pytest.param("missing", 'pods "missing" not found', id="a pod that does not exist: not found"),
    ],
)
def test_kubectl_logs_says_the_emulator_keeps_no_logs(
    cluster: Emulator, tmp_path: Path, pod: str, message: str
) -> None:
    done = run_kubectl(tmp_path, "logs", pod, server=cluster.url)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stdout == ""
