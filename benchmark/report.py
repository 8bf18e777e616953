"""The placement benchmark's tables, generated from a results file: for the console and for README.md.

    python benchmark/report.py --input benchmark/results/<timestamp>.json [--readme] [--compact FILE]

prints the Markdown; with `--readme` it replaces README.md's section between `<!-- results:start -->` and
`<!-- results:end -->` (added at the end when absent), so the README's numbers are never typed by hand,
and shows the charts `benchmark/visualize.py` drew next to the input (`<input without .json>/<scenario>/`).
`--compact FILE` writes the input without its per-pod rows (a fiftieth of the size, everything the tables
and charts read) and reports from that copy, the one to commit. The README's section comes from:

    python benchmark/runner.py --quick --output benchmark/results/quick.json
    python benchmark/runner.py --quick --scenario mixed-100 --output benchmark/results/mixed-100.json
    python benchmark/report.py --input benchmark/results/quick.json --compact docs/benchmark/quick.json
    python benchmark/report.py --input benchmark/results/mixed-100.json --compact docs/benchmark/mixed-100.json
    python benchmark/visualize.py --input docs/benchmark/quick.json
    python benchmark/visualize.py --input docs/benchmark/mixed-100.json
    python benchmark/report.py --input docs/benchmark/quick.json --input docs/benchmark/mixed-100.json --readme

`write_section` is shared with the performance suite (`<!-- perf:start -->` ... `<!-- perf:end -->`).
"""

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ORDER = ("default", "loadaware", "trimaran-lvrb", "trimaran-tlp", "heuristic", "transformer", "auto", "oracle")
OURS = ("heuristic", "transformer", "auto")
CHAIN = "auto"
"""The production chain: the policy the scoreboard holds against every other."""
RIVALS = ("default", "loadaware", "trimaran-lvrb", "trimaran-tlp")
"""What a user would run instead of the chain."""
MODE_TITLES = {
    "burst": "Burst: every arrival at once",
    "steady": "Steady: arrivals at their own times",
    None: "Arrivals at their own times",
}
COLUMNS = (
    ("policy", None, ""),
    ("P50 ms", "p50_ms", "{:.3f}"),
    ("P90 ms", "p90_ms", "{:.3f}"),
    ("P95 ms", "p95_ms", "{:.3f}"),
    ("P99 ms", "p99_ms", "{:.3f}"),
    ("on noisy nodes", "noisy_share", "{:.0%}"),
    ("SLO violations", "slo_violation_share", "{:.0%}"),
    ("mean regret ms", "mean_regret_ms", "{:.3f}"),
    ("decision p50 / p99 ms", ("decision_latency_ms_p50", "decision_latency_ms_p99"), "{:.2f}"),
    ("pods/s (burst)", "pods_per_second", "{:.0f}"),
)


SHARES = frozenset({"noisy_share", "slo_violation_share", "suboptimal_share"})
"""Metrics that are fractions of pods: their intervals end at 100 %."""
CHARTS_SHOWN = ("dashboard.png",)
"""The charts the README shows per scenario (the others are linked)."""


class ReportError(ValueError):
    """A results file the report cannot read; the message says which and why."""


def bounded(metric: Mapping[str, float], name: str) -> tuple[float, float]:
    """The 95 % interval clipped to what the metric can be: every metric here is >= 0, and a share <= 1
    (a t interval over two seeds easily reaches past both ends)."""
    upper = 1.0 if name in SHARES else float("inf")
    return min(max(metric["lo"], 0.0), upper), min(max(metric["hi"], 0.0), upper)


def cell(metric: Mapping[str, float] | None, fmt: str, name: str = "") -> str:
    """`mean` or `mean [lo, hi]`: the 95 % interval across seeds, clipped to the metric's range."""
    if metric is None:
        return "-"
    text = fmt.format(metric["mean"])
    if metric.get("n", 1) > 1 and metric["lo"] != metric["hi"]:
        lo, hi = bounded(metric, name)
        text += f" [{fmt.format(lo)}, {fmt.format(hi)}]"
    return text


def seeds_label(entry: Mapping[str, Any]) -> str:
    """`2 runs (scenario seeds 7 and 8)`: how many seeds, and which seed values, so `seeds 7` is not read as
    seven seeds."""
    seeds = [str(s) for s in entry["seeds"]]
    values = seeds[0] if len(seeds) == 1 else ", ".join(seeds[:-1]) + f" and {seeds[-1]}"
    return f"{len(seeds)} run{'s' if len(seeds) != 1 else ''} (scenario seed{'s' if len(seeds) != 1 else ''} {values})"


def ordered(policies: Sequence[str]) -> list[str]:
    return sorted(policies, key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))


