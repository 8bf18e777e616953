"""`scheduler.py demo`: the real scheduler against the embedded simulated cluster, no cluster or token needed.

Starts the emulated API server with a scenario (seed-001 by default: six workers, a cache thrasher and a
hidden memory-bandwidth hog), the stand-in node agents that publish its telemetry, and the production
scheduling loop over HTTP; creates the pods of `ai-test-pods.yaml` as `kubectl apply` would; and prints
where each pod went, which tier decided and why, whether its node has noisy neighbours, and its P99 as
the interference model predicts it there. `--serve` keeps the cluster up for kubectl.
"""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cluster import app
from cluster.config import Settings
from cluster.errors import UserError
from cluster.kube import Kube
from cluster.manifests import objects
from cluster.parse import ManifestError
from scoring.decide import Tier
from scoring.transformer.loading import BackgroundTier
from sim import oracle, outcomes
from sim.cluster import SimCluster
from sim.scenario import ScenarioError, load

DECISION_TIMEOUT = 60.0
PREFIX = "ai-scheduler.io/"


class DemoError(UserError, RuntimeError):
    """The demo could not run (bad scenario or pod file); the message says which."""


def run(
    settings: Settings,
    *,
    scenario: str = "seed-001",
    pods_file: str | Path = "ai-test-pods.yaml",
    serve: bool = False,
    console: Console | None = None,
    stop: threading.Event | None = None,
) -> int:
    console = console or Console(width=max(Console().width, 160))
    try:
        world = SimCluster(load(scenario), publish_interval=1.0)
        pods = [dict(p) for p in objects(pods_file) if p.get("kind") == "Pod"]
    except (ScenarioError, ManifestError, OSError) as exc:
        raise DemoError(str(exc)) from exc
    if not pods:
        raise DemoError(f"{pods_file}: no Pod objects")
    url = world.start()
    console.print(f"[bold]Simulated cluster[/] {world.scenario.name}: {len(world.node_names())} nodes on {url}")
    scheduler = app.build(settings, Kube.connect(server=url, timeout=settings.scheduler.request_timeout))
    tiers = [t.tier for t in scheduler.decider.tiers]
    if Tier.LLM not in tiers:
        console.print(
            "No HUGGINGFACE_TOKEN or LLM_ENDPOINT: the LLM tier is off; the local tiers decide "
            f"({' -> '.join([t.value for t in tiers] + ['heuristic'])})."
        )
    scheduler.start()
    try:
        scheduler.wait_ready(30)
        for tier in scheduler.decider.tiers:
            if isinstance(tier, BackgroundTier):
                tier.wait(30)  # the demo shows decisions, not torch's import: pods arrive once every tier is up
        for pod in pods:
            pod.setdefault("metadata", {}).setdefault("namespace", "default")
        world.create(pods)
        keys = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods]
        _wait(lambda: _all_decided(world, keys), DECISION_TIMEOUT)
        console.print(_report(world, keys))
        console.print(_stats(scheduler.stats.summary()))
        if serve:
            kubeconfig = world.emulator.write_kubeconfig(Path.cwd() / "demo.kubeconfig")
            console.print(
                f"Serving. In another shell:\n  export KUBECONFIG={kubeconfig}\n  kubectl get pods -A -o wide"
            )
            console.print("Press Ctrl-C to stop.")
            _serve(stop)
    finally:
        scheduler.stop()
        world.stop()
    return 0


def _serve(stop: threading.Event | None) -> None:
    """Until `stop` is set, or Ctrl-C."""
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        return


def _wait(done: Callable[[], bool], timeout: float) -> None:
    """Poll `done` every 100 ms for at most `timeout` seconds (the report shows what is still pending)."""
    tick = threading.Event()
    for _ in range(int(timeout * 10)):
        if done():
            return
        tick.wait(0.1)


def _decision(world: SimCluster, key: str) -> dict[str, Any] | None:
    namespace, name = key.split("/", 1)
    for pod in world.pods():
        meta = pod["metadata"]
        if meta["name"] == name and meta.get("namespace") == namespace:
            return pod
    return None


def _failure(world: SimCluster, key: str) -> str | None:
    namespace, name = key.split("/", 1)
    messages = [
        e["message"]
        for e in world.emulator.store.list("events").items
        if e.get("reason") == "FailedScheduling"
        and e["involvedObject"]["name"] == name
        and e["involvedObject"].get("namespace") == namespace
    ]
    return messages[-1] if messages else None


def _all_decided(world: SimCluster, keys: list[str]) -> bool:
    for key in keys:
        pod = _decision(world, key)
        if pod is None or not (pod["spec"].get("nodeName") or _failure(world, key)):
            return False
    return True


def _report(world: SimCluster, keys: list[str]) -> Table:
    state = world.state()
    table = Table(title="Placements (predicted P99 from the calibrated interference model)")
    for column, width in (("pod", 26), ("node", 8), ("tier", 11), ("noisy node", 10), ("P99", 9), ("target", 6)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("reason", overflow="ellipsis", no_wrap=True, max_width=64)
    for key in keys:
        pod = _decision(world, key) or {}
        node = (pod.get("spec") or {}).get("nodeName")
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        target = annotations.get(PREFIX + "p99-target-ms")
        if not node:
            table.add_row(key, "-", "-", "-", "-", _ms(target), _failure(world, key) or "pending")
            continue
        noisy = outcomes.noisy_neighbours(state, node, excluding=key)
        predicted = oracle.predict(state, state.pod(key), [node])[node].p99_ms
        table.add_row(
            key,
            node,
            annotations.get(PREFIX + "decision-tier", "?"),
            f"yes ({len(noisy)})" if noisy else "no",
            f"{predicted:.2f} ms",
            _ms(target),
            annotations.get(PREFIX + "decision-reason", ""),
        )
    return table


def _ms(value: str | None) -> str:
    return f"{value} ms" if value else "-"


def _stats(summary: dict[str, Any]) -> Table:
    table = Table(title="Scheduler stats")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("pods_seen", "bound", "unschedulable", "decisions", "fallbacks", "llm_calls", "cache_hit_rate",
                 "breaker_trips", "failed_bindings", "latency_ms_p50", "latency_ms_p99"):  # fmt: skip
        table.add_row(name, str(summary.get(name)))
    return table
