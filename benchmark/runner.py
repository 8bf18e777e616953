"""The noisy-neighbour placement benchmark: every policy through the real scheduler loop, measured by the model.

For each scenario of `sim/scenarios/` (or those named), each arrival mode, each telemetry period and each seed,
every policy of `benchmark/policies.py` replays the scenario's arrivals, in order, through the production loop
against the emulated cluster (`benchmark/replay.py`); `benchmark/measure.py` then computes, for the
latency-critical arrivals, P50/P90/P95/P99 from per-request samples of the calibrated interference model, the
share on nodes with noisy neighbours, SLO violations and regret against the oracle; and, per policy, decision
latency and pods bound per second in a burst. Seeds vary the scenario's seed (a generated cluster is
drawn anew; every scenario's telemetry noise and agent phases change) and the latency sampling.

Arrival modes: `burst` creates every arrival at the scenario's start (`sim.scenario.as_burst`: no NodeState is
published between them, so every placement after the first outruns the telemetry); `steady` creates each at its
own time in the scenario, with the node agents publishing meanwhile. Telemetry periods (`--periods 10,30,60`)
set how often each node publishes its NodeState; a burst runs at the first period only, as no publication falls
between its arrivals.

    python benchmark/runner.py [--quick | --smoke] [--seeds N] [--scenario NAME ...] [--policy NAME ...]
                               [--mode burst|steady ...] [--periods S[,S...]] [--requests N] [--output FILE]

`--quick` runs every scenario except the 100-node `mixed-100` (name it with `--scenario` to add it: it alone
takes longer than all the others together), 2 seeds, both modes, telemetry every 30 s.
Writes every raw number to `benchmark/results/<timestamp>.json` and prints the summary table;
`benchmark/visualize.py --input FILE` draws the charts and `benchmark/report.py --input FILE --readme`
puts the table into README.md.
"""

import argparse
import functools
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # noqa: E402

from benchmark import aggregate, measure, policies, realcounters, replay  # noqa: E402
from benchmark.report import console_tables  # noqa: E402
from cluster import config  # noqa: E402
from sim import dataset  # noqa: E402
from sim import scenario as scenarios  # noqa: E402
from telemetry import logs  # noqa: E402

RESULTS = ROOT / "benchmark" / "results"
FIRST = "seed-001"
"""The KubeAttention benchmark's own set-up leads the tables."""
MODES = ("burst", "steady")
SLOW = ("mixed-100",)
"""Scenarios `--quick` leaves out unless named: 100 nodes and 300 arrivals take minutes per policy."""
MODEL = (
    "request latencies are samples of the calibrated interference model (sim/interference.py, fitted to the "
    "KubeMarla measurements in data/), not of real servers"
)


def variant(name: str, index: int) -> scenarios.Scenario:
    """Seed `index` of a scenario: 0 is the file as shipped, k > 0 the same file with its seed plus k."""
    return scenarios.load(name, seed_shift=index)


def arranged(scenario: scenarios.Scenario, mode: str) -> scenarios.Scenario:
    """The scenario as the mode replays it: every arrival at the start (`burst`) or at its own time (`steady`)."""
    return scenarios.as_burst(scenario) if mode == "burst" else scenario


def schedule(modes: list[str], periods: tuple[float, ...]) -> list[tuple[str, float]]:
    """The (mode, period) pairs to run. A burst runs once, at the first period: no NodeState is published between
    its arrivals, so the period cannot change where they go."""
    return [(mode, period) for mode in modes for period in (periods[:1] if mode == "burst" else periods)]


def group_key(name: str, mode: str, period: float) -> str:
    """A results entry's key, also the folder of its charts: `burst-30s/seed-001`."""
    return f"{mode}-{period:g}s/{name}"


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
    scenario: scenarios.Scenario,
    policy: str,
    settings: config.Settings,
    args: argparse.Namespace,
    *,
    period: float,
    throughput: bool,
) -> dict[str, Any]:
    """One replay of one policy on one scenario variant, measured; with `throughput`, also the pods/s burst."""
    build = functools.partial(policies.build, policy, settings)
    placement, built = replay.replay(scenario, settings, build, seed=scenario.seed, telemetry_period=period)
    pods, summary = measure.evaluate(scenario, placement, seed=scenario.seed, requests=args.requests)
    if throughput and not args.no_burst:
        summary["burst"] = replay.burst(scenario, settings, build, seed=scenario.seed)
    return {"policy": policy, "note": built.note, "summary": summary, "pods": pods, "refused": placement.refused}


