"""End-to-end scheduling throughput against the emulated API server, next to its bind-only ceiling.

Both numbers come from one run on one machine, each against a fresh emulator process loaded with the
same cluster (1,000 nodes, 10,000 pods of which 5,000 are pending):
- the ceiling: every pending pod bound by bare client processes (`benchmark/emulator_binds.py`),
  i.e. the most any scheduler could get out of this server here;
- the scheduler: `scheduler.py run` as its own process (heuristic tier), from the moment `/readyz`
  answers until no pod is pending. It writes three requests per pod (decision annotations, the
  binding, the Scheduled event) where the ceiling writes one.

    python benchmark/throughput.py [--nodes 1000] [--pods 10000] [--pending 5000]

Prints a table and writes `benchmark/results/throughput-<time>.json`. Goals (issue 4): at least
300 pods/s and 80 % of the ceiling.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark.emulator_binds import bind_ceiling, build_cluster  # noqa: E402

RESULTS = ROOT / "benchmark" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorProcess:
    """`python -m sim.apiserver` in its own process, so it does not share an interpreter with the client."""

    def __init__(self, cluster: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sim.apiserver", "--cluster", str(cluster), "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        found = re.search(r"(http://\S+)", line)
        if not found:
            raise RuntimeError(f"the emulator did not start: {line}")
        self.url = found.group(1)

    def pending(self) -> int:
        """Pods still without a node, counted by the server (a one-item page and its remaining count)."""
        with urllib.request.urlopen(f"{self.url}/api/v1/pods?fieldSelector=spec.nodeName%3D&limit=1") as answer:
            body = json.loads(answer.read())
        return len(body["items"]) + int(body["metadata"].get("remainingItemCount") or 0)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def ceiling(cluster: Path, objects: list[dict[str, Any]]) -> dict[str, Any]:
    emulator = EmulatorProcess(cluster)
    try:
        pending = [
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in objects
            if p["kind"] == "Pod" and not p["spec"].get("nodeName")
        ]
        nodes = [n["metadata"]["name"] for n in objects if n["kind"] == "Node"]
        return bind_ceiling(emulator.url, pending, nodes)
    finally:
        emulator.stop()


def scheduler(cluster: Path, pending: int, workdir: Path) -> dict[str, Any]:
    emulator = EmulatorProcess(cluster)
    port = free_port()
    config = workdir / "config.yaml"
    config.write_text(f"metrics:\n  port: {port}\n  address: 127.0.0.1\nscheduler:\n  stats_interval: 3600\n")
    log = workdir / "scheduler.log"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "scheduler.py", "run", "--server", emulator.url, "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = wait_ready(port, timeout=120)
        while (left := emulator.pending()) > 0 and time.monotonic() - ready < 600:
            time.sleep(0.25)
        done = time.monotonic()
        metrics = scrape(port)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        emulator.stop()
    return {
        "pods": pending,
        "left_pending": left,
        "seconds_to_ready": round(ready - started, 2),
        "seconds": round(done - ready, 2),
        "pods_per_second": round((pending - left) / (done - ready), 1),
        "decision_latency": metrics,
    }


def wait_ready(port: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the scheduler did not become ready")


def scrape(port: int) -> dict[str, float]:
    """Mean decision latency and the attempt count from the scheduler's own /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    values = {}
    for name in (
        "scheduler_scheduling_attempt_duration_seconds_sum",
        "scheduler_scheduling_attempt_duration_seconds_count",
    ):
        found = re.search(rf'^{name}{{[^}}]*result="scheduled"[^}}]*}} (\S+)$', text, re.MULTILINE)
        values[name] = float(found.group(1)) if found else 0.0
    count = values["scheduler_scheduling_attempt_duration_seconds_count"]
    mean = values["scheduler_scheduling_attempt_duration_seconds_sum"] / count if count else 0.0
    return {"attempts": count, "mean_ms": round(mean * 1000, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--pending", type=int, default=5000)
    args = parser.parse_args()
    objects = build_cluster(nodes=args.nodes, pods=args.pods, pending=args.pending)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cluster = workdir / "cluster.json"
        cluster.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        bind_only = ceiling(cluster, objects)
        ours = scheduler(cluster, args.pending, workdir)
    ratio = ours["pods_per_second"] / bind_only["binds_per_second"] if bind_only["binds_per_second"] else 0.0
    result = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}",
        "cluster": {"nodes": args.nodes, "pods": args.pods, "pending": args.pending},
        "bind_only_ceiling": bind_only,
        "scheduler": ours,
        "share_of_ceiling": round(ratio, 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"throughput-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"cluster: {args.nodes} nodes, {args.pods} pods, {args.pending} pending")
    print(f"bind-only ceiling: {bind_only['binds_per_second']:.0f} binds/s")
    print(
        f"scheduler (heuristic tier): {ours['pods_per_second']:.0f} pods/s "
        f"({100 * ratio:.0f}% of the ceiling), ready in {ours['seconds_to_ready']:.1f}s, "
        f"mean decision {ours['decision_latency']['mean_ms']:.2f} ms"
    )
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
