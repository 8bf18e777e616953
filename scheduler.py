"""ai-llama-scheduler: an interference-aware, LLM-assisted Kubernetes scheduler.

A thin command line over the packages: `decide` (offline what-if). Every expected failure —
bad config, bad manifest, unreachable cluster — ends in one line on stderr and exit status 2.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from cluster import config
from cluster.manifests import load_pods, load_snapshot
from cluster.needs import parse_needs
from cluster.objects import ManifestError
from scoring.assemble import TierUnavailableError, build_decider
from scoring.runtime import ProfileError

EXIT_OK = 0
EXIT_UNDECIDED = 1
EXIT_USAGE = 2


def _decide(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    snapshot = load_snapshot(args.snapshot)
    pods = load_pods(args.pod)
    decider = build_decider(settings, tier=args.tier, strategy=args.strategy)
    undecided = False
    rows = []
    for pod in pods:
        parsed = parse_needs(pod)
        decision = decider.decide(pod, snapshot, warnings=parsed.warnings)
        if decision.node is not None:
            snapshot = snapshot.with_pod(pod, decision.node)
        undecided = undecided or decision.declined
        if args.json:
            print(json.dumps(decision.to_json(), separators=(",", ":")), flush=True)
        else:
            rows.append(decision)
    if not args.json:
        _print_table(rows)
    return EXIT_UNDECIDED if undecided else EXIT_OK


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scheduler.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    decide = commands.add_parser("decide", help="decide pods against a cluster snapshot, offline")
    decide.add_argument("--snapshot", required=True, help="kubectl get nodes,pods -A -o json output (JSON or YAML)")
    decide.add_argument("--pod", required=True, help="a Pod manifest, a List of pods, or multi-document YAML")
    decide.add_argument("--tier", choices=("auto", "llm", "transformer", "heuristic"), default="auto")
    decide.add_argument("--strategy", choices=("resource_balanced", "least_loaded", "round_robin"))
    decide.add_argument("--config", help="config file (default: config.yaml when present)")
    decide.add_argument("--json", action="store_true", help="one JSON object per pod, one per line")
    decide.set_defaults(run=_decide)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (config.ConfigError, ManifestError, ProfileError, TierUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
