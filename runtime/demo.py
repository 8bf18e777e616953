"""`scheduler.py demo`: the real scheduler against the embedded simulated cluster, no cluster or token needed.

Starts the emulated API server with a scenario (seed-001 by default: six workers, a cache thrasher and a
hidden memory-bandwidth hog), the stand-in node agents that publish its telemetry, and the production
scheduling loop over HTTP; creates the pods of `ai-test-pods.yaml` as `kubectl apply` would; and answers
"where did each pod go, and why was that better?": which nodes are noisy and what makes them so, where each
pod went and why, where kube-scheduler's default scoring would have put it, and the P99 the calibrated
interference model predicts for both. The default's placements are replayed offline, in the same order,
from the snapshot the scheduler saw before the pods arrived (kube-scheduler's default score weights alone,
the benchmark's `default` policy).
Everything fits the terminal's width; reasons wrap, never cut. `--serve` keeps the cluster up for kubectl
until Ctrl-C or SIGTERM.
"""

import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cluster.clock import SystemClock
from cluster.config import KUBE_SCORE_WEIGHTS, Settings
from cluster.errors import UserError
from cluster.manifests import objects
from cluster.nodestate import NodeState
from cluster.parse import ManifestError, parse_pod
from cluster.signals import on_stop_signals
from cluster.snapshot import Snapshot
from runtime import app
from runtime.kube import Kube
from runtime.loop import Scheduler
from scoring.decide import Decider
from scoring.heuristic import HeuristicTier
from scoring.tiers import Tier
from scoring.transformer.loading import BackgroundTier
from sim import oracle, outcomes
from sim.cluster import SimCluster
from sim.cluster_state import ClusterState
from sim.pods import PROFILE_ANNOTATION, Workload, workload
from sim.scenario import ScenarioError, load

READY_TIMEOUT = 60.0
DECISION_TIMEOUT = 60.0
PREFIX = "ai-scheduler.io/"
KUBECONFIG = "demo.kubeconfig"

# What each interference dimension means to a reader, and the NodeState metric that shows it (in % after scaling).
DIMENSIONS: Mapping[str, tuple[str, str, str, float]] = {
    "llc": ("thrashes the shared last-level cache", "llc_occupancy_ratio", "LLC occupied", 100.0),
    "membw": ("saturates the memory bus", "memory_bandwidth_ratio", "memory bandwidth used", 100.0),
    "cpu": ("keeps every core busy", "cpu_utilization", "CPU busy", 100.0),
    "io": ("floods the disk", "psi_io_some", "I/O stall time", 1.0),
}


class DemoError(UserError, RuntimeError):
    """The demo could not run (bad scenario or pod file); the message says which."""


@dataclass(frozen=True)
class Placement:
    """One pod: where this scheduler put it and where kube-scheduler's default scoring would have."""

    key: str
    node: str | None
    tier: str
    reason: str
    p99_ms: float | None
    noisy: bool
    default_node: str | None
    default_p99_ms: float | None
    default_noisy: bool
    target_ms: float | None
    latency_critical: bool


