"""Chaos against the real processes: `python -m sim.apiserver` with its fault controls, `scheduler.py run`.

Each test drives a fault the scheduler once could not survive (issue 14) through the emulator's control
endpoint over loopback, never through timing luck, and checks what an operator would: no pod lost, the
workers alive (`/healthz`), scheduling going on.
"""

import contextlib
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from cluster import nodestate
from tests.e2e.cluster import node, pod, wait_until
from tests.e2e.test_processes import ROOT, start, stop, write_config

JSON = dict[str, Any]


@dataclass
class Cluster:
    """The emulator process: its API through the real client, its fault controls, and the scheduler's probes."""

    url: str
    control_url: str
    core: client.CoreV1Api
    metrics_port: int = 0

    def control(self, action: str) -> JSON:
        request = urllib.request.Request(f"{self.control_url}/{action}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def create(self, *pods: JSON) -> None:
        for body in pods:
            self.core.create_namespaced_pod("default", body)

    def pods(self) -> dict[str, JSON]:
        listing = self.core.api_client.call_api(
            *self.core.api_client.param_serialize("GET", "/api/v1/namespaces/default/pods")
        )
        return {p["metadata"]["name"]: p for p in json.loads(listing.read())["items"]}

    def bound(self) -> dict[str, str]:
        return {name: p["spec"]["nodeName"] for name, p in self.pods().items() if p["spec"].get("nodeName")}

    def probe(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples on `/metrics` that carry `labels`."""
        _, text = self.probe("/metrics")
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith((name + "{", name + " ")) and all(label in line for label in wanted)
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def emulator(tmp_path: Path, objects: list[JSON]) -> Iterator[Cluster]:
    """`python -m sim.apiserver` with the fault controls on, as anyone would run it from a shell."""
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    command = [sys.executable, "-m", "sim.apiserver", "--cluster", str(path), "--control-port", "0"]
    command += ["--fresh-timeout", "0.5", "--kubeconfig", str(tmp_path / "kubeconfig")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        process.stdout.readline()  # KUBECONFIG=...
        control = process.stdout.readline().strip().removeprefix("CONTROL=")
        configuration = client.Configuration()
        configuration.host = url
        with client.ApiClient(configuration) as api:
            yield Cluster(url, control, client.CoreV1Api(api))
    finally:
        stop(process)


@contextlib.contextmanager
def scheduler(cluster: Cluster, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`scheduler.py run` against the emulator (local tiers only: no LLM, no transformer weights)."""
    cluster.metrics_port = _free_port()
    config = write_config(
        tmp_path,
        metrics={"port": cluster.metrics_port, "address": "127.0.0.1"},
        llm={"enabled": False},
        scoring={"model_path": str(tmp_path / "no-weights.pt")},
    )
    process = start(cluster.url, config, tmp_path / "scheduler.log")
    try:
        wait_until(lambda: cluster.probe("/readyz")[0] == 200, timeout=60, what="the scheduler ready")
        yield process
    finally:
        stop(process)
    assert process.returncode == 0, f"the scheduler did not end cleanly on SIGTERM:\n{_log(tmp_path)}"


def _log(tmp_path: Path) -> str:
    return (tmp_path / "scheduler.log").read_text()[-3000:]


def _answered_409(tmp_path: Path) -> bool:
    """The scheduler logged the outcome of the old race pod's binding (in what words it has ever used)."""
    lines = (tmp_path / "scheduler.log").read_text().splitlines()
    return any("default/race" in line and ("failed: HTTP 409" in line or "bound before" in line) for line in lines)


def test_a_pod_re_created_while_its_binding_is_in_flight_loses_nothing(tmp_path):
    with emulator(tmp_path, [node("n0", cpu="4"), node("n1", cpu="4")]) as cluster, scheduler(cluster, tmp_path):
        cluster.control("latency?seconds=3&verb=create&resource=pods/binding&count=1")
        cluster.create(pod("race"))
        wait_until(
            lambda: cluster.metric("scheduler_schedule_attempts_total", result="scheduled") >= 1, 20, "a decision"
        )
        cluster.core.delete_namespaced_pod("race", "default", grace_period_seconds=0)
        cluster.create(pod("race", cpu="64"))  # same name, briefly unschedulable; the old binding still in flight
        unschedulable = lambda: cluster.metric("scheduler_schedule_attempts_total", result="unschedulable")  # noqa: E731
        wait_until(lambda: unschedulable() >= 1, timeout=20, what="the re-created pod found unschedulable")
        wait_until(lambda: _answered_409(tmp_path), timeout=20, what="the old binding's 409 (uid precondition)")
        cluster.create(*(pod(f"later-{i}") for i in range(20)))
        wait_until(lambda: len(cluster.bound()) == 20, timeout=30, what="every later pod bound")
        cluster.core.create_node(node("big", cpu="128"))
        wait_until(lambda: cluster.bound().get("race") == "big", timeout=30, what="the re-created pod bound")
        assert cluster.probe("/healthz")[0] == 200, _log(tmp_path)


def test_conflicts_on_binding_lose_no_pod(tmp_path):
    with emulator(tmp_path, [node(f"n{i}") for i in range(3)]) as cluster, scheduler(cluster, tmp_path):
        cluster.control("fail?code=409&count=10&verb=create&resource=pods/binding")
        cluster.create(*(pod(f"p{i:02d}") for i in range(30)))
        wait_until(lambda: len(cluster.bound()) == 30, timeout=40, what="every pod bound despite ten 409s")
        assert cluster.metric("ai_scheduler_binding_failures_total") == pytest.approx(10)


def test_an_api_server_whose_versions_went_back_is_noticed_and_pods_flow_again(tmp_path):
    with emulator(tmp_path, [node(f"n{i}") for i in range(3)]) as cluster, scheduler(cluster, tmp_path):
        cluster.create(*(pod(f"before-{i}") for i in range(10)))
        wait_until(lambda: len(cluster.bound()) == 10, timeout=30, what="the first pods bound")
        for i in range(10):  # history the reset forgets: the scheduler's last version ends up ahead of the server
            cluster.create(pod(f"gone-{i}", schedulerName="nobody"))
            cluster.core.delete_namespaced_pod(f"gone-{i}", "default", grace_period_seconds=0)
        assert cluster.control("reset")["resourceVersion"] > 0
        cluster.create(*(pod(f"after-{i}") for i in range(10)))
        wait_until(lambda: len(cluster.bound()) == 20, timeout=30, what="the pods created after the reset bound")
        assert cluster.probe("/readyz")[0] == 200


def test_a_poisoned_node_state_does_not_drop_the_cordon_patched_with_it(tmp_path):
    with emulator(tmp_path, [node("n0"), node("n1")]) as cluster, scheduler(cluster, tmp_path):
        cluster.create(pod("warm-up"))  # the scheduler holds a snapshot the patch must invalidate
        wait_until(lambda: "warm-up" in cluster.bound(), timeout=30, what="the first pod bound")
        poison = "[" * 100_000 + "]" * 100_000  # nests deeper than the JSON decoder can recurse
        patch = {"metadata": {"annotations": {nodestate.ANNOTATION: poison}}, "spec": {"unschedulable": True}}
        cluster.core.patch_node("n0", patch)
        warning = "node n0: NodeState is nested too deeply to parse; all metrics unknown"
        # The warning is logged while the scheduler handles the patched node: pods created after it must see the
        # cordon (before it, the informer's node event may simply not have arrived yet).
        wait_until(lambda: warning in (tmp_path / "scheduler.log").read_text(), timeout=30, what="the patch seen")
        cluster.create(pod("probe"))
        wait_until(lambda: "probe" in cluster.bound(), timeout=30, what="a pod after the patch")
        cluster.create(*(pod(f"p{i:02d}") for i in range(30)))
        wait_until(lambda: len(cluster.bound()) == 32, timeout=30, what="every pod bound")
        after = {name: where for name, where in cluster.bound().items() if name != "warm-up"}
        assert set(after.values()) == {"n1"}, "a pod went to the cordoned node"


def test_a_node_and_a_pod_beyond_int64_leave_every_other_pod_scheduled(tmp_path):
    huge = pod("huge-bound", memory="1e30", nodeName="n0")
    with emulator(tmp_path, [node("n0"), node("n1"), huge]) as cluster, scheduler(cluster, tmp_path):
        cluster.core.create_node(node("n-huge", memory="1e30"))
        cluster.create(*(pod(f"p{i:02d}") for i in range(20)))
        wait_until(lambda: len(cluster.bound()) == 21, timeout=30, what="every other pod bound")
        assert "n-huge" not in {n for name, n in cluster.bound().items() if name != "huge-bound"}
        assert cluster.probe("/healthz")[0] == 200, _log(tmp_path)
