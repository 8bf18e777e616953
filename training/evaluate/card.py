"""The model card (`scoring/MODEL_CARD.md`), rendered from the checkpoint's training summary and an evaluation.

Written whole by `python -m training.train` and again by `python -m training.evaluate`, so its numbers are
always the last run's; `benchmark/transformer_latency.py --record` leaves its latest measurement in
`scoring/transformer/latency.json`, which the card quotes when present, and `python -m training.lofo` its
leave-one-interference-variant-out result in `scoring/transformer/lofo.json`, which the card tables and from
which it states the attention ablation's verdict. `render` is pure; `write` reads those files and the previous
card's training-time line and writes the file.
"""

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scoring.transformer import PROJECT_ROOT, evidence
from scoring.transformer.features import FEATURE_NAMES, FEATURE_VERSION
from scoring.transformer.model import Scorer, parameters
from sim import calibration, interference
from training import counters
from training.evaluate import families, heldout
from training.evaluate.report import POLICIES, SETS, TRANSFORMER, Report

CARD = PROJECT_ROOT / "scoring" / "MODEL_CARD.md"
LATENCY = PROJECT_ROOT / "scoring" / "transformer" / "latency.json"
LOFO = PROJECT_ROOT / "scoring" / "transformer" / "lofo.json"
"""`python -m training.lofo`'s output: held-out interference variant → policy → metrics."""
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


def load_lofo(path: Path = LOFO) -> dict[str, Any] | None:
    """The last leave-one-out result, or None when none was written (or it is unreadable)."""
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("variants"), dict) else None


def _fraction(value: Any) -> str:
    return _pct(value) if isinstance(value, int | float) else "n/a"


