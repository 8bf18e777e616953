"""Assembles and runs the production scheduler from settings: the composition root of `run`.

`build` wires the decision chain, the telemetry source, the writer and the loop around one API
connection; `run` adds what a long-running process needs — logging, `/metrics`, leader election,
signal handling — and returns the exit status. The demo, the benchmarks and the end-to-end tests
call `build` against the emulated cluster so they exercise exactly what production runs.
"""

import gc
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from cluster.clock import Clock, SystemClock
from cluster.config import ConfigError, Settings
from cluster.signals import on_stop_signals
from runtime.assemble import TierChoice, build_decider
from runtime.kube import ApiException, Kube, KubeConnectError, TransportError, identity
from runtime.leader import CampaignEndedError, FencedLock, FencedWriter, LeaseGate
from runtime.loop import LoopSettings, Scheduler
from runtime.writer import Writer
from scoring.collector import Collector
from scoring.decide import Decider
from telemetry import logs
from telemetry.server import MetricsServer
from telemetry.sources import Source
from telemetry.sources.file import FileSource
from telemetry.sources.prometheus import PrometheusSettings, PrometheusSource
from telemetry.stats import Stats

log = logging.getLogger("scheduler")


def telemetry_source(settings: Settings, clock: Clock) -> Source | None:
    """None for node annotations (read by the cache from the node informer), else the configured poller."""
    telemetry = settings.telemetry
    if telemetry.source == "prometheus":
        return PrometheusSource(
            PrometheusSettings(
                url=telemetry.prometheus_url, interval_seconds=telemetry.poll_interval, queries=telemetry.queries
            ),
            clock=clock,
        )
    if telemetry.source == "file":
        return FileSource(str(telemetry.file_path))
    return None


def build(
    settings: Settings,
    kube: Kube,
    *,
    clock: Clock | None = None,
    stats: Stats | None = None,
    leading: bool = True,
    tier: TierChoice = "auto",
    decider: Decider | None = None,
    gate: LeaseGate | None = None,
) -> Scheduler:
    """The production scheduler; `tier` forces one tier (as `decide --tier`), `decider` replaces the chain
    (the benchmark runs kube-scheduler's default scoring and the oracle through the same loop). The
    `auto` chain's transformer tier loads on a thread of its own, while the informers list: readiness
    does not wait for torch (`scoring.transformer.loading` says what decisions do meanwhile). With a
    leader-election `gate`, every binding first checks that the lease is certainly this replica's."""
    clock = clock or SystemClock()
    stats = stats or Stats(profile=settings.scheduler.name)
    decider = decider or build_decider(settings, tier=tier, clock=clock, stats=stats, background=True)
    has_llm = any(t.tier.value == "llm" for t in decider.tiers)
    loop_settings = LoopSettings(
        scheduler_name=settings.scheduler.name,
        shadow_mode=settings.scheduler.shadow_mode,
        decision_workers=settings.llm.max_concurrency + 1 if has_llm else 1,
        stats_interval=settings.scheduler.stats_interval,
        max_age_seconds=settings.telemetry.max_age_seconds,
    )
    writer_options: dict[str, Any] = {
        "scheduler_name": settings.scheduler.name,
        "instance": identity(),
        "clock": clock,
        "workers": settings.scheduler.bind_workers,
    }
    writer = Writer(kube, **writer_options) if gate is None else FencedWriter(kube, gate=gate, **writer_options)
    return Scheduler(
        kube=kube,
        decider=decider,
        settings=loop_settings,
        clock=clock,
        stats=stats,
        writer=writer,
        source=telemetry_source(settings, clock),
        leading=leading,
        collector=Collector.from_settings(settings, clock=clock),
    )


def connect(settings: Settings, *, server: str | None = None) -> Kube:
    """A connection that has answered once, or KubeConnectError saying where and why not."""
    kube = Kube.connect(
        kubeconfig=settings.scheduler.kubeconfig,
        server=server,
        timeout=settings.scheduler.request_timeout,
        pool_size=settings.scheduler.bind_workers + 8,
    )
    try:
        kube.version()
    except (ApiException, *TransportError) as exc:
        raise KubeConnectError(f"cannot reach the Kubernetes API server at {kube.host}: {_cause(exc)}") from None
    return kube


def _cause(exc: BaseException) -> str:
    """The root of a connection error in a few words ("Connection refused", "HTTP 401 Unauthorized")."""
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    found = re.search(r"\[Errno -?\d+\] ([^\"')]+)", str(exc))
    return found.group(1) if found else type(exc).__name__


