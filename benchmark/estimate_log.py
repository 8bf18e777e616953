"""What the fresh-placement estimate costs per decision under sustained load, and how many placements it keeps.

The scheduler cache (`runtime.cache`) is driven on a fake clock: `--nodes` nodes whose agents republish their
NodeState every `--period` seconds in staggered cohorts, and pods assumed at `--rate` per second for `--seconds`.
Reported: the placements within the age limit (`telemetry.max_age_seconds` plus a report interval), how many the
cache still keeps (those an estimator may count: after their node's NodeState, or within the load-aware peers'
look-back before it), how many our estimate counts, and the median wall time of `versioned_snapshot` (the view
every decision takes: telemetry aged, the estimate applied) over `--repeat` calls at the end.

    python benchmark/estimate_log.py [--nodes 1000] [--rate 100] [--seconds 240] [--period 30]
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cluster import nodestate  # noqa: E402
from cluster.clock import FakeClock  # noqa: E402
from cluster.parse import parse_pod  # noqa: E402
from runtime.cache import ADDED, MODIFIED, PLACED_KEPT_SECONDS, SchedulerCache  # noqa: E402

START = 1_800_000_000.0
MAX_AGE = 120.0
COHORTS = 5


def node(name: str, published: float) -> dict[str, Any]:
    state = {
        "version": nodestate.VERSION,
        "node": name,
        "timestamp": nodestate.format_timestamp(published),
        "window_seconds": 30,
        "metrics": {"cpu_utilization": {"mean": 0.4, "std": 0.02, "p95": 0.45}},
        "sources": {s: True for s in nodestate.SOURCES},
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "annotations": {nodestate.ANNOTATION: json.dumps(state)}},
        "status": {
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def run(*, nodes: int, rate: float, seconds: float, period: float, repeat: int) -> dict[str, Any]:
    clock = FakeClock(START)
    cache = SchedulerCache(scheduler_name="ai-llama-scheduler", clock=clock, max_age_seconds=MAX_AGE)
    names = [f"node-{i:05d}" for i in range(nodes)]
    for name in names:
        cache.node_event(ADDED, node(name, START))
    step = 1.0 / rate
    next_cohort, cohort = START + period / COHORTS, 0
    for k in range(int(seconds * rate)):
        clock.advance(step)
        while clock.now() >= next_cohort:  # a fifth of the agents publish at each fifth of the period
            for name in names[cohort::COHORTS]:
                cache.node_event(MODIFIED, node(name, next_cohort))
            next_cohort, cohort = next_cohort + period / COHORTS, (cohort + 1) % COHORTS
        raw = {
            "metadata": {"name": f"pod-{k:07d}", "namespace": "default", "uid": f"uid-{k}"},
            "spec": {
                "schedulerName": "ai-llama-scheduler",
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}],
            },
        }
        cache.assume(parse_pod(raw), names[k % nodes])
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        snapshot, _ = cache.versioned_snapshot()
        timings.append(time.perf_counter() - began)
    recent = int(min(seconds, MAX_AGE + PLACED_KEPT_SECONDS) * rate)
    kept = len(snapshot.fresh.placed.pods) if snapshot.fresh is not None else 0
    timings.sort()
    return {
        "nodes": nodes,
        "rate": rate,
        "seconds": seconds,
        "period": period,
        "placements_within_age_limit": recent,
        "placements_kept": kept,
        "counted_on_nodes": int(snapshot.fresh.pods.sum()) if snapshot.fresh is not None else 0,
        "snapshot_ms_p50": round(1000 * timings[len(timings) // 2], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="pods assumed per second")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--period", type=float, default=30.0, help="seconds between a node's NodeStates")
    parser.add_argument("--repeat", type=int, default=50, help="snapshots timed at the end")
    args = parser.parse_args(argv)
    if min(args.nodes, args.repeat) < 1 or min(args.rate, args.seconds, args.period) <= 0:
        print("error: every size must be positive", file=sys.stderr)
        return 2
    result = run(nodes=args.nodes, rate=args.rate, seconds=args.seconds, period=args.period, repeat=args.repeat)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
