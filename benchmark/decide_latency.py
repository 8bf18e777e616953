"""Per-pod decision latency of `scheduler.py decide` on a large synthetic snapshot.

Generates a snapshot (1,000 nodes and 10,000 running pods by default) and a batch of pending pods,
runs the real `decide --json` command on them, and reports the `latency_ms` it prints (in-process
time per pod, start-up and file loading excluded). Goal: heuristic tier p99 <= 2 ms at 1,000 nodes.

    python benchmark/decide_latency.py [--nodes 1000] [--pods-per-node 10] [--incoming 500] [--tier heuristic]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark import synthetic  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--incoming", type=int, default=500)
    parser.add_argument("--tier", default="heuristic")
    parser.add_argument("--goal-ms", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / "snapshot.json"
        pods = Path(tmp) / "pods.json"
        snapshot.write_text(json.dumps(synthetic.cluster(args.nodes, args.pods_per_node)))
        pods.write_text(json.dumps(synthetic.incoming(args.incoming)))
        result = subprocess.run(
            [sys.executable, "scheduler.py", "decide", "--snapshot", str(snapshot), "--pod", str(pods), "--json",
             "--tier", args.tier],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    decisions = [json.loads(line) for line in result.stdout.splitlines()]
    latencies = [d["latency_ms"] for d in decisions]
    placed = sum(1 for d in decisions if d["node"])
    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(f"nodes={args.nodes} running_pods={args.nodes * args.pods_per_node} decided={len(decisions)} placed={placed}")
    print(
        f"tier={args.tier} latency_ms p50={p50:.3f} p99={p99:.3f} max={max(latencies):.3f} (goal p99 <= {args.goal_ms})"
    )
    return 0 if p99 <= args.goal_ms else 1


if __name__ == "__main__":
    sys.exit(main())
