"""Charts of a placement benchmark results file, one folder per scenario.

    python benchmark/visualize.py --input benchmark/results/<timestamp>.json [--output DIR] [--scenario NAME ...]

Draws, for each scenario, into `DIR/<scenario>/` (default DIR: a folder named after the results file, next to it):
- `p99_comparison.png`: P99 of the latency-critical pods per policy, pooled and per workload profile;
- `placement_accuracy.png`: where those pods landed, on nodes with noisy neighbours or quiet ones;
- `latency_distribution.png`: P50, P90 and P99 per policy;
- `dashboard.png`: the summary (P99, noisy share, SLO violations, regret, decision latency, pods/s).
Bars are means across seeds; whiskers the 95 % interval. Every number comes from the results file.
"""

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark.report import ReportError, load, ordered  # noqa: E402

COLOURS = {
    "default": "#8c8c8c",
    "heuristic": "#1f77b4",
    "transformer": "#9467bd",
    "auto": "#17becf",
    "oracle": "#2ca02c",
}
NOISY, QUIET = "#d62728", "#98df8a"
CHARTS = ("p99_comparison.png", "placement_accuracy.png", "latency_distribution.png", "dashboard.png")
Summary = Mapping[str, Mapping[str, Mapping[str, float]]]


def _value(summary: Summary, policy: str, metric: str) -> tuple[float, float, float]:
    """Mean and the distances to the interval's ends (for error bars); NaN when absent. Every charted
    quantity is non-negative, so the lower end is clipped at 0, as in the README's tables."""
    m = summary[policy].get(metric)
    if m is None:
        return float("nan"), 0.0, 0.0
    return m["mean"], min(max(m["mean"] - m["lo"], 0.0), max(m["mean"], 0.0)), max(m["hi"] - m["mean"], 0.0)


