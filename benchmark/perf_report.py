"""The performance suite's goals, its Markdown table (README's perf section) and its chart, from a results file.

Pure presentation: every number comes from a `benchmark/perf.py` results file; `--baseline` adds the
numbers of an earlier file, so a fix shows as before -> after.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from benchmark.report import ROOT, read_results, write_section

__all__ = ["GOALS", "PerfReportError", "chart", "goal_rows", "load", "markdown", "relative", "write_section"]

GOALS: Mapping[str, float] = {
    "heuristic_p99_ms_1000_nodes": 2.0,
    "transformer_p99_ms_1000_nodes": 5.0,
    "pods_per_second": 300.0,
    "share_of_ceiling": 0.8,
    "pods_per_second_1s_llm": 30.0,
    "peak_rss_mb_5000_nodes": 500.0,
    "seconds_to_ready": 5.0,
}


class PerfReportError(ValueError):
    """A file that is not a perf results file; the message says which and why."""


def load(path: Path) -> dict[str, Any]:
    return read_results(path, ("goals", "machine"), "benchmark/perf.py", PerfReportError)


def relative(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def _get(result: Mapping[str, Any], *path: str) -> Any:
    value: Any = result
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def measured(result: Mapping[str, Any]) -> dict[str, float | None]:
    """The value each goal is judged on (None when that part was not run or the tier was skipped)."""
    return {
        "heuristic_p99": _get(result, "latency", "1000", "heuristic", "p99"),
        "transformer_p99": _get(result, "latency", "1000", "transformer", "p99"),
        "pods_per_second": _get(result, "throughput", "scheduler", "pods_per_second"),
        "share_of_ceiling": _get(result, "throughput", "share_of_ceiling"),
        "pods_per_second_heuristic": _get(result, "throughput", "heuristic_only", "pods_per_second"),
        "share_of_ceiling_heuristic": _get(result, "throughput", "heuristic_only", "share_of_ceiling"),
        "pods_per_second_llm": _get(result, "llm", "scheduler", "pods_per_second"),
        "peak_rss": _get(result, "scale", "scheduler", "peak_rss_mb"),
        "ready": _get(result, "throughput", "scheduler", "seconds_to_ready"),
        "ready_heuristic": _get(result, "throughput", "heuristic_only", "seconds_to_ready"),
        "ready_5000": _get(result, "scale", "scheduler", "seconds_to_ready"),
    }


# measured key -> (label, goal key, goal format, value format, lower is better)
ROWS: Mapping[str, tuple[str, str, str, str, bool]] = {
    "heuristic_p99": ("heuristic decision p99, 1,000 nodes", "heuristic_p99_ms_1000_nodes", "<= {:g} ms", "{:.2f} ms",
                      True),
    "transformer_p99": ("transformer decision p99, 1,000 nodes", "transformer_p99_ms_1000_nodes", "<= {:g} ms",
                        "{:.2f} ms", True),
    "pods_per_second": ("pods/s, burst, production chain", "pods_per_second", ">= {:g}", "{:.0f}", False),
    "share_of_ceiling": ("share of the bind-only ceiling, production chain", "share_of_ceiling", ">= {:.0%}",
                         "{:.0%}", False),
    "pods_per_second_heuristic": ("pods/s, burst, heuristic tier only", "pods_per_second", ">= {:g}", "{:.0f}",
                                  False),
    "share_of_ceiling_heuristic": ("share of the bind-only ceiling, heuristic tier only", "share_of_ceiling",
                                   ">= {:.0%}", "{:.0%}", False),
    "pods_per_second_llm": ("pods/s with a 1 s LLM", "pods_per_second_1s_llm", ">= {:g}", "{:.0f}", False),
    "peak_rss": ("peak RSS, 5,000 nodes and 50,000 pods", "peak_rss_mb_5000_nodes", "<= {:g} MB", "{:.0f} MB", True),
    "ready": ("start to ready, 1,000 nodes / 10,000 pods, production chain", "seconds_to_ready", "<= {:g} s",
              "{:.1f} s", True),
    "ready_heuristic": ("start to ready, 1,000 nodes / 10,000 pods, heuristic only", "seconds_to_ready",
                        "<= {:g} s", "{:.1f} s", True),
    "ready_5000": ("start to ready, 5,000 nodes / 50,000 pods", "seconds_to_ready", "<= {:g} s", "{:.1f} s", True),
}  # fmt: skip


def goal_rows(result: Mapping[str, Any], baseline: Mapping[str, Any] | None = None) -> list[list[str]]:
    """measure | goal | (before |) measured | met."""
    now, before = measured(result), measured(baseline) if baseline else {}
    rows = []
    for key, (label, goal_key, goal_fmt, value_fmt, lower) in ROWS.items():
        goal, value = GOALS[goal_key], now[key]
        met = "-" if value is None else "yes" if (value <= goal if lower else value >= goal) else "**no**"
        row = [label, goal_fmt.format(goal), *([_fmt(before.get(key), value_fmt)] if baseline else [])]
        rows.append([*row, _fmt(value, value_fmt), met])
    return rows


def _fmt(value: float | None, fmt: str) -> str:
    return "not measured" if value is None else fmt.format(value)


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def latency_rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    latency = result.get("latency") or {}
    sizes = sorted(latency, key=int)
    tiers = sorted({t for size in latency.values() for t in size}, key=lambda t: ("default", "heuristic").index(t)
                   if t in ("default", "heuristic") else 2)  # fmt: skip
    body = []
    for tier in tiers:
        row = [tier]
        for size in sizes:
            entry = latency[size].get(tier) or {}
            row.append("skipped" if "skipped" in entry else f"{entry['p50']:.2f} / {entry['p99']:.2f}")
        body.append(row)
    return [f"{int(s):,} nodes p50 / p99 ms" for s in sizes], body


def markdown(
    result: Mapping[str, Any], *, source: str, baseline: Mapping[str, Any] | None = None, baseline_source: str = ""
) -> str:
    machine = result["machine"]
    compared = f" --baseline {baseline_source}" if baseline and baseline_source else ""
    changes = " (with uncommitted changes)" if machine.get("uncommitted_changes") else ""
    lines = [
        "### Performance suite (generated)",
        "",
        f"Generated by `python benchmark/perf.py --input {source}{compared} --readme` from a {result['mode']} run of "
        f"{result['time']} ({result.get('seconds', 0):.0f} s) on {machine['cpus']} × {machine['cpu']}, Python "
        f"{machine['python']}, commit {machine['commit']}{changes}; load average "
        f"{machine['load_average_before'][0]} before and {machine['load_average_after'][0]} after (the machine "
        "is shared: throughput numbers move with its load).",
        "",
        *_table(["measure", "goal", *(["before"] if baseline else []), "measured", "met"], goal_rows(result, baseline)),
        "",
    ]
    header, body = latency_rows(result)
    if body:
        lines += [
            "Decision latency per pod (in process, filters + scores + tier, 10 running pods per node, "
            f"first {perf_runs_warmup(result)} decisions not counted):",
            "",
            *_table(["tier", *header], body),
            "",
        ]
    lines += details(result)
    return "\n".join(lines).rstrip() + "\n"


def perf_runs_warmup(result: Mapping[str, Any]) -> int:
    for size in (result.get("latency") or {}).values():
        for entry in size.values():
            if "warmup" in entry:
                return int(entry["warmup"])
    return 0


def _fallbacks(run: Mapping[str, Any]) -> str:
    """The report's `; fallbacks: transformer: overrun 2` for a run whose tiers declined pods (results since
    2026-12-06 count them by cause), else nothing."""
    counted = run.get("fallbacks") or {}
    return f"; fallbacks: {', '.join(f'{cause} {n}' for cause, n in counted.items())}" if counted else ""


def details(result: Mapping[str, Any]) -> list[str]:
    lines = []
    if "throughput" in result:
        t = result["throughput"]
        s, c = t["scheduler"], t["bind_only_ceiling"]
        decided = ", ".join(
            f"{k[10:-1]} {v:.0f}" for k, v in sorted(s["metrics"].items()) if k.startswith("decisions[")
        )
        lines.append(
            f"- Burst: {s['pending']:,} pending pods on {t['cluster']['nodes']:,} nodes ({t['cluster']['pods']:,} "
            f"pods): production chain {s['pods_per_second']:.0f} pods/s (decided by {decided}), heuristic tier "
            f"alone {t['heuristic_only']['pods_per_second']:.0f} pods/s, against a bind-only ceiling of "
            f"{c['binds_per_second']:.0f} binds/s ({c['processes']} client processes × {c['threads']} threads); "
            f"peak RSS {s['peak_rss_mb']:.0f} MB (heuristic alone {t['heuristic_only']['peak_rss_mb']:.0f} MB)"
            f"{_fallbacks(s)}."
        )
    if "llm" in result:
        t = result["llm"]
        s, m = t["scheduler"], t["scheduler"]["metrics"]
        decided = ", ".join(f"{k[10:-1]} {v:.0f}" for k, v in sorted(m.items()) if k.startswith("decisions["))
        lookups = {k: v for k, v in m.items() if k.startswith("llm_cache_lookups[")}
        lines.append(
            f"- 1 s LLM: {s['pods_per_second']:.0f} pods/s for {s['pending']:,} pending pods"
            f"{' (time limit reached)' if s['timed_out'] else ''}; decided by {decided}; "
            f"{t['llm_server']['requests']} LLM requests, at most {t['llm_server']['max_in_flight']} in flight; "
            f"cache hits {lookups.get('llm_cache_lookups[hit]', 0):.0f} of "
            f"{sum(lookups.values()):.0f} lookups{_fallbacks(s)}."
        )
    if "scale" in result:
        t = result["scale"]
        s = t["scheduler"]
        imports = t.get("import_seconds") or {}
        lines.append(
            f"- Scale: {t['cluster']['nodes']:,} nodes, {t['cluster']['running_pods']:,} running pods (fresh "
            f"telemetry on every node) and {s['pending']:,} pending: ready in {s['seconds_to_ready']:.1f} s, "
            f"{s['pods_per_second']:.0f} pods/s, peak RSS {s['peak_rss_mb']:.0f} MB{_fallbacks(s)}. Importing the "
            f"scheduler alone takes {imports.get('scheduler', float('nan')):.1f} s, with the transformer tier (torch) "
            f"{imports.get('scheduler_and_transformer', float('nan')):.1f} s of that start-up."
        )
    for name, spots in (
        ("deciding at 1,000 nodes, in process", result.get("latency_hot_spots")),
        ("deciding during the burst", _get(result, "throughput", "hot_spots_deciding")),
        ("the whole burst process", _get(result, "throughput", "hot_spots")),
        ("the whole burst process, heuristic tier alone", _get(result, "throughput", "heuristic_only", "hot_spots")),
        ("start-up and burst at 5,000 nodes", _get(result, "scale", "hot_spots")),
    ):
        if spots and spots["samples"]:
            top = "; ".join(f"`{s['function']}` {s['share']:.0%}" for s in spots["self"][:6])
            lines.append(f"- Hot spots, {name} (py-spy, own time as a share of {spots['samples']} GIL samples): {top}.")
    return lines


def chart(result: Mapping[str, Any], path: Path) -> None:
    """Decision latency per tier and size, throughput against the ceiling, RSS and ready time against goals."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
    latency = result.get("latency") or {}
    sizes = sorted(latency, key=int)
    for tier in sorted({t for size in latency.values() for t in size}):
        points = [(int(s), latency[s][tier]["p99"]) for s in sizes if "p99" in (latency[s].get(tier) or {})]
        if points:
            axes[0].plot(*zip(*points, strict=True), marker="o", label=f"{tier} p99")
    axes[0].axhline(GOALS["heuristic_p99_ms_1000_nodes"], color="tab:blue", ls="--", lw=0.8, label="heuristic goal")
    axes[0].axhline(GOALS["transformer_p99_ms_1000_nodes"], color="tab:purple", ls="--", lw=0.8,
                    label="transformer goal")  # fmt: skip
    axes[0].set(xscale="log", xlabel="nodes", ylabel="ms", title="decision latency p99 per pod")
    axes[0].legend(fontsize=7)
    bars = {
        "bind-only ceiling": _get(result, "throughput", "bind_only_ceiling", "binds_per_second"),
        "scheduler": _get(result, "throughput", "scheduler", "pods_per_second"),
        "scheduler, 1 s LLM": _get(result, "llm", "scheduler", "pods_per_second"),
    }
    names = [k for k, v in bars.items() if v is not None]
    axes[1].bar(names, [bars[k] for k in names], color=["#8c8c8c", "#1f77b4", "#17becf"][: len(names)])
    axes[1].axhline(GOALS["pods_per_second"], color="red", ls="--", lw=0.8, label=">= 300 pods/s")
    axes[1].axhline(GOALS["pods_per_second_1s_llm"], color="orange", ls="--", lw=0.8, label=">= 30 pods/s (LLM)")
    axes[1].set(title="pods bound per second (burst)")
    axes[1].legend(fontsize=7)
    axes[1].tick_params(axis="x", labelsize=8)
    for ax, key, goal_key, title, unit in (
        (axes[2], ("scale", "scheduler", "peak_rss_mb"), "peak_rss_mb_5000_nodes", "peak RSS, 5,000 nodes", "MB"),
        (axes[3], ("throughput", "scheduler", "seconds_to_ready"), "seconds_to_ready", "start to ready", "s"),
    ):
        value, goal = _get(result, *key), GOALS[goal_key]
        ax.bar(["measured"], [value or 0], color="#1f77b4")
        ax.axhline(goal, color="red", ls="--", lw=0.8, label=f"goal {goal:g} {unit}")
        ax.set(title=title, ylabel=unit)
        ax.legend(fontsize=7)
    fig.suptitle(f"Performance suite, {result['time']}, {result['machine']['cpus']} × {result['machine']['cpu']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