def run(
    settings: Settings,
    *,
    scenario: str = "seed-001",
    pods_file: str | Path = "ai-test-pods.yaml",
    serve: bool = False,
    console: Console | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the demo; returns 0, also when stopped early by Ctrl-C or SIGTERM (the cluster is torn down)."""
    console = console or Console()
    stop = stop or threading.Event()
    try:
        world = SimCluster(load(scenario), publish_interval=1.0)
        pods = [dict(p) for p in objects(pods_file) if p.get("kind") == "Pod"]
    except (ScenarioError, ManifestError, OSError) as exc:
        raise DemoError(str(exc)) from exc
    if not pods:
        raise DemoError(f"{pods_file}: no Pod objects")
    for pod in pods:
        pod.setdefault("metadata", {}).setdefault("namespace", "default")
    on_stop_signals(stop.set)  # as `run` does: SIGTERM and Ctrl-C end the demo the way its last step would
    url = world.start()
    kubeconfig = Path.cwd() / KUBECONFIG
    try:
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
            if _place_and_report(settings, scheduler, world, pods, console=console, stop=stop) and serve:
                world.emulator.write_kubeconfig(kubeconfig)
                console.print(
                    f"Serving. In another shell:\n  export KUBECONFIG={kubeconfig}\n  kubectl get pods -A -o wide"
                )
                console.print("Press Ctrl-C (or send SIGTERM) to stop.")
                stop.wait()
            if stop.is_set():
                console.print("Stopped.")
        finally:
            scheduler.stop()
    finally:
        world.stop()
        if serve:
            kubeconfig.unlink(missing_ok=True)
    return 0


def _place_and_report(
    settings: Settings,
    scheduler: Scheduler,
    world: SimCluster,
    pods: Sequence[dict[str, Any]],
    *,
    console: Console,
    stop: threading.Event,
) -> bool:
    """Create the pods once the scheduler is up, wait for its decisions, print the report; False when stopped."""
    # The demo shows decisions, not torch's import: pods arrive once the caches and every tier are up.
    loading = [t for t in scheduler.decider.tiers if isinstance(t, BackgroundTier)]
    _wait(lambda: scheduler.wait_ready(0) and all(t.wait(0) for t in loading), READY_TIMEOUT, stop)
    if stop.is_set():
        return False
    before, start = scheduler.cache.snapshot(), world.state()
    disguised = {
        f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}"
        for p in world.pods()
        if PROFILE_ANNOTATION in (p["metadata"].get("annotations") or {})
    }
    console.print(_noisy_nodes(start, before, disguised))
    world.create(pods)
    keys = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods]
    _wait(lambda: _all_decided(world, keys), DECISION_TIMEOUT, stop)
    if stop.is_set():
        return False
    created = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in world.pods()}
    default = _replay_default(before, start, [created[k] for k in keys if k in created])
    placements = _placements(world, keys, world.state(), default)
    console.print(_report(placements))
    for line in (*_crowding(placements), *_summary(placements)):
        console.print(line)
    console.print(_stats(scheduler.stats.summary()))
    return True


def _wait(done: Callable[[], bool], timeout: float, stop: threading.Event) -> None:
    """Poll `done` every 100 ms for at most `timeout` seconds or until `stop` (the report shows what is pending)."""
    for _ in range(int(timeout * 10)):
        if done() or stop.wait(0.1):
            return


def _pod(world: SimCluster, key: str) -> dict[str, Any] | None:
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
        pod = _pod(world, key)
        if pod is None or not (pod["spec"].get("nodeName") or _failure(world, key)):
            return False
    return True


def _noisy_nodes(state: ClusterState, snapshot: Snapshot, disguised: set[str]) -> Table:
    """Which nodes are noisy before the pods arrive, what makes them so, and whether only telemetry shows it
    (`disguised`: pods whose profile the simulator set behind a neutral image)."""
    telemetry = dict(zip(snapshot.names, snapshot.states, strict=True))
    table = Table.grid(padding=(0, 2))
    table.add_column("node", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=1)
    for node in sorted(state.nodes):
        for key in outcomes.noisy_neighbours(state, node):
            table.add_row(node, escape(_noise(state.pod(key), telemetry.get(node), hidden=key in disguised)))
    if not table.row_count:
        table.add_row("-", "no node has a noisy neighbour")
    table.title = "Noisy nodes (the simulator's ground truth, before the pods arrive)"
    table.title_justify = "left"
    return table


def _noise(pod: Workload, state: NodeState | None, *, hidden: bool) -> str:
    """One noisy neighbour in words: what it does, what telemetry shows, and who can see it."""
    what = " and ".join(DIMENSIONS[d][0] if d in DIMENSIONS else f"contends for {d}" for d in pod.profile.noisy)
    what = what or "slows its neighbours down"
    shown = []
    for dimension in pod.profile.noisy:
        if dimension in DIMENSIONS and state is not None:
            _, metric, label, scale = DIMENSIONS[dimension]
            value = state.value(metric)
            if value is not None:
                shown.append(f"{label} {value * scale:.0f}%")
    telemetry = f" (telemetry: {', '.join(shown)})" if shown else ""
    if pod.declared_noisy:
        seen = f"visible: annotated {PREFIX}noisy={','.join(pod.declared_noisy)}"
    elif not hidden:
        seen = "not annotated noisy; its image says what it is"
    elif shown:
        seen = "hidden: a neutral image and no noisy annotation; only telemetry reveals it"
    else:
        seen = "hidden: a neutral image, no noisy annotation, and no counter on this node shows it"
    return f"{pod.key} {what}{telemetry}; {seen}."


def _replay_default(
    before: Snapshot, start: ClusterState, pods: Sequence[Mapping[str, Any]]
) -> dict[str, tuple[str | None, ClusterState]]:
    """kube-scheduler's default scoring over the same pods, in order, from the same start; its final state."""
    decider = Decider(heuristic=HeuristicTier(weights=KUBE_SCORE_WEIGHTS), clock=SystemClock())
    snapshot, state, chosen = before, start, {}
    for raw in pods:
        unbound = {**raw, "spec": {**raw["spec"], "nodeName": None}, "status": {}}
        pod = parse_pod(unbound)
        node = decider.decide(pod, snapshot).node
        if node is not None:
            snapshot = snapshot.with_pod(pod, node)
            state = state.with_pod(workload(unbound), node)
        chosen[pod.key] = node
    return {key: (node, state) for key, node in chosen.items()}


def _predicted(state: ClusterState, key: str, node: str | None) -> tuple[float | None, bool]:
    """The pod's predicted P99 on `node` in `state`, and whether a noisy neighbour shares the node."""
    if node is None:
        return None, False
    p99 = oracle.predict(state, state.pod(key), [node])[node].p99_ms
    return p99, bool(outcomes.noisy_neighbours(state, node, excluding=key))


def _placements(
    world: SimCluster, keys: Sequence[str], state: ClusterState, default: Mapping[str, tuple[str | None, ClusterState]]
) -> list[Placement]:
    out = []
    for key in keys:
        pod = _pod(world, key) or {"metadata": {"name": key}, "spec": {}}
        node = pod["spec"].get("nodeName")
        failure = None if node else _failure(world, key)
        annotations = pod["metadata"].get("annotations") or {}
        default_node, default_state = default.get(key, (None, state))
        p99, noisy = _predicted(state, key, node)
        default_p99, default_noisy = _predicted(default_state, key, default_node)
        target = _number(annotations.get(PREFIX + "p99-target-ms"))
        critical = oracle.is_latency_critical(workload(pod)) if pod["spec"].get("containers") else False
        out.append(
            Placement(
                key=key,
                node=node,
                tier=annotations.get(PREFIX + "decision-tier", "?")
                if node
                else ("unschedulable" if failure else "pending"),
                reason=annotations.get(PREFIX + "decision-reason", "") if node else failure or "not decided in time",
                p99_ms=p99,
                noisy=noisy,
                default_node=default_node,
                default_p99_ms=default_p99,
                default_noisy=default_noisy,
                target_ms=target,
                latency_critical=critical,
            )
        )
    return out


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _report(placements: Sequence[Placement]) -> Table:
    """One row per pod: where it went and why (wrapped, never cut), and the default's choice beside it."""
    table = Table(
        title="Placements: here vs kube-scheduler's default scoring (predicted P99)",
        show_lines=True,
        expand=False,
    )
    table.add_column("pod, and why", overflow="fold", ratio=1, min_width=20)
    table.add_column("here", no_wrap=True)
    table.add_column("P99", no_wrap=True, justify="right")
    table.add_column("default", no_wrap=True)
    table.add_column("P99", no_wrap=True, justify="right")
    for p in placements:
        target = f"\ntarget {p.target_ms:g} ms" if p.target_ms is not None else ""
        table.add_row(
            f"[bold]{escape(p.key)}[/]\n[dim]{escape(p.tier)}:[/] {escape(p.reason)}",
            _node(p.node, p.noisy),
            _ms(p.p99_ms) + target,
            _node(p.default_node, p.default_noisy),
            _ms(p.default_p99_ms),
        )
    return table


def _node(node: str | None, noisy: bool) -> str:
    if node is None:
        return "-"
    return f"{node}\n[red]noisy[/]" if noisy else node


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _crowding(placements: Sequence[Placement]) -> list[str]:
    """Why one node took most of the pods, when it did: the quietest node wins each pod, and nothing spreads."""
    placed = [p for p in placements if p.node]
    if len(placed) < 3:
        return []
    node, count = Counter(p.node for p in placed).most_common(1)[0]
    if count * 2 <= len(placed):
        return []
    return [
        f"Why {node} took {count} of {len(placed)} pods: each pod goes where it is predicted to meet the least "
        f"interference, and {node} kept winning; nothing here pushes back. Soft spreading (PodTopologySpread's "
        "system defaults) applies to the pods a Service or their ReplicaSet, StatefulSet or ReplicationController "
        "selects; these are bare pods of different workloads that no Service selects, which kube-scheduler does "
        "not spread either. kube-scheduler's default scoring spreads by free capacity instead (NodeResourcesFit), "
        "as the default column shows."
    ]


def _summary(placements: Sequence[Placement]) -> list[str]:
    """Two lines: latency-critical pods kept off noisy nodes, and their predicted P99 against the default's."""
    pairs = [
        (p, p.p99_ms, p.default_p99_ms)
        for p in placements
        if p.latency_critical and p.p99_ms is not None and p.default_p99_ms is not None
    ]
    if not pairs:
        return ["No latency-critical pod was placed: nothing to compare."]
    n = len(pairs)
    here, default = sum(p.noisy for p, _, _ in pairs), sum(p.default_noisy for p, _, _ in pairs)
    ratio = math.exp(sum(math.log(theirs / ours) for _, ours, theirs in pairs) / n)
    met = sum(p.target_ms is None or ours <= p.target_ms for p, ours, _ in pairs)
    default_met = sum(p.target_ms is None or theirs <= p.target_ms for p, _, theirs in pairs)
    better = f"{ratio:.2f}x lower" if ratio >= 1 else f"{1 / ratio:.2f}x higher"
    return [
        f"[bold]Latency-critical pods on noisy nodes:[/] {here} of {n} here, {default} of {n} under "
        "kube-scheduler's default scoring.",
        f"[bold]Their predicted P99:[/] {better} here than under the default (geometric mean); "
        f"{met} of {n} within target here, {default_met} of {n} under the default.",
    ]


def _stats(summary: dict[str, Any]) -> Table:
    table = Table(title="Scheduler stats")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("pods_seen", "bound", "unschedulable", "decisions", "fallbacks", "llm_calls", "cache_hit_rate",
                 "breaker_trips", "failed_bindings", "latency_ms_p50", "latency_ms_p99"):  # fmt: skip
        table.add_row(name, str(summary.get(name)))
    return table