@dataclass(frozen=True)
class Campaign:
    """The lease this replica campaigns for, and the library's thread campaigning for it."""

    lock: FencedLock
    thread: threading.Thread


def run(settings: Settings, kube: Kube, *, stop: threading.Event | None = None) -> int:
    """Schedule until SIGTERM/SIGINT (or `stop`), then shut down cleanly; returns the exit status."""
    stop = stop or threading.Event()
    on_stop_signals(stop.set)
    clock = SystemClock()
    election = settings.leader_election
    gate = LeaseGate(clock, validity=election.renew_deadline) if election.enabled else None
    scheduler = build(settings, kube, clock=clock, leading=not election.enabled, gate=gate)
    server = None
    if settings.metrics.port:
        address, port = settings.metrics.address, settings.metrics.port
        try:
            server = MetricsServer(
                scheduler.stats.registry, ready=scheduler.ready, unhealthy=scheduler.health, address=address, port=port
            ).start()
        except OSError as exc:
            raise ConfigError(
                f"metrics.address {address!r}, metrics.port {port}: cannot listen ({exc.strerror or exc}); "
                "choose a free port, or metrics.port: 0 to run without the server"
            ) from None
    log.info(
        "watching for pods with schedulerName=%s on %s (tiers: %s)",
        settings.scheduler.name,
        kube.host,
        " -> ".join([t.tier.value for t in scheduler.decider.tiers] + ["heuristic"]),
    )
    # The informers' first lists allocate millions of objects that live as long as the process and form no
    # cycles: collecting while they arrive only rescans them (a quarter of start-up's CPU at 50,000 pods).
    gc.disable()
    try:
        scheduler.start()
        lost_lease = threading.Event()
        campaign: Campaign | None = None
        if gate is not None:
            campaign = _elect(settings, kube, scheduler, gate=gate, clock=clock, stop=stop, lost=lost_lease)
        if scheduler.wait_ready(timeout=60):
            scheduler.stats.ready.set(1)
            gc.freeze()  # the synced cluster is long-lived: spare the collector rescanning it between decisions
    finally:
        gc.enable()
    stop.wait()
    scheduler.stop()
    if campaign is not None:
        campaign.lock.release()  # after the in-flight bindings: a standby takes over at its next retry
        # The library's thread logs as it campaigns: end it before the interpreter does, or a line it writes
        # while the interpreter finalises can abort the process (a daemon thread holding stderr's lock).
        campaign.thread.join(timeout=election.retry_period + settings.scheduler.request_timeout)
    if server is not None:
        server.stop()
    return 1 if lost_lease.is_set() else 0


def _elect(
    settings: Settings,
    kube: Kube,
    scheduler: Scheduler,
    *,
    gate: LeaseGate,
    clock: Clock,
    stop: threading.Event,
    lost: threading.Event,
) -> Campaign:
    """Campaign for the lease on a thread of its own; scheduling follows every renewal (see runtime.leader).

    Losing the lease ends the process (exit 1), as kube-scheduler does: it restarts as a follower.
    """
    election = settings.leader_election

    def stopped() -> None:
        scheduler.set_leading(False)
        lost.set()
        stop.set()

    def leading(now: bool) -> None:
        if not now:
            log.warning("renewing the lease failed; not scheduling until a renewal succeeds")
        scheduler.set_leading(now)

    def taken(holder: str) -> None:
        log.warning("the lease %s/%s is held by %s; stopping", election.lease_namespace, election.lease_name, holder)
        stopped()

    elector = kube.leader_election(
        name=election.lease_name,
        namespace=election.lease_namespace,
        identity=identity(),
        lease_duration=election.lease_duration,
        renew_deadline=election.renew_deadline,
        retry_period=election.retry_period,
        on_started=lambda: None,  # the lock's first successful write starts scheduling
        on_stopped=stopped,
    )
    lock = FencedLock(elector.election_config.lock, gate=gate, clock=clock, on_leading=leading, on_lost=taken)
    elector.election_config.lock = lock

    def campaign() -> None:
        try:
            elector.run()
        except CampaignEndedError:
            return  # lost or released: the callbacks have already said so
        except Exception:
            log.exception("leader election failed; stopping")
            stopped()

    thread = threading.Thread(target=campaign, name="leader-election", daemon=True)
    thread.start()
    return Campaign(lock, thread)


def setup_logging(settings: Settings) -> None:
    token = settings.huggingface_token.get_secret_value() if settings.huggingface_token else ""
    logs.setup(level=settings.logging.level, fmt=settings.logging.format, secrets=[token])


__all__ = ["KubeConnectError", "build", "connect", "run", "setup_logging"]
