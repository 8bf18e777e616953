"""`python -m training.train`: train the transformer tier's weights, then evaluate them and write the model card.

Data: `--decisions` random simulated clusters from the training families (`training.synthetic`;
pods of the held-out profiles are left out), labelled in turn by the interference-model variants (`--variants`,
default `training.synthetic.VARIANTS`: every variant the real measurements allow) with randomised sensitivities,
capacities, core speeds and telemetry lag (`sim.dataset.Randomisation`), the KubeMarla measurements outside the
held-out campaigns (`--counters`; `--no-counters` to skip), and the collector's JSONL files (`--data FILE`,
repeatable: real decisions with outcomes). `--members` models are trained alike, member k with seed `--seed` + k
(its own draw of the simulated clusters, order and initialisation; the same measurements), and shipped as one
`model.Ensemble` that averages them. The fit is seeded and deterministic on CPU; the weights go to `--out` (default
`scoring.model_path`), then the held-out evaluation of `python -m training.evaluate` runs on the saved file
and the model card is written. With the defaults it reproduces the shipped weights bit for bit and takes
about ten minutes on two cores (per member, its simulated clusters and about 40 s of fitting; then a minute of
evaluation).

Exit status: 0 when the weights were written (and, unless `--no-eval`, passed the gate), 1 when the
evaluation fell below a configured floor, 2 on bad input.
"""

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from cluster import config
from scoring.transformer import ModelUnavailableError, model, model_path
from scoring.transformer.model import ModelConfig
from sim import dataset, interference
from sim.dataset import Randomisation
from training import counters, synthetic
from training import fit as training
from training.evaluate import card as model_card
from training.evaluate import families
from training.evaluate import report as evaluation

DEFAULT_DECISIONS = 12_000
DEFAULT_STACKS = Randomisation.stacks
"""Share of the simulated clusters with stacks of arrivals (`sim.dataset.Randomisation.stacks`; model card, Known
limitations, for why the shipped weights have none)."""
DEFAULT_SEED = 7
DEFAULT_MEMBERS = 6
"""Six members: two triples of one recipe differ on the held-out real-counter pairs by 0.8 point and on the held-out
families by more than two recipes do (model card); six halve the draw's variance of three, at three more forward
passes per decision."""
REAL_WEIGHT = 10.0
"""Each measured group counts as this many simulated decisions (there are about 60 against 10,000)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: config.yaml when present)")
    parser.add_argument("--out", help="weights file (default: scoring.model_path)")
    parser.add_argument("--decisions", type=int, default=DEFAULT_DECISIONS, help="simulated clusters to draw")
    parser.add_argument(
        "--stacks", type=share, default=DEFAULT_STACKS, help="share of the clusters with stacks of arrivals"
    )
    parser.add_argument(
        "--request-noise",
        type=noise,
        default=Randomisation.requests,
        help="sigma of the lognormal noise on the arriving pod's CPU request as the model reads it (0: none)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the data, the order and the weights")
    parser.add_argument(
        "--members", type=_members, default=DEFAULT_MEMBERS, help="models averaged (seeds SEED, SEED+1, ...)"
    )
    parser.add_argument("--epochs", type=int, default=training.Settings.epochs)
    parser.add_argument(
        "--variants",
        type=_variants,
        default=synthetic.VARIANTS,
        help=f"comma-separated interference-model variants to train on (default: {','.join(synthetic.VARIANTS)})",
    )
    parser.add_argument(
        "--layers",
        type=int,
        default=ModelConfig.layers,
        help="attention blocks (0: none, as shipped; 1 for the ablation)",
    )
    parser.add_argument("--counters", default=str(counters.DATA), help="the KubeMarla measurements CSV")
    parser.add_argument("--no-counters", action="store_true", help="do not fine-tune on the measurements")
    add_real_weight(parser)
    parser.add_argument("--data", action="append", default=[], help="collector JSONL file (repeatable)")
    parser.add_argument("--eval-decisions", type=int, default=1500, help="simulated clusters per held-out set")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation and the model card")
    parser.add_argument("--card", default=str(model_card.CARD), help="model card to write")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _variants(text: str) -> tuple[str, ...]:
    """`--variants`: names of `sim.interference.VARIANTS`, comma-separated."""
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in names if v not in interference.VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown interference variant {unknown[0] if unknown else text!r}; "
            f"known: {', '.join(interference.VARIANTS)}"
        )
    return names


def _members(text: str) -> int:
    """`--members`: 1 to `model.MAX_MEMBERS`."""
    value = int(text)
    if not 1 <= value <= model.MAX_MEMBERS:
        raise argparse.ArgumentTypeError(f"{value}: give 1 to {model.MAX_MEMBERS} members")
    return value


def _from_0_to_1(text: str, what: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: give a {what} from 0 to 1")
    return value


def share(text: str) -> float:
    """`--stacks`: a share, 0 to 1."""
    return _from_0_to_1(text, "share")


def positive(text: str) -> float:
    """`--real-weight`: a finite number above 0."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text}: give a finite weight above 0")
    return value


