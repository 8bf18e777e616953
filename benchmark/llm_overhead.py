"""What the LLM tier costs a pod besides the LLM itself, and how a slow LLM affects throughput.

On a synthetic cluster (1,000 nodes, 10,000 running pods by default), in process, against the loopback
chat-completions server of the tests (`tests/llm/fake_llm.py`, the real `InferenceClient`):
- `prompt`: building the facts, the messages and the cache key for one pod (20 of ~1,000 candidates);
- `decline`: decision latency when the LLM tier declines at once (breaker open), against the heuristic
  tier alone — the price every pod pays while the LLM is down;
- `instant`: decision latency with an LLM that answers at once (HTTP round trip and validation);
- `slow`: wall time for 32 pods decided from 32 threads while the LLM takes 1 s per answer.
Writes `benchmark/results/llm_overhead.json`.

    python benchmark/llm_overhead.py [--nodes 1000] [--pods-per-node 10] [--incoming 200]
"""

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark import synthetic  # noqa: E402
from cluster.clock import SystemClock  # noqa: E402
from cluster.config import Settings  # noqa: E402
from cluster.manifests import load_pods, load_snapshot  # noqa: E402
from llm import prompt  # noqa: E402
from llm.cache import cache_key, constraints_digest  # noqa: E402
from runtime.assemble import build_decider  # noqa: E402
from scoring.decide import Decider  # noqa: E402
from scoring.framework import PodInfo  # noqa: E402
from scoring.tiers import Request  # noqa: E402
from telemetry.stats import Stats  # noqa: E402
from tests.llm.fake_llm import FakeLLM, Reply  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 3),
        "p99": round(percentile(values, 99), 3),
        "max": round(max(values), 3),
    }


def settings(url: str, **llm: object) -> Settings:
    return Settings.model_validate({"llm": {"endpoint": url, **llm}, "cache": {"enabled": False}})


def latencies(decider: Decider, pods: list, snapshot: object) -> list[float]:
    return [decider.decide(pod, snapshot).latency_ms for pod in pods]  # type: ignore[arg-type]


def prompt_costs(decider: Decider, pods: list, snapshot: object) -> tuple[list[float], list[int]]:
    costs, tokens = [], []
    for pod in pods:
        info = PodInfo.of(pod, snapshot)  # type: ignore[arg-type]
        outcome = decider.filter(info, snapshot)  # type: ignore[arg-type]
        if not len(outcome.feasible):
            continue
        hint = decider.heuristic.score(info, snapshot, outcome.feasible)  # type: ignore[arg-type]
        request = Request(info, snapshot, outcome.feasible, hint, float("inf"))  # type: ignore[arg-type]
        began = time.perf_counter()
        facts = prompt.facts(request, max_candidates=20)
        built = prompt.render(facts, token_budget=3000)
        cache_key(facts, constraints=constraints_digest(pod))
        costs.append((time.perf_counter() - began) * 1000)
        tokens.append(built.estimated_tokens)
    return costs, tokens


def slow_wall(url: str, pods: list, snapshot: object) -> tuple[float, int]:
    decider = build_decider(settings(url, max_concurrency=8), clock=SystemClock(), stats=Stats())
    barrier = threading.Barrier(len(pods))
    tiers: list[str] = []

    def run(pod: object) -> None:
        barrier.wait()
        tiers.append(decider.decide(pod, snapshot).tier.value)  # type: ignore[arg-type]

    threads = [threading.Thread(target=run, args=(p,)) for p in pods]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - began, tiers.count("llm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods-per-node", type=int, default=10)
    parser.add_argument("--incoming", type=int, default=200)
    args = parser.parse_args()
    tmp = ROOT / "benchmark" / "results"
    tmp.mkdir(exist_ok=True)
    snapshot_file, pods_file = tmp / "llm_snapshot.json", tmp / "llm_pods.json"
    snapshot_file.write_text(json.dumps(synthetic.cluster(args.nodes, args.pods_per_node)))
    pods_file.write_text(json.dumps(synthetic.incoming(args.incoming)))
    snapshot, pods = load_snapshot(str(snapshot_file)), load_pods(str(pods_file))
    snapshot_file.unlink()
    pods_file.unlink()
    heuristic = build_decider(Settings(), tier="heuristic")
    results: dict[str, object] = {"nodes": args.nodes, "running_pods": args.nodes * args.pods_per_node}
    costs, tokens = prompt_costs(heuristic, pods, snapshot)
    results["prompt_ms"] = summary(costs)
    results["prompt_estimated_tokens"] = summary([float(t) for t in tokens])
    with FakeLLM() as llm:
        base = latencies(heuristic, pods, snapshot)
        llm.script(Reply.error(503))
        down = build_decider(
            Settings.model_validate(
                {"llm": {"endpoint": llm.url, "max_retries": 0}, "circuit_breaker": {"failure_threshold": 1}}
            ),
            stats=Stats(),
        )
        down.decide(pods[0], snapshot)  # opens the breaker
        results["heuristic_alone_ms"] = summary(base)
        results["decline_breaker_open_ms"] = summary(latencies(down, pods, snapshot))
        llm.script(Reply.good())
        results["instant_llm_ms"] = summary(latencies(build_decider(settings(llm.url), stats=Stats()), pods, snapshot))
        llm.script(Reply.slow(1.0))
        wall, by_llm = slow_wall(llm.url, pods[:32], snapshot)
        results["slow_llm_32_pods"] = {"wall_s": round(wall, 3), "decided_by_llm": by_llm, "answer_s": 1.0}
    (tmp / "llm_overhead.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
