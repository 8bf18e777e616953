"""How the transformer tier's predictions hold up as a burst piles pods onto nodes, against the simulator's truth.

`scoring.transformer.scores.burst_calibrated` corrects the model where a burst's own placements pile up on a node
beyond what training showed. This measures what it corrects: generated clusters of the training family
(`sim/scenarios/mixed-100.yaml`'s generator, seeds and sizes below) replayed in a burst through the real loop with
the calibration off; for every feasible candidate of every transformer decision, the model's predicted P99 factor
(over the pod's P99 alone on the reference core) and harm (to the latency-critical pods already there), against
the simulator's (`sim.oracle.predict`, core speed included, and `sim.oracle.inflicted` in one log), binned by the
pods placed since the node's NodeState (the fresh-placement estimate's count). Then the least-squares slopes, with
an intercept, of both errors on max(0, pods - TRAINED_FRESH_PODS): over every candidate, and over the nodes chosen
for latency-critical pods only, with the factor taken over the P99 alone on the same node (core speed left out: the
fit `BURST_LOG_SLOPE` was made with, from the runner's per-pod results).

    python benchmark/pile_calibration.py                       # the fit seeds: 800-802 (100/300), 820-822 (40/120)
    python benchmark/pile_calibration.py --cluster 40:120:900 --seeds 1

About ten minutes on two cores (the truth for every candidate dominates); the model card's "harm to the pile"
quotes it.
"""

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmark import replay, runner  # noqa: E402
from benchmark.measure import arrival_key  # noqa: E402
from benchmark.policies import Built  # noqa: E402
from cluster import config  # noqa: E402
from cluster.clock import Clock  # noqa: E402
from runtime.assemble import build_decider  # noqa: E402
from scoring.decide import Decider  # noqa: E402
from scoring.tiers import Choice, Request, Tier, TierDecider  # noqa: E402
from scoring.transformer import model  # noqa: E402
from scoring.transformer.scores import TRAINED_FRESH_PODS  # noqa: E402
from scoring.transformer.tier import Predictor, TransformerTier  # noqa: E402
from sim import oracle  # noqa: E402
from sim import scenario as scenarios  # noqa: E402
from sim.cluster import SimCluster  # noqa: E402
from telemetry.stats import Stats  # noqa: E402

GENERATOR = ROOT / "sim" / "scenarios" / "mixed-100.yaml"
FIT_CLUSTERS = ((100, 300, 800), (40, 120, 820))
"""(nodes, arrivals, first seed) of the clusters `BURST_LOG_SLOPE` was fitted on."""
BINS = ((0, 0), (1, 2), (3, 4), (5, 6), (7, 9), (10, 14), (15, None))


@dataclass
class Recorded:
    """One transformer decision: its candidates, in feasible order, and what the model said of them."""

    names: list[str]
    relative_p99: np.ndarray
    harm: np.ndarray
    fresh: np.ndarray
    chosen: str


class RecordingPredictor:
    """The tier's predictor, keeping its last prediction (decisions run one at a time)."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.fill = inner.fill
        self.last: model.Predicted | None = None

    def predict(self, tokens: np.ndarray) -> model.Predicted:
        self.last = self.inner.predict(tokens)
        return self.last


@dataclass
class Tracer:
    """A `TierDecider` around the transformer tier that records every decision it makes."""

    inner: TierDecider
    predictor: RecordingPredictor
    decisions: dict[str, Recorded] = field(default_factory=dict)
    tier: Tier = Tier.TRANSFORMER

    def choose(self, request: Request) -> Choice:
        choice = self.inner.choose(request)
        predicted = self.predictor.last
        if predicted is None:
            raise RuntimeError("the transformer tier chose a node without asking its predictor")
        snapshot, feasible = request.snapshot, request.feasible
        fresh = snapshot.fresh.pods[feasible] if snapshot.fresh is not None else np.zeros(len(feasible))
        self.decisions[request.pod.pod.key] = Recorded(
            [snapshot.names[i] for i in feasible],
            np.asarray(predicted.relative_p99, dtype=float),
            np.asarray(predicted.harm, dtype=float),
            np.asarray(fresh, dtype=float),
            choice.node,
        )
        return choice


class Traced:
    """A policy builder for `replay.replay`: the transformer tier as `settings` configure it, its decisions recorded
    (`tracer` once the replay has built it)."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        self.tracer: Tracer | None = None

    def __call__(self, *, world: SimCluster, clock: Clock, stats: Stats) -> Built:
        chain = build_decider(self.settings, tier="transformer", clock=clock, stats=stats)
        (tier,) = chain.tiers
        if not isinstance(tier, TransformerTier):
            raise TypeError(f"expected the transformer tier, got {tier!r}")
        predictor = RecordingPredictor(tier.predictor)
        tier.predictor = predictor
        self.tracer = Tracer(tier, predictor)
        decider = Decider(
            heuristic=chain.heuristic,
            tiers=[self.tracer],
            clock=clock,
            deadline_seconds=self.settings.llm.deadline_seconds,
            percentage_of_nodes_to_score=self.settings.scoring.percentage_of_nodes_to_score,
        )
        return Built(decider, "transformer tier, traced")


