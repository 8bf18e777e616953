"""ai-llama-scheduler: an interference-aware, LLM-assisted Kubernetes scheduler.

A thin command line over the packages: `run` (the scheduler, against a cluster), `check` (the
preflight), `demo` (the embedded emulated cluster), `decide` (offline what-if) and `stats` (review a
log). Every expected failure — bad config, bad manifest, unreachable cluster — ends in one line on
stderr and exit 2; `check` reports its findings as a table instead, and exits 1 when one failed.
"""

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from cluster import config, estimate
from cluster.clock import SystemClock
from cluster.errors import UserError
from cluster.manifests import load_pods, load_snapshot
from cluster.userfiles import clip
from runtime.assemble import build_decider
from runtime.placed_log import PlacedLog

EXIT_OK = 0
EXIT_UNDECIDED = 1
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a writer whose reader (`| head`) went away."""
MAX_ERROR = 400
"""Characters of an error line: enough for a path, a key and a value, not for a whole expanded document."""


def _decide(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    snapshot = load_snapshot(args.snapshot)
    pods = load_pods(args.pod)
    decider = build_decider(settings, tier=args.tier, strategy=args.strategy, every_node=True)
    gc.freeze()  # the loaded cluster lives until exit: keep the collector from rescanning it between pods
    undecided = False
    rows = []
    placed = PlacedLog()  # each pod decided counts in the next pods' estimate, appended rather than rebuilt per pod
    now = SystemClock().now()
    for i, pod in enumerate(pods):
        seen = estimate.apply(snapshot, placed.view(snapshot.table))
        decision = decider.decide(pod, seen)
        counted = estimate.summary(seen) if args.json else {}  # only `--json` shows it, so only it pays for it
        decision = replace(decision, estimate=counted) if counted else decision
        if decision.node is not None:
            snapshot = snapshot.with_pod(pod, decision.node)
            placed.add(f"{i}:{pod.key}", replace(pod, node_name=decision.node), now)  # a repeated name counts twice
        undecided = undecided or decision.declined
        if args.json:
            print(json.dumps(decision.to_json(), separators=(",", ":")), flush=True)
        else:
            rows.append(decision)
    if not args.json:
        _print_table(rows)
    return EXIT_UNDECIDED if undecided else EXIT_OK


def _settings(args: argparse.Namespace) -> config.Settings:
    """The config, with `--kubeconfig` over `scheduler.kubeconfig`."""
    settings = config.load(args.config)
    if args.kubeconfig:
        settings = settings.model_copy(
            update={"scheduler": settings.scheduler.model_copy(update={"kubeconfig": args.kubeconfig})}
        )
    return settings


def _run(args: argparse.Namespace) -> int:
    from runtime import app  # noqa: PLC0415 - the API runtime is only needed by this command

    settings = _settings(args)
    app.setup_logging(settings)
    try:
        kube = app.connect(settings, server=args.server)
    except app.KubeConnectError as exc:
        raise app.KubeConnectError(
            f"{exc} (`python scheduler.py check` says what is missing; `python scheduler.py demo` runs an emulated "
            "cluster)"
        ) from None
    return app.run(settings, kube)


def _check(args: argparse.Namespace) -> int:
    from cluster.clock import SystemClock  # noqa: PLC0415
    from runtime import app, preflight  # noqa: PLC0415 - the API runtime is only needed by this command

    default = "config.yaml" if Path("config.yaml").exists() else "the defaults (no config.yaml)"
    where = args.config or default
    checks = preflight.run(
        lambda: _settings(args),
        lambda settings: app.connect(settings, server=args.server),
        where=where,
        clock=SystemClock(),
    )
    if args.json:
        print(json.dumps({"ok": not preflight.failed(checks), "checks": [c.to_json() for c in checks]}))
    else:
        _print_checks(checks)
    return EXIT_CHECK_FAILED if preflight.failed(checks) else EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from runtime import app, demo  # noqa: PLC0415 - the simulator is only needed by this command

    settings = config.load(args.config)
    app.setup_logging(
        settings.model_copy(update={"logging": settings.logging.model_copy(update={"level": args.log_level})})
    )
    return demo.run(settings, scenario=args.scenario, pods_file=args.pods, serve=args.serve)


def _stats(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415 - only the human output needs rich
    from rich.table import Table  # noqa: PLC0415

    from telemetry import review  # noqa: PLC0415

    try:
        with open(args.logfile, encoding="utf-8", errors="replace") as handle:
            result = review.review(handle)
    except OSError as exc:
        raise UserError(f"{args.logfile}: cannot read ({exc.strerror})") from exc
    if not result.processes:
        raise UserError(
            f"{args.logfile}: no scheduler log lines among its {result.lines} line(s) "
            "(expected the text or JSON lines of `scheduler.py run` at log level INFO)"
        )
    if args.json:
        print(json.dumps(review.report_json(result, source=args.logfile)))
        return EXIT_OK
    sections = [(f"process {i}", p) for i, p in enumerate(result.processes, 1)] if len(result.processes) > 1 else []
    console = Console()
    for title, process in [*sections, ("total" if sections else "", result.total())]:
        table = Table(title=f"Scheduler log review: {args.logfile}" + (f", {title}" if title else ""))
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in review.rows(process):
            table.add_row(name, value)
        console.print(table)
    print(f"{result.lines} lines read, {result.skipped} not scheduler events")
    return EXIT_OK


def _print_table(decisions: Sequence) -> None:
    from rich.console import Console  # noqa: PLC0415 - only the human output needs rich
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Decisions")
    for column in ("pod", "node", "tier", "score", "latency ms"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for d in decisions:
        score = "" if d.score is None else f"{d.score:.1f}"
        table.add_row(d.pod, d.node or "-", d.tier.value, score, f"{d.latency_ms:.2f}", d.reason)
    Console(width=max(Console().width, 140)).print(table)


def _print_checks(checks: Sequence) -> None:
    from rich.console import Console  # noqa: PLC0415 - only the human output needs rich
    from rich.table import Table  # noqa: PLC0415

    styles = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    table = Table(title="Preflight")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=3)
    table.add_column("fix", overflow="fold", ratio=2)
    for c in checks:
        verdict = c.verdict.value
        table.add_row(c.name, f"[{styles[verdict]}]{verdict.upper()}[/]", c.detail, c.fix)
    console = Console(width=max(Console().width, 160))
    console.print(table)
    counts = {v: sum(c.verdict.value == v for c in checks) for v in styles}
    console.print(", ".join(f"{n} {v}" for v, n in counts.items() if n))


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (the usage itself is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {clip(message, MAX_ERROR)} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scheduler.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    decide = commands.add_parser("decide", help="decide pods against a cluster snapshot, offline")
    decide.add_argument("--snapshot", required=True, help="kubectl get nodes,pods -A -o json output (JSON or YAML)")
    decide.add_argument("--pod", required=True, help="a Pod manifest, a List of pods, or multi-document YAML")
    decide.add_argument("--tier", choices=("auto", "llm", "transformer", "heuristic"), default="auto")
    decide.add_argument("--strategy", choices=("resource_balanced", "least_loaded", "round_robin"))
    decide.add_argument("--config", help="config file (default: config.yaml when present)")
    decide.add_argument("--json", action="store_true", help="one JSON object per pod, one per line")
    decide.set_defaults(run=_decide)
    run = commands.add_parser("run", help="schedule pods on a cluster (kubeconfig or in-cluster)")
    run.add_argument("--config", help="config file (default: config.yaml when present)")
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    run.add_argument("--server", help="API server URL without credentials (for the emulated cluster)")
    run.set_defaults(run=_run)
    check = commands.add_parser("check", help="preflight: config, cluster, permissions, telemetry, weights, LLM")
    check.add_argument("--config", help="config file (default: config.yaml when present)")
    check.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    check.add_argument("--server", help="API server URL without credentials (for the emulated cluster)")
    check.add_argument("--json", action="store_true", help="the rows as one JSON object")
    check.set_defaults(run=_check)
    demo = commands.add_parser("demo", help="run the scheduler against the embedded simulated cluster")
    demo.add_argument("--scenario", default="seed-001", help="a scenario file or built-in name (default seed-001)")
    demo.add_argument("--pods", default="ai-test-pods.yaml", help="pods to create (default ai-test-pods.yaml)")
    demo.add_argument("--serve", action="store_true", help="keep the cluster up for kubectl until Ctrl-C or SIGTERM")
    demo.add_argument("--config", help="config file (default: config.yaml when present)")
    demo.add_argument(
        "--log-level",
        type=str.upper,
        choices=config.LOG_LEVELS,
        default="WARNING",
        help="scheduler log level during the demo (default WARNING)",
    )
    demo.set_defaults(run=_demo)
    stats = commands.add_parser("stats", help="summarise a scheduler log (text or JSON lines) into a table")
    stats.add_argument("logfile")
    stats.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    stats.set_defaults(run=_stats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a UserError is one line on stderr and exit 2, a closed stdout a quiet exit."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except UserError as exc:
        print(f"error: {clip(str(exc), MAX_ERROR)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left (`decide --json | head`): point stdout at /dev/null so the interpreter's final
        # flush does not raise again, as the Python documentation's SIGPIPE note advises.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
