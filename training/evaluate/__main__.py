"""`python -m training.evaluate`: evaluate the transformer weights on held-out data, rewrite the model card, gate.

Held-out workload profiles and scenario families of the simulator (top-1 agreement with the oracle, mean
and p95 slowdown regret; the heuristic tier and kube-scheduler's default scoring alongside) and the
real-counter pairs of the held-out KubeMarla campaigns (`training.evaluate.report`). Exit status 1 when
the transformer falls below `scoring.accuracy_floor` or `scoring.pair_accuracy_floor` or does not beat
the heuristic tier's regret (so a cron job can refuse a retrained model), 2 when the weights or the
inputs are unusable, 0 otherwise.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cluster import config
from scoring.transformer import ModelUnavailableError, model, model_path
from training import counters
from training.evaluate import card, families
from training.evaluate import report as evaluation
from training.evaluate.card_tables import LABELS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: config.yaml when present)")
    parser.add_argument("--model", help="weights file (default: scoring.model_path)")
    parser.add_argument("--decisions", type=int, default=1500, help="simulated clusters per held-out set")
    parser.add_argument("--counters", default=str(counters.DATA), help="the KubeMarla measurements CSV")
    parser.add_argument("--card", default=str(card.CARD), help="model card to rewrite")
    parser.add_argument("--no-card", action="store_true", help="leave the model card alone")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _table(result: evaluation.Report) -> Table:
    table = Table(title="Held-out evaluation (regret: pick's slowdown over the oracle's - 1)")
    for column in ("set", "policy", "decisions", "top-1", "strict", "mean regret", "p95 regret"):
        table.add_column(column, justify="left" if column in ("set", "policy") else "right")
    for name, policies in result.held_out.items():
        for policy, m in policies.items():
            table.add_row(
                name, LABELS[policy], str(m.decisions), f"{m.top1:.3f}", f"{m.strict_top1:.3f}",
                f"{m.mean_regret:.4f}", f"{m.p95_regret:.4f}",
            )  # fmt: skip
    for policy, by_campaigns in result.pairs.items():
        for campaigns, pairs in by_campaigns.items():
            table.add_row("real counters", LABELS[policy], str(pairs.pairs), f"{pairs.accuracy:.3f}", "", "", "",
                          end_section=False, style="dim" if campaigns != "held-out campaigns" else None)  # fmt: skip
    return table


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        scoring = config.load(args.config).scoring
        weights = Path(args.model) if args.model else model_path(scoring.model_path)
        scorer = model.Scorer.load(weights, threads=scoring.threads)
        groups = counters.load(args.counters)
    except (config.ConfigError, ModelUnavailableError, counters.CountersError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluation.run(scorer, decisions=args.decisions, groups=groups, progress=not args.quiet)
    problems = evaluation.gate(result, scoring)
    if args.json:
        out = {
            "held_out": {s: {p: asdict(m) for p, m in t.items()} for s, t in result.held_out.items()},
            "by_profile": {s: {p: asdict(m) for p, m in t.items()} for s, t in result.by_profile.items()},
            "real_counter_pairs": {
                p: {c: {**asdict(a), "accuracy": a.accuracy} for c, a in t.items()} for p, t in result.pairs.items()
            },
            "regimes": result.regimes,
            "by_family": {f: {p: asdict(m) for p, m in t.items()} for f, t in result.by_family.items()},
            "gate": problems,
        }
        print(json.dumps(out))
    else:
        Console().print(_table(result))
    if not args.no_card:
        card.write(Path(args.card), scorer, weights, result, timing=None)
        print(f"chain-order evidence: {families.write_evidence(weights, result.by_family)}")
    for problem in problems:
        print(f"gate: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
