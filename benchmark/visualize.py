"""Charts of a placement benchmark results file, one folder per scenario.

    python benchmark/visualize.py --input benchmark/results/<timestamp>.json [--output DIR] [--scenario NAME ...]

Draws, for each scenario entry, into `DIR/<mode>-<period>s/<scenario>/` (the entry's key; default DIR: a folder named
after the results file, next to it):
- `p99_comparison.png`: P99 of the latency-critical pods per policy, pooled and per workload profile;
- `placement_accuracy.png`: where those pods landed, on nodes with noisy neighbours or quiet ones;
- `latency_distribution.png`: P50, P90 and P99 per policy;
- `dashboard.png`: the summary (P99, noisy share, SLO violations, regret, decision latency, pods/s).
Bars are means across seeds; whiskers the 95 % interval across them, clipped to what the metric can be (as
the README's tables), and drawn only with two seeds or more. Every number comes from the results file; the
path of each chart is printed as it is written.
"""

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
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

from benchmark.report import SHARES, ReportError, bounded, load, ordered, seeds_label, setting  # noqa: E402

COLOURS = {
    "default": "#8c8c8c",
    "loadaware": "#ff7f0e",
    "trimaran-lvrb": "#bcbd22",
    "trimaran-tlp": "#8c564b",
    "heuristic": "#1f77b4",
    "transformer": "#9467bd",
    "auto": "#17becf",
    "oracle": "#2ca02c",
}
NOISY, QUIET = "#d62728", "#98df8a"
CHARTS = ("p99_comparison.png", "placement_accuracy.png", "latency_distribution.png", "dashboard.png")
Summary = Mapping[str, Mapping[str, Mapping[str, float]]]


def _value(summary: Summary, policy: str, metric: str) -> tuple[float, float, float]:
    """Mean and the distances to the interval's ends (for error bars); NaN when absent. The interval is
    clipped to the metric's range as in the README's tables, and is none with a single seed."""
    m = summary[policy].get(metric)
    if m is None:
        return float("nan"), 0.0, 0.0
    if m.get("n", 1) < 2:
        return m["mean"], 0.0, 0.0
    lo, hi = bounded(m, metric)
    return m["mean"], max(m["mean"] - lo, 0.0), max(hi - m["mean"], 0.0)


def _yerr(values: Sequence[tuple[float, float, float]]) -> list[list[float]] | None:
    """Error bars for `ax.bar`, or None when there is no interval (one seed): no zero-length whiskers."""
    below, above = [v[1] for v in values], [v[2] for v in values]
    return [below, above] if any(below) or any(above) else None


def _whiskers(summary: Summary) -> int:
    """Seeds behind the intervals (the fewest of any policy's metric); below 2 there are none to draw."""
    counts = [m.get("n", 1) for metrics in summary.values() for m in metrics.values()]
    return min(counts, default=0)


def _whisker_note(summary: Summary) -> str:
    seeds = _whiskers(summary)
    return f"whiskers: 95 % interval across {seeds} seeds" if seeds > 1 else "one seed: no interval to show"


def _bars(ax: Axes, summary: Summary, policies: Sequence[str], metric: str, *, fmt: str, scale: float = 1.0) -> None:
    """One bar per policy with its interval and its value on top; an axis from 0, and 0..1 when every value
    is 0 (rather than matplotlib's −0.04..0.04 around nothing)."""
    values = [_value(summary, p, metric) for p in policies]
    means = np.array([v[0] for v in values]) * scale
    errors = np.array([[v[1] for v in values], [v[2] for v in values]]) * scale
    x = np.arange(len(policies))
    whiskers = errors if errors.any() else None
    ax.bar(x, means, yerr=whiskers, capsize=3, color=[COLOURS.get(p, "#444") for p in policies])
    for xi, mean, above in zip(x, means, errors[1], strict=True):
        if np.isfinite(mean):
            ax.annotate(fmt.format(mean), (xi, mean + above), ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                        textcoords="offset points")  # fmt: skip
    ax.set_xticks(x, policies, rotation=20)
    top = float(np.nanmax(means + errors[1])) if np.isfinite(means).any() else 0.0
    if top > 0:
        ax.set_ylim(0, top * 1.15)
    else:
        ax.set_ylim(0, 100.0 if metric in SHARES and scale == 100.0 else 1.0)
        ax.text(0.5, 0.5, "0 for every policy", transform=ax.transAxes, ha="center", va="center", color="#666")
    ax.grid(axis="y", alpha=0.3)


def _subtitle(result: Mapping[str, Any], name: str, *, whiskers: bool = True) -> str:
    entry = result["scenarios"][name]
    note = f"; {_whisker_note(entry['summary'])}" if whiskers else ""
    mode, period = setting(result, entry)
    return (
        f"{entry.get('scenario', name)}: {entry['nodes']} nodes, {entry['arrivals']} arrivals"
        f"{f' ({mode})' if mode else ''}, {seeds_label(entry)}\nlatencies from the "
        f"calibrated interference model; telemetry every {period:g} s{note}"
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
        ax.bar(x, [v[0] for v in values], width, yerr=_yerr(values), capsize=2, label=policy,
               color=COLOURS.get(policy, "#444"))  # fmt: skip
    ax.set_xticks(np.arange(len(groups)), ["all latency-critical" if g == "all" else g for g in groups])
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the labels above the whiskers
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
    subtitle = _subtitle(result, name, whiskers=False)
    ax.set_title(f"Where latency-critical pods landed (all seeds)\n{subtitle}", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
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
        ax.bar(x, [v[0] for v in values], width, yerr=_yerr(values), capsize=2, color=colours, edgecolor="black",
               linewidth=0.4)  # fmt: skip
        for xi, v in zip(x, values, strict=True):
            ax.annotate(f"{metric[:3].upper()}\n{v[0]:.2f}", (xi, v[0] + v[2]), ha="center", va="bottom", fontsize=6,
                        xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_xticks(np.arange(len(policies)), policies)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the labels above the whiskers
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


def draw(
    result: Mapping[str, Any],
    output: Path,
    scenarios: Sequence[str] | None = None,
    *,
    written: Callable[[Path], None] = lambda _: None,
) -> list[Path]:
    """Every chart of every (chosen) scenario; `written` hears of each file as it is saved; returns them all."""
    files = []
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
            files.append(folder / chart)
            written(folder / chart)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="a results file of benchmark/runner.py")
    parser.add_argument("--output", type=Path, help="folder for the charts (default: FILE without .json)")
    parser.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    args = parser.parse_args(argv)
    output = args.output or args.input.with_suffix("")
    try:
        result = load(args.input)
        files = draw(result, output, args.scenario, written=lambda path: print(f"wrote {path}", flush=True))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(files)} charts in {output}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