def _bars(ax: Axes, summary: Summary, policies: Sequence[str], metric: str, *, fmt: str, scale: float = 1.0) -> None:
    """One bar per policy with its interval and its value on top."""
    values = [_value(summary, p, metric) for p in policies]
    means = np.array([v[0] for v in values]) * scale
    errors = np.array([[v[1] for v in values], [v[2] for v in values]]) * scale
    x = np.arange(len(policies))
    ax.bar(x, means, yerr=errors, capsize=3, color=[COLOURS.get(p, "#444") for p in policies])
    for xi, mean, above in zip(x, means, errors[1], strict=True):
        if np.isfinite(mean):
            ax.annotate(fmt.format(mean), (xi, mean + above), ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")  # fmt: skip
    ax.set_xticks(x, policies, rotation=20)
    ax.grid(axis="y", alpha=0.3)


def _subtitle(result: Mapping[str, Any], name: str) -> str:
    entry = result["scenarios"][name]
    seeds = ", ".join(str(s) for s in entry["seeds"])
    return (
        f"{name}: {entry['nodes']} nodes, {entry['arrivals']} arrivals, seeds {seeds}\nlatencies from the "
        f"calibrated interference model; telemetry every {result['telemetry']['period_seconds']:g} s"
    )


def p99_comparison(result: Mapping[str, Any], name: str, path: Path) -> None:
    summary = result["scenarios"][name]["summary"]
    policies = ordered(list(summary))
    groups = ["all", *sorted({k[7:-1] for m in summary.values() for k in m if k.startswith("p99_ms[")})]
    fig, ax = plt.subplots(figsize=(max(7, 1.8 * len(groups) + 3), 4.8))
    width = 0.8 / len(policies)
    for i, policy in enumerate(policies):
        values = [_value(summary, policy, "p99_ms" if g == "all" else f"p99_ms[{g}]") for g in groups]
        x = np.arange(len(groups)) + (i - (len(policies) - 1) / 2) * width
        ax.bar(x, [v[0] for v in values], width, yerr=[[v[1] for v in values], [v[2] for v in values]], capsize=2,
               label=policy, color=COLOURS.get(policy, "#444"))  # fmt: skip
    ax.set_xticks(np.arange(len(groups)), ["all latency-critical" if g == "all" else g for g in groups])
    ax.set_ylabel("P99 request latency (ms)")
    ax.set_title(f"P99 of latency-critical pods per policy\n{_subtitle(result, name)}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def placement_accuracy(result: Mapping[str, Any], name: str, path: Path) -> None:
    entry = result["scenarios"][name]
    policies = ordered(list(entry["summary"]))
    noisy = {p: sum(r["summary"]["on_noisy_nodes"] for r in entry["runs"] if r["policy"] == p) for p in policies}
    placed = {
        p: sum(r["summary"]["latency_critical_placed"] for r in entry["runs"] if r["policy"] == p) for p in policies
    }
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(policies) + 1.8))
    y = np.arange(len(policies))[::-1]
    share = np.array([noisy[p] / placed[p] if placed[p] else 0.0 for p in policies])
    ax.barh(y, share, color=NOISY, label="on a node with noisy neighbours")
    ax.barh(y, 1 - share, left=share, color=QUIET, label="on a quiet node")
    for yi, p, s in zip(y, policies, share, strict=True):
        ax.text(0.01, yi, f"{s:.0%} ({noisy[p]} of {placed[p]} pods)", va="center", fontsize=8)
    ax.set_yticks(y, policies)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title(f"Where latency-critical pods landed (all seeds)\n{_subtitle(result, name)}", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def latency_distribution(result: Mapping[str, Any], name: str, path: Path) -> None:
    summary = result["scenarios"][name]["summary"]
    policies = ordered(list(summary))
    percentiles = ("p50_ms", "p90_ms", "p99_ms")
    fig, ax = plt.subplots(figsize=(8, 4.8))
    width = 0.8 / len(percentiles)
    shades = (0.45, 0.7, 1.0)
    for i, metric in enumerate(percentiles):
        values = [_value(summary, p, metric) for p in policies]
        x = np.arange(len(policies)) + (i - 1) * width
        colours = [(*matplotlib.colors.to_rgb(COLOURS.get(p, "#444")), shades[i]) for p in policies]
        ax.bar(x, [v[0] for v in values], width, yerr=[[v[1] for v in values], [v[2] for v in values]], capsize=2,
               color=colours, edgecolor="black", linewidth=0.4)  # fmt: skip
        for xi, v in zip(x, values, strict=True):
            ax.annotate(f"{metric[:3].upper()}\n{v[0]:.2f}", (xi, v[0] + v[2]), ha="center", va="bottom", fontsize=6,
                        xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_xticks(np.arange(len(policies)), policies)
    ax.set_ylabel("request latency (ms)")
    ax.set_title(f"P50 / P90 / P99 of latency-critical requests per policy\n{_subtitle(result, name)}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def dashboard(result: Mapping[str, Any], name: str, path: Path) -> None:
    entry = result["scenarios"][name]
    summary = entry["summary"]
    policies = ordered(list(summary))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = (
        ("p99_ms", "P99 of latency-critical requests (ms)", "{:.2f}", 1.0),
        ("noisy_share", "latency-critical pods on noisy nodes (%)", "{:.0f}%", 100.0),
        ("slo_violation_share", "pods violating their P99 target (%)", "{:.0f}%", 100.0),
        ("mean_regret_ms", "mean regret vs the oracle (ms of P99)", "{:.3f}", 1.0),
        ("decision_latency_ms_p99", "decision latency p99 (ms)", "{:.2f}", 1.0),
        ("pods_per_second", f"pods bound per second (a burst of all {entry['arrivals']})", "{:.0f}", 1.0),
    )
    for ax, (metric, title, fmt, scale) in zip(axes.flat, panels, strict=True):
        _bars(ax, summary, policies, metric, fmt=fmt, scale=scale)
        ax.set_title(title, fontsize=10)
    machine = result["machine"]
    fig.suptitle(
        f"Noisy-neighbour placement benchmark — {_subtitle(result, name)}; "
        f"{machine['cpus']} × {machine['cpu']}, commit {machine['commit']}, {result['mode']} run of {result['time']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw(result: Mapping[str, Any], output: Path, scenarios: Sequence[str] | None = None) -> list[Path]:
    """Every chart of every (chosen) scenario; returns the files written."""
    written = []
    for name in scenarios or list(result["scenarios"]):
        if name not in result["scenarios"]:
            raise ReportError(f"no scenario {name!r} in the results; it has {', '.join(result['scenarios'])}")
        if not result["scenarios"][name]["runs"]:
            continue
        folder = output / name
        folder.mkdir(parents=True, exist_ok=True)
        for chart, function in zip(CHARTS, (p99_comparison, placement_accuracy, latency_distribution, dashboard),
                                   strict=True):  # fmt: skip
            function(result, name, folder / chart)
            written.append(folder / chart)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="a results file of benchmark/runner.py")
    parser.add_argument("--output", type=Path, help="folder for the charts (default: FILE without .json)")
    parser.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    args = parser.parse_args(argv)
    try:
        result = load(args.input)
        written = draw(result, args.output or args.input.with_suffix(""), args.scenario)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