def _lofo(lofo: Mapping[str, Any] | None) -> list[str]:
    """The leave-one-variant-out table, each variant's lowest mean regret in bold, and the ablation's verdict."""
    if not lofo:
        return ["Not run yet: `python -m training.lofo` writes it."]
    settings = lofo.get("settings", {})
    variants: Mapping[str, Mapping[str, Mapping[str, Any]]] = lofo["variants"]
    lines = [
        f"Each run trains on every interference-model variant but one ({settings.get('decisions')} simulated "
        f"clusters, {settings.get('epochs')} epochs: smaller than the shipped training, as CPU is scarce; the same "
        "randomisation and real measurements) and is evaluated on "
        f"{settings.get('eval_decisions')} clusters of the training scenario families "
        f"({', '.join(lofo.get('eval_families', []))}, seed {settings.get('eval_seed')}) labelled by the variant "
        "held out, training profiles only. Regret: the pick's P99 in milliseconds over the best candidate's, "
        "minus 1. Every policy picks through its serving code on the same snapshots; the peers with their own "
        "filters (a pod they leave unplaced is counted apart).",
        "",
        "| held-out interference variant | policy | decisions | mean regret | p95 regret | latency-critical mean "
        "regret | unplaced |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for variant, table in variants.items():
        present = [p for p in LOFO_POLICIES if p in table]
        best = min(present, key=lambda p: table[p]["mean_regret"] if table[p]["mean_regret"] is not None else 9e9)
        for policy in present:
            m = table[policy]
            regret = f"**{_fraction(m['mean_regret'])}**" if policy == best else _fraction(m["mean_regret"])
            lines.append(
                f"| {variant} | {LABELS[policy]} | {m['decisions']} | {regret} | {_fraction(m['p95_regret'])} | "
                f"{_fraction(m.get('critical_mean_regret'))} | {m.get('unplaced', 0)} |"
            )
    mixes = calibration.measured(calibration.load())
    agreed = {v: calibration.agreement(interference.VARIANTS[v], mixes) for v in variants if v in interference.VARIANTS}
    allowed = ", ".join(f"{name} {inside}/{total}" for name, (inside, total) in agreed.items())
    lines += [
        "",
        "How far the real measurements allow each variant (`sim.calibration.agreement`: the measured mixes whose "
        f"P99 interquartile range its nginx slowdown falls in): {allowed}. The shipped model trains on every "
        "variant, the ones the measurements allow least included.",
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


def _ablation(lofo: Mapping[str, Any] | None, config: Mapping[str, Any]) -> str:
    """The attention ablation's verdict, from the leave-one-out runs (both models trained on the same data)."""
    if not lofo:
        return "Attention ablation: not run (`python -m training.lofo` trains both)."
    variants = lofo["variants"]
    pairs = ", ".join(
        f"{v} {_pct(t[TRANSFORMER]['mean_regret'])} vs {_pct(t[NO_ATTENTION]['mean_regret'])}"
        for v, t in variants.items()
    )
    kept = attention_earns_its_cost(variants)
    shipped = "with" if config.get("layers") else "without"
    return (
        f"Attention ablation on the held-out interference variants (mean regret with the block vs without, same "
        f"data and seed): {pairs}. By the rule (lower on average and on at least half the variants) the block "
        f"{'earns' if kept else 'does not earn'} its cost; the shipped model is trained {shipped} it."
    )


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _held_out(report: Report) -> list[str]:
    lines = [
        "| held-out set | policy | decisions | top-1 (within 1 %) | strict top-1 | mean regret | p95 regret |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for spec in SETS:
        for policy in POLICIES:
            m = report.held_out[spec.name][policy]
            name = f"**{LABELS[policy]}**" if policy == TRANSFORMER else LABELS[policy]
            lines.append(
                f"| {spec.name} | {name} | {m.decisions} | {_pct(m.top1)} | {_pct(m.strict_top1)} | "
                f"{_pct(m.mean_regret)} | {_pct(m.p95_regret)} |"
            )
    return lines


def _by_profile(report: Report) -> list[str]:
    lines = [
        "| profile | policy | decisions | top-1 (within 1 %) | mean regret | p95 regret |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for profile, table in report.by_profile.items():
        for policy in (TRANSFORMER, "heuristic", "default"):
            m = table[policy]
            lines.append(
                f"| {profile} | {LABELS[policy]} | {m.decisions} | {_pct(m.top1)} | {_pct(m.mean_regret)} | "
                f"{_pct(m.p95_regret)} |"
            )
    return lines


def _pairs(report: Report) -> list[str]:
    lines = ["| policy | campaigns | pairs | accuracy | ties |", "|---|---|---:|---:|---:|"]
    for policy, table in report.pairs.items():
        for campaigns, result in table.items():
            lines.append(
                f"| {LABELS[policy]} | {campaigns} | {result.pairs} | {_pct(result.accuracy)} | "
                f"{_pct(result.ties / result.pairs if result.pairs else 0.0)} |"
            )
    return lines


def _p99(m: families.FamilyMetrics) -> float:
    return m.critical_p99_ms if math.isfinite(m.critical_p99_ms) else math.inf


def _best(table: Mapping[str, families.FamilyMetrics]) -> str:
    return min(table, key=lambda policy: _p99(table[policy]))


def _families(report: Report) -> list[str]:
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
                f"{_pct(m.mean_regret)} | {_pct(m.p95_regret)} | {_pct(m.critical_mean_regret)} | {m.unplaced} |"
            )
    return lines


def _chain(report: Report, earned: evidence.Verdict) -> list[str]:
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


def _regimes(report: Report) -> list[str]:
    labels = sorted({label for counts in report.regimes.values() for label in counts})
    lines = ["| antagonists | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for kind, counts in report.regimes.items():
        lines.append(f"| {kind} | " + " | ".join(str(counts.get(label, 0)) for label in labels) + " |")
    return lines


def _latency(latency: Mapping[str, Any] | None) -> list[str]:
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


def _groups() -> list[str]:
    prefixes = sorted({name.split(".")[0] for name in FEATURE_NAMES if "." in name})
    metrics = [p for p in prefixes if not p.startswith(("pod", "pressure", "noisy", "sensitive"))]
    return [
        f"- per NodeState metric ({len(metrics)}: {', '.join(metrics)}): known flag, mean, p95 and spread on the "
        "metric's scale, distance of the mean from the cluster's median; unknown values take the cluster's median "
        "(never zero), the known flag tells them apart;",
        "- the node once the pod is placed: cpu, memory and pod-slot fractions; log2 of its cpu and memory;",
        "- declared neighbours per dimension: 1 - 0.5^count of pods annotated noisy, and of pods annotated sensitive;",
        "- InterferenceAware's telemetry pressure per dimension and its worst on the pod's sensitive dimensions;",
        "- the pod: workload class, sensitivity and noisy flags, log2 cpu and memory requests (never names, images "
        "or labels).",
    ]


def render(
    summary: Mapping[str, Any],
    report: Report,
    *,
    parameters: int,
    file_bytes: int,
    latency: Mapping[str, Any] | None = None,
    timing: str | None = None,
    earned: evidence.Verdict | None = None,
    lofo: Mapping[str, Any] | None = None,
) -> str:
    """The model card as Markdown."""
    config = summary.get("config", {})
    data = summary.get("data", {})
    train = summary.get("training", {})
    augmentation = data.get("augmentation", {})
    lines = [
        "# Model card: the transformer tier's interference scorer",
        "",
        "Generated by `python -m training.train` and regenerated by `python -m training.evaluate`; do not edit by "
        "hand.",
        "",
        "## What it does",
        "",
        "For a pod and every feasible node, in one forward pass over all candidates, it predicts what the user "
        "feels: the pod's P99 on that node over its P99 alone on the reference core (interference and the node's "
        "core speed together), and the harm it does there (the sum over the latency-critical pods already on the "
        "node of ln(their P99 with it / without), `sim.oracle.inflicted`'s measure). The tier combines both into "
        "one cost, `relative P99 x exp(harm)` (doubling one latency-critical neighbour's P99 costs as much as "
        "doubling its own), scores it 0..100 (`100 * (1 - ln(1.5 cost) / ln(1.5 x 25))`: 100 for a quiet core "
        "1.5x the reference's, 0 at the simulator's saturation), keeps InterferenceAware's rule that a pod "
        "declared noisy stays away from declared-sensitive neighbours, and picks the best node; near-ties (within "
        "1 % cost) go to the heuristic tier's preference. A pod whose scoring overruns "
        "`scoring.latency_budget_ms` falls back to the heuristic tier; repeated overruns open the tier's breaker.",
        "",
        "## Architecture and size",
        "",
        f"- tokens: one per candidate node, {len(FEATURE_NAMES)} features (feature version {FEATURE_VERSION});",
        f"- embedding {config.get('features')} -> {config.get('width')}, ReLU; {config.get('layers')} induced "
        f"self-attention block(s) (Set Transformer ISAB: {config.get('inducing')} learnt summary queries attend over "
        f"all candidates, every candidate attends over the summaries; {config.get('heads')} heads; feed-forward "
        f"{config.get('width')} -> {config.get('hidden')} -> {config.get('width')}); head {config.get('width')} -> "
        f"{config.get('hidden')} -> 2 (ln relative P99, unbounded: a fast core goes below 0; harm with softplus, "
        ">= 0);",
        f"- {parameters:,} parameters, {file_bytes / 1024:.0f} KiB on disk (float32, with the feature scale).",
        "- Size chosen for the latency goal: attention is O(N x summaries), so a 1,000-node decision costs well "
        "under a millisecond of model time on one CPU thread; the cluster context it adds is also given to every "
        "token as distance-from-median features.",
        "- " + _ablation(lofo, config),
        "- The same ablation at full size on the held-out scenario families (`python -m training.train --layers 0`, "
        "same data and seed, 3,938 parameters; 2026-12-05): without the block 111 %, 3.7 %, 8.4 %, 10.0 %, 3.0 % "
        "mean regret on cpu-antagonists, near-full, replica-burst, counter-gaps, heterogeneous (with it: 28.6 %, "
        "3.1 %, 9.5 %, 5.9 %, 7.9 %), held-out profiles 17.2 % (5.4 %), real-counter pairs 86.6 % (91.5 %). The "
        "block wins three of the five families and the sum, so it stays; it does not decide the burst "
        "(replica-burst is won by both through the fresh-placement estimate the training's telemetry lag "
        "exercises).",
        "",
        "## Features",
        "",
        *_groups(),
        "",
        "The same pure function (`scoring.transformer.features`) builds the tokens at training and at serving, "
        "always from a `Snapshot` (simulated clusters are rebuilt as Node, Pod and NodeState JSON), so there is "
        "no train/serve skew. Inputs are checked: NaN, infinite or negative telemetry is unknown; the model's "
        "input and output are checked finite and scores clamped to 0..100.",
        "",
        "## Training data",
        "",
        f"- simulated (bootstrapping, as KubeAttention): {data.get('sim_decisions')} random clusters of the "
        f"families {', '.join(data.get('sim_families', []))} (seed {data.get('sim_seed')}), "
        f"{data.get('sim_examples')} decisions with at least one feasible node and an arriving pod of a training "
        f"profile; {data.get('sim_nodes')} (pod, node) examples; held out: profiles "
        f"{', '.join(data.get('held_out_profiles', []))} and family {', '.join(data.get('held_out_families', []))}. "
        f"Augmented (CONTRACTS §1: a node may lack any metric, or publish nothing, and must then look typical, "
        f"not perfect): in {_pct(augmentation.get('blank_decisions', 0))} of the decisions each node's NodeState is "
        f"blanked with probability {augmentation.get('blank_nodes')}, in {_pct(augmentation.get('drop_decisions', 0))} "
        f"each node loses each counter source (perf, cmt, mbm, psi, cgroup) with probability "
        f"{augmentation.get('drop_sources')}. Labelled in turn by the interference-model variants "
        f"{', '.join(data.get('sim_variants', ['calibrated']))} (`sim.interference.VARIANTS`: the calibrated model; "
        "effects that add up; the worst resource alone; M/M/1-like memory-bandwidth waiting P/(1-P); a cache that "
        "costs nothing below 70 % of the L3 and rises steeply after; CPU delayed by over-subscription only), with "
        "per decision and profile lognormal sensitivities, per node lognormal L3, memory bandwidth and core "
        "speed, latency-critical services among the running pods, and telemetry lag (in half the decisions each "
        "running pod was placed since the NodeState with probability 0.3, and the fresh-placement estimate "
        f"counts it, as in production): `sim.dataset.Randomisation` {data.get('sim_randomisation', {})};",
        f"- real: {data.get('real_groups')} groups ({data.get('real_tests')} load tests) of the KubeMarla "
        f"measurements from the campaigns {', '.join(data.get('real_campaigns', []))}, weight "
        f"{data.get('real_weight')} each; campaigns {', '.join(counters.HELD_OUT_CAMPAIGNS)} are held out;",
        f"- collector records: {data.get('collector_examples', 0)} labelled decisions "
        f"({', '.join(data.get('collector_files', [])) or 'none'}).",
        "",
        "## Training",
        "",
        f"Seed {train.get('seed')}, {train.get('epochs')} epochs, batch {train.get('batch_size')}, AdamW "
        f"(lr {train.get('learning_rate')}, one-cycle schedule, weight decay {train.get('weight_decay')}), loss: "
        f"Huber on ln relative P99 + Huber on harm (each where known: the measurements and the collector know no "
        f"harm) + {train.get('rank_weight')} x ListNet ranking of each decision's candidates by the log cost; "
        f"{train.get('threads')} CPU thread(s), deterministic algorithms; final training loss "
        f"{train.get('final_loss')}. `python -m training.train` with the defaults reproduces the shipped file bit "
        "for bit (same torch version and thread count).",
        "",
        timing or "Training time: not recorded (run `python -m training.train`).",
        "",
        "## Evaluation",
        "",
        "### Held-out simulated clusters",
        "",
        "Clusters labelled by the calibrated interference model, without the training randomisation. Oracle: the "
        "candidate with the lowest true P99 in milliseconds (node speed included). Top-1: the pick's P99 is within "
        "1 % of the oracle's (half the decisions have a runner-up that close); strict: the very node. Regret: the "
        "pick's P99 over the oracle's, minus 1 (a 10 % regret is a 10 % higher P99). Every policy picks through "
        "its serving code on the same snapshots.",
        "",
        *(f"- **{spec.name}**: {spec.description} (seed {spec.seed})." for spec in SETS),
        "",
        *_held_out(report),
        "",
        "By held-out profile (the held-out profiles set):",
        "",
        *_by_profile(report),
        "",
        "### Held-out interference variants (leave one out)",
        "",
        *_lofo(lofo),
        "",
        "### Held-out scenario families: which tier places best",
        "",
        f"Every shipped scenario of a held-out family ({', '.join(families.FAMILIES)}; never trained or tuned on) "
        "replayed by each policy on its own trajectory, each arrival decided through the policy's decision chain "
        f"on the snapshot a scheduler would see, then bound: {' and '.join(families.MODES)} arrivals (a burst sees "
        f"one NodeState published before the first arrival; steady arrivals a NodeState every {families.PERIOD:g} "
        f"s), {len(families.SEEDS)} telemetry seeds. *Latency-critical P99*: once every arrival is placed, the "
        "pooled P99 of the latency-critical arrivals' requests in the simulated cluster (what the benchmark "
        "reports), geometric mean over the replays; it decides the chain order, because it counts the harm a "
        "placement does to the pods beside it. Regret: the pick's predicted P99 in milliseconds over the best "
        "feasible node's at that moment (the oracle, `sim.oracle`), minus 1; node speed included. It prices each "
        "pod's own latency only, so a scorer that sends a batch pod away from latency-critical neighbours, at some "
        "cost to the batch pod, shows a higher regret for a quieter cluster.",
        "",
        *_families(report),
        "",
        *(_chain(report, earned) if earned is not None and report.by_family else ["Not evaluated."]),
        "",
        "### Real counters (KubeMarla measurements)",
        "",
        "Within one campaign, replica count and RPS, for pairs of load tests whose measured nginx P99 differ by "
        "1.5x or more: how often the policy scores the lower-P99 node strictly higher, for a latency-critical pod "
        "sensitive to llc, membw and cpu. Counters mapped as data/README.md says (CPI, LLC miss rate, "
        "memory GB/s and C0 residency known; everything else unknown). Held-out campaigns were never trained on.",
        "",
        *_pairs(report),
        "",
        "### Regime labels on the measured tests",
        "",
        "The rule-based regime label (`scoring.regimes`) of each measured test, by the kind of its "
        "antagonists. C0 residency stays under a few percent even beside CPU spinners on this rig and CPI is not "
        "read (it falls under CPU antagonists), so CPU-bound tests are not recognised from these counters; PSI "
        "and throttling would show them on a real node agent.",
        "",
        *_regimes(report),
        "",
        "### Latency",
        "",
        *_latency(latency),
        "",
        "## Known limitations",
        "",
        "- Harm is learnt from the simulator only (the measurements and the collector's outcomes carry none), and "
        "the harm weight (1) is a choice, not a fit.",
        "- Simulated labels come from a family of interference models around one calibrated on one NUC's "
        "measurements; real fine-tuning data is a single rig running nginx. Accuracy on other hardware and "
        "workloads is unmeasured until the collector has gathered outcomes there "
        "(`python -m training.train --data FILE`).",
        "- Node speed is in the target, but no input names it: the model reads it from the node's size and its "
        "counters (CPI), so a node type it never saw is judged by its telemetry alone.",
        "- The leave-one-out runs are smaller than the shipped training (see their settings) and evaluated on "
        "simulated decisions, not on the replayed scenario families.",
        "- Trained on the whole interference family, the model reads CPU contention more weakly than the "
        "calibrated simulator does (one variant, run-queue CPU, says a busy node costs nothing until it is "
        "over-subscribed, and telemetry lag blurs utilisation): a node at 95 % CPU use is predicted at about 1.4x "
        "where the previous, calibrated-only weights said about 4x. This is where it is weakest: on the "
        "cpu-antagonists family its per-decision regret is the highest of its families (its latency-critical pods' "
        "pooled P99 is still the lowest), the benchmark puts 8-11 % of latency-critical pods there beside a CPU "
        "antagonist, and `scheduler.py decide --tier transformer` on examples/cluster-6-workers.json sends "
        "CPU-sensitive http-echo to the cpu-bound worker-6 (a strict xfail in the tests). Retraining with three "
        "times the weight on the real measurements (which include CPU antagonists) did not help: pairs fell to "
        "88 % and http-echo still went to worker-6. A node at 90 % memory "
        "bandwidth that also shows memory-reclaim stalls (PSI memory 30 %) is out of the training distribution "
        "and predicted nearly quiet. Predicted P99s of moderately contended nodes are lower than the previous "
        "weights' in general (the family's forms disagree, and lagged telemetry blurs the inputs), so the SLO rule "
        "(`scoring.slo`) reads a tight `p99-target-ms` as met more often with this tier (two strict xfails in "
        "tests/scoring/test_slo.py).",
        "- The held-out simulated sets now price picks by P99 in milliseconds (node speed included) rather than "
        "by slowdown, which is harder for every policy (the heuristic tier's top-1 fell from 70-77 % to 39-65 %, "
        "this model's is 67-83 %); `scoring.accuracy_floor` went from 0.85 to 0.6 with that change of metric. "
        "Real-counter pairs are 1.5 points below the previous weights'.",
        "- Regimes are a rule over InterferenceAware's calibrated levels, not learnt.",
        "- Real counters: below the 95 % goal on the held-out campaigns. Reading fractions on a log scale (so that "
        "the rig's C0 residency, 0.2 % to 41 %, separates nodes) reached 95.2 % and 95.6 % in two retrains, but "
        "raised the mean regret on cpu-antagonists from 16 % to 63-70 % (a CPU hog's saturation is absolute); "
        "giving both scales kept cpu-antagonists (34 %) and lost the pairs (92-93 %). Those weights are not shipped. "
        "A pairwise (RankNet) loss over every measured pair 1.5x apart, beside ListNet, raised held-out pairs to "
        "93.7-94.7 % in four retrains (2026-12-05), but none of those models could be shipped by this card's own "
        "rules: alone it lost cpu-antagonists to the heuristic tier (1.484 vs 1.478 ms), so the chain would leave it "
        "out; with the variants weighted by their agreement with the measurements it ranked a bandwidth-saturated "
        "test fixture above a quiet node; with every kind of antagonist in every training family as well, the "
        "attention block no longer earned its cost (leave-one-variant-out 1 of 6, full-size families 2 of 5) and "
        "the model without it lost near-full to the heuristic tier (1.336 vs 1.327 ms).",
        "- CPU contention is read weakly because the training families confound it: a node at 70-85 % CPU use "
        "nearly always also runs cache- and bandwidth-hungry services (in 2,000 randomised training decisions, "
        "15 such nodes with LLC occupancy under 30 % against 359 above), so a lone CPU hog (cpu-antagonists' "
        "worker-2: 76 % CPU, 5 % LLC occupancy, PSI cpu 38 %, a 4.6x slowdown for nginx) is predicted at about "
        "1.3x. Giving every family every kind of antagonist and leaving some nodes without services raised that "
        "prediction to 1.5-2.2x only.",
        "- The held-out family replays are small (one shipped scenario per family, 84 to 168 decisions). The pods "
        "placed in the same burst reach the model through the fresh-placement estimate (trained with telemetry "
        "lag), not through the attention block.",
        "- Mean regret is dominated by a few large misses (compare the p95): in the held-out family, mostly pods "
        "beside IO-saturated nodes, a pressure the training families show rarely.",
        "- Latency: the attention block costs about a millisecond of the model's time at 1,000 nodes. On the shared "
        "two-core development machine the p99 goal held in 2026-11 only when the measurement was shielded from "
        "other jobs (`nice`). On 2026-12-05 it is missed (see Latency; p99 6.7 ms on a quiet machine too): the "
        "previous weights of the same size measured p50 4.8 ms and p99 7.3 ms the same way, so the cost is in the "
        "decision path around the model, not in these weights. In a burst every decision sees telemetry raised by "
        "the fresh-placement estimate, so the per-telemetry features (cluster medians, pressures, regimes) are "
        "recomputed for all 1,000 nodes each time (about 2 ms); the forward pass is about 1 ms.",
        "",
        "## Reproduce",
        "",
        "```",
        "python -m training.lofo           # leave-one-interference-variant-out runs (scoring/transformer/lofo.json)",
        "python -m training.train          # writes scoring/transformer/model.pt and this card",
        "python -m training.evaluate       # re-evaluates the weights, rewrites this card; exits 1 below the floors",
        "python benchmark/transformer_latency.py --record   # 1,000-node latency, quoted above",
        "```",
        "",
    ]
    return "\n".join(lines)


def _verdict(weights: Path, result: Report) -> evidence.Verdict:
    sha = evidence.digest(weights)
    return evidence.verdict(families.evidence_of(result.by_family, sha), sha)


def write(path: Path, scorer: Scorer, weights: Path, result: Report, *, timing: str | None) -> None:
    """Render the card to `path`; without `timing`, the previous card's training-time line is kept."""
    if timing is None and path.exists():
        timing = next((line for line in path.read_text().splitlines() if line.startswith("Training time:")), None)
    latency = json.loads(LATENCY.read_text()) if LATENCY.exists() else None
    text = render(
        scorer.summary,
        result,
        parameters=parameters(scorer.model),
        file_bytes=weights.stat().st_size,
        latency=latency,
        timing=timing,
        earned=_verdict(weights, result),
        lofo=load_lofo(),
    )
    path.write_text(text)
    print(f"model card: {path}")
