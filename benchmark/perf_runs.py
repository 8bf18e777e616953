"""The performance suite's measurements: decision latency in process, and the scheduler as its own process.

- `decision_latency`: the decision chain of one tier on a synthetic snapshot (`benchmark/synthetic.py`:
  nodes with NodeState telemetry, 10 running pods each), deciding pending pods one after the other with
  each placement counted for the next, as `scheduler.py decide` does; the per-pod `latency_ms` the chain
  reports (filters, scores, tiers; snapshot building excluded), after a short warm-up that is not counted.
- `scheduler_burst`: `scheduler.py run` as a separate process against `python -m sim.apiserver` (another
  process) loaded with a cluster whose pending pods are all there at start: seconds from process start to
  `/readyz`, pods bound per second from ready until none is pending, peak RSS (`VmHWM`), the
  scheduler's own counters from `/metrics`, and its fallbacks by cause, read from its log as `scheduler.py stats`
  reads it. Optionally sampled by py-spy (`benchmark/profiling.py`).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import profiling, synthetic
from benchmark.throughput import EmulatorProcess, free_port, wait_ready
from cluster.config import Settings
from cluster.manifests import load_pods, load_snapshot
from runtime.assemble import TierUnavailableError, build_decider
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.runtime import KUBE_SCORE_WEIGHTS
from telemetry.review import review

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 10


def percentiles(values: Sequence[float]) -> dict[str, float]:
    data = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(data, 50)), 3),
        "p99": round(float(np.percentile(data, 99)), 3),
        "max": round(float(data.max()), 3),
        "n": int(data.size),
    }


def decider_for(tier: str, settings: Settings) -> Decider:
    """`default` is kube-scheduler's scoring; other names are forced tiers (TierUnavailableError if absent)."""
    if tier == "default":
        return Decider(
            heuristic=HeuristicTier(weights=KUBE_SCORE_WEIGHTS),
            percentage_of_nodes_to_score=settings.scoring.percentage_of_nodes_to_score,
        )
    return build_decider(settings, tier=tier)


def write_synthetic(folder: Path, nodes: int, *, pods_per_node: int = 10, pending: int = 0) -> tuple[Path, Path]:
    """A snapshot (`List` of nodes and running pods) and, separately, `pending` incoming pods."""
    cluster = synthetic.cluster(nodes, pods_per_node)
    incoming = synthetic.incoming(max(pending, 1))
    snapshot, pods = folder / f"cluster-{nodes}.json", folder / f"incoming-{nodes}.json"
    snapshot.write_text(json.dumps(cluster))
    pods.write_text(json.dumps(incoming))
    return snapshot, pods


def decision_latency(
    snapshot_file: Path, pods_file: Path, tiers: Sequence[str], settings: Settings
) -> dict[str, dict[str, Any]]:
    """Per tier: p50/p99/max of the per-pod decision latency (ms), or why the tier could not run."""
    snapshot = load_snapshot(str(snapshot_file))
    pods = load_pods(str(pods_file))
    results: dict[str, dict[str, Any]] = {}
    for tier in tiers:
        try:
            decider = decider_for(tier, settings)
        except TierUnavailableError as exc:
            results[tier] = {"skipped": str(exc)}
            continue
        current, latencies, placed = snapshot, [], 0
        for pod in pods:
            decision = decider.decide(pod, current)
            latencies.append(decision.latency_ms)
            if decision.node is not None:
                placed += 1
                current = current.with_pod(pod, decision.node)
        results[tier] = percentiles(latencies[WARMUP:]) | {"placed": placed, "warmup": WARMUP}
    return results


class SchedulerProcess:
    """`scheduler.py run` with a config of our own, its log in `workdir`; stopped with SIGTERM."""

    def __init__(self, url: str, workdir: Path, *, config: Mapping[str, Any]) -> None:
        self.port = free_port()
        settings = {"metrics": {"port": self.port, "address": "127.0.0.1"}, **config}
        self.config = workdir / f"config-{self.port}.json"
        self.config.write_text(json.dumps(settings))
        self.log = workdir / f"scheduler-{self.port}.log"
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
        self.started = time.monotonic()
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "scheduler.py", "run", "--server", url, "--config", str(self.config)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory_mb(self) -> dict[str, float]:
        """Peak (`VmHWM`) and current (`VmRSS`) resident memory, MB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        values = {k: int(re.search(rf"^{k}:\s+(\d+) kB", status, re.MULTILINE).group(1)) for k in ("VmHWM", "VmRSS")}
        return {"peak_rss_mb": round(values["VmHWM"] / 1024, 1), "rss_mb": round(values["VmRSS"] / 1024, 1)}

    def metrics(self) -> dict[str, float]:
        """The scheduler's counters that tell what decided: decisions by tier, LLM calls, cache lookups."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        out: dict[str, float] = {}
        for name, label in (
            ("ai_scheduler_decisions_total", "tier"),
            ("ai_scheduler_llm_requests_total", "outcome"),
            ("ai_scheduler_llm_cache_lookups_total", "result"),
            ("ai_scheduler_tier_fallbacks_total", "tier"),
        ):
            for value_label, value in re.findall(rf'^{name}{{{label}="([^"]+)"}} (\S+)$', text, re.MULTILINE):
                out[f"{name.removeprefix('ai_scheduler_').removesuffix('_total')}[{value_label}]"] = float(value)
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def emulator(cluster: Path) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(cluster)
    try:
        yield process
    finally:
        process.stop()


def scheduler_burst(
    cluster: Path,
    workdir: Path,
    *,
    pending: int,
    config: Mapping[str, Any] | None = None,
    time_limit: float = 300.0,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Start the scheduler against a cluster whose `pending` pods wait, and time until none is left."""
    with emulator(cluster) as api:
        process = SchedulerProcess(api.url, workdir, config=config or {})
        spy = profiling.Recorder(process.pid, profile) if profile else None
        try:
            ready = wait_ready(process.port, timeout=180)
            left = api.pending()
            while left > 0 and time.monotonic() - ready < time_limit:
                time.sleep(0.1)
                left = api.pending()
            done = time.monotonic()
            memory = process.memory_mb()
            counters = process.metrics()
        finally:
            process.stop()
            if spy is not None:
                spy.stop()
    seconds = done - ready
    fallbacks = review(process.log.read_text(errors="replace").splitlines()).total().fallbacks
    return {
        "pending": pending,
        "left_pending": left,
        "seconds_to_ready": round(ready - process.started, 2),
        "seconds": round(seconds, 2),
        "pods_per_second": round((pending - left) / seconds, 1) if seconds > 0 else 0.0,
        "timed_out": left > 0,
        **memory,
        "metrics": counters,
        "fallbacks": dict(sorted(fallbacks.items())),
    }
