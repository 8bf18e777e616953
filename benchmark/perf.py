"""The performance suite: one command measures the scheduler against its goals and writes JSON, a chart and a table.

    python benchmark/perf.py [--quick] [--only PART ...] [--profile] [--readme] [--baseline FILE]
    python benchmark/perf.py --input FILE [--baseline FILE] --readme      # the table again, nothing measured

Parts (`--only`; all by default):
- `latency`: per-pod decision latency p50/p99 of each tier (`default` = kube-scheduler's scoring, for scale;
  `heuristic`; `transformer` when its weights exist) at 100, 1,000 and 5,000 nodes (10 running pods each);
- `throughput`: `scheduler.py run` binding a burst of 5,000 pending pods on 1,000 nodes (10,000 pods) in the
  emulator, next to the emulator's bind-only ceiling on the same cluster (`benchmark/emulator_binds.py`);
- `llm`: the same with an LLM endpoint that answers in 1 s (the tests' loopback chat-completions server),
  with the decisions by tier, LLM requests, requests in flight at once and cache hits;
- `scale`: start-up to ready, burst and peak RSS at 5,000 nodes and 50,000 running pods.
Goals (issues 2-6): heuristic <= 2 ms and transformer <= 5 ms p99 at 1,000 nodes; >= 300 pods/s and >= 80 %
of the ceiling; >= 30 pods/s with a 1 s LLM; RSS <= 500 MB; ready <= 5 s. `--profile` samples the
scheduler with py-spy during the throughput and scale runs (and the 1,000-node decisions) and reports the
functions with the largest share of CPU. Writes `benchmark/results/perf-<time>.json` and `perf-<time>.png`.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark import perf_report, perf_runs, profiling, synthetic, throughput  # noqa: E402
from benchmark.emulator_binds import build_cluster  # noqa: E402
from cluster import config  # noqa: E402
from tests.llm.fake_llm import FakeLLM, Reply  # noqa: E402

RESULTS = ROOT / "benchmark" / "results"
STATE = "ai-scheduler.io/node-state"
DECIDE = "Decider.decide (scoring/decide.py)"
PARTS = ("latency", "throughput", "llm", "scale")
TIERS = ("default", "heuristic", "transformer")


def sizes(quick: bool) -> dict[str, Any]:
    """How much each part does; --quick trades precision for minutes."""
    return {
        "latency_nodes": (100, 1000, 5000),
        "latency_pods": {100: 300, 1000: 300, 5000: 150} if quick else {100: 1000, 1000: 1000, 5000: 400},
        "throughput": {"nodes": 1000, "pods": 10_000, "pending": 2000 if quick else 5000},
        "llm": {"nodes": 1000, "pods": 10_000, "pending": 300 if quick else 1000, "answer_seconds": 1.0},
        "scale": {"nodes": 5000, "pods_per_node": 10, "pending": 1000},
    }


def latency_part(plan: dict[str, Any], settings: config.Settings, workdir: Path, only: int | None) -> dict[str, Any]:
    results = {}
    for nodes in plan["latency_nodes"]:
        if only is not None and nodes != only:
            continue
        snapshot, pods = perf_runs.write_synthetic(workdir, nodes, pending=plan["latency_pods"][nodes])
        results[str(nodes)] = perf_runs.decision_latency(snapshot, pods, TIERS, settings)
    return results


def profile_latency(workdir: Path, raw: Path, quick: bool) -> dict[str, Any]:
    """The 1,000-node decisions again, in a child process sampled by py-spy."""
    command = [sys.executable, str(Path(__file__)), "--only", "latency", "--latency-nodes", "1000"]
    child = subprocess.Popen([*command, *(["--quick"] if quick else []), "--output", str(workdir / "child.json")],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    recorder = profiling.Recorder(child.pid, raw)
    child.wait()
    recorder.stop()
    return profiling.hot_spots(raw, within=DECIDE)


def write_cluster(workdir: Path, name: str, objects: list[dict[str, Any]]) -> Path:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


HEURISTIC_ONLY = {"scoring": {"model_path": "benchmark/results/no-model.pt"}}
"""Config of a scheduler without the transformer: its weights path names no file, as in a build without a model."""
LASTING_TELEMETRY = {"telemetry": {"max_age_seconds": 3600}}
"""The synthetic NodeStates are written once; real agents republish every 30 s, so keep them fresh for the run."""


def throughput_part(plan: dict[str, Any], workdir: Path, raw: Path | None) -> dict[str, Any]:
    """The production chain (transformer when its weights exist, else heuristic) and the heuristic tier alone."""
    size = plan["throughput"]
    objects = build_cluster(nodes=size["nodes"], pods=size["pods"], pending=size["pending"])
    cluster = write_cluster(workdir, "throughput", objects)
    ceiling = throughput.ceiling(cluster, objects)
    ours = perf_runs.scheduler_burst(cluster, workdir, pending=size["pending"], profile=raw)
    raw_alone = raw.with_name(raw.stem + "-heuristic.raw") if raw else None
    alone = perf_runs.scheduler_burst(
        cluster, workdir, pending=size["pending"], config=HEURISTIC_ONLY, profile=raw_alone
    )
    if raw_alone is not None:
        alone["hot_spots"] = profiling.hot_spots(raw_alone)
    rate = ceiling["binds_per_second"]
    result = {
        "cluster": size,
        "bind_only_ceiling": ceiling,
        "scheduler": ours,
        "share_of_ceiling": round(ours["pods_per_second"] / rate, 3) if rate else 0.0,
        "heuristic_only": alone | {"share_of_ceiling": round(alone["pods_per_second"] / rate, 3) if rate else 0.0},
    }
    if raw is not None:
        result["hot_spots"] = profiling.hot_spots(raw)
        result["hot_spots_deciding"] = profiling.hot_spots(raw, within=DECIDE)
    return result


def llm_part(plan: dict[str, Any], workdir: Path) -> dict[str, Any]:
    size = plan["llm"]
    objects = build_cluster(nodes=size["nodes"], pods=size["pods"], pending=size["pending"])
    cluster = write_cluster(workdir, "llm", objects)
    with FakeLLM() as llm:
        llm.script(Reply.slow(size["answer_seconds"]))
        ours = perf_runs.scheduler_burst(
            cluster, workdir, pending=size["pending"], config={"llm": {"endpoint": llm.url}}, time_limit=600
        )
        served = {"requests": len(llm.requests), "max_in_flight": llm.max_in_flight}
    return {"cluster": size, "scheduler": ours, "llm_server": served}


def fresh(items: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The synthetic nodes' NodeStates stamped `now`, as running agents would have them (else they are stale)."""
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for item in items:
        annotations = item.get("metadata", {}).get("annotations") or {}
        state = annotations.get(STATE)
        if item.get("kind") == "Node" and state:
            annotations[STATE] = json.dumps(json.loads(state) | {"timestamp": stamp}, separators=(",", ":"))
    return items