def add_real_weight(parser: argparse.ArgumentParser) -> None:
    """`--real-weight`, as every training command (train, loco, lofo) reads it."""
    parser.add_argument(
        "--real-weight", type=positive, default=REAL_WEIGHT, help="simulated decisions each measured group counts as"
    )


def noise(text: str) -> float:
    """`--request-noise`: a lognormal sigma, 0 to 1."""
    return _from_0_to_1(text, "sigma")


def member_seeds(seed: int, members: int) -> list[int]:
    """The seeds of an ensemble's members: `seed`, `seed` + 1, ..."""
    return [seed + k for k in range(members)]


def summary(args: argparse.Namespace, settings: training.Settings, **data: object) -> dict[str, object]:
    """What the checkpoint records about its training (deterministic: no timings, no paths of this machine)."""
    return {
        "config": asdict(settings.config),
        "data": {
            "sim_decisions": args.decisions,
            "sim_seed": args.seed,
            "members": args.members,
            "member_seeds": member_seeds(args.seed, args.members),
            "sim_families": list(synthetic.TRAIN_FAMILIES),
            "sim_variants": list(args.variants),
            "sim_randomisation": asdict(Randomisation(stacks=args.stacks, requests=args.request_noise)),
            "held_out_profiles": list(dataset.EVAL_PROFILES),
            "held_out_families": list(dataset.EVAL_FAMILIES),
            **data,
        },
        "training": {k: v for k, v in asdict(settings).items() if k != "config"},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    progress = not args.quiet
    try:
        scoring = config.load(args.config).scoring
        groups = [] if args.no_counters and args.no_eval else counters.load(args.counters)
        collected, skipped = training.collector_examples(args.data) if args.data else ([], {})
    except (config.ConfigError, counters.CountersError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = training.Settings(seed=args.seed, epochs=args.epochs, config=ModelConfig(layers=args.layers))
    fine_tuning = [] if args.no_counters else counters.fine_tuning(groups)
    real = training.real_examples(fine_tuning, weight=args.real_weight)
    members, sim_examples, sim_nodes, final_losses = [], 0, 0, []
    fit_seconds = 0.0
    for seed in member_seeds(args.seed, args.members):
        simset = synthetic.training_set(
            seed, decisions=args.decisions, variants=args.variants, stacks=args.stacks, requests=args.request_noise
        )
        sim = training.sim_examples(simset, exclude=dataset.EVAL_PROFILES, seed=seed, progress=progress)
        prepared = training.prepare([*sim, *real, *collected])
        fit_started = time.monotonic()
        net, losses = training.fit(prepared, replace(settings, seed=seed), progress=progress)
        fit_seconds += time.monotonic() - fit_started
        members.append(net)
        sim_examples += len(sim)
        sim_nodes += sum(len(e.target) for e in sim)
        final_losses.append(round(losses[-1], 5))
    record = summary(
        args,
        settings,
        sim_examples=sim_examples,
        sim_nodes=sim_nodes,
        augmentation=asdict(training.Augmentation()),
        real_groups=len(real),
        real_tests=sum(len(g.tests) for g in fine_tuning),
        real_campaigns=sorted({g.campaign for g in fine_tuning}),
        real_weight=args.real_weight,
        collector_examples=len(collected),
        collector_skipped=skipped,
        collector_files=[Path(p).name for p in args.data],
    )
    record["training"] = {**record["training"], "final_loss": final_losses}  # type: ignore[dict-item]
    out = Path(args.out) if args.out else model_path(scoring.model_path)
    net = model.Ensemble(members)
    model.save(out, net, record)
    print(f"weights: {out} ({out.stat().st_size / 1024:.0f} KiB, {model.parameters(net):,} parameters)")
    if args.no_eval:
        return 0
    try:
        scorer = model.Scorer.load(out, threads=scoring.threads)
    except ModelUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluation.run(scorer, decisions=args.eval_decisions, groups=groups, progress=progress)
    timing = (
        f"Training time: {fit_seconds:.0f} s of fitting, {time.monotonic() - started:.0f} s in all with the data "
        "and the evaluation, on the two-core machine that produced the shipped weights."
    )
    model_card.write(Path(args.card), scorer, out, result, timing=timing)
    print(f"chain-order evidence: {families.write_evidence(out, result.by_family)}")
    problems = evaluation.gate(result, scoring)
    for problem in problems:
        print(f"gate: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