def rows(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[list[str]]:
    """One row per policy, in the COLUMNS order."""
    out = []
    for policy in ordered(list(summary)):
        metrics = summary[policy]
        row = [policy]
        for _, key, fmt in COLUMNS[1:]:
            if isinstance(key, tuple):
                row.append(" / ".join(cell(metrics.get(k), fmt, k) for k in key))
            else:
                row.append(cell(metrics.get(key), fmt, key))
        out.append(row)
    return out


def profile_rows(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> tuple[list[str], list[list[str]]]:
    """P99 per latency-critical workload profile, one row per policy."""
    profiles = sorted({k[len("p99_ms[") : -1] for m in summary.values() for k in m if k.startswith("p99_ms[")})
    table = [
        [policy, *(cell(summary[policy].get(f"p99_ms[{p}]"), "{:.3f}") for p in profiles)]
        for policy in ordered(list(summary))
    ]
    return profiles, table


def comparisons(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    """Each of our policies against `default`, then the production chain against every rival and the oracle."""
    base = summary.get("default")
    lines = []
    for policy in [p for p in OURS if p in summary and base]:
        ours = summary[policy]
        lines.append(
            f"{policy} vs default: pooled P99 {_change(ours, base)}; latency-critical pods on noisy nodes "
            f"{base['noisy_share']['mean']:.0%} → {ours['noisy_share']['mean']:.0%}; SLO violations "
            f"{base['slo_violation_share']['mean']:.0%} → {ours['slo_violation_share']['mean']:.0%}"
        )
    verdict = chain_verdict(summary)
    if verdict:
        lines.append(verdict)
    return lines


def _change(ours: Mapping[str, Mapping[str, float]], other: Mapping[str, Mapping[str, float]]) -> str:
    """The pooled P99's relative change from `other` to `ours`, as `+12%`."""
    theirs = other["p99_ms"]["mean"]
    return f"{(ours['p99_ms']['mean'] / theirs - 1) if theirs else 0.0:+.0%}"


def chain_verdict(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str | None:
    """The production chain's pooled P99 against each rival, wins and losses alike, and its ratio to the oracle's."""
    if CHAIN not in summary:
        return None
    ours = summary[CHAIN]
    rivals = [r for r in RIVALS if r in summary]
    lost = [r for r in rivals if ours["p99_ms"]["mean"] > summary[r]["p99_ms"]["mean"]]
    parts = [f"{r} {_change(ours, summary[r])}" for r in rivals]
    text = f"{CHAIN} (production chain) pooled P99 vs " + ", ".join(parts) if parts else f"{CHAIN} (production chain)"
    if "oracle" in summary and summary["oracle"]["p99_ms"]["mean"]:
        text += f"; {ours['p99_ms']['mean'] / summary['oracle']['p99_ms']['mean']:.2f}× the oracle's"
    if rivals:
        text += "; **loses to " + ", ".join(lost) + "**" if lost else "; beats every rival"
    return text


def setting(result: Mapping[str, Any], entry: Mapping[str, Any]) -> tuple[str | None, float]:
    """A scenario entry's arrival mode and telemetry period (files from before the modes: one period, no mode)."""
    period = entry.get("period_seconds", result["telemetry"].get("period_seconds"))
    return entry.get("mode"), float(period)


def groups(result: Mapping[str, Any]) -> list[tuple[tuple[str | None, float], list[tuple[str, Mapping[str, Any]]]]]:
    """The scenario entries grouped by (mode, period): burst before steady, shorter periods first."""
    grouped: dict[tuple[str | None, float], list[tuple[str, Mapping[str, Any]]]] = {}
    for key, entry in result["scenarios"].items():
        grouped.setdefault(setting(result, entry), []).append((key, entry))
    order = list(MODE_TITLES)
    return sorted(grouped.items(), key=lambda item: (order.index(item[0][0]), item[0][1]))


def family_note(entry: Mapping[str, Any]) -> str:
    """`; family near-full, held out from training` (nothing for files that do not say)."""
    if "family" not in entry:
        return ""
    return f"; family {entry['family']}, {'held out from training' if entry.get('held_out') else 'trained on'}"


def scoreboard(result: Mapping[str, Any]) -> list[str]:
    """One row per scenario, mode and period: the chain's pooled P99 against each rival and the oracle."""
    body = []
    for (mode, period), entries in groups(result):
        for key, entry in entries:
            summary = entry["summary"]
            if CHAIN not in summary:
                continue
            ours = summary[CHAIN]
            oracle = summary.get("oracle", {}).get("p99_ms", {}).get("mean")
            body.append(
                [
                    entry.get("scenario", key),
                    "yes" if entry.get("held_out") else "no",
                    mode or "-",
                    f"{period:g} s",
                    f"{ours['p99_ms']['mean']:.3f}",
                    *(_change(ours, summary[r]) if r in summary else "-" for r in RIVALS),
                    f"{ours['p99_ms']['mean'] / oracle:.2f}×" if oracle else "-",
                    f"{ours['noisy_share']['mean']:.0%}",
                ]
            )
    if not body:
        return []
    header = ["scenario", "held out", "arrivals", "telemetry", f"{CHAIN} P99 ms", *(f"vs {r}" for r in RIVALS),
              "× oracle", "on noisy nodes"]  # fmt: skip
    return [
        f"**Scoreboard**: the production chain (`{CHAIN}`)'s pooled P99 of latency-critical pods against each "
        "policy a user would run instead (a + is a loss) and against the oracle; *held out* families were never "
        "used for training or tuning.",
        "",
        *_table(header, body),
        "",
    ]


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def markdown(results: Sequence[tuple[Mapping[str, Any], str]], *, readme: bool = True) -> str:
    """The README's results section (or, with `readme` false, the same text printed): one block per results file."""
    inputs = " ".join(f"--input {source}" for _, source in results) + (" --readme" if readme else "")
    lines = [
        "### Placement benchmark (generated)",
        "",
        f"Generated by `python benchmark/report.py {inputs}` from `benchmark/runner.py` runs. Every policy "
        "runs through the real scheduler loop against the emulated cluster, arrivals replayed in order. "
        f"Latencies of latency-critical pods: {results[0][0]['latency_source']}. Cells are means with the 95 % "
        "interval across seeds in brackets (clipped to the possible range: at 0, and at 100 % for shares); a seed is "
        "one replay of the scenario with its seed value shifted; P50-P99 pool every request of the "
        "latency-critical arrivals; *on noisy nodes* uses the simulator's ground truth (hidden antagonists "
        "included); regret is the predicted P99 on the chosen node minus the best feasible node's, in the cluster "
        "as each pod found it; pods/s is a burst of all the scenario's arrivals at once (timed once per scenario, "
        "shown in the first group).",
        "",
    ]
    for result, source in results:
        lines += block(result, source)
    return "\n".join(lines).rstrip() + "\n"


def block(result: Mapping[str, Any], source: str) -> list[str]:
    """One results file: its set-up, the scoreboard, a table per scenario grouped by arrival mode and telemetry
    period, the policies and the real-counter check."""
    machine = result["machine"]
    telemetry = result["telemetry"]
    lines = [
        f"#### {result['mode'].capitalize()} run ([`{source}`]({source}))",
        "",
        f"{result['seeds']} seed{'s' if result['seeds'] != 1 else ''} per scenario, "
        f"{result['requests_per_pod']:,} requests per pod; "
        f"{machine['cpus']} × {machine['cpu']}, Python {machine['python']}, commit {machine['commit']}, "
        f"load average {machine['load_average_before'][0]} before and {machine['load_average_after'][0]} after; "
        f"each node publishes its NodeState once a period in {telemetry['cohorts']} staggered cohorts, so "
        "placements outrun it. *Burst*: every arrival created at the scenario's start, decided in order, no "
        "NodeState published in between; *steady*: each arrival at its own time in the scenario, the node agents "
        "publishing meanwhile.",
        "",
        *scoreboard(result),
    ]
    for (mode, period), entries in groups(result):
        lines += [f"##### {MODE_TITLES[mode]}, telemetry every {period:g} s", ""]
        for key, entry in entries:
            name = entry.get("scenario", key)
            lines += [
                f"**{name}** ({mode or 'replayed'}, {period:g} s): {entry['nodes']} nodes, {entry['running_pods']} "
                f"running pods, {entry['arrivals']} arrivals; {seeds_label(entry)}{family_note(entry)}.",
                "",
                *_table([c[0] for c in COLUMNS], rows(entry["summary"])),
                "",
            ]
            profiles, body = profile_rows(entry["summary"])
            if profiles:
                lines += [*_table(["P99 ms by workload", *profiles], body), ""]
            lines += [f"- {line}" for line in comparisons(entry["summary"])]
            lines += ["", *charts(source, key)]
    return [*lines, *policy_notes(result), ""]


def charts(source: str, name: str, *, root: Path = ROOT) -> list[str]:
    """The scenario's charts drawn from `source` (visualize.py's default folder), shown or linked; none when
    they were not drawn."""
    folder = Path(source).with_suffix("") / name
    drawn = sorted((root / folder).glob("*.png"))
    if not drawn:
        return []
    shown = [f"![{name}: {p.stem.replace('_', ' ')}]({(folder / p.name).as_posix()})" for p in drawn
             if p.name in CHARTS_SHOWN]  # fmt: skip
    linked = [f"[{p.stem.replace('_', ' ')}]({(folder / p.name).as_posix()})" for p in drawn
              if p.name not in CHARTS_SHOWN]  # fmt: skip
    return [*shown, "", f"Charts of {name}: " + ", ".join(linked) + ".", ""] if linked else [*shown, ""]


def compact(result: Mapping[str, Any]) -> dict[str, Any]:
    """The results without each run's per-pod rows: what the tables and the charts read, small enough to commit."""
    out = dict(result)
    out["scenarios"] = {
        name: {**entry, "runs": [{k: v for k, v in run.items() if k != "pods"} for run in entry["runs"]]}
        for name, entry in result["scenarios"].items()
    }
    return out


def policy_notes(result: Mapping[str, Any]) -> list[str]:
    lines = ["Policies:"]
    for policy in ordered(list(result["policies"])):
        info = result["policies"][policy]
        lines.append(f"- `{policy}` ({info['status']}): {info.get('note', '')}")
    counters = result.get("real_counters") or {}
    if counters.get("status") != "ok":
        lines.append(f"- Real-counter check: {counters.get('status', 'not run')} ({counters.get('reason', '')}).")
        return lines
    lines += [
        "",
        f"Real-counter check (pairwise ranking accuracy on `{counters['data']}`: share of pairs of measured "
        "nodes where the policy scores the lower-P99 node strictly higher; ties count as wrong):",
        "",
        *_table(
            ["policy", "held-out campaigns", "all campaigns", "scorer"],
            [[policy, *(_pairs(entry.get(k)) for k in ("held_out", "all")), entry["note"]]
             for policy, entry in ((p, counters["policies"][p]) for p in ordered(list(counters["policies"])))],
        ),
    ]  # fmt: skip
    return lines


def _pairs(counts: Mapping[str, Any] | None) -> str:
    if not counts:
        return "-"
    return f"{counts['accuracy']:.1%} ({counts['correct']}/{counts['pairs']}, {counts['ties']} ties)"


def console_tables(result: Mapping[str, Any]) -> None:
    """The same tables for a terminal."""
    console = Console(width=200)
    for key, entry in result["scenarios"].items():
        mode, period = setting(result, entry)
        table = Table(
            title=f"{entry.get('scenario', key)} ({mode or 'replayed'}, telemetry every {period:g} s): "
            f"{entry['nodes']} nodes, {entry['arrivals']} arrivals, {seeds_label(entry)}"
        )
        for header, _, _ in COLUMNS:
            table.add_column(header, justify="left" if header == "policy" else "right")
        for row in rows(entry["summary"]):
            table.add_row(*row)
        console.print(table)
        for line in comparisons(entry["summary"]):
            console.print(f"  {line}")
    for line in policy_notes(result):
        console.print(line)


def write_section(name: str, body: str, *, readme: Path = README) -> None:
    """Replace README's `<!-- name:start -->` ... `<!-- name:end -->` section (appended when absent)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text() if readme.exists() else ""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text and text.index(start) < text.index(end):
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    readme.write_text(text)


def read_results(path: Path, keys: tuple[str, ...], producer: str, error: type[ValueError]) -> dict[str, Any]:
    """A results file as a dict, or `error` naming the file and why it is not one of `producer`'s."""
    try:
        result = json.loads(path.read_text())
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not JSON: {exc}") from None
    if not isinstance(result, dict) or not all(key in result for key in keys):
        named = " or ".join(f"'{key}'" for key in keys)
        raise error(f"{path}: not a results file of {producer} (no {named})")
    return result


def load(path: Path) -> dict[str, Any]:
    return read_results(path, ("scenarios", "machine"), "benchmark/runner.py", ReportError)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input", type=Path, action="append", required=True, help="a results file of benchmark/runner.py (repeatable)"
    )
    parser.add_argument("--readme", action="store_true", help="write the section into README.md")
    parser.add_argument(
        "--compact", type=Path, metavar="FILE", help="write the input without per-pod rows to FILE and report from it"
    )
    args = parser.parse_args(argv)
    if args.compact and len(args.input) != 1:
        parser.error("--compact takes exactly one --input")
    try:
        results = [(load(path), _relative(path)) for path in args.input]
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.compact:
        args.compact.parent.mkdir(parents=True, exist_ok=True)
        args.compact.write_text(json.dumps(compact(results[0][0]), indent=1, allow_nan=False) + "\n")
        results = [(load(args.compact), _relative(args.compact))]
        print(f"wrote {results[0][1]}")
    text = markdown(results, readme=args.readme)
    if args.readme:
        write_section("results", text)
        print(f"README.md: results section updated from {', '.join(source for _, source in results)}")
    else:
        print(text)
    return 0


def _relative(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