def scenario_names(args: argparse.Namespace) -> list[str]:
    """The scenarios to run, seed-001 first: those named, or every built-in one (`--quick`: but the slow ones)."""
    if args.scenario:
        return list(args.scenario)
    names = [n for n in scenarios.builtin() if not (args.quick and n in SLOW)]
    return sorted(names, key=lambda n: (n != FIRST, n))


def run(args: argparse.Namespace, settings: config.Settings) -> dict[str, Any]:
    names = scenario_names(args)
    chosen = args.policy or list(policies.POLICIES)
    status: dict[str, dict[str, str]] = {p: {"status": "ran"} for p in chosen}
    result: dict[str, Any] = {"scenarios": {}}
    groups = schedule(args.mode, args.periods)
    tasks = [(name, index, mode, period) for mode, period in groups for name in names for index in range(args.seeds)]
    progress = tqdm(total=len(tasks) * len(chosen), desc="placement benchmark", unit="run", file=sys.stderr)
    for name, index, mode, period in tasks:
        scenario = arranged(variant(name, index), mode)
        entry = result["scenarios"].setdefault(
            group_key(scenario.name, mode, period),
            {
                "scenario": scenario.name,
                "mode": mode,
                "period_seconds": period,
                "family": scenario.family,
                "held_out": scenario.held_out or scenario.family in dataset.EVAL_FAMILIES,
                "description": scenario.description,
                "nodes": len(scenario.nodes),
                "running_pods": len(scenario.pods),
                "arrivals": len(scenario.arrivals),
                "seeds": [],
                "runs": [],
            },
        )
        entry["seeds"].append(scenario.seed)
        # Pods per second do not depend on the mode or the period: timed once, in the first group.
        throughput = (mode, period) == groups[0]
        for policy in chosen:
            progress.set_postfix_str(f"{mode} {period:g}s {name} seed {scenario.seed} {policy}")
            if status[policy]["status"] == "skipped":
                progress.update()
                continue
            try:
                outcome = run_policy(scenario, policy, settings, args, period=period, throughput=throughput)
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


def periods(text: str) -> tuple[float, ...]:
    """`10,30,60` as seconds; each must be positive."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds separated by commas, as 10,30,60, got {text!r}") from None
    if not values or not all(0 < v < math.inf for v in values):
        raise argparse.ArgumentTypeError(f"every period must be a positive number of seconds, got {text!r}")
    return tuple(dict.fromkeys(values))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="every scenario but mixed-100, 2 seeds, both modes, 30 s (minutes)"
    )
    size.add_argument("--smoke", action="store_true", help="seed-001 and heterogeneous, 1 seed, short runs (CI)")
    parser.add_argument("--seeds", type=int, help="seeds per scenario (default 5; --quick 2; --smoke 1)")
    parser.add_argument("--scenario", action="append", help="a built-in scenario name or a file (repeatable)")
    parser.add_argument("--policy", action="append", choices=policies.POLICIES, help="a policy (repeatable)")
    parser.add_argument(
        "--mode", action="append", choices=MODES, help="arrivals all at once or at their own times (default both)"
    )
    parser.add_argument(
        "--periods",
        type=periods,
        default=(30.0,),
        metavar="S[,S...]",
        help="seconds between a node's NodeState publications, one run per value (default 30; e.g. 10,30,60)",
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
    args.mode = [m for m in MODES if m in (args.mode or MODES)]
    return args


def load_settings(path: str | None, names: Sequence[str] = ()) -> config.Settings | None:
    """The benchmark scripts' settings (`path`, else config.yaml if present), quiet logging, and the scenarios
    `names` checked; None after printing what is wrong with either (the scripts then exit 2)."""
    logs.setup(level="WARNING")
    try:
        settings = config.load(path)
        for name in names:
            scenarios.load(name)
    except (config.ConfigError, scenarios.ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.config, args.scenario or [])
    if settings is None:
        return 2
    began = datetime.now(UTC)
    header = {
        "version": 1,
        "time": began.isoformat(timespec="seconds"),
        "machine": machine(),
        "mode": "smoke" if args.smoke else "quick" if args.quick else "full",
        "seeds": args.seeds,
        "requests_per_pod": args.requests,
        "arrival_modes": args.mode,
        "telemetry": {
            "periods_seconds": list(args.periods),
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