def generated(name: str, nodes: int, arrivals: int, seed: int) -> dict[str, Any]:
    """The scenario file's data of the training family's generator (`GENERATOR`) at that size and seed."""
    data = yaml.safe_load(GENERATOR.read_text())
    data.update(name=name, seed=seed)
    data["generator"]["params"].update(nodes=nodes, arrivals=arrivals)
    return data


def cluster(nodes: int, arrivals: int, seed: int) -> scenarios.Scenario:
    """The training family's generated cluster of that size and seed, replayed as a burst."""
    data = generated(f"pile-{nodes}-{arrivals}-{seed}", nodes, arrivals, seed)
    return scenarios.as_burst(scenarios.parse(data, source=str(GENERATOR)))


def truth(
    scenario: scenarios.Scenario, order: Sequence[str], bound: dict[str, str], decisions: dict[str, Recorded]
) -> Iterator[dict[str, Any]]:
    """Per recorded decision, in the order the pods were bound: the simulator's factor and harm on each candidate,
    in the cluster as that pod found it."""
    state = scenario.state()
    arrivals = {arrival_key(a.pod): a.pod for a in scenario.arrivals}
    for key in order:
        if key not in arrivals:
            continue
        target = oracle.as_workload(arrivals[key])
        recorded = decisions.get(key)
        if recorded is not None:
            predictions = oracle.predict(state, target, recorded.names)
            harm = [
                sum(float(np.log(max(h.slowdown, 1.0))) for h in oracle.inflicted(state, target, n).values())
                for n in recorded.names
            ]
            yield {
                "recorded": recorded,
                "relative_p99": np.array([predictions[n].p99_ms / target.profile.p99_ms for n in recorded.names]),
                "slowdown": np.array([predictions[n].slowdown for n in recorded.names]),
                "harm": np.array(harm),
                "critical": oracle.is_latency_critical(target),
            }
        state = state.with_pod(target, bound[key])


@dataclass
class Columns:
    """Every candidate's pile size, predicted and simulated factor and harm; `chosen` marks the picks."""

    fresh: np.ndarray
    predicted_p99: np.ndarray
    simulated_p99: np.ndarray
    simulated_slowdown: np.ndarray
    predicted_harm: np.ndarray
    simulated_harm: np.ndarray
    chosen: np.ndarray
    critical: np.ndarray
    """The decision's pod is latency-critical (`sim.oracle.is_latency_critical`), per candidate."""

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> "Columns":
        def stack(get: Callable[[dict[str, Any]], Any]) -> np.ndarray:
            return np.concatenate([np.asarray(get(r), dtype=float) for r in rows]) if rows else np.zeros(0)

        return cls(
            fresh=stack(lambda r: r["recorded"].fresh),
            predicted_p99=stack(lambda r: r["recorded"].relative_p99),
            simulated_p99=stack(lambda r: r["relative_p99"]),
            simulated_slowdown=stack(lambda r: r["slowdown"]),
            predicted_harm=stack(lambda r: r["recorded"].harm),
            simulated_harm=stack(lambda r: r["harm"]),
            chosen=stack(lambda r: [n == r["recorded"].chosen for n in r["recorded"].names]).astype(bool),
            critical=stack(lambda r: np.full(len(r["recorded"].names), r["critical"])).astype(bool),
        )


