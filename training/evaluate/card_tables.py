"""The model card's tables and verdict lines, one renderer per evaluation (`training.evaluate.card` puts them in
the prose). Pure: each takes an evaluation `Report`, a leave-one-out result or a latency record and returns
Markdown lines (the leave-one-out table also reads the measurements, for each variant's agreement with them).
"""

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cluster.nodestate import LOG_FRACTION_OFFSET, METRICS
from scoring.transformer import evidence
from scoring.transformer.features import FEATURE_NAMES
from sim import calibration, interference
from training import synthetic
from training.evaluate import families, heldout
from training.evaluate.report import C0_ALONE, POLICIES, SETS, TRANSFORMER, Report

NO_ATTENTION = "transformer-no-attention"

LABELS = {
    TRANSFORMER: "transformer tier",
    "heuristic": "heuristic tier",
    "default": "kube-scheduler default scoring",
    heldout.RANDOM: "random pick (expectation)",
    "loadaware": "Koordinator LoadAware",
    "trimaran-lvrb": "Trimaran LoadVariationRiskBalancing",
    "trimaran-tlp": "Trimaran TargetLoadPacking",
    NO_ATTENTION: "transformer without attention",
    C0_ALONE: "C0 residency alone (lower is better)",
}
LOFO_POLICIES = (TRANSFORMER, NO_ATTENTION, "heuristic", "loadaware", "trimaran-lvrb", "trimaran-tlp", "default")


