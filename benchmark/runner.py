"""The noisy-neighbour placement benchmark: every policy through the real scheduler loop, measured by the model.

For each scenario of `sim/scenarios/` (or those named) and each seed, every policy of
`benchmark/policies.py` replays the scenario's arrivals, in order, through the production loop against the
emulated cluster (`benchmark/replay.py`); `benchmark/measure.py` then computes, for the latency-critical
arrivals, P50/P90/P95/P99 from per-request samples of the calibrated interference model, the share on
nodes with noisy neighbours, SLO violations and regret against the oracle; and, per policy, decision
latency and pods bound per second in a burst. Seeds vary the scenario's seed (a generated cluster is
drawn anew; every scenario's telemetry noise and agent phases change) and the latency sampling.

    python benchmark/runner.py [--quick | --smoke] [--seeds N] [--scenario NAME ...] [--policy NAME ...]
                               [--telemetry-period S] [--requests N] [--output FILE]

Writes every raw number to `benchmark/results/<timestamp>.json` and prints the summary table;
`benchmark/visualize.py --input FILE` draws the charts and `benchmark/report.py --input FILE --readme`
puts the table into README.md.
"""

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # noqa: E402

from benchmark import aggregate, measure, policies, realcounters, replay  # noqa: E402
from benchmark.report import console_tables  # noqa: E402
from cluster import config  # noqa: E402
from sim import scenario as scenarios  # noqa: E402
from telemetry import logs  # noqa: E402

RESULTS = ROOT / "benchmark" / "results"
FIRST = "seed-001"
"""The KubeAttention benchmark's own set-up leads the tables."""
MODEL = (
    "request latencies are samples of the calibrated interference model (sim/interference.py, fitted to the "
    "KubeMarla measurements in data/), not of real servers"
)


def variant(name: str, index: int) -> scenarios.Scenario:
    """Seed `index` of a scenario: 0 is the file as shipped, k > 0 the same file with its seed plus k."""
    if index == 0:
        return scenarios.load(name)
    path = Path(name) if Path(name).exists() else scenarios.BUILTIN / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    data["seed"] = int(data["seed"]) + index
    return scenarios.parse(data, source=str(path))


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=False)
    return {
        "cpu": model or "unknown CPU",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "commit": commit.stdout.strip() or None,
    }


def run_policy(
    scenario: scenarios.Scenario, policy: str, settings: config.Settings, args: argparse.Namespace
) -> dict[str, Any]:
    """One replay (and burst) of one policy on one scenario variant, measured."""
    build = functools.partial(policies.build, policy, settings)
    placement, built = replay.replay(
        scenario, settings, build, seed=scenario.seed, telemetry_period=args.telemetry_period
    )
    pods, summary = measure.evaluate(scenario, placement, seed=scenario.seed, requests=args.requests)
    if not args.no_burst:
        summary["burst"] = replay.burst(scenario, settings, build, seed=scenario.seed)
    return {"policy": policy, "note": built.note, "summary": summary, "pods": pods, "refused": placement.refused}


def run(args: argparse.Namespace, settings: config.Settings) -> dict[str, Any]:
    names = args.scenario or sorted(scenarios.builtin(), key=lambda n: (n != FIRST, n))
    chosen = args.policy or list(policies.POLICIES)
    status: dict[str, dict[str, str]] = {p: {"status": "ran"} for p in chosen}
    result: dict[str, Any] = {"scenarios": {}}
    tasks = [(name, index) for name in names for index in range(args.seeds)]
    progress = tqdm(total=len(tasks) * len(chosen), desc="placement benchmark", unit="run", file=sys.stderr)
    for name, index in tasks:
        scenario = variant(name, index)
        entry = result["scenarios"].setdefault(
            name,
            {
                "description": scenario.description,
                "nodes": len(scenario.nodes),
                "running_pods": len(scenario.pods),
                "arrivals": len(scenario.arrivals),
                "seeds": [],
                "runs": [],
            },
        )
        entry["seeds"].append(scenario.seed)
        for policy in chosen:
            progress.set_postfix_str(f"{name} seed {scenario.seed} {policy}")
            if status[policy]["status"] == "skipped":
                progress.update()
                continue
            try:
                outcome = run_policy(scenario, policy, settings, args)
            except policies.PolicyUnavailableError as exc:
                status[policy] = {"status": "skipped", "note": str(exc)}
                progress.update()
                continue
            status[policy]["note"] = outcome.pop("note")
            entry["runs"].append({"seed": scenario.seed, **outcome})
            progress.update()
    progress.close()
    for entry in result["scenarios"].values():
        entry["summary"] = aggregate.across_seeds(entry["runs"])
    result["policies"] = status
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="every scenario, 2 seeds (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="seed-001 and heterogeneous, 1 seed, short runs (CI)")
    parser.add_argument("--seeds", type=int, help="seeds per scenario (default 5; --quick 2; --smoke 1)")
    parser.add_argument("--scenario", action="append", help="a built-in scenario name or a file (repeatable)")
    parser.add_argument("--policy", action="append", choices=policies.POLICIES, help="a policy (repeatable)")
    parser.add_argument(
        "--telemetry-period", type=float, default=30.0, help="seconds between a node's NodeState publications"
    )
    parser.add_argument("--requests", type=int, help=f"requests sampled per pod (default {measure.REQUESTS})")
    parser.add_argument("--no-burst", action="store_true", help="skip the pods-per-second burst runs")
    parser.add_argument("--config", help="config file for the policies' settings (default: config.yaml if present)")
    parser.add_argument("--output", type=Path, help="results file (default benchmark/results/<timestamp>.json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = args.seeds or 1
        args.scenario = args.scenario or ["seed-001", "heterogeneous"]
        args.requests = args.requests or 5_000
    args.seeds = args.seeds or (2 if args.quick else 5)
    args.requests = args.requests or measure.REQUESTS
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.telemetry_period <= 0:
        parser.error(f"--telemetry-period must be positive, got {args.telemetry_period}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.setup(level="WARNING")
    try:
        settings = config.load(args.config)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for name in args.scenario or []:
            scenarios.load(name)
    except scenarios.ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    began = datetime.now(UTC)
    header = {
        "version": 1,
        "time": began.isoformat(timespec="seconds"),
        "machine": machine(),
        "mode": "smoke" if args.smoke else "quick" if args.quick else "full",
        "seeds": args.seeds,
        "requests_per_pod": args.requests,
        "telemetry": {
            "period_seconds": args.telemetry_period,
            "cohorts": replay.COHORTS,
            "model": "each node publishes every period in staggered cohorts; arrivals replay in virtual time",
        },
        "latency_source": MODEL,
    }
    result = header | run(args, settings)
    result["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["real_counters"] = realcounters.check(list(result["policies"]), settings)
    output = args.output or RESULTS / f"{began.strftime('%Y%m%dT%H%M%SZ')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    console_tables(result)
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