def slope(pods: np.ndarray, error: np.ndarray) -> float:
    """Least squares of `error` on max(0, pods - TRAINED_FRESH_PODS) with an intercept: the slope (NaN when no
    candidate is beyond)."""
    beyond = np.maximum(np.asarray(pods, dtype=float) - TRAINED_FRESH_PODS, 0.0)
    if not (beyond > 0).any():
        return float("nan")
    design = np.column_stack([np.ones_like(beyond), beyond])
    return float(np.linalg.lstsq(design, np.asarray(error, dtype=float), rcond=None)[0][1])


def summary(columns: Columns) -> dict[str, Any]:
    """The table by pile size and the two fits."""
    log_error = np.log(columns.simulated_p99 / columns.predicted_p99)
    harm_error = columns.simulated_harm - columns.predicted_harm
    bins = []
    for low, high in BINS:
        inside = (columns.fresh >= low) & (columns.fresh <= (np.inf if high is None else high))
        if inside.any():
            bins.append(
                {
                    "pods": f"{low}" if low == high else f"{low}+" if high is None else f"{low}-{high}",
                    "candidates": int(inside.sum()),
                    "log_p99_error": round(float(log_error[inside].mean()), 3),
                    "predicted_harm": round(float(columns.predicted_harm[inside].mean()), 3),
                    "simulated_harm": round(float(columns.simulated_harm[inside].mean()), 3),
                }
            )
    chosen = columns.chosen & columns.critical
    chosen_error = np.log(columns.simulated_slowdown[chosen] / columns.predicted_p99[chosen])
    return {
        "candidates": len(columns.fresh),
        "decisions": int(columns.chosen.sum()),
        "beyond": int((columns.fresh > TRAINED_FRESH_PODS).sum()),
        "bins": bins,
        "every_candidate": {
            "log_p99_slope": round(slope(columns.fresh, log_error), 4),
            "harm_slope": round(slope(columns.fresh, harm_error), 4),
        },
        "chosen_latency_critical_speed_left_out": {
            "decisions": int(chosen.sum()),
            "log_p99_slope": round(slope(columns.fresh[chosen], chosen_error), 4),
        },
    }


def measure(clusters: Sequence[tuple[int, int, int]], seeds: int, settings: config.Settings) -> dict[str, Any]:
    """Replay every cluster and seed with the tier traced, and summarise every candidate."""
    off = settings.model_copy(update={"scoring": settings.scoring.model_copy(update={"burst_log_slope": 0.0})})
    rows: list[dict[str, Any]] = []
    for nodes, arrivals, first in clusters:
        for seed in range(first, first + seeds):
            scenario = cluster(nodes, arrivals, seed)
            traced = Traced(off)
            placement, _ = replay.replay(scenario, off, traced, seed=seed)
            decisions = traced.tracer.decisions if traced.tracer is not None else {}
            rows += truth(scenario, placement.order, placement.bound, decisions)
            print(
                f"[pile] {nodes} nodes, {arrivals} arrivals, seed {seed}: {len(decisions)} decisions", file=sys.stderr
            )
    return summary(Columns.of(rows))


def cluster_arg(text: str) -> tuple[int, int, int]:
    """`--cluster NODES:ARRIVALS:FIRST_SEED`, three positive integers."""
    parts = text.split(":")
    try:
        nodes, arrivals, seed = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not NODES:ARRIVALS:FIRST_SEED (three integers)") from None
    if min(nodes, arrivals) < 1 or seed < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: nodes and arrivals must be positive, the seed not negative")
    return nodes, arrivals, seed


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} seeds: at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cluster",
        action="append",
        type=cluster_arg,
        help="NODES:ARRIVALS:FIRST_SEED (repeatable; default: the fit clusters)",
    )
    parser.add_argument("--seeds", type=_positive, default=3, help="seeds per cluster, from its first (default 3)")
    parser.add_argument("--config", help="config file (default: config.yaml if present); the calibration is off")
    parser.add_argument("--output", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    settings = runner.load_settings(args.config)
    if settings is None:
        return 2
    result = measure(args.cluster or FIT_CLUSTERS, args.seeds, settings)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
