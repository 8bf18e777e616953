"""What `scoring.harm_weight` trades: the production chain replayed at each harm weight on the same scenarios and seeds.

The transformer scores a node by the arriving pod's own predicted P99 times exp(weight x the harm it would do there
to the latency-critical pods already on the node) (`scoring.transformer.scores.cost`). At 1, the default and the
weight the shipped model was trained to rank with, doubling one neighbour's P99 costs as much as doubling the pod's
own; at 0 every pod takes the node where it alone would run best. This replays `benchmark/runner.py`'s scenarios
with the `auto` policy at each weight and tabulates, per scenario and arrival mode, the pooled P99 of the
latency-critical pods (every pod's requests pooled, so it counts the neighbours a placement slows as well as the pod
placed), how many of them end beside a noisy neighbour, and their SLO violations.

    python benchmark/harm_weight.py                          # --quick's scenarios, 2 seeds, weights 1, 0.5, 0
    python benchmark/harm_weight.py --generated 100:300:1380 --generated 40:120:1400 --seeds 3

`--generated NODES:ARRIVALS:SEED` adds a cluster of `sim/scenarios/mixed-100.yaml`'s generator at that size and
first seed (each further seed shifts it by one). Writes the JSON (`--output`) and the markdown table (`--markdown`);
`docs/benchmark/harm-weight.md` quotes its tables, with the commands that made them.
"""

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark import runner  # noqa: E402
from benchmark.pile_calibration import cluster_arg, generated  # noqa: E402
from cluster import config  # noqa: E402

DEFAULT_WEIGHTS = (1.0, 0.5, 0.0)
POLICY = "auto"


def weights_arg(text: str) -> tuple[float, ...]:
    """`--weights 1,0.5,0`: the harm weights to replay, each from 0 to 10 (`scoring.harm_weight`'s range)."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected weights separated by commas, as 1,0.5,0, got {text!r}") from None
    if not values or not all(0.0 <= v <= 10.0 for v in values):
        raise argparse.ArgumentTypeError(f"every weight must be from 0 to 10, got {text!r}")
    return tuple(dict.fromkeys(values))


def scenario_file(directory: Path, nodes: int, arrivals: int, seed: int) -> str:
    """A scenario file of the datacenter generator at that size and first seed, written under `directory`."""
    name = f"generated-{nodes}-{arrivals}-{seed}"
    data = generated(name, nodes, arrivals, seed)
    data["description"] = f"{nodes} nodes, {arrivals} arrivals: {data['description']}"
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def cell(entry: dict[str, Any]) -> dict[str, Any]:
    """One scenario and mode at one weight: the chain's pooled P99 (mean over seeds) and its counts over seeds."""
    runs = [r["summary"] for r in entry["runs"] if r["policy"] == POLICY]
    return {
        "p99_ms": entry["summary"][POLICY]["p99_ms"]["mean"],
        "beside_noisy": sum(s["on_noisy_nodes"] for s in runs),
        "slo_violations": sum(s["slo_violations"] for s in runs),
        "latency_critical": sum(s["latency_critical_placed"] for s in runs),
    }


def sweep(weights: Sequence[float], runner_argv: list[str], settings: config.Settings) -> dict[str, Any]:
    """Per scenario and mode, per weight, the chain's cell; the runner's scenarios, seeds and modes."""
    args = runner.parse_args(runner_argv)
    cells: dict[str, dict[str, Any]] = {}
    for weight in weights:
        scoring = settings.scoring.model_copy(update={"harm_weight": weight})
        result = runner.run(args, settings.model_copy(update={"scoring": scoring}))
        for key, entry in result["scenarios"].items():
            row = cells.setdefault(
                key, {"scenario": entry["scenario"], "mode": entry["mode"], "held_out": entry["held_out"]}
            )
            row.setdefault("by_weight", {})[f"{weight:g}"] = cell(entry)
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": runner.machine(),
        "weights": [f"{w:g}" for w in weights],
        "seeds": args.seeds,
        "requests": args.requests,
        "cells": cells,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    """The table: per scenario and mode, the pooled P99, the count beside noisy neighbours and the SLO violations
    at each weight (the first weight is the reference the others are compared with)."""
    weights = result["weights"]
    head = ["scenario", "held out", "arrivals"]
    head += [f"P99 ms at {w}" for w in weights] + [f"beside noisy at {w}" for w in weights]
    head += [f"SLO violations at {w}" for w in weights]
    lines = [
        f"Generated by `{command}` ({result['seeds']} seeds per scenario, {result['requests']:,} requests per pod;"
        " the production chain, `auto`, at each `scoring.harm_weight`; counts are latency-critical pods summed over"
        " the seeds).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in result["cells"].values():
        by = row["by_weight"]
        first = by[weights[0]]
        p99 = [f"{first['p99_ms']:.3f}"] + [
            f"{by[w]['p99_ms']:.3f} ({100 * (by[w]['p99_ms'] / first['p99_ms'] - 1):+.1f}%)" for w in weights[1:]
        ]
        noisy = [f"{by[w]['beside_noisy']} of {by[w]['latency_critical']}" for w in weights]
        slo = [str(by[w]["slo_violations"]) for w in weights]
        cells = [row["scenario"], "yes" if row["held_out"] else "no", row["mode"], *p99, *noisy, *slo]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=weights_arg, default=DEFAULT_WEIGHTS, help="harm weights (default 1,0.5,0)")
    parser.add_argument("--seeds", type=int, help="seeds per scenario (default: 2 for --quick's, else the runner's 5)")
    parser.add_argument("--scenario", action="append", help="a built-in scenario or a file (default: --quick's)")
    parser.add_argument(
        "--generated", action="append", type=cluster_arg, default=[], help="NODES:ARRIVALS:FIRST_SEED (repeatable)"
    )
    parser.add_argument("--requests", type=int, help="requests sampled per pod (default: the runner's)")
    parser.add_argument("--config", help="config file (default: config.yaml if present); its harm_weight is replaced")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    settings = runner.load_settings(args.config, args.scenario or [])
    if settings is None:
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        names = list(args.scenario or []) + [scenario_file(Path(scratch), *g) for g in args.generated]
        runner_argv = ["--policy", POLICY, "--no-burst"] + ["--quick"] * (not names)
        runner_argv += [a for name in names for a in ("--scenario", name)]
        runner_argv += ["--seeds", str(args.seeds)] * (args.seeds is not None)
        runner_argv += ["--requests", str(args.requests)] * (args.requests is not None)
        result = sweep(args.weights, runner_argv, settings)
    command = "python benchmark/harm_weight.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    table = markdown(result, command)
    print(table)
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
