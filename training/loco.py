"""`python -m training.loco`: leave one fine-tuning campaign out, train without it, order its measured pairs.

The campaigns held out of fine-tuning (`sim.calibration.HELD_OUT_CAMPAIGNS`) judge the shipped model on real
counters, so a training choice aimed at them must be judged without them, or it is tuned on its own test. This
cross-validates over the other campaigns instead: per seed, one member is trained as `python -m training.train`
trains member `seed` (its simulated clusters, labelled by `TRAINING_CALIBRATION`, and the measured groups of every
fine-tuning campaign but the one left out, each counted as `REAL_WEIGHT` decisions) and orders the left-out campaign's
pairs (`training.evaluate.pairs`: the lower-P99 test node scored strictly higher). Pairs pool over campaigns and
seeds. The held-out campaigns are never read. At the defaults, about two and a half minutes per seed on one core
(five with the attention block, which `--layers 1` puts in for the ablation).

Exit status 0, 2 on bad input.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from scoring.transformer.model import Checkpoint, Ensemble, ModelConfig, Scorer
from sim import dataset
from training import counters, synthetic
from training import fit as training
from training.evaluate import pairs
from training.train import DEFAULT_DECISIONS, DEFAULT_STACKS, REAL_WEIGHT, add_real_weight, share

DEFAULT_SEEDS = (7, 8)
"""Two seeds: on the 2,474 fine-tuning pairs one seed's members and another's differ by one to one and a half
points (2026-12-06)."""


@dataclass(frozen=True)
class Fold:
    seed: int
    campaign: str
    """The campaign left out of fine-tuning and scored."""
    pairs: int
    correct: int


def folds(
    groups: Sequence[counters.Group],
    *,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    decisions: int = DEFAULT_DECISIONS,
    stacks: float = DEFAULT_STACKS,
    epochs: int = training.Settings.epochs,
    config: ModelConfig | None = None,
    real_weight: float = REAL_WEIGHT,
    progress: bool = False,
) -> list[Fold]:
    """Per seed and fine-tuning campaign: one member trained without the campaign, scored on its pairs."""
    usable = counters.fine_tuning(groups)
    campaigns = sorted({g.campaign for g in usable})
    out = []
    for seed in seeds:
        simset = synthetic.training_set(seed, decisions=decisions, stacks=stacks)
        sim = training.sim_examples(simset, exclude=dataset.EVAL_PROFILES, seed=seed, progress=progress)
        settings = training.Settings(seed=seed, epochs=epochs, config=config or ModelConfig())
        for campaign in campaigns:
            real = training.real_examples([g for g in usable if g.campaign != campaign], weight=real_weight)
            net, _ = training.fit(training.prepare([*sim, *real]), settings, progress=False)
            scorer = pairs.transformer_scorer(Scorer(Checkpoint(Ensemble([net]), {})))
            counted = pairs.pair_counts(scorer, groups=usable, campaigns=[campaign])
            out.append(Fold(seed, campaign, counted.pairs, counted.correct))
    return out


def pooled(result: Sequence[Fold]) -> float:
    """Right answers over pairs, across every fold."""
    total = sum(f.pairs for f in result)
    return sum(f.correct for f in result) / total if total else float("nan")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.loco", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", help="member seed (repeatable; default 7 and 8)")
    parser.add_argument("--decisions", type=int, default=DEFAULT_DECISIONS, help="simulated clusters per member")
    parser.add_argument("--stacks", type=share, default=DEFAULT_STACKS, help="share with stacks of arrivals")
    parser.add_argument("--epochs", type=int, default=training.Settings.epochs)
    parser.add_argument("--layers", type=int, default=ModelConfig.layers, help="attention blocks (as shipped: 0)")
    add_real_weight(parser)
    parser.add_argument("--counters", default=str(counters.DATA), help="the KubeMarla measurements CSV")
    parser.add_argument("--out", help="also write the folds and the pooled accuracy here (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.decisions, args.epochs) < 1 or args.layers < 0:
        print("error: --decisions and --epochs must be >= 1, --layers >= 0", file=sys.stderr)
        return 2
    try:
        groups = counters.load(args.counters)
    except (counters.CountersError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seeds = list(args.seed or DEFAULT_SEEDS)
    result = folds(
        groups,
        seeds=seeds,
        decisions=args.decisions,
        stacks=args.stacks,
        epochs=args.epochs,
        config=ModelConfig(layers=args.layers),
        real_weight=args.real_weight,
        progress=not args.quiet,
    )
    for fold in result:
        print(f"seed {fold.seed} without {fold.campaign}: {fold.correct}/{fold.pairs} pairs ordered")
    correct, total = sum(f.correct for f in result), sum(f.pairs for f in result)
    print(f"pooled: {correct}/{total} = {100 * pooled(result):.2f} % (held-out campaigns not read)")
    if args.out:
        body = {
            "generated_by": "python -m training.loco",
            "settings": {
                "seeds": seeds,
                "decisions": args.decisions,
                "stacks": args.stacks,
                "epochs": args.epochs,
                "layers": args.layers,
                "real_weight": args.real_weight,
            },
            "folds": [asdict(f) for f in result],
            "pooled": pooled(result),
        }
        Path(args.out).write_text(json.dumps(body, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