def scale_part(plan: dict[str, Any], workdir: Path, raw: Path | None) -> dict[str, Any]:
    size = plan["scale"]
    listing = synthetic.cluster(size["nodes"], size["pods_per_node"])
    items = fresh(listing["items"] + synthetic.incoming(size["pending"])["items"], time.time())
    cluster = write_cluster(workdir, "scale", items)
    ours = perf_runs.scheduler_burst(
        cluster, workdir, pending=size["pending"], config=LASTING_TELEMETRY, profile=raw, time_limit=600
    )
    result = {"cluster": size | {"running_pods": size["nodes"] * size["pods_per_node"]}, "scheduler": ours}
    if raw is not None:
        result["hot_spots"] = profiling.hot_spots(raw)
    return result


def import_seconds() -> dict[str, float]:
    """Seconds a fresh interpreter takes to import what `scheduler.py run` needs (part of start-to-ready)."""
    timings = {}
    for name, modules in (
        ("scheduler", "import runtime.app"),
        ("scheduler_and_transformer", "import runtime.app, scoring.transformer.tier"),
    ):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", modules], cwd=ROOT, check=True)
        timings[name] = round(time.monotonic() - began, 2)
    return timings


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": model or "unknown CPU",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit or None,
        "uncommitted_changes": bool(dirty),
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
    }


def measure(args: argparse.Namespace, output: Path) -> dict[str, Any]:
    """Every chosen part; py-spy's raw profiles are kept next to `output` (`<stem>-<part>.raw`)."""
    plan = sizes(args.quick)
    settings = config.load(args.config)
    parts = args.only or list(PARTS)
    began = time.monotonic()
    result: dict[str, Any] = {
        "version": 1,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "goals": perf_report.GOALS,
    }
    output.parent.mkdir(parents=True, exist_ok=True)

    def raw(part: str) -> Path:
        return output.parent / f"{output.stem}-{part}.raw"

    with tempfile.TemporaryDirectory(prefix="perf-") as tmp:
        workdir = Path(tmp)
        for part in parts:
            print(f"[perf] {part} ...", file=sys.stderr, flush=True)
            if part == "latency":
                result["latency"] = latency_part(plan, settings, workdir, args.latency_nodes)
                if args.profile:
                    result["latency_hot_spots"] = profile_latency(workdir, raw("latency"), args.quick)
            elif part == "throughput":
                result["throughput"] = throughput_part(plan, workdir, raw("throughput") if args.profile else None)
            elif part == "llm":
                result["llm"] = llm_part(plan, workdir)
            elif part == "scale":
                result["scale"] = scale_part(plan, workdir, raw("scale") if args.profile else None)
                result["scale"]["import_seconds"] = import_seconds()
    result["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pods per part (minutes instead of ~10)")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument("--latency-nodes", type=int, help="only this cluster size in the latency part")
    parser.add_argument("--profile", action="store_true", help="sample with py-spy and report the hot spots")
    parser.add_argument("--config", help="config file for the in-process tiers (default: config.yaml if present)")
    parser.add_argument("--input", type=Path, help="re-render this results file instead of measuring")
    parser.add_argument("--baseline", type=Path, help="an earlier results file: show before -> after")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md's perf section")
    parser.add_argument("--output", type=Path, help="results file (default benchmark/results/perf-<time>.json)")
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or RESULTS / f"perf-{stamp}.json"
    try:
        baseline = perf_report.load(args.baseline) if args.baseline else None
        result = perf_report.load(args.input) if args.input else measure(args, output)
    except (perf_report.PerfReportError, config.ConfigError, profiling.ProfilerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.input is None:
        output.write_text(json.dumps(result, indent=1) + "\n")
        if "latency" in result and "throughput" in result:
            perf_report.chart(result, output.with_suffix(".png"))
        print(f"results: {output}", file=sys.stderr)
        source = output
    else:
        source = args.input
    text = perf_report.markdown(
        result,
        source=perf_report.relative(source),
        baseline=baseline,
        baseline_source=perf_report.relative(args.baseline) if args.baseline else "",
    )
    print(text)
    if args.readme:
        perf_report.write_section("perf", text)
        print("README.md: perf section updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
