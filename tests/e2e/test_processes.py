"""The scheduler as separate processes: killed mid-burst and restarted, and two replicas electing a leader."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from sim.apiserver import Emulator
from tests.e2e.cluster import bound, events, node, pod, wait_until

ROOT = Path(__file__).resolve().parents[2]
LOGS: dict[int, Path] = {}
"""Each started scheduler's log, by pid: `stop` reads it once the process has ended."""


def start(url: str, config: Path, log: Path) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "scheduler.py", "run", "--server", url, "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    LOGS[process.pid] = log
    return process


def write_config(tmp_path: Path, **sections: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"metrics": {"port": 0}, "scheduler": {"stats_interval": 2}, **sections}))
    return path


@pytest.fixture
def bindings():
    """Counts, per pod, the writes that set spec.nodeName: a double bind would count twice."""
    counts: Counter[str] = Counter()

    def watch(emulator: Emulator) -> Counter[str]:
        def on_change(change) -> None:
            was_bound = (change.old or {}).get("spec", {}).get("nodeName")
            if change.resource == "pods" and change.object["spec"].get("nodeName") and not was_bound:
                counts[change.object["metadata"]["name"]] += 1

        emulator.store.subscribe(on_change)
        return counts

    return watch


def stop(process: subprocess.Popen) -> None:
    """SIGTERM and wait; a process still running after 20 s fails the test with every thread's stack (SIGUSR1).
    Then a scheduler's log must hold no line lost to a formatting error (logging prints `--- Logging error ---`
    and drops the line) and no interpreter abort."""
    hung = False
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hung = True
            process.send_signal(signal.SIGUSR1)
            time.sleep(2)
            process.kill()
            process.wait()
    log = LOGS.pop(process.pid, None)
    text = log.read_text(errors="replace") if log is not None else ""
    assert not hung, f"{log}: still running 20 s after SIGTERM; its threads:\n{text[text.rfind('Thread 0x') - 4000 :]}"
    for sign in ("--- Logging error ---", "Fatal Python error"):
        assert sign not in text, f"{log}: {text[text.index(sign) :][:1500]}"


def test_sigusr1_prints_every_threads_stack_and_the_scheduler_goes_on(tmp_path):
    with Emulator(objects=[node("n1")]) as emulator:
        log = tmp_path / "scheduler.log"
        process = start(emulator.url, write_config(tmp_path), log)
        try:
            emulator.store.create("pods", pod("before-the-dump"))
            wait_until(lambda: "before-the-dump" in bound(emulator), timeout=60, what="a binding before the dump")
            process.send_signal(signal.SIGUSR1)
            wait_until(lambda: "Current thread" in log.read_text(errors="replace"), timeout=10, what="the stacks")
            emulator.store.create("pods", pod("after-the-dump"))
            wait_until(lambda: "after-the-dump" in bound(emulator), timeout=30, what="a binding after the dump")
        finally:
            stop(process)
        text = log.read_text(errors="replace")
    assert 'File "' in text and "in _work" in text, text[-3000:]
    assert process.returncode == 0


def test_killed_mid_burst_and_restarted_every_pod_is_bound_exactly_once(tmp_path, bindings):
    nodes = [node(f"n{i:02d}", cpu="8", memory="32Gi") for i in range(30)]
    config = write_config(tmp_path)
    with Emulator(objects=nodes) as emulator:
        counts = bindings(emulator)
        for i in range(800):
            emulator.store.create("pods", pod(f"p{i:03d}"))
        first = start(emulator.url, config, tmp_path / "first.log")
        try:
            wait_until(lambda: len(bound(emulator)) >= 200, timeout=90, what="the burst under way")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)
        assert len(bound(emulator)) < 800, "the first process finished before it could be killed"
        second = start(emulator.url, config, tmp_path / "second.log")
        try:
            wait_until(lambda: len(bound(emulator)) == 800, timeout=120, what="every pod bound after the restart")
        finally:
            stop(second)
        assert second.returncode == 0, (tmp_path / "second.log").read_text()[-2000:]
    assert set(counts.values()) == {1} and len(counts) == 800


def test_two_replicas_elect_one_leader_and_the_other_takes_over(tmp_path):
    nodes = [node(f"n{i}") for i in range(5)]
    election = {"enabled": True, "lease_duration": 4, "renew_deadline": 3, "retry_period": 1}
    config = write_config(tmp_path, leader_election=election)
    with Emulator(objects=nodes) as emulator:
        replicas = [start(emulator.url, config, tmp_path / f"replica{i}.log") for i in range(2)]
        try:
            wait_until(lambda: emulator.store.list("leases").items, timeout=30, what="a lease")
            for i in range(40):
                emulator.store.create("pods", pod(f"a{i:02d}"))
            wait_until(lambda: len(bound(emulator)) == 40, timeout=60, what="the first pods bound by the leader")
            instances = {e["reportingInstance"] for e in events(emulator, "Scheduled")}
            assert len(instances) == 1, instances
            lease = emulator.store.get("leases", "ai-llama-scheduler", namespace="kube-system")
            holder = lease["spec"]["holderIdentity"]
            assert instances == {holder}
            leader = next(p for p in replicas if holder.endswith(f"_{p.pid}"))
            leader.send_signal(signal.SIGKILL)
            leader.wait(timeout=10)
            for i in range(20):
                emulator.store.create("pods", pod(f"b{i:02d}"))
            # the follower acquires the lease once it expires (4 s) and schedules the rest
            wait_until(lambda: len(bound(emulator)) == 60, timeout=4 + 20, what="the follower taking over")
            instances = {e["reportingInstance"] for e in events(emulator, "Scheduled")}
            assert len(instances) == 2
        finally:
            for process in replicas:
                stop(process)