def attention_earns_its_cost(variants: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> bool:
    """The ablation's rule: the block is kept only if, over the held-out interference variants, the model with
    it has the lower mean regret on average and on at least half of them."""
    pairs = [(by[TRANSFORMER]["mean_regret"], by[NO_ATTENTION]["mean_regret"]) for by in variants.values()]
    if not pairs:
        return False
    wins = sum(a < b for a, b in pairs)
    return sum(a for a, _ in pairs) < sum(b for _, b in pairs) and 2 * wins >= len(pairs)


def _fraction(value: Any) -> str:
    return pct(value) if isinstance(value, int | float) else "n/a"


def _log_units(value: Any) -> str:
    """A regret in log units (n/a where a run did not record it)."""
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"


def lofo_table(lofo: Mapping[str, Any] | None) -> list[str]:
    """The leave-one-variant-out table, each variant's lowest mean regret in bold, and the ablation's verdict."""
    if not lofo:
        return ["Not run yet: `python -m training.lofo` writes it."]
    settings = lofo.get("settings", {})
    variants: Mapping[str, Mapping[str, Mapping[str, Any]]] = lofo["variants"]
    lines = [
        "Each run trains on the variants the shipped model trains on but the one held out "
        f"({settings.get('decisions')} simulated "
        f"clusters, {settings.get('epochs')} epochs: smaller than the shipped training, as CPU is scarce; the same "
        "randomisation and real measurements) and is evaluated on "
        f"{settings.get('eval_decisions')} clusters of the training scenario families "
        f"({', '.join(lofo.get('eval_families', []))}, seed {settings.get('eval_seed')}) labelled by the variant "
        "held out, training profiles only. Regret: the pick's P99 in milliseconds over the best candidate's, "
        "minus 1: the arriving pod's own P99 alone. Cost regret: the pick's ln P99 plus the harm it does there "
        "(the sum of ln slowdowns of the latency-critical pods already on the node, as the tier's cost counts it), "
        "minus the lowest such cost among the candidates, in log units: what the pick does to its neighbours "
        "too, which the regret cannot see. Every policy picks through its serving code on the same snapshots; "
        "the peers with their own filters (a pod they leave unplaced is counted apart).",
        "",
        "| held-out interference variant | policy | decisions | mean regret | p95 regret | latency-critical mean "
        "regret | mean cost regret | unplaced |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, table in variants.items():
        present = [p for p in LOFO_POLICIES if p in table]
        best = min(present, key=lambda p: table[p]["mean_regret"] if table[p]["mean_regret"] is not None else 9e9)
        for policy in present:
            m = table[policy]
            regret = f"**{_fraction(m['mean_regret'])}**" if policy == best else _fraction(m["mean_regret"])
            lines.append(
                f"| {variant} | {LABELS[policy]} | {m['decisions']} | {regret} | {_fraction(m['p95_regret'])} | "
                f"{_fraction(m.get('critical_mean_regret'))} | {_log_units(m.get('mean_cost_regret'))} | "
                f"{m.get('unplaced', 0)} |"
            )
    mixes = calibration.measured(calibration.load())
    agreed = {v: calibration.agreement(interference.VARIANTS[v], mixes) for v in variants if v in interference.VARIANTS}
    allowed = ", ".join(f"{name} {inside}/{total}" for name, (inside, total) in agreed.items())
    lines += [
        "",
        "How far the real measurements allow each variant (`sim.calibration.agreement`: the measured mixes whose "
        f"P99 interquartile range its nginx slowdown falls in): {allowed}. The shipped model trains on the "
        "variants the measurements allow in at least half of the mixes (`training.synthetic.VARIANTS`); "
        f"{', '.join(synthetic.IMPLAUSIBLE)} is held out here as a test world and never trained on: where the worlds "
        "disagree (a CPU hog beside a quiet cache), a model taught it learnt that the hog is nearly harmless.",
    ]
    losses = [
        v
        for v, t in variants.items()
        if any(t[p]["mean_regret"] < t[TRANSFORMER]["mean_regret"] for p in LOFO_POLICIES[2:] if p in t)
    ]
    lines += [
        "",
        "The transformer (with its attention block) has the lowest mean regret of the tiers and peers on "
        + (
            "every held-out variant."
            if not losses
            else f"{len(variants) - len(losses)} of {len(variants)} held-out variants; another policy beats it on: "
            + ", ".join(losses)
            + "."
        ),
    ]
    return lines


def ablation(lofo: Mapping[str, Any] | None, config: Mapping[str, Any]) -> str:
    """The attention ablation's verdict, from the leave-one-out runs (both models trained on the same data)."""
    if not lofo:
        return "Attention ablation: not run (`python -m training.lofo` trains both)."
    variants = lofo["variants"]
    pairs = ", ".join(
        f"{v} {pct(t[TRANSFORMER]['mean_regret'])} vs {pct(t[NO_ATTENTION]['mean_regret'])}"
        for v, t in variants.items()
    )
    kept = attention_earns_its_cost(variants)
    shipped = "with" if config.get("layers") else "without"
    members = lofo.get("settings", {}).get("members", 1)
    return (
        f"Attention ablation on the held-out interference variants (mean regret with the block vs without, same "
        f"data and seeds, {members} member(s) per side): {pairs}. By the rule (lower on average and on at least "
        f"half the variants) the block {'earns' if kept else 'does not earn'} its cost; the shipped model is "
        f"trained {shipped} it."
    )


def pct(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{100 * value:.1f} %"


def held_out_table(report: Report) -> list[str]:
    """The held-out simulated sets: top-1 and regret per policy, the transformer in bold."""
    lines = [
        "| held-out set | policy | decisions | top-1 (within 1 %) | strict top-1 | mean regret | p95 regret |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for spec in SETS:
        for policy in POLICIES:
            m = report.held_out[spec.name][policy]
            name = f"**{LABELS[policy]}**" if policy == TRANSFORMER else LABELS[policy]
            lines.append(
                f"| {spec.name} | {name} | {m.decisions} | {pct(m.top1)} | {pct(m.strict_top1)} | "
                f"{pct(m.mean_regret)} | {pct(m.p95_regret)} |"
            )
    return lines


def profile_table(report: Report) -> list[str]:
    """The held-out profiles one by one (the local tiers and default)."""
    lines = [
        "| profile | policy | decisions | top-1 (within 1 %) | mean regret | p95 regret |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for profile, table in report.by_profile.items():
        for policy in (TRANSFORMER, "heuristic", "default"):
            m = table[policy]
            lines.append(
                f"| {profile} | {LABELS[policy]} | {m.decisions} | {pct(m.top1)} | {pct(m.mean_regret)} | "
                f"{pct(m.p95_regret)} |"
            )
    return lines


def pair_table(report: Report) -> list[str]:
    """Real-counter pairwise accuracy per policy, held-out and fine-tuning campaigns apart."""
    lines = ["| policy | campaigns | pairs | accuracy | ties |", "|---|---|---:|---:|---:|"]
    for policy, table in report.pairs.items():
        for campaigns, result in table.items():
            lines.append(
                f"| {LABELS[policy]} | {campaigns} | {result.pairs} | {pct(result.accuracy)} | "
                f"{pct(result.ties / result.pairs if result.pairs else 0.0)} |"
            )
    return lines


def _p99(m: families.FamilyMetrics) -> float:
    return m.critical_p99_ms if math.isfinite(m.critical_p99_ms) else math.inf


def _best(table: Mapping[str, families.FamilyMetrics]) -> str:
    return min(table, key=lambda policy: _p99(table[policy]))


def family_table(report: Report) -> list[str]:
    """Each held-out family's replay metrics per policy; the family's lowest latency-critical P99 in bold."""
    lines = [
        "| family | policy | latency-critical P99 ms | decisions | mean regret | p95 regret | latency-critical mean "
        "regret | unplaced |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for family, table in report.by_family.items():
        best = _best(table)
        for policy, m in table.items():
            p99 = f"{m.critical_p99_ms:.3f}"
            lines.append(
                f"| {family} | {LABELS[policy]} | {f'**{p99}**' if policy == best else p99} | {m.decisions} | "
                f"{pct(m.mean_regret)} | {pct(m.p95_regret)} | {pct(m.critical_mean_regret)} | {m.unplaced} |"
            )
    return lines


def chain_lines(report: Report, earned: evidence.Verdict) -> list[str]:
    """Which local tier leads the production chain, by the family table, and the losses and wins behind it."""
    wins = {
        family: min((TRANSFORMER, "heuristic"), key=lambda policy: _p99(table[policy]))
        for family, table in report.by_family.items()
    }
    best = {family: _best(table) for family, table in report.by_family.items()}
    others = {family: policy for family, policy in best.items() if policy not in (TRANSFORMER, "heuristic")}
    order = "LLM → transformer → heuristic" if earned.lead else "LLM → heuristic (the transformer is left out)"
    return [
        f"Chain order for these weights: **{order}**, because {earned.reason}. Local tier with the lower "
        "latency-critical P99 per family: "
        + ", ".join(f"{family}: {LABELS[w]}" for family, w in wins.items())
        + ". "
        + (
            "Another policy beats both local tiers on: "
            + ", ".join(f"{family} ({LABELS[policy]})" for family, policy in others.items())
            + "."
            if others
            else "No other policy beats the better local tier on any family."
        ),
        "",
        "A transformer that loses to the heuristic on any held-out family is left out rather than consulted after "
        "it: the chain is first-answer-wins and the heuristic never declines, so a tier behind it would never be "
        "asked, and a blend would need weights nothing here has measured. The verdict is shipped beside the "
        f"weights (`{evidence.evidence_path(Path('model.pt')).name}`, keyed by their SHA-256) and read by "
        "`runtime.assemble` at start; forcing `--tier transformer` still runs it.",
    ]


def regime_table(report: Report) -> list[str]:
    """How the rule-based regimes label the measured tests, by kind of antagonist."""
    labels = sorted({label for counts in report.regimes.values() for label in counts})
    lines = ["| antagonists | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for kind, counts in report.regimes.items():
        lines.append(f"| {kind} | " + " | ".join(str(counts.get(label, 0)) for label in labels) + " |")
    return lines


def latency_lines(latency: Mapping[str, Any] | None) -> list[str]:
    """The last recorded 1,000-node latency measurement, or how to record one."""
    if not latency:
        return ["No measurement recorded yet: run `python benchmark/transformer_latency.py --record`."]
    return [
        f"`{latency.get('command', 'python benchmark/transformer_latency.py')}` on {latency.get('machine', '?')} "
        f"({latency.get('measured_at', '?')}): {latency.get('nodes')} nodes and {latency.get('running_pods')} running "
        f"pods, {latency.get('pods')} pods decided, "
        f"per-pod `latency_ms` p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms "
        f"(goal p99 <= {latency.get('goal_ms')} ms); the heuristic tier alone on the same snapshot: "
        f"p50 {latency.get('heuristic_p50_ms')} ms, p99 {latency.get('heuristic_p99_ms')} ms.",
    ]


def feature_groups() -> list[str]:
    """What a token holds, by group (names and scales come from the features module and the metric table, so they
    cannot drift)."""
    prefixes = sorted({name.split(".")[0] for name in FEATURE_NAMES if "." in name})
    metrics = [p for p in prefixes if not p.startswith(("pod", "pressure", "noisy", "sensitive"))]
    reading = {
        "log": "ln x",
        "log1p": "ln(1 + x)",
        "log_fraction": f"ln({LOG_FRACTION_OFFSET:g} + x)",
        "percent": "x / 100",
    }
    scales = [
        f"{reading[scale]} for {', '.join(sorted(m for m in metrics if METRICS[m].feature_scale == scale))}"
        for scale in reading
        if any(METRICS[m].feature_scale == scale for m in metrics)
    ]
    return [
        f"- per NodeState metric ({len(metrics)}: {', '.join(metrics)}): known flag, mean, p95 and spread on the "
        f"metric's scale ({'; '.join(scales)}; the other fractions as they are), distance of the mean from the "
        "cluster's median; unknown values take the cluster's median (never zero), the known flag tells them apart;",
        "- the node once the pod is placed: cpu, memory and pod-slot fractions; log2 of its cpu and memory;",
        "- declared neighbours per dimension: 1 - 0.5^count of pods annotated noisy, and of pods annotated sensitive;",
        "- InterferenceAware's telemetry pressure per dimension and its worst on the pod's sensitive dimensions;",
        "- the pod: workload class, sensitivity and noisy flags, log2 cpu and memory requests (never names, images "
        "or labels).",
    ]
