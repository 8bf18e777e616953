"""What scoring kube-scheduler's share of a large cluster costs in placement and saves in decision time.

On a synthetic snapshot (`benchmark/synthetic.py`: 1,000 nodes and 10,000 running pods by default, a fifth of
the nodes noisy), each tier decides a sequence of pending pods twice per pod, against the same cluster: once
scoring every feasible node and once scoring the share `scoring.percentage_of_nodes_to_score` gives (0:
adaptive, as kube-scheduler's default). Each pod is then placed where the sampled decision put it. Reported per
tier: how often the sampled pick is a node the full scoring ranks best (within the transformer's near-tie,
`NEAR_TIE_POINTS`), the score points it gives up (p50, p95, max) and what that means as a predicted P99 factor
on the score's log scale, and the decision latency both ways. The scores are each tier's own predictions, not
measured latencies: this tells what sampling loses by the scorer's own measure, not whether the scorer is right.

    python benchmark/sampling.py [--nodes 1000] [--pods 300] [--percentage 0] [--tiers heuristic transformer]
"""

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark.perf_runs import write_synthetic  # noqa: E402
from cluster.clock import SystemClock  # noqa: E402
from cluster.config import Settings  # noqa: E402
from cluster.manifests import load_pods, load_snapshot  # noqa: E402
from cluster.nodestate import format_timestamp  # noqa: E402
from cluster.objects import Pod  # noqa: E402
from cluster.snapshot import Snapshot  # noqa: E402
from runtime.assemble import build_decider  # noqa: E402
from scoring.sampling import nodes_to_find  # noqa: E402
from scoring.transformer.scores import FASTEST, MAX_SLOWDOWN, NEAR_TIE_POINTS  # noqa: E402

WARMUP = 10


def compare(tier: str, snapshot: Snapshot, pods: list[Pod], percentage: int) -> dict[str, Any]:
    """The tier's sampled picks against its own full scoring of the same cluster, pod by pod."""
    sampled = build_decider(Settings(scoring={"percentage_of_nodes_to_score": percentage}), tier=tier)
    every = build_decider(Settings(), tier=tier, every_node=True)
    lost, best, fast, slow, scored = [], 0, [], [], []
    for pod in pods:
        full = every.decide(pod, snapshot)
        pick = sampled.decide(pod, snapshot)
        if pick.node is None or full.node is None:
            continue
        gap = max(full.scores.values()) - full.scores[pick.node]
        lost.append(gap)
        best += gap <= NEAR_TIE_POINTS
        slow.append(full.latency_ms)
        fast.append(pick.latency_ms)
        scored.append(len(pick.scores))
        snapshot = snapshot.with_pod(pod, pick.node)
    points = np.asarray(lost)
    return {
        "pods": len(lost),
        "nodes_scored_median": int(np.median(scored)),
        "best_share": round(best / len(lost), 3),
        "points_lost_p50": round(float(np.percentile(points, 50)), 2),
        "points_lost_p95": round(float(np.percentile(points, 95)), 2),
        "points_lost_max": round(float(points.max()), 2),
        "p99_factor_p95": round(math.exp(float(np.percentile(points, 95)) / 100 * math.log(FASTEST * MAX_SLOWDOWN)), 3),
        "latency_every_ms": _latency(slow),
        "latency_sampled_ms": _latency(fast),
    }


def _latency(values: list[float]) -> dict[str, float]:
    data = np.asarray(values[WARMUP:], dtype=float)
    return {"p50": round(float(np.percentile(data, 50)), 3), "p99": round(float(np.percentile(data, 99)), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--percentage", type=int, default=0)
    parser.add_argument("--tiers", nargs="+", default=["heuristic", "transformer"])
    parser.add_argument("--output", type=Path, help="write the result as JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        written = write_synthetic(folder, args.nodes, pods_per_node=args.pods_per_node, pending=args.pods)
        snapshot, pods = load_snapshot(written[0]), load_pods(str(written[1]))
    result = {
        "command": " ".join(["python", "benchmark/sampling.py", *sys.argv[1:]]),
        "measured_at": format_timestamp(SystemClock().now()),
        "cpus": os.cpu_count(),
        "nodes": args.nodes,
        "running_pods": args.nodes * args.pods_per_node,
        "percentage_of_nodes_to_score": args.percentage,
        "nodes_to_find": nodes_to_find(args.percentage, args.nodes),
        "tiers": {tier: compare(tier, snapshot, pods, args.percentage) for tier in args.tiers},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
